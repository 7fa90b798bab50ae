//! AVX-512 VNNI: a pair of blocks per step, `vpdpbusd` over 64 unsigned weights and 64 signed
//! activations into 16 lanes (8 per block), each lane's integer sum scaled and accumulated in
//! its own f32 lane (groups of 16 values, Q6_K's, take four lanes each). The order of operations per (row, column) is fixed by the block order
//! alone, never by `R`, so rows are bit-identical in any tile.

use core::arch::x86_64::*;

use crate::activation::ActRow;
use crate::format::{WeightRow, BLOCK};

pub(crate) fn supported() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
        && is_x86_feature_detected!("f16c")
}

/// The dot products of one weight row with `R` activation rows.
///
/// # Safety
/// The CPU must have the features [`supported`] checks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c")]
pub(crate) unsafe fn dots<const R: usize>(w: WeightRow, rows: [ActRow; R]) -> [f32; R] {
    let pairs = w.weights.len() / if w.nibbles { 32 } else { 64 };
    // Lanes 0..8 take the first block's scale, 8..16 the second's; with groups of 16, each
    // group's scale takes four lanes.
    let halves = w.group != BLOCK;
    let spread = if halves {
        _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0)
    } else {
        _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)
    };
    let nibble = _mm256_set1_epi8(0x0f);
    let mut acc = [_mm512_setzero_ps(); R];
    for q in 0..pairs {
        let weights = if w.nibbles {
            let v = _mm256_loadu_si256(w.weights.as_ptr().add(q * 32).cast());
            let lo = _mm256_and_si256(v, nibble);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble);
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
        } else {
            _mm512_loadu_si512(w.weights.as_ptr().add(q * 64).cast())
        };
        let scales = if halves {
            let four = (w.scales.as_ptr().add(4 * q) as *const i64).read_unaligned();
            _mm_cvtph_ps(_mm_cvtsi64_si128(four))
        } else {
            let two = (w.scales.as_ptr().add(2 * q) as *const i32).read_unaligned();
            _mm_cvtph_ps(_mm_cvtsi32_si128(two))
        };
        let d = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(scales));
        for (acc, a) in acc.iter_mut().zip(&rows) {
            let x = _mm512_loadu_si512(a.values.as_ptr().add(q * 64).cast());
            let sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), weights, x);
            let s = _mm512_loadu_ps(a.lanes.as_ptr().add(q * 16));
            *acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sums), s), d, *acc);
        }
    }
    let blocks = w.offsets.len();
    let mut offsets = [_mm512_setzero_ps(); R];
    for b in (0..blocks).step_by(16) {
        let mask: __mmask16 = if blocks - b >= 16 {
            u16::MAX
        } else {
            (1u16 << (blocks - b)) - 1
        };
        let c = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(
            mask,
            w.offsets.as_ptr().add(b).cast(),
        ));
        for (off, a) in offsets.iter_mut().zip(&rows) {
            let sums = if halves { a.half_sums } else { a.sums };
            let s = _mm512_maskz_loadu_ps(mask, sums.as_ptr().add(b));
            *off = _mm512_fmadd_ps(c, s, *off);
        }
    }
    std::array::from_fn(|r| _mm512_reduce_add_ps(acc[r]) + _mm512_reduce_add_ps(offsets[r]))
}
