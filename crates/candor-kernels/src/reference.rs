//! The portable kernel, and the definition the others are tested against: per block an exact
//! integer dot product, scaled, summed in block order; then the offsets' terms in block order.

use crate::activation::ActRow;
use crate::format::{WeightRow, BLOCK};

pub(crate) fn dot(w: WeightRow, a: ActRow) -> f32 {
    let mut acc = 0f32;
    for (q, pair) in a.values.chunks_exact(2 * BLOCK).enumerate() {
        let (a0, a1) = pair.split_at(BLOCK);
        let (mut s0, mut s1) = (0i32, 0i32);
        if w.nibbles {
            for ((&p, &x0), &x1) in w.weights[q * BLOCK..][..BLOCK].iter().zip(a0).zip(a1) {
                s0 += (p & 0x0f) as i32 * x0 as i32;
                s1 += (p >> 4) as i32 * x1 as i32;
            }
        } else {
            let (w0, w1) = w.weights[q * 2 * BLOCK..][..2 * BLOCK].split_at(BLOCK);
            for (&v, &x) in w0.iter().zip(a0) {
                s0 += v as i32 * x as i32;
            }
            for (&v, &x) in w1.iter().zip(a1) {
                s1 += v as i32 * x as i32;
            }
        }
        acc += w.scales[2 * q].to_f32() * a.scales[2 * q] * s0 as f32;
        acc += w.scales[2 * q + 1].to_f32() * a.scales[2 * q + 1] * s1 as f32;
    }
    let offsets: f32 = w
        .offsets
        .iter()
        .zip(a.sums)
        .fold(0.0, |sum, (c, s)| sum + c.to_f32() * s);
    acc + offsets
}
