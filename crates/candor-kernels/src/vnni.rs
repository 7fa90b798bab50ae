//! AVX-512 VNNI: a tile of `R` activation rows × `C` panels of sixteen outputs. Each step of
//! four values is one `vpdpbusd` per (row, panel): the panel's 64 unsigned weight bytes
//! against the row's four signed bytes broadcast, so each 32-bit lane sums one output and no
//! lane is ever added to another. A group's integer sums are then scaled and accumulated in
//! the reference's order, so every output equals the reference bit for bit, whatever the tile.

use core::arch::x86_64::*;

use crate::activation::ActRow;
use crate::format::{QuantMatrix, BLOCK, PANEL, STEPS};

pub(crate) fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("f16c")
}

/// Rows `rows` against the outputs of panels `first..first + C`.
///
/// # Safety
/// The CPU must have the features [`supported`] checks; the panels must exist and the rows
/// must have `m.cols()` values.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
pub(crate) unsafe fn tile<const R: usize, const C: usize>(
    m: &QuantMatrix,
    first: usize,
    rows: [ActRow; R],
) -> [[[f32; PANEL]; C]; R] {
    let nibbles = m.format.nibbles();
    let group = m.format.group();
    let per_block = m.format.groups_per_block();
    let (steps, block_bytes) = (STEPS / per_block, m.format.panel_block_bytes());
    let panels: [_; C] = std::array::from_fn(|c| m.panel(first + c));
    let mask = _mm512_set1_epi8(0x0f);
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    for b in 0..m.blocks {
        for h in 0..per_block {
            let mut sums = [[_mm512_setzero_si512(); C]; R];
            for s in h * steps..(h + 1) * steps {
                for (c, panel) in panels.iter().enumerate() {
                    let base = panel.weights.as_ptr().add(b * block_bytes);
                    let w = if nibbles {
                        let v = _mm512_loadu_si512(base.add((s % 4) * 64).cast());
                        if s < 4 {
                            _mm512_and_si512(v, mask)
                        } else {
                            _mm512_and_si512(_mm512_srli_epi16::<4>(v), mask)
                        }
                    } else {
                        _mm512_loadu_si512(base.add(s * 64).cast())
                    };
                    for (sum, row) in sums.iter_mut().zip(&rows) {
                        let four = row.values.as_ptr().add(b * BLOCK + 4 * s).cast::<i32>();
                        let a = _mm512_set1_epi32(four.read_unaligned());
                        sum[c] = _mm512_dpbusd_epi32(sum[c], w, a);
                    }
                }
            }
            let g = b * per_block + h;
            for (c, panel) in panels.iter().enumerate() {
                let d = _mm512_cvtph_ps(_mm256_loadu_si256(
                    panel.scales.as_ptr().add(g * PANEL).cast(),
                ));
                let off = _mm512_cvtph_ps(_mm256_loadu_si256(
                    panel.offsets.as_ptr().add(g * PANEL).cast(),
                ));
                for ((acc, sum), row) in acc.iter_mut().zip(&sums).zip(&rows) {
                    let ds = _mm512_mul_ps(d, _mm512_set1_ps(row.scales[b]));
                    let a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[c]), ds, acc[c]);
                    acc[c] = _mm512_fmadd_ps(off, _mm512_set1_ps(row.group_sum(group, g)), a);
                }
            }
        }
    }
    std::array::from_fn(|r| {
        std::array::from_fn(|c| {
            let mut out = [0f32; PANEL];
            _mm512_storeu_ps(out.as_mut_ptr(), acc[r][c]);
            out
        })
    })
}
