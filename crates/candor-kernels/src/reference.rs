//! The portable kernel, and the definition the others are tested against bit for bit: per
//! (row, output), for each group of values sharing a scale (a block, or half a block for
//! Q6_K) in order, `acc = fma(Σ w·a, d·s, acc)` with the exact integer sum, then
//! `acc = fma(c, s·Σa, acc)`.

use crate::activation::ActRow;
use crate::format::{QuantMatrix, BLOCK};

pub(crate) fn dot(m: &QuantMatrix, j: usize, a: ActRow) -> f32 {
    let group = m.format.group();
    let mut acc = 0f32;
    for (g, x) in a.values.chunks_exact(group).enumerate() {
        let sum: i32 = x
            .iter()
            .enumerate()
            .map(|(e, &x)| m.value(j, g * group + e) as i32 * x as i32)
            .sum();
        let (d, c) = m.scale_offset(j, g);
        acc = (sum as f32).mul_add(d * a.scales[g * group / BLOCK], acc);
        acc = c.mul_add(a.group_sum(group, g), acc);
    }
    acc
}
