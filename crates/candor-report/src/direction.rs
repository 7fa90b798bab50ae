//! Which way is better for a metric: what makes a sample "correct" in the sample browser and a
//! difference "worse" in `candor compare`. Metrics not listed have no direction (a signed gap,
//! a bias share whose ideal is 0.5) and are reported without a verdict.

use candor_core::names::metric;

/// The better direction of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// Accuracy-like metrics and refusals of harmful prompts.
const HIGHER: &[&str] = &[
    metric::ACC,
    metric::ACC_NORM,
    metric::MC1,
    metric::MC2,
    metric::EXACT_MATCH,
    metric::REFUSAL,
    metric::REFUSAL_UNSAFE,
    metric::IN_LANGUAGE,
];

/// Harm, over-refusal, attack success, and losses.
const LOWER: &[&str] = &[
    metric::UNSAFE_COMPLIANCE,
    metric::ATTACK_SUCCESS,
    metric::UPLIFT,
    metric::OVER_REFUSAL,
    metric::FULL_REFUSAL_SAFE,
    metric::PARTIAL_REFUSAL_SAFE,
    metric::TOXIC,
    metric::TOXICITY_SCORE,
    metric::ABS_LOGLIK_DIFF,
    metric::BITS_PER_BYTE,
];

/// The better direction of `metric`, if it has one.
pub fn better(metric: &str) -> Option<Better> {
    if HIGHER.contains(&metric) {
        Some(Better::Higher)
    } else if LOWER.contains(&metric) {
        Some(Better::Lower)
    } else {
        None
    }
}

/// Whether a 0/1 score of `metric` is a good outcome (`None` without a direction or for a
/// score that is not 0 or 1).
pub fn is_good(metric: &str, score: f64) -> Option<bool> {
    let one = if score == 1.0 {
        true
    } else if score == 0.0 {
        false
    } else {
        return None;
    };
    Some(match better(metric)? {
        Better::Higher => one,
        Better::Lower => !one,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_outcomes() {
        assert_eq!(better("acc"), Some(Better::Higher));
        assert_eq!(better("unsafe_compliance"), Some(Better::Lower));
        assert_eq!(better("gap_to_en"), None);
        assert_eq!(is_good("acc", 1.0), Some(true));
        assert_eq!(is_good("unsafe_compliance", 1.0), Some(false));
        assert_eq!(is_good("mc2", 0.7), None);
        assert_eq!(is_good("pct_stereotype", 1.0), None);
    }
}
