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
        let task = |t: usize| {
            let first = t * BLOCKS_PER_TASK;
            let count = BLOCKS_PER_TASK.min(n - first);
            // SAFETY: task t alone writes blocks [first, first + count).
            let (values, scales, sums, half_sums) = unsafe {
                (
                    values.part(first * BLOCK, count * BLOCK),
                    scales.part(first, count),
                    sums.part(first, count),
                    half_sums.part(2 * first, 2 * count),
                )
            };
            let x = &x[first * BLOCK..][..count * BLOCK];
            for (b, (block, values)) in x
                .chunks_exact(BLOCK)
                .zip(values.chunks_exact_mut(BLOCK))
                .enumerate()
            {
                let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                let s = amax / 127.0;
                let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
                for (a, &v) in values.iter_mut().zip(block) {
                    *a = round_half_even(v * inv) as i8;
                }
                let half = |h: usize| {
                    values[16 * h..][..16]
                        .iter()
                        .map(|&a| a as i32)
                        .sum::<i32>()
                };
                let halves = [half(0), half(1)];
                scales[b] = s;
                sums[b] = s * (halves[0] + halves[1]) as f32;
                half_sums[2 * b] = s * halves[0] as f32;
                half_sums[2 * b + 1] = s * halves[1] as f32;
            }
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
}
