//! Scaled dot-product attention in f32 whose result for a query does not depend on the batch:
//! each key's score is summed over the head dimension in order, and a query row's softmax and
//! weighted values visit only the keys its mask shows, in key order. Padding, other rows and
//! the padded length therefore never touch its arithmetic, which a general matrix product
//! (blocked by the shapes it is given) cannot promise.

use std::cell::RefCell;

use crate::activation::round_half_even;
use crate::kernel::{kernel, Kernel};
use crate::pool::{self, Shared};

/// Shapes of one attention call. `q`: (batch, heads, queries, head_dim); the keys transposed,
/// `kt`: (batch, kv_heads, head_dim, keys); `v`: (batch, kv_heads, keys, head_dim); each of
/// `heads / kv_heads` query heads sharing one KV head.
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
///
/// The keys come transposed (a KV cache keeps them so), so that a step of the scores reads
/// consecutive keys of one dimension.
pub fn attention(
    q: &[f32],
    kt: &[f32],
    v: &[f32],
    mask: Option<Mask>,
    shape: AttentionShape,
    scale: f32,
    softcap: Option<f32>,
) -> Vec<f32> {
    attention_with(kernel(), q, kt, v, mask, shape, scale, softcap)
}

/// [`attention()`] in the registers of a given kernel's instruction set (AVX-512, AVX2 or
/// portable code), which all give the same bits.
#[allow(clippy::too_many_arguments)]
pub fn attention_with(
    kernel: Kernel,
    q: &[f32],
    kt: &[f32],
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
    let query = Query { hd, scale, softcap };
    let runs = kernel.runs_here();
    // Tasks: (batch row, KV head, chunk of queries). A task's rows are the queries of the
    // heads that share its KV head, scored a block at a time, so that each key loaded serves
    // several rows: consecutive queries of one head in prefill, the heads of one query in
    // decode.
    let chunks = queries.div_ceil(QUERIES_PER_TASK);
    let cells = Shared::new(&mut out);
    pool::run(batch * kv_heads * chunks, |t| {
        let (b, g, c) = (t / (kv_heads * chunks), t / chunks % kv_heads, t % chunks);
        let kv = b * kv_heads + g;
        let kt = &kt[kv * hd * keys..][..hd * keys];
        let v = &v[kv * keys * hd..][..keys * hd];
        let first = c * QUERIES_PER_TASK;
        let len = QUERIES_PER_TASK.min(queries - first);
        let row = |r: usize| {
            let (h, i) = (g * rep + r / len, first + r % len);
            let mask = mask.map(|m| {
                let at = if m.per_row { b * queries + i } else { i };
                &m.values[at * keys..][..keys]
            });
            Row {
                q: &q[((b * heads + h) * queries + i) * hd..][..hd],
                mask,
                seen: seen(mask, keys),
                // SAFETY: output row (b, i, h) belongs to this task alone.
                out: unsafe { cells.part(((b * queries + i) * heads + h) * hd, hd) },
            }
        };
        SCRATCH.with_borrow_mut(|scratch| {
            let all = rep * len;
            for start in (0..all).step_by(BLOCK_ROWS) {
                let mut rows: Vec<Row> = (start..(start + BLOCK_ROWS).min(all)).map(row).collect();
                match kernel {
                    // SAFETY: `runs_here` said the CPU has what the kernel needs.
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx512Vnni if runs => unsafe {
                        query.block_avx512(&mut rows, kt, v, scratch)
                    },
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx2 if runs => unsafe { query.block_avx2(&mut rows, kt, v, scratch) },
                    _ => query.block::<KEY_STEP, HALF_STEP, KEY_STEP>(&mut rows, kt, v, scratch),
                }
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
/// Query rows scored together: each key loaded serves all of them.
const BLOCK_ROWS: usize = 4;
/// Queries of a head per parallel task.
const QUERIES_PER_TASK: usize = 16;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// A thread's buffers: every key's score for each row of a block, and each row's visible
/// keys and weights.
#[derive(Default)]
struct Scratch {
    scores: Vec<f32>,
    /// The last keys that do not fill a step, zero-padded to one.
    tail: Vec<f32>,
    rows: [RowScratch; BLOCK_ROWS],
}

#[derive(Default)]
struct RowScratch {
    visible: Vec<usize>,
    weights: Vec<f32>,
}

/// A row's visible keys, `first..first + n` when they are one `run` (else listed), and the
/// sum of their weights.
#[derive(Clone, Copy)]
struct Softmax {
    first: usize,
    run: bool,
    n: usize,
    sum: f32,
}

/// One query row: its values, its mask row, and where its result goes.
struct Row<'a> {
    q: &'a [f32],
    mask: Option<&'a [f32]>,
    /// Keys up to its last visible one.
    seen: usize,
    out: &'a mut [f32],
}

/// Keys up to the last visible one (a causal row sees the keys up to its own).
fn seen(mask: Option<&[f32]>, keys: usize) -> usize {
    mask.map_or(keys, |m| {
        m.iter()
            .rposition(|&x| x != f32::NEG_INFINITY)
            .map_or(0, |j| j + 1)
    })
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
    unsafe fn block_avx2(&self, rows: &mut [Row], kt: &[f32], v: &[f32], scratch: &mut Scratch) {
        self.block::<KEY_STEP, HALF_STEP, KEY_STEP>(rows, kt, v, scratch)
    }

    /// With registers of sixteen lanes, every width doubles.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn block_avx512(&self, rows: &mut [Row], kt: &[f32], v: &[f32], scratch: &mut Scratch) {
        self.block::<{ 2 * KEY_STEP }, KEY_STEP, { 2 * KEY_STEP }>(rows, kt, v, scratch)
    }

    /// Up to `BLOCK_ROWS` rows that share their keys and values, their scores `ONE` keys at
    /// a time for a single row, `MANY` for several, the weighted values `PV` outputs at a time
    /// (four registers of sums). Each key's score is its own lane's sum over the head
    /// dimension in order, whichever rows share the block and whatever the widths; then each
    /// row alone takes its visible keys in key order.
    #[inline(always)]
    fn block<const ONE: usize, const MANY: usize, const PV: usize>(
        &self,
        rows: &mut [Row],
        kt: &[f32],
        v: &[f32],
        scratch: &mut Scratch,
    ) {
        let keys = kt.len() / self.hd;
        let seen = rows.iter().map(|r| r.seen).max().unwrap_or(0);
        let mut scores = std::mem::take(&mut scratch.scores);
        scores.clear();
        scores.resize(rows.len() * keys, 0.0);
        let q = |r: usize| rows[r].q;
        let tail = &mut scratch.tail;
        match rows.len() {
            1 => scores_of::<1, ONE>([q(0)], kt, seen, tail, &mut scores),
            2 => scores_of::<2, MANY>([q(0), q(1)], kt, seen, tail, &mut scores),
            3 => scores_of::<3, MANY>([q(0), q(1), q(2)], kt, seen, tail, &mut scores),
            _ => scores_of::<4, MANY>([q(0), q(1), q(2), q(3)], kt, seen, tail, &mut scores),
        }
        let mut soft = [None; BLOCK_ROWS];
        for (r, row) in rows.iter().enumerate() {
            soft[r] = self.softmax(row, &scores[r * keys..][..keys], &mut scratch.rows[r]);
        }
        scratch.scores = scores;
        let soft = &soft[..rows.len()];
        // Rows whose visible keys are one run from the same key (the queries of a causal
        // prefill, the heads of one query) share each value row loaded, for the keys they all
        // see; each row's sums are still its own chains in rank order.
        let shared = match soft.first() {
            Some(Some(s0))
                if rows.len() > 1
                    && soft
                        .iter()
                        .all(|s| s.is_some_and(|s| s.run && s.first == s0.first)) =>
            {
                soft.iter().flatten().map(|s| s.n).min()
            }
            _ => None,
        };
        let mut c = 0;
        while c < self.hd {
            let width = match self.hd - c {
                w if w >= PV => PV,
                w if w >= KEY_STEP => KEY_STEP,
                w if w >= LANES => LANES,
                _ => 1,
            };
            match width {
                w if w == PV => self.values::<PV>(rows, soft, shared, v, c, &scratch.rows),
                KEY_STEP => self.values::<KEY_STEP>(rows, soft, None, v, c, &scratch.rows),
                LANES => self.values::<LANES>(rows, soft, None, v, c, &scratch.rows),
                _ => self.values::<1>(rows, soft, None, v, c, &scratch.rows),
            }
            c += width;
        }
    }

    /// A row's softmax over its visible keys: their unnormalised weights in `rs.weights` (and
    /// the keys in `rs.visible` unless they are one run), `None` when it sees no key. The
    /// visible keys are taken in key order, and the sum and the weighted values are
    /// accumulated by their rank among the visible keys alone, so neither a key's position
    /// in the padded cache nor any hidden key changes a bit.
    #[inline(always)]
    fn softmax(&self, row: &Row, scores: &[f32], rs: &mut RowScratch) -> Option<Softmax> {
        let (mask, seen) = (row.mask, row.seen);
        let RowScratch { visible, weights } = rs;
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
            return None;
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
        Some(Softmax { first, run, n, sum })
    }

    /// Outputs `c..c + W` of every row: `Σ_r weight_r · v[key_r][c..]` over the row's
    /// visible keys in rank order, over the sum of the weights. The first `shared` ranks of
    /// all rows go through the value rows together.
    #[inline(always)]
    fn values<const W: usize>(
        &self,
        rows: &mut [Row],
        soft: &[Option<Softmax>],
        shared: Option<usize>,
        v: &[f32],
        c: usize,
        rs: &[RowScratch; BLOCK_ROWS],
    ) {
        let hd = self.hd;
        let mut acc = [[0f32; W]; BLOCK_ROWS];
        let start = match (shared, soft.first()) {
            (Some(n), Some(Some(s))) => {
                let w = |r: usize| &rs[r].weights[..n];
                match rows.len() {
                    2 => weighted_rows::<2, W>([w(0), w(1)], s.first, v, hd, c, &mut acc),
                    3 => weighted_rows::<3, W>([w(0), w(1), w(2)], s.first, v, hd, c, &mut acc),
                    _ => {
                        weighted_rows::<4, W>([w(0), w(1), w(2), w(3)], s.first, v, hd, c, &mut acc)
                    }
                }
                n
            }
            _ => 0,
        };
        for (r, (row, s)) in rows.iter_mut().zip(soft).enumerate() {
            let out = &mut row.out[c..][..W];
            let Some(s) = s else {
                out.fill(0.0);
                continue;
            };
            let w = &rs[r].weights[..s.n];
            if s.run {
                weighted::<W>(w, start, |i| s.first + i, v, hd, c, &mut acc[r]);
            } else {
                weighted::<W>(w, start, |i| rs[r].visible[i], v, hd, c, &mut acc[r]);
            }
            for l in 0..W {
                out[l] = acc[r][l] / s.sum;
            }
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

/// `acc[l] += Σ_r weights[r] · v[key(r)][c + l]` over ranks `start..`, for `W` outputs, each a
/// chain of multiply-adds in order of `r`.
#[inline(always)]
fn weighted<const W: usize>(
    weights: &[f32],
    start: usize,
    key: impl Fn(usize) -> usize,
    v: &[f32],
    hd: usize,
    c: usize,
    acc: &mut [f32; W],
) {
    let mut a = *acc;
    for (r, &p) in weights.iter().enumerate().skip(start) {
        let x = &v[key(r) * hd + c..][..W];
        for l in 0..W {
            a[l] = p.mul_add(x[l], a[l]);
        }
    }
    *acc = a;
}

/// The first ranks of `R` rows whose visible keys are all one run from key `first`: each
/// value row loaded once for all of them, each row's chain as in [`weighted`].
#[inline(always)]
fn weighted_rows<const R: usize, const W: usize>(
    weights: [&[f32]; R],
    first: usize,
    v: &[f32],
    hd: usize,
    c: usize,
    acc: &mut [[f32; W]; BLOCK_ROWS],
) {
    let mut a = [[0f32; W]; R];
    for i in 0..weights[0].len() {
        let x = &v[(first + i) * hd + c..][..W];
        for r in 0..R {
            let p = weights[r][i];
            for l in 0..W {
                a[r][l] = p.mul_add(x[l], a[r][l]);
            }
        }
    }
    acc[..R].copy_from_slice(&a);
}

/// Half a step: with several rows in a block, two registers of sums per row are enough.
const HALF_STEP: usize = KEY_STEP / 2;

/// The scores of `R` rows against the first `seen` keys, `W` keys at a time:
/// `out[r · keys + j] = Σ_d q_r[d] · k_j[d]`, each sum a chain of multiply-adds in order of
/// `d`, the same whatever `R` and `W` are. The keys after the last whole step are copied,
/// zero-padded, into `tail` and scored as one more step.
#[inline(always)]
fn scores_of<const R: usize, const W: usize>(
    q: [&[f32]; R],
    kt: &[f32],
    seen: usize,
    tail: &mut Vec<f32>,
    out: &mut [f32],
) {
    let hd = q[0].len();
    let keys = kt.len() / hd;
    let whole = seen / W * W;
    for base in (0..whole).step_by(W) {
        let acc = step::<R, W>(q, kt, keys, base);
        for r in 0..R {
            out[r * keys + base..][..W].copy_from_slice(&acc[r]);
        }
    }
    let rest = seen - whole;
    if rest > 0 {
        tail.clear();
        tail.resize(hd * W, 0.0);
        for d in 0..hd {
            tail[d * W..][..rest].copy_from_slice(&kt[d * keys + whole..][..rest]);
        }
        let acc = step::<R, W>(q, tail, W, 0);
        for r in 0..R {
            out[r * keys + whole..][..rest].copy_from_slice(&acc[r][..rest]);
        }
    }
}

/// One step: the scores of `R` rows against keys `base..base + W` of `kt`, rows of `stride`.
#[inline(always)]
fn step<const R: usize, const W: usize>(
    q: [&[f32]; R],
    kt: &[f32],
    stride: usize,
    base: usize,
) -> [[f32; W]; R] {
    let mut acc = [[0f32; W]; R];
    for (d, k) in kt.chunks_exact(stride).enumerate() {
        let k = &k[base..][..W];
        for r in 0..R {
            let x = q[r][d];
            for l in 0..W {
                acc[r][l] = x.mul_add(k[l], acc[r][l]);
            }
        }
    }
    acc
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
