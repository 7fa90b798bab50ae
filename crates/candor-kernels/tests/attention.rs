//! The attention kernel against a plain f64 softmax, and a query's bits alone vs with hidden
//! keys around it (padding, another row's prefix) and other rows in its batch.

use candor_kernels::{attention, attention_with, AttentionShape, Kernel, Mask};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Keys (groups, keys, hd) as the kernel takes them: (groups, hd, keys).
fn transposed(k: &[f32], keys: usize, hd: usize) -> Vec<f32> {
    let mut kt = vec![0f32; k.len()];
    for (g, k) in k.chunks_exact(keys * hd).enumerate() {
        for (j, key) in k.chunks_exact(hd).enumerate() {
            for (d, &x) in key.iter().enumerate() {
                kt[(g * hd + d) * keys + j] = x;
            }
        }
    }
    kt
}

/// Softmax attention in f64 for one query over the visible keys of one head.
fn naive(q: &[f32], keys: &[&[f32]], vals: &[&[f32]], scale: f32) -> Vec<f64> {
    let s: Vec<f64> = keys
        .iter()
        .map(|k| {
            q.iter()
                .zip(*k)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>()
                * scale as f64
        })
        .collect();
    let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    (0..q.len())
        .map(|d| {
            e.iter()
                .zip(vals)
                .map(|(p, v)| p * v[d] as f64)
                .sum::<f64>()
                / sum
        })
        .collect()
}

#[test]
fn causal_attention_matches_an_f64_softmax() {
    let (heads, kv_heads, t, hd) = (4, 2, 13, 40);
    let shape = AttentionShape {
        batch: 1,
        heads,
        kv_heads,
        queries: t,
        keys: t,
        head_dim: hd,
    };
    let (q, k, v) = (
        values(heads * t * hd, 1),
        values(kv_heads * t * hd, 2),
        values(kv_heads * t * hd, 3),
    );
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| (0..t).map(move |j| if j <= i { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    let mask = Mask {
        values: &mask,
        per_row: false,
    };
    let kt = transposed(&k, t, hd);
    let out = attention(&q, &kt, &v, Some(mask), shape, 0.125, None);
    for i in 0..t {
        for h in 0..heads {
            let g = h / (heads / kv_heads);
            let qrow = &q[(h * t + i) * hd..][..hd];
            let keys: Vec<&[f32]> = (0..=i).map(|j| &k[(g * t + j) * hd..][..hd]).collect();
            let vals: Vec<&[f32]> = (0..=i).map(|j| &v[(g * t + j) * hd..][..hd]).collect();
            let want = naive(qrow, &keys, &vals, 0.125);
            let got = &out[(i * heads + h) * hd..][..hd];
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (*a as f64 - b).abs() < 1e-6,
                    "query {i} head {h}: {a} vs {b}"
                );
            }
        }
    }
    // Every instruction set this CPU runs gives the same bits (head_dim 40: a whole chunk of
    // 32 and a tail).
    for kernel in Kernel::available() {
        let other = attention_with(kernel, &q, &kt, &v, Some(mask), shape, 0.125, None);
        assert!(
            other
                .iter()
                .zip(&out)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{kernel} differs"
        );
    }
}

#[test]
fn a_query_is_bit_identical_alone_and_among_hidden_keys_and_other_rows() {
    let (heads, hd) = (3, 64);
    let own = 9; // the followed row's keys
    let (q, k, v) = (
        values(heads * hd, 4),
        values(own * hd, 5),
        values(own * hd, 6),
    );
    let alone = attention(
        &q,
        &transposed(&k, own, hd),
        &v,
        None,
        AttentionShape {
            batch: 1,
            heads,
            kv_heads: 1,
            queries: 1,
            keys: own,
            head_dim: hd,
        },
        0.125,
        None,
    );
    // In a batch of 3 rows of 20 key slots: the row's keys split around 6 hidden padding
    // slots (as after a shorter cached prefix) and followed by 5 more; other rows random.
    let slots = 20;
    let layout: Vec<Option<usize>> = (0..slots)
        .map(|s| match s {
            0..=3 => Some(s),
            4..=9 => None,
            10..=14 => Some(s - 6),
            _ => None,
        })
        .collect();
    let mut kb = values(3 * slots * hd, 7);
    let mut vb = values(3 * slots * hd, 8);
    let mut qb = values(3 * heads * hd, 9);
    let row = 1;
    qb[row * heads * hd..][..heads * hd].copy_from_slice(&q);
    let mut mask = vec![0f32; 3 * slots];
    for (s, at) in layout.iter().enumerate() {
        match at {
            Some(j) => {
                kb[(row * slots + s) * hd..][..hd].copy_from_slice(&k[j * hd..][..hd]);
                vb[(row * slots + s) * hd..][..hd].copy_from_slice(&v[j * hd..][..hd]);
            }
            None => mask[row * slots + s] = f32::NEG_INFINITY,
        }
    }
    let batched = attention(
        &qb,
        &transposed(&kb, slots, hd),
        &vb,
        Some(Mask {
            values: &mask,
            per_row: true,
        }),
        AttentionShape {
            batch: 3,
            heads,
            kv_heads: 1,
            queries: 1,
            keys: slots,
            head_dim: hd,
        },
        0.125,
        None,
    );
    let got = &batched[row * heads * hd..][..heads * hd];
    assert!(
        got.iter()
            .zip(&alone)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the row's attention changed with padding and batch"
    );
}

#[test]
fn a_query_is_bit_identical_alone_and_among_the_queries_of_a_causal_prefill() {
    // One head: alone, a query is scored in a block of one; in a prefill of 45 causal
    // queries it shares blocks of four with its neighbours, which see other keys (45: whole
    // steps of keys and a tail, for every block size).
    let (t, hd) = (45, 64);
    let (q, k, v) = (values(t * hd, 10), values(t * hd, 11), values(t * hd, 12));
    let shape = |queries, keys| AttentionShape {
        batch: 1,
        heads: 1,
        kv_heads: 1,
        queries,
        keys,
        head_dim: hd,
    };
    let mask: Vec<f32> = (0..t * t)
        .map(|n| {
            if n % t <= n / t {
                0.0
            } else {
                f32::NEG_INFINITY
            }
        })
        .collect();
    let causal = Mask {
        values: &mask,
        per_row: false,
    };
    let prefill = attention(
        &q,
        &transposed(&k, t, hd),
        &v,
        Some(causal),
        shape(t, t),
        0.125,
        None,
    );
    for i in [0, 5, 7, 31, 32, 44] {
        let (keys, q) = (i + 1, &q[i * hd..][..hd]);
        let alone = attention(
            q,
            &transposed(&k[..keys * hd], keys, hd),
            &v[..keys * hd],
            None,
            shape(1, keys),
            0.125,
            None,
        );
        assert!(
            prefill[i * hd..][..hd]
                .iter()
                .zip(&alone)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "query {i} differs alone and in the prefill"
        );
    }
}
