//! AVX2 with FMA and F16C, for x86-64 CPUs without AVX-512 VNNI: each block's integer dot
//! product through `vpmaddubsw` (unsigned × signed bytes into 16-bit pairs) and `vpmaddwd`.
//! Weights go in as nibbles (≤ 15), so the 16-bit pairs never saturate: 8-bit weights are
//! split into their high and low nibbles, `Σ w·a = 16·Σ hi·a + Σ lo·a`. As in every kernel,
//! the order of operations per (row, column) follows the blocks alone, never the tile.

use core::arch::x86_64::*;

use crate::activation::ActRow;
use crate::format::{WeightRow, BLOCK};

pub(crate) fn supported() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// `Σ w·a` over 32 nibble weights, in 8 lanes.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn nibble_dot(w: __m256i, a: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(w, a), _mm256_set1_epi16(1))
}

/// The dot products of one weight row with `R` activation rows.
///
/// # Safety
/// The CPU must have the features [`supported`] checks.
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn dots<const R: usize>(w: WeightRow, rows: [ActRow; R]) -> [f32; R] {
    let blocks = w.weights.len() / BLOCK * if w.nibbles { 2 } else { 1 };
    let halves = w.group != BLOCK;
    let nibble = _mm256_set1_epi8(0x0f);
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..blocks {
        // The block's 32 weights, as low and high nibbles.
        let (lo, hi) = if w.nibbles {
            let v = _mm256_loadu_si256(w.weights.as_ptr().add((b / 2) * BLOCK).cast());
            let v = if b % 2 == 0 {
                v
            } else {
                _mm256_srli_epi16::<4>(v)
            };
            (_mm256_and_si256(v, nibble), None)
        } else {
            let v = _mm256_loadu_si256(w.weights.as_ptr().add(b * BLOCK).cast());
            (
                _mm256_and_si256(v, nibble),
                Some(_mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble)),
            )
        };
        // Lanes 0..4 hold the first 16 values' sums, 4..8 the last 16's.
        let d = if halves {
            let (d0, d1) = (w.scales[2 * b].to_f32(), w.scales[2 * b + 1].to_f32());
            _mm256_setr_ps(d0, d0, d0, d0, d1, d1, d1, d1)
        } else {
            _mm256_set1_ps(w.scales[b].to_f32())
        };
        for (acc, a) in acc.iter_mut().zip(&rows) {
            let x = _mm256_loadu_si256(a.values.as_ptr().add(b * BLOCK).cast());
            let mut sums = nibble_dot(lo, x);
            if let Some(hi) = hi {
                sums = _mm256_add_epi32(_mm256_slli_epi32::<4>(nibble_dot(hi, x)), sums);
            }
            let scale = _mm256_mul_ps(d, _mm256_set1_ps(a.scales[b]));
            *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, *acc);
        }
    }
    let groups = w.offsets.len();
    let sums = |a: &ActRow<'_>| -> *const f32 {
        if halves {
            a.half_sums.as_ptr()
        } else {
            a.sums.as_ptr()
        }
    };
    let full = groups - groups % 8;
    let mut offsets = [_mm256_setzero_ps(); R];
    for g in (0..full).step_by(8) {
        let c = _mm256_cvtph_ps(_mm_loadu_si128(w.offsets.as_ptr().add(g).cast()));
        for (off, a) in offsets.iter_mut().zip(&rows) {
            *off = _mm256_fmadd_ps(c, _mm256_loadu_ps(sums(a).add(g)), *off);
        }
    }
    std::array::from_fn(|r| {
        let tail: f32 = (full..groups)
            .map(|g| w.offsets[g].to_f32() * *sums(&rows[r]).add(g))
            .sum();
        sum8(acc[r]) + sum8(offsets[r]) + tail
    })
}

/// The eight lanes added in a fixed order.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sum8(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
}
