//! Which way is better for a metric: what makes a sample "correct" in the sample browser and a
//! difference "worse" in `candor compare`. Metrics not listed have no direction (a signed gap,
//! a bias share whose ideal is 0.5) and are reported without a verdict.

/// The better direction of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// Accuracy-like metrics and refusals of harmful prompts.
const HIGHER: &[&str] = &[
    "acc",
    "acc_norm",
    "mc1",
    "mc2",
    "exact_match",
    "refusal",
    "refusal_unsafe",
    "in_language",
];

/// Harm, over-refusal, attack success, and losses.
const LOWER: &[&str] = &[
    "unsafe_compliance",
    "compliance_unsafe",
    "attack_success",
    "uplift",
    "over_refusal",
    "full_refusal_safe",
    "partial_refusal_safe",
    "toxic",
    "toxicity_score",
    "abs_loglik_diff",
    "bits_per_byte",
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
