//! Activations quantized per row and per block of 32 (llama.cpp's Q8_1): each block's values
//! become `s·a` with 8-bit integers `a` (rounded half to even) and `s = max|x| / 127`.

use crate::format::BLOCK;
use crate::pool::{self, Shared};
use crate::KernelError;

/// Blocks quantized per parallel task (a decode row of a few thousand values takes one task).
const BLOCKS_PER_TASK: usize = 128;

/// Rows of activations quantized for one matrix product. A row's numbers depend on that row
/// alone: this is what makes the product's rows independent of the batch.
pub(crate) struct QuantizedRows {
    pub(crate) rows: usize,
    /// Blocks of 32 per row.
    blocks: usize,
    /// `a`: `32·blocks` per row.
    values: Vec<i8>,
    /// `s` of each block.
    scales: Vec<f32>,
    /// `s·Σa` of each block.
    sums: Vec<f32>,
    /// `s·Σa` of each half block (for Q6_K's groups of 16).
    half_sums: Vec<f32>,
}

impl QuantizedRows {
    /// Quantizes `x`, rows of `cols` values (`cols` a multiple of 32).
    pub(crate) fn new(x: &[f32], cols: usize) -> Result<Self, KernelError> {
        if cols == 0 || !x.len().is_multiple_of(cols) || !cols.is_multiple_of(BLOCK) {
            return Err(KernelError::InputLength { len: x.len(), cols });
        }
        let (rows, blocks) = (x.len() / cols, cols / BLOCK);
        let n = rows * blocks;
        let mut out = Self {
            rows,
            blocks,
            values: vec![0; x.len()],
            scales: vec![0.0; n],
            sums: vec![0.0; n],
            half_sums: vec![0.0; 2 * n],
        };
        let (values, scales) = (Shared::new(&mut out.values), Shared::new(&mut out.scales));
        let (sums, half_sums) = (Shared::new(&mut out.sums), Shared::new(&mut out.half_sums));
        #[cfg(target_arch = "x86_64")]
        let avx2 = is_x86_feature_detected!("avx2");
        let task = |t: usize| {
            let first = t * BLOCKS_PER_TASK;
            let count = BLOCKS_PER_TASK.min(n - first);
            // SAFETY: task t alone writes blocks [first, first + count).
            let blocks = unsafe {
                Blocks {
                    values: values.part(first * BLOCK, count * BLOCK),
                    scales: scales.part(first, count),
                    sums: sums.part(first, count),
                    half_sums: half_sums.part(2 * first, 2 * count),
                }
            };
            let x = &x[first * BLOCK..][..count * BLOCK];
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: `avx2` says the CPU has AVX2.
                return unsafe { blocks.quantize_avx2(x) };
            }
            blocks.quantize(x);
        };
        pool::run(n.div_ceil(BLOCKS_PER_TASK), task);
        Ok(out)
    }

    pub(crate) fn row(&self, i: usize) -> ActRow<'_> {
        let n = self.blocks;
        ActRow {
            values: &self.values[i * n * BLOCK..][..n * BLOCK],
            scales: &self.scales[i * n..][..n],
            sums: &self.sums[i * n..][..n],
            half_sums: &self.half_sums[i * 2 * n..][..2 * n],
        }
    }
}

/// Where a run of blocks is quantized to.
struct Blocks<'a> {
    values: &'a mut [i8],
    scales: &'a mut [f32],
    sums: &'a mut [f32],
    half_sums: &'a mut [f32],
}

impl Blocks<'_> {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn quantize_avx2(self, x: &[f32]) {
        self.quantize(x)
    }

    /// Quantizes `x`, one block of 32 per scale. Written lane by lane so that it vectorises;
    /// `a = round_half_even(x / s)` is read off the bits of `x / s + 1.5·2²³` (exact for
    /// |x / s| ≤ 127).
    #[inline(always)]
    fn quantize(self, x: &[f32]) {
        const SHIFT: f32 = 12_582_912.0;
        let shift = SHIFT.to_bits() as i32;
        for (b, (block, values)) in x
            .chunks_exact(BLOCK)
            .zip(self.values.chunks_exact_mut(BLOCK))
            .enumerate()
        {
            let mut amax = 0f32;
            for &v in block {
                let a = v.abs();
                amax = if a > amax { a } else { amax };
            }
            let s = amax / 127.0;
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            let mut a = [0i32; BLOCK];
            for (a, &v) in a.iter_mut().zip(block) {
                *a = ((v * inv + SHIFT).to_bits() as i32 - shift).clamp(-127, 127);
            }
            for (q, &a) in values.iter_mut().zip(&a) {
                *q = a as i8;
            }
            let halves = [a[..16].iter().sum::<i32>(), a[16..].iter().sum::<i32>()];
            self.scales[b] = s;
            self.sums[b] = s * (halves[0] + halves[1]) as f32;
            self.half_sums[2 * b] = s * halves[0] as f32;
            self.half_sums[2 * b + 1] = s * halves[1] as f32;
        }
    }
}

/// One quantized activation row.
#[derive(Clone, Copy)]
pub(crate) struct ActRow<'a> {
    pub values: &'a [i8],
    pub scales: &'a [f32],
    pub sums: &'a [f32],
    pub half_sums: &'a [f32],
}

impl ActRow<'_> {
    /// `s·Σa` of group `g` for groups of `group` values (32 or 16).
    #[inline]
    pub fn group_sum(&self, group: usize, g: usize) -> f32 {
        if group == BLOCK {
            self.sums[g]
        } else {
            self.half_sums[g]
        }
    }
}

/// `y` rounded half to even, for |y| ≤ 2²²: adding and removing 1.5·2²³ leaves no fraction
/// bits, and the FPU rounds to even. Unlike `f32::round_ties_even` it needs no SSE4.1, so it
/// vectorises on any x86-64 instead of calling libm.
#[inline(always)]
pub(crate) fn round_half_even(y: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0;
    (y + SHIFT) - SHIFT
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounding_matches_the_standard_library() {
        for i in -2540..=2540 {
            let y = i as f32 / 20.0;
            assert_eq!(super::round_half_even(y), y.round_ties_even(), "{y}");
        }
    }

    #[test]
    fn each_block_is_its_values_over_its_scale_rounded_half_to_even() {
        // 3 rows of 1536 (more blocks than one task takes), halves on exact .5 steps, a zero
        // block.
        let cols = 1536;
        let x: Vec<f32> = (0..3 * cols)
            .map(|i| match i {
                0..=31 => 0.0,
                _ if i % 7 == 0 => (i % 255) as f32 - 127.0,
                _ => ((i * 37 % 101) as f32 - 50.0) * 0.37 + (i % 5) as f32 * 0.5,
            })
            .collect();
        let q = super::QuantizedRows::new(&x, cols).unwrap();
        for (b, block) in x.chunks_exact(super::BLOCK).enumerate() {
            let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = amax / 127.0;
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            let want: Vec<i8> = block
                .iter()
                .map(|v| (v * inv).round_ties_even() as i8)
                .collect();
            assert_eq!(&q.values[b * 32..][..32], &want[..], "block {b}");
            assert_eq!(q.scales[b], s, "block {b}");
            let sum = |r: std::ops::Range<usize>| want[r].iter().map(|&a| a as i32).sum::<i32>();
            assert_eq!(
                q.sums[b],
                s * (sum(0..16) + sum(16..32)) as f32,
                "block {b}"
            );
            assert_eq!(q.half_sums[2 * b + 1], s * sum(16..32) as f32, "block {b}");
        }
    }
}
