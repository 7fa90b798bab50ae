//! Paired statistics for two runs over the same documents: the exact McNemar test and the
//! Agresti–Min interval for 0/1 scores, a paired bootstrap for continuous ones, and Holm's
//! step-down correction for many tests at once.

use candor_core::SplitMix64;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Two-sided exact McNemar p-value from the discordant pairs: `a_only` documents that only A
/// got right, `b_only` that only B did. Under the null each discordant pair goes either way
/// with probability ½, so `p = min(1, 2 · P[X ≤ min(a_only, b_only)])` for
/// `X ~ Binomial(a_only + b_only, ½)`. Summed in log space so thousands of pairs do not
/// underflow.
pub fn mcnemar_exact(a_only: u64, b_only: u64) -> f64 {
    let m = a_only + b_only;
    if m == 0 {
        return 1.0;
    }
    let k = a_only.min(b_only);
    let ln_half_m = m as f64 * std::f64::consts::LN_2;
    // ln C(m, i) by the recurrence C(m, i) = C(m, i-1) · (m - i + 1) / i.
    let mut ln_c = 0.0;
    let mut terms = Vec::with_capacity(k as usize + 1);
    for i in 0..=k {
        if i > 0 {
            ln_c += ((m - i + 1) as f64).ln() - (i as f64).ln();
        }
        terms.push(ln_c - ln_half_m);
    }
    let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

/// The Agresti–Min (2005) 95 % interval of a paired difference of proportions, B − A: add ½
/// to each cell of the 2×2 table, then take the Wald interval. Unlike plain Wald it is not
/// degenerate when no pair is discordant.
pub fn agresti_min(a_only: u64, b_only: u64, n: u64) -> (f64, f64) {
    let n2 = n as f64 + 2.0;
    let p_a = (a_only as f64 + 0.5) / n2;
    let p_b = (b_only as f64 + 0.5) / n2;
    let d = p_b - p_a;
    let half = Z95 * ((p_a + p_b - d * d) / n2).sqrt();
    ((d - half).max(-1.0), (d + half).min(1.0))
}

/// A paired bootstrap of the mean of per-document differences.
#[derive(Clone, Debug, PartialEq)]
pub struct Bootstrap {
    pub mean: f64,
    /// 2.5th and 97.5th percentiles of the resampled means.
    pub ci: (f64, f64),
    /// Two-sided p-value: the share of resampled means at least as far from the observed mean
    /// as the observed mean is from 0 (the resampling distribution shifted to the null),
    /// `(1 + hits) / (1 + resamples)` so it is never 0.
    pub p: f64,
}

/// Resample the documents `resamples` times (with replacement, seeded) and look at the mean
/// difference. `None` for no differences.
pub fn paired_bootstrap(diffs: &[f64], resamples: usize, seed: u64) -> Option<Bootstrap> {
    if diffs.is_empty() || resamples == 0 {
        return None;
    }
    let n = diffs.len();
    let mean = diffs.iter().sum::<f64>() / n as f64;
    let mut rng = SplitMix64::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| diffs[rng.below(n)]).sum::<f64>() / n as f64)
        .collect();
    // A tolerance, so a resample that equals the mean up to rounding counts as reaching it.
    let eps = 1e-12 * (1.0 + mean.abs());
    let hits = means
        .iter()
        .filter(|m| (*m - mean).abs() >= mean.abs() - eps)
        .count();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Some(Bootstrap {
        mean,
        ci: (at(0.025), at(0.975)),
        p: (1 + hits) as f64 / (1 + resamples) as f64,
    })
}

/// Holm's step-down adjusted p-values, in the input's order: sort ascending, multiply the
/// i-th smallest (from 0) by `m - i`, keep the running maximum, cap at 1. Rejecting where the
/// adjusted p < α controls the family-wise error rate at α.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// By hand, with m = a_only + b_only and k = min:
    /// * 1 vs 6: m = 7, P[X ≤ 1] = (C(7,0) + C(7,1)) / 2⁷ = 8/128, p = 2 · 0.0625 = 0.125.
    /// * 0 vs 5: P[X = 0] = 1/32, p = 0.0625.
    /// * 2 vs 10: m = 12, (1 + 12 + 66) / 4096 = 79/4096, p = 158/4096 = 0.03857421875.
    /// * 3 vs 3: (1 + 6 + 15 + 20) / 64 = 42/64, doubled 1.3125, capped at 1.
    /// * no discordant pair: p = 1.
    /// * 400 vs 600: 2.7284641560660e-10 (Python `2*sum(comb(1000,i) for i in range(401))/2**1000`).
    #[test]
    fn mcnemar_by_hand() {
        assert!(close(mcnemar_exact(1, 6), 0.125, 1e-12));
        assert!(close(mcnemar_exact(6, 1), 0.125, 1e-12));
        assert!(close(mcnemar_exact(0, 5), 0.0625, 1e-12));
        assert!(close(mcnemar_exact(2, 10), 0.038_574_218_75, 1e-12));
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        let p = mcnemar_exact(400, 600);
        assert!(close(p / 2.728_464_156_066e-10, 1.0, 1e-9), "{p}");
    }

    /// n = 10, 1 only-A and 6 only-B: p̃_A = 1.5/12 = 0.125, p̃_B = 6.5/12 = 0.541667,
    /// d = 0.416667, var = (0.125 + 0.541667 - 0.416667²) / 12 = 0.0410880,
    /// half = 1.959964 · 0.202702 = 0.397288, so [0.019379, 0.813955].
    #[test]
    fn agresti_min_by_hand() {
        let (lo, hi) = agresti_min(1, 6, 10);
        assert!(close(lo, 0.019_378_713, 1e-8), "{lo}");
        assert!(close(hi, 0.813_954_620, 1e-8), "{hi}");
        // No discordant pair: symmetric around 0, not a zero-width interval.
        let (lo, hi) = agresti_min(0, 0, 50);
        assert!(close(lo, -hi, 1e-12) && hi > 0.0);
    }

    /// p = [0.01, 0.04, 0.03, 0.005], m = 4. Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03,
    /// 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06. In input order: [0.03, 0.06, 0.06, 0.02].
    #[test]
    fn holm_by_hand() {
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!(close(*a, w, 1e-12), "{adj:?}");
        }
        // 0.6 · 2 caps at 1, and the running maximum keeps 0.9 · 1 at 1 too.
        assert_eq!(holm(&[0.6, 0.9]), [1.0, 1.0]);
        assert_eq!(holm(&[0.2, 0.01]), [0.2, 0.02]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn bootstrap_sanity() {
        // A constant difference: every resample has the same mean, the interval is a point,
        // and no resample reaches 0, so p = 1 / (R + 1).
        let b = paired_bootstrap(&[0.5; 40], 999, 7).unwrap();
        assert_eq!(b.ci, (0.5, 0.5));
        assert!(close(b.p, 1.0 / 1000.0, 1e-15));
        // Differences 0, 1, 2, 3, 4 repeated: mean 2, sd √2, standard error √2/10 = 0.1414;
        // the percentile interval is close to 2 ± 1.96 · 0.1414 = [1.723, 2.277].
        let d: Vec<f64> = (0..100).map(|i| f64::from(i % 5)).collect();
        let b = paired_bootstrap(&d, 4000, 1).unwrap();
        assert!(close(b.mean, 2.0, 1e-12));
        assert!(
            close(b.ci.0, 1.723, 0.04) && close(b.ci.1, 2.277, 0.04),
            "{:?}",
            b.ci
        );
        assert!(b.p < 0.001);
        // Symmetric around 0: the interval covers 0 and the test finds nothing.
        let d: Vec<f64> = (0..60)
            .map(|i| if i % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let b = paired_bootstrap(&d, 2000, 3).unwrap();
        assert!(b.ci.0 < 0.0 && b.ci.1 > 0.0 && b.p > 0.5, "{b:?}");
        // Seeded: the same seed gives the same answer.
        assert_eq!(paired_bootstrap(&d, 500, 9), paired_bootstrap(&d, 500, 9));
        assert_eq!(paired_bootstrap(&[], 10, 1), None);
    }
}
