//! Metrics and their uncertainty: multiple-choice scores as lm-evaluation-harness defines them,
//! means with closed-form standard errors, and a seeded bootstrap for everything else.

use crate::rng::SplitMix64;

/// Index of the highest score; the first on ties.
pub fn argmax(scores: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &s) in scores.iter().enumerate() {
        if best.is_none_or(|b| s > scores[b]) {
            best = Some(i);
        }
    }
    best
}

/// `acc`: 1 when the highest log-likelihood is the gold choice.
pub fn acc(logliks: &[f64], gold: usize) -> f64 {
    f64::from(u8::from(argmax(logliks) == Some(gold)))
}

/// `acc_norm`: like `acc`, with each log-likelihood divided by its continuation's UTF-8 bytes.
pub fn acc_norm(logliks: &[f64], bytes: &[usize], gold: usize) -> f64 {
    let normed: Vec<f64> = logliks
        .iter()
        .zip(bytes)
        .map(|(l, &b)| l / b.max(1) as f64)
        .collect();
    acc(&normed, gold)
}

/// TruthfulQA MC2: the probability mass of the true answers, normalised over all answers:
/// `Σ_true exp(ll) / Σ_all exp(ll)` (computed stably in log space).
pub fn mc2(logliks: &[f64], is_true: &[bool]) -> f64 {
    let max = logliks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return 0.0;
    }
    let (mut t, mut all) = (0.0, 0.0);
    for (l, &truth) in logliks.iter().zip(is_true) {
        let p = (l - max).exp();
        all += p;
        if truth {
            t += p;
        }
    }
    t / all
}

/// `exact_match`: 1 when the prediction equals the target after trimming surrounding
/// whitespace (tasks normalise further, e.g. extracting a number, before calling it).
pub fn exact_match(prediction: &str, target: &str) -> f64 {
    f64::from(u8::from(prediction.trim() == target.trim()))
}

/// `pass@k` of one problem with `c` of its `n` samples correct: the chance that at least one of
/// `k` samples drawn without replacement passes, `1 − C(n−c, k) / C(n, k)` (the unbiased
/// estimator of Chen et al. 2021), computed as a product so that n = 200 does not overflow.
/// `None` when `k` is 0 or more than `n`, or `c > n`.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let fail: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    Some(1.0 - fail)
}

/// Mean and its standard error `s / √n` (sample standard deviation, n − 1), as
/// lm-evaluation-harness reports it. `None` for the error when n < 2.
pub fn mean_stderr(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, Some((var / n as f64).sqrt()))
}

/// Standard error of any statistic of `items` by the bootstrap: the standard deviation of the
/// statistic over `iters` resamples with replacement, drawn from a generator seeded with
/// `seed` (the same seed gives the same error).
pub fn bootstrap_stderr<T: Clone>(
    items: &[T],
    statistic: impl Fn(&[T]) -> f64,
    iters: usize,
    seed: u64,
) -> Option<f64> {
    if items.len() < 2 || iters < 2 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut stats = Vec::with_capacity(iters);
    let mut resample = Vec::with_capacity(items.len());
    for _ in 0..iters {
        resample.clear();
        resample.extend((0..items.len()).map(|_| items[rng.below(items.len())].clone()));
        let s = statistic(&resample);
        if s.is_finite() {
            stats.push(s);
        }
    }
    let (_, se) = mean_stderr(&stats);
    // mean_stderr divides by √n; the bootstrap error is the plain standard deviation.
    se.map(|se| se * (stats.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_and_acc_norm_by_hand() {
        assert_eq!(acc(&[-1.0, -0.5, -3.0], 1), 1.0);
        assert_eq!(acc(&[-1.0, -0.5, -3.0], 0), 0.0);
        // Ties go to the first choice.
        assert_eq!(acc(&[-2.0, -2.0], 0), 1.0);
        // Per byte: -4/8 = -0.5 beats -1/1 = -1.
        assert_eq!(acc_norm(&[-1.0, -4.0], &[1, 8], 1), 1.0);
    }

    #[test]
    fn exact_match_by_hand() {
        assert_eq!(exact_match(" 42\n", "42"), 1.0);
        assert_eq!(exact_match("42.0", "42"), 0.0);
        assert_eq!(exact_match("", ""), 1.0);
    }

    #[test]
    fn mc2_by_hand() {
        // p ∝ [e^-1, e^-2, e^-3]; true = first two: (e^-1 + e^-2) / (e^-1 + e^-2 + e^-3).
        let (a, b, c) = ((-1f64).exp(), (-2f64).exp(), (-3f64).exp());
        let want = (a + b) / (a + b + c);
        assert!((mc2(&[-1.0, -2.0, -3.0], &[true, true, false]) - want).abs() < 1e-12);
        assert!((want - 0.909_969).abs() < 1e-5);
        // Huge negative log-likelihoods do not underflow to 0/0.
        assert!(
            (mc2(&[-1000.0, -1001.0], &[true, false]) - 1.0 / (1.0 + (-1f64).exp())).abs() < 1e-12
        );
    }

    #[test]
    fn pass_at_k_by_hand() {
        // n = 5, c = 2, k = 1: 1 - C(3,1)/C(5,1) = 1 - 3/5.
        assert!((pass_at_k(5, 2, 1).unwrap() - 0.4).abs() < 1e-12);
        // k = 2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
        assert!((pass_at_k(5, 2, 2).unwrap() - 0.7).abs() < 1e-12);
        // k = 3 > n - c: every draw of 3 holds a correct one.
        assert_eq!(pass_at_k(5, 2, 4), Some(1.0));
        // n = 10, c = 3, k = 5: 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!((pass_at_k(10, 3, 5).unwrap() - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
        // n = 200, c = 1, k = 100: 1 - C(199,100)/C(200,100) = 1 - 100/200.
        assert!((pass_at_k(200, 1, 100).unwrap() - 0.5).abs() < 1e-12);
        // n = 200, c = 0 and c = n.
        assert_eq!(pass_at_k(200, 0, 10), Some(0.0));
        assert_eq!(pass_at_k(200, 200, 1), Some(1.0));
        // Greedy: n = k = 1 is the pass rate itself.
        assert_eq!(pass_at_k(1, 1, 1), Some(1.0));
        assert_eq!(pass_at_k(1, 0, 1), Some(0.0));
        assert_eq!(pass_at_k(3, 1, 5), None);
        assert_eq!(pass_at_k(3, 1, 0), None);
        assert_eq!(pass_at_k(3, 4, 1), None);
    }

    #[test]
    fn mean_stderr_by_hand() {
        // values 1,0,1,0: mean 0.5, s = sqrt(1/3), se = sqrt(1/3)/2 = 0.288675
        let (m, se) = mean_stderr(&[1.0, 0.0, 1.0, 0.0]);
        assert_eq!(m, 0.5);
        assert!((se.unwrap() - 0.288_675_134_6).abs() < 1e-9);
        assert_eq!(mean_stderr(&[3.0]).1, None);
    }

    #[test]
    fn bootstrap_of_a_mean_is_close_to_the_closed_form_and_seeded() {
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 3 == 0)).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let a = bootstrap_stderr(&values, mean, 2000, 7).unwrap();
        let b = bootstrap_stderr(&values, mean, 2000, 7).unwrap();
        assert_eq!(a, b);
        let closed = mean_stderr(&values).1.unwrap();
        assert!(
            (a - closed).abs() / closed < 0.1,
            "bootstrap {a} vs closed form {closed}"
        );
    }
}
