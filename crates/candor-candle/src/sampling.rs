//! Choosing the next token: greedy, or seeded sampling with temperature, top-k and top-p.

use candor_core::{GenerationParams, SplitMix64};

/// A seeded token sampler: the same seed gives the same text on every platform.
pub struct Sampler {
    rng: SplitMix64,
    temperature: f64,
    top_k: usize,
    top_p: f64,
}

impl Sampler {
    pub fn new(params: &GenerationParams) -> Self {
        Self {
            rng: SplitMix64::new(params.seed),
            temperature: params.temperature,
            top_k: params.top_k,
            top_p: params.top_p,
        }
    }

    /// The next token for these logits.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let mut probs: Vec<(u32, f64)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, ((l as f64 - max) / self.temperature).exp()))
            .collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if self.top_k > 0 {
            probs.truncate(self.top_k);
        }
        let total: f64 = probs.iter().map(|p| p.1).sum();
        if self.top_p < 1.0 {
            let mut cum = 0.0;
            let keep = probs
                .iter()
                .position(|p| {
                    cum += p.1 / total;
                    cum >= self.top_p
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
        }
        let total: f64 = probs.iter().map(|p| p.1).sum();
        let mut u = self.rng.next_f64() * total;
        for &(id, p) in &probs {
            if u < p {
                return id;
            }
            u -= p;
        }
        probs.last().map_or(0, |p| p.0)
    }
}

/// Index of the largest logit; the first one on ties, as `torch.argmax` does.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f64, top_k: usize, top_p: f64, seed: u64) -> GenerationParams {
        GenerationParams {
            temperature,
            top_k,
            top_p,
            seed,
            ..Default::default()
        }
    }

    #[test]
    fn greedy_takes_first_maximum() {
        let mut s = Sampler::new(&params(0.0, 0, 1.0, 0));
        assert_eq!(s.sample(&[0.1, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_k_one_is_greedy_and_seeds_repeat() {
        let logits = [0.5, 2.0, 1.0, 1.9];
        let mut s = Sampler::new(&params(1.0, 1, 1.0, 7));
        assert!((0..50).all(|_| s.sample(&logits) == 1));
        let draw = |seed| {
            let mut s = Sampler::new(&params(1.0, 0, 1.0, seed));
            (0..20).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn top_p_keeps_the_nucleus_only() {
        // p = softmax([0, 0, -10]) ≈ [0.49998, 0.49998, 0.00005]: top_p 0.9 keeps two tokens.
        let logits = [0.0, 0.0, -10.0];
        let mut s = Sampler::new(&params(1.0, 0, 0.9, 1));
        let draws: Vec<u32> = (0..400).map(|_| s.sample(&logits)).collect();
        assert!(draws.iter().all(|&t| t < 2));
        assert!(draws.contains(&0) && draws.contains(&1));
    }
}
