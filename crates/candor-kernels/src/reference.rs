//! The portable kernel, and the definition the others are tested against: per group of
//! values sharing a scale (a block, or half a block for Q6_K) an exact integer dot product,
//! scaled, summed in order; then the offsets' terms in order.

use crate::activation::ActRow;
use crate::format::{WeightRow, BLOCK};

pub(crate) fn dot(w: WeightRow, a: ActRow) -> f32 {
    let per_block = BLOCK / w.group;
    let mut acc = 0f32;
    for (b, x) in a.values.chunks_exact(BLOCK).enumerate() {
        for (h, x) in x.chunks_exact(w.group).enumerate() {
            let sum: i32 = x
                .iter()
                .enumerate()
                .map(|(e, &x)| w.value(b, h * w.group + e) as i32 * x as i32)
                .sum();
            let g = b * per_block + h;
            acc += w.scales[g].to_f32() * a.scales[b] * sum as f32;
        }
    }
    let sums = if per_block == 1 { a.sums } else { a.half_sums };
    let offsets: f32 = w
        .offsets
        .iter()
        .zip(sums)
        .fold(0.0, |sum, (c, s)| sum + c.to_f32() * s);
    acc + offsets
}
