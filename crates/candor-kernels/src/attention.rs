//! Scaled dot-product attention in f32 whose result for a query does not depend on the batch:
//! each key's score is summed over the head dimension in order, and a query row's softmax and
//! weighted values visit only the keys its mask shows, in key order. Padding, other rows and
//! the padded length therefore never touch its arithmetic, which a general matrix product
//! (blocked by the shapes it is given) cannot promise.

use std::cell::RefCell;

use crate::activation::round_half_even;
use crate::pool::{self, Shared};

/// Shapes of one attention call. `q`: (batch, heads, queries, head_dim); `k` and `v`:
/// (batch, kv_heads, keys, head_dim), each of `heads / kv_heads` query heads sharing one.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub batch: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub queries: usize,
    pub keys: usize,
    pub head_dim: usize,
}

/// An additive mask, 0 where a key is visible and −∞ where it is not, rows of `keys` values
/// per query: one set for the whole batch (`per_row: false`, (queries, keys)) or one per
/// batch row ((batch, queries, keys)).
#[derive(Clone, Copy, Debug)]
pub struct Mask<'a> {
    pub values: &'a [f32],
    pub per_row: bool,
}

/// Softmax(`scale`·q·kᵀ (soft-capped: `cap·tanh(s/cap)`) + mask)·v, as (batch, queries,
/// heads, head_dim). Without a mask every key is visible. A query that sees no key gets zeros.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    mask: Option<Mask>,
    shape: AttentionShape,
    scale: f32,
    softcap: Option<f32>,
) -> Vec<f32> {
    let AttentionShape {
        batch,
        heads,
        kv_heads,
        queries,
        keys,
        head_dim: hd,
    } = shape;
    let mut out = vec![0f32; batch * queries * heads * hd];
    if keys == 0 || hd == 0 {
        return out;
    }
    let rep = heads / kv_heads.max(1);
    // Keys transposed, (batch, kv_heads, head_dim, lanes): a step scores `KEY_STEP` keys.
    let lanes = keys.div_ceil(KEY_STEP) * KEY_STEP;
    let mut kt = vec![0f32; batch * kv_heads * hd * lanes];
    let transposed = Shared::new(&mut kt);
    pool::run(batch * kv_heads, |p| {
        // SAFETY: task p alone writes the keys of (batch, kv head) pair p.
        let kt = unsafe { transposed.part(p * hd * lanes, hd * lanes) };
        for (j, key) in k[p * keys * hd..][..keys * hd].chunks_exact(hd).enumerate() {
            for (d, &x) in key.iter().enumerate() {
                kt[d * lanes + j] = x;
            }
        }
    });
    let simd = simd_supported();
    let query = Query { hd, scale, softcap };
    let query_row = |scratch: &mut Scratch, n: usize, out: &mut [f32]| {
        // Output row n is (b, i, h).
        let (b, i, h) = (n / (queries * heads), n / heads % queries, n % heads);
        let qrow = &q[((b * heads + h) * queries + i) * hd..][..hd];
        let kv = b * kv_heads + h / rep;
        let kt = &kt[kv * hd * lanes..][..hd * lanes];
        let v = &v[kv * keys * hd..][..keys * hd];
        let mrow = mask.map(|m| {
            let at = if m.per_row { b * queries + i } else { i };
            &m.values[at * keys..][..keys]
        });
        #[cfg(target_arch = "x86_64")]
        if simd {
            // SAFETY: `simd` says the CPU has AVX2 and FMA.
            unsafe { query.row_avx2(qrow, kt, v, mrow, scratch, out) };
            return;
        }
        query.row(qrow, kt, v, mrow, scratch, out);
    };
    let rows = batch * queries * heads;
    let cells = Shared::new(&mut out);
    pool::run(rows.div_ceil(ROWS_PER_TASK), |t| {
        SCRATCH.with_borrow_mut(|scratch| {
            for n in t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(rows) {
                // SAFETY: output row n belongs to this task alone.
                query_row(scratch, n, unsafe { cells.part(n * hd, hd) });
            }
        })
    });
    out
}

/// Lanes of a register (the softmax's sum keeps one partial sum per lane).
const LANES: usize = 8;
/// Keys scored per step: four registers of independent sums, so that the multiply-adds of
/// one key's sum do not wait on each other.
const KEY_STEP: usize = 4 * LANES;

fn simd_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Query rows per parallel task.
const ROWS_PER_TASK: usize = 16;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// A thread's buffers: every key's score, then the visible keys' indices and weights.
#[derive(Default)]
struct Scratch {
    scores: Vec<f32>,
    visible: Vec<usize>,
    weights: Vec<f32>,
}

/// What every query row of a call shares.
#[derive(Clone, Copy)]
struct Query {
    hd: usize,
    scale: f32,
    softcap: Option<f32>,
}

impl Query {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row_avx2(
        &self,
        q: &[f32],
        kt: &[f32],
        v: &[f32],
        mask: Option<&[f32]>,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        self.row(q, kt, v, mask, scratch, out)
    }

    /// One query row. Each key's score is its own lane's sum over the head dimension in
    /// order; the visible keys are then taken in key order, and their softmax sum and the
    /// weighted values are accumulated by their rank among the visible keys alone, so neither
    /// a key's position in the padded cache nor any hidden key changes a bit.
    #[inline(always)]
    fn row(
        &self,
        q: &[f32],
        kt: &[f32],
        v: &[f32],
        mask: Option<&[f32]>,
        scratch: &mut Scratch,
        out: &mut [f32],
    ) {
        let hd = self.hd;
        let keys = v.len() / hd;
        let lanes = kt.len() / hd;
        let Scratch {
            scores,
            visible,
            weights,
        } = scratch;
        // Only the steps that hold a visible key (a causal row sees the keys up to its own).
        let seen = mask.map_or(keys, |m| {
            m.iter()
                .rposition(|&x| x != f32::NEG_INFINITY)
                .map_or(0, |j| j + 1)
        });
        scores.clear();
        scores.resize(lanes, 0.0);
        let steps = seen.div_ceil(KEY_STEP);
        for (step, s) in scores.chunks_exact_mut(KEY_STEP).enumerate().take(steps) {
            let mut acc = [0f32; KEY_STEP];
            for (d, &x) in q.iter().enumerate() {
                let k = &kt[d * lanes + step * KEY_STEP..][..KEY_STEP];
                for l in 0..KEY_STEP {
                    acc[l] = x.mul_add(k[l], acc[l]);
                }
            }
            s.copy_from_slice(&acc);
        }
        // The visible keys: usually one run (a causal row after its prefix), taken as a
        // slice; otherwise (padding between a row's keys) gathered one by one. Both give the
        // same weights in the same order.
        let first = mask.map_or(0, |m| {
            m[..seen]
                .iter()
                .position(|&x| x != f32::NEG_INFINITY)
                .unwrap_or(seen)
        });
        let run = mask.is_none_or(|m| m[first..seen].iter().all(|&x| x != f32::NEG_INFINITY));
        visible.clear();
        weights.clear();
        if run {
            let m = |j: usize| mask.map_or(0.0, |m| m[j]);
            weights.extend((first..seen).map(|j| self.score(scores[j], m(j))));
        } else if let Some(m) = mask {
            for j in first..seen {
                if m[j] != f32::NEG_INFINITY {
                    visible.push(j);
                    weights.push(self.score(scores[j], m[j]));
                }
            }
        }
        if weights.is_empty() {
            out.fill(0.0);
            return;
        }
        let max = weights.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let n = weights.len();
        weights.resize(n.div_ceil(LANES) * LANES, f32::NEG_INFINITY);
        let mut sums = [0f32; LANES];
        for w in weights.chunks_exact_mut(LANES) {
            let mut x = [0f32; LANES];
            for l in 0..LANES {
                x[l] = w[l] - max;
            }
            let e = exp(x);
            w.copy_from_slice(&e);
            for l in 0..LANES {
                sums[l] += e[l];
            }
        }
        let sum = ((sums[0] + sums[4]) + (sums[2] + sums[6]))
            + ((sums[1] + sums[5]) + (sums[3] + sums[7]));
        // The weighted values, a register-sized chunk of the head dimension at a time.
        for (c, out) in out.chunks_mut(KEY_STEP).enumerate() {
            let mut acc = [0f32; KEY_STEP];
            let width = out.len();
            for (r, &p) in weights[..n].iter().enumerate() {
                let j = if run { first + r } else { visible[r] };
                let x = &v[j * hd + c * KEY_STEP..][..width];
                if width == KEY_STEP {
                    for l in 0..KEY_STEP {
                        acc[l] = p.mul_add(x[l], acc[l]);
                    }
                } else {
                    for l in 0..width {
                        acc[l] = p.mul_add(x[l], acc[l]);
                    }
                }
            }
            out.copy_from_slice(&acc[..width]);
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }

    /// A key's score: scaled, soft-capped, masked.
    #[inline(always)]
    fn score(&self, dot: f32, mask: f32) -> f32 {
        let mut s = dot * self.scale;
        if let Some(cap) = self.softcap {
            s = (s / cap).tanh() * cap;
        }
        s + mask
    }
}

/// `eˣ` of eight values, within 2 ulp for x ≥ −87 (0 below, and for −∞): `x = n·ln 2 + r`
/// with `|r| ≤ ln 2 / 2`, a degree-7 Taylor polynomial of `eʳ`, scaled by `2ⁿ` through the
/// exponent bits. Written lane by lane so that it vectorises.
#[inline(always)]
fn exp(x: [f32; LANES]) -> [f32; LANES] {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let mut y = [0f32; LANES];
    for l in 0..LANES {
        let xc = x[l].max(-87.0);
        let n = round_half_even(xc * std::f32::consts::LOG2_E);
        let r = n.mul_add(-LN2_LO, n.mul_add(-LN2_HI, xc));
        let mut p: f32 = 1.0 / 5040.0;
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = p.mul_add(r, c);
        }
        let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
        y[l] = if x[l] < -87.0 { 0.0 } else { p * scale };
    }
    y
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_is_within_two_ulp_of_the_standard_library() {
        for i in 0..=8700 {
            let x = -(i as f32) / 100.0;
            let want = x.exp();
            let got = super::exp([x; super::LANES])[0];
            let ulp = (want.to_bits() as i64 - got.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}): {got} vs {want} ({ulp} ulp)");
        }
        assert_eq!(super::exp([f32::NEG_INFINITY; super::LANES])[0], 0.0);
    }
}
