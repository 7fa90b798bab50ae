//! AVX2 with FMA and F16C, for x86-64 CPUs without AVX-512 VNNI: a tile of `R` rows × one
//! panel, its sixteen outputs in two registers of eight lanes. A step's integer sums go
//! through `vpmaddubsw` (unsigned × signed bytes into 16-bit pairs) and `vpmaddwd`; weights
//! of up to 6 bits never saturate the pairs, and Q8_0's 8-bit weights are split into their
//! nibbles, `Σ w·a = 16·Σ hi·a + Σ lo·a`. Scaling and accumulation follow the reference's
//! order, so every output equals the reference bit for bit.

use core::arch::x86_64::*;

use crate::activation::ActRow;
use crate::format::{QuantMatrix, BLOCK, PANEL, STEPS};

pub(crate) fn supported() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// Rows `rows` against the outputs of panel `p`.
///
/// # Safety
/// The CPU must have the features [`supported`] checks; the panel must exist and the rows
/// must have `m.cols()` values.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn tile<const R: usize>(
    m: &QuantMatrix,
    p: usize,
    rows: [ActRow; R],
) -> [[f32; PANEL]; R] {
    let (nibbles, wide) = (m.format.nibbles(), m.format.wide());
    let group = m.format.group();
    let per_block = m.format.groups_per_block();
    let (steps, block_bytes) = (STEPS / per_block, m.format.panel_block_bytes());
    let panel = m.panel(p);
    let (mask, ones, sixteen) = (
        _mm256_set1_epi8(0x0f),
        _mm256_set1_epi16(1),
        _mm256_set1_epi16(16),
    );
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    for b in 0..m.blocks {
        let base = panel.weights.as_ptr().add(b * block_bytes);
        for h in 0..per_block {
            let mut sums = [[_mm256_setzero_si256(); 2]; R];
            for s in h * steps..(h + 1) * steps {
                for half in 0..2 {
                    let w = if nibbles {
                        let v = _mm256_loadu_si256(base.add((s % 4) * 64 + half * 32).cast());
                        let v = if s < 4 { v } else { _mm256_srli_epi16::<4>(v) };
                        _mm256_and_si256(v, mask)
                    } else {
                        _mm256_loadu_si256(base.add(s * 64 + half * 32).cast())
                    };
                    for (sum, row) in sums.iter_mut().zip(&rows) {
                        let four = row.values.as_ptr().add(b * BLOCK + 4 * s).cast::<i32>();
                        let a = _mm256_set1_epi32(four.read_unaligned());
                        let q = if wide {
                            let lo = _mm256_and_si256(w, mask);
                            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(w), mask);
                            _mm256_add_epi32(
                                _mm256_madd_epi16(_mm256_maddubs_epi16(lo, a), ones),
                                _mm256_madd_epi16(_mm256_maddubs_epi16(hi, a), sixteen),
                            )
                        } else {
                            _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), ones)
                        };
                        sum[half] = _mm256_add_epi32(sum[half], q);
                    }
                }
            }
            let g = b * per_block + h;
            for half in 0..2 {
                let at = g * PANEL + half * 8;
                let d = _mm256_cvtph_ps(_mm_loadu_si128(panel.scales.as_ptr().add(at).cast()));
                let off = _mm256_cvtph_ps(_mm_loadu_si128(panel.offsets.as_ptr().add(at).cast()));
                for ((acc, sum), row) in acc.iter_mut().zip(&sums).zip(&rows) {
                    let ds = _mm256_mul_ps(d, _mm256_set1_ps(row.scales[b]));
                    let a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[half]), ds, acc[half]);
                    acc[half] = _mm256_fmadd_ps(off, _mm256_set1_ps(row.group_sum(group, g)), a);
                }
            }
        }
    }
    std::array::from_fn(|r| {
        let mut out = [0f32; PANEL];
        _mm256_storeu_ps(out.as_mut_ptr(), acc[r][0]);
        _mm256_storeu_ps(out.as_mut_ptr().add(8), acc[r][1]);
        out
    })
}
