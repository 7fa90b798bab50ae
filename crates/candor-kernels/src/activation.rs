//! Activations quantized per row and per block of 32 (llama.cpp's Q8_1): each block's values
//! become `s·a` with 8-bit integers `a` (rounded half to even) and `s = max|x| / 127`.

use crate::format::BLOCK;
use crate::KernelError;

/// Rows of activations quantized for one matrix product. A row's numbers depend on that row
/// alone: this is what makes the product's rows independent of the batch.
pub(crate) struct QuantizedRows {
    pub(crate) rows: usize,
    pub(crate) pairs: usize,
    /// `a`: `64·pairs` per row (a padding block is zero).
    pub(crate) values: Vec<i8>,
    /// `s` of each block, `2·pairs` per row.
    pub(crate) scales: Vec<f32>,
    /// `s·Σa` of each block, `2·pairs` per row.
    pub(crate) sums: Vec<f32>,
    /// `s·Σa` of each half block, `4·pairs` per row (for Q6_K's groups of 16).
    pub(crate) half_sums: Vec<f32>,
    /// `s` of each pair's blocks spread over 16 lanes (8 each), `16·pairs` per row.
    pub(crate) lanes: Vec<f32>,
}

impl QuantizedRows {
    /// Quantizes `x`, rows of `cols` values (`cols` a multiple of 32).
    pub(crate) fn new(x: &[f32], cols: usize) -> Result<Self, KernelError> {
        if cols == 0 || !x.len().is_multiple_of(cols) || !cols.is_multiple_of(BLOCK) {
            return Err(KernelError::InputLength { len: x.len(), cols });
        }
        let rows = x.len() / cols;
        let pairs = (cols / BLOCK).div_ceil(2);
        let mut out = Self {
            rows,
            pairs,
            values: vec![0; rows * pairs * 2 * BLOCK],
            scales: vec![0.0; rows * 2 * pairs],
            sums: vec![0.0; rows * 2 * pairs],
            half_sums: vec![0.0; rows * 4 * pairs],
            lanes: vec![0.0; rows * 16 * pairs],
        };
        let n = 2 * pairs; // blocks per row, padding included
        for (i, row) in x.chunks_exact(cols).enumerate() {
            let values = &mut out.values[i * n * BLOCK..][..n * BLOCK];
            let scales = &mut out.scales[i * n..][..n];
            let sums = &mut out.sums[i * n..][..n];
            let half_sums = &mut out.half_sums[i * 2 * n..][..2 * n];
            let lanes = &mut out.lanes[i * 8 * n..][..8 * n];
            for (b, block) in row.chunks_exact(BLOCK).enumerate() {
                let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
                let s = amax / 127.0;
                let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
                let mut halves = [0i32; 2];
                for (e, (a, &v)) in values[b * BLOCK..][..BLOCK]
                    .iter_mut()
                    .zip(block)
                    .enumerate()
                {
                    *a = round_half_even(v * inv) as i8;
                    halves[e / 16] += *a as i32;
                }
                scales[b] = s;
                sums[b] = s * (halves[0] + halves[1]) as f32;
                half_sums[2 * b] = s * halves[0] as f32;
                half_sums[2 * b + 1] = s * halves[1] as f32;
                lanes[(b / 2) * 16 + (b % 2) * 8..][..8].fill(s);
            }
        }
        Ok(out)
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    pub(crate) fn row(&self, i: usize) -> ActRow<'_> {
        let n = 2 * self.pairs;
        ActRow {
            values: &self.values[i * n * BLOCK..][..n * BLOCK],
            scales: &self.scales[i * n..][..n],
            sums: &self.sums[i * n..][..n],
            half_sums: &self.half_sums[i * 2 * n..][..2 * n],
            lanes: &self.lanes[i * 8 * n..][..8 * n],
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
    pub lanes: &'a [f32],
}

/// `y` rounded half to even, for |y| ≤ 2²²: adding and removing 1.5·2²³ leaves no fraction
/// bits, and the FPU rounds to even. Unlike `f32::round_ties_even` it needs no SSE4.1, so it
/// vectorises on any x86-64 instead of calling libm.
fn round_half_even(y: f32) -> f32 {
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
