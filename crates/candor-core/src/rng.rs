/// SplitMix64: a tiny seeded generator, written out here so that a seed gives the same numbers
/// on every platform and with every version of candor's dependencies (sampling, bootstrap,
/// few-shot draws).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }

    /// The generator of item `item` of a seeded collection (a document's few-shot draw): the
    /// same whatever was drawn for other items, so `--limit` never changes an item's draw.
    pub fn for_item(seed: u64, item: u64) -> Self {
        Self(Self::new(seed ^ item.wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64())
    }

    /// `k` distinct indices below `n`, never `skip`, in the order drawn (all allowed indices,
    /// shuffled, when there are at most `k`).
    pub fn distinct(&mut self, n: usize, k: usize, skip: Option<usize>) -> Vec<usize> {
        let allowed = n - usize::from(skip.is_some_and(|s| s < n));
        if 2 * k >= allowed {
            let mut all: Vec<usize> = (0..n).filter(|&i| Some(i) != skip).collect();
            self.shuffle(&mut all);
            all.truncate(k);
            return all;
        }
        let mut picked = Vec::with_capacity(k);
        while picked.len() < k {
            let i = self.below(n);
            if Some(i) != skip && !picked.contains(&i) {
                picked.push(i);
            }
        }
        picked
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_draws_skip_and_never_repeat() {
        for (n, k, skip) in [
            (10, 3, Some(4)),
            (10, 9, Some(0)),
            (5, 8, None),
            (1, 1, Some(0)),
        ] {
            let a = SplitMix64::for_item(7, 3).distinct(n, k, skip);
            assert_eq!(a, SplitMix64::for_item(7, 3).distinct(n, k, skip));
            let allowed = n - usize::from(skip.is_some());
            assert_eq!(a.len(), k.min(allowed), "{n} {k} {skip:?}");
            assert!(a.iter().all(|&i| i < n && Some(i) != skip));
            let mut sorted = a.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), a.len());
        }
        // Items draw independently of each other.
        let draws: Vec<Vec<usize>> = (0..20)
            .map(|i| SplitMix64::for_item(1234, i).distinct(100, 3, None))
            .collect();
        assert!(draws.iter().any(|d| d != &draws[0]));
    }

    #[test]
    fn same_seed_same_stream_and_values_in_range() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = SplitMix64::new(9);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = SplitMix64::new(9);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut r = SplitMix64::new(1);
        assert!((0..1000).all(|_| r.below(7) < 7));
        let mut v: Vec<u32> = (0..10).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
