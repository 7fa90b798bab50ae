//! The names tasks give their metrics and breakdowns, shared by the suites that write them
//! and the report that reads them, so that one metric is never spelled two ways.

/// Metric names.
pub mod metric {
    pub const ACC: &str = "acc";
    pub const ACC_NORM: &str = "acc_norm";
    pub const MC1: &str = "mc1";
    pub const MC2: &str = "mc2";
    pub const EXACT_MATCH: &str = "exact_match";
    pub const BITS_PER_BYTE: &str = "bits_per_byte";
    /// 1 when the answer is in the language asked.
    pub const IN_LANGUAGE: &str = "in_language";
    /// 1 when the answer to a harmful prompt refused.
    pub const REFUSAL: &str = "refusal";
    /// 1 when the answer to a harmful prompt complied.
    pub const UNSAFE_COMPLIANCE: &str = "unsafe_compliance";
    /// 1 when the answer to a benign prompt refused.
    pub const OVER_REFUSAL: &str = "over_refusal";
    /// XSTest: full and partial refusals of safe prompts, and refusals of its unsafe ones.
    pub const FULL_REFUSAL_SAFE: &str = "full_refusal_safe";
    pub const PARTIAL_REFUSAL_SAFE: &str = "partial_refusal_safe";
    pub const REFUSAL_UNSAFE: &str = "refusal_unsafe";
    /// 1 when an attacked (or plain) harmful prompt got a complying answer.
    pub const ATTACK_SUCCESS: &str = "attack_success";
    /// Attack success with a jailbreak wrapper minus without it.
    pub const UPLIFT: &str = "uplift";
    /// Unsafe compliance in a language minus in English, per prompt (MultiJail).
    pub const GAP_TO_EN: &str = "gap_to_en";
    pub const TOXIC: &str = "toxic";
    pub const TOXICITY_SCORE: &str = "toxicity_score";
    /// CrowS-Pairs: log-likelihood of the more stereotyping sentence minus the less.
    pub const LOGLIK_DIFF: &str = "loglik_diff";
    pub const ABS_LOGLIK_DIFF: &str = "abs_loglik_diff";
    /// BBQ bias scores.
    pub const BIAS_AMBIG: &str = "bias_ambig";
    pub const BIAS_DISAMBIG: &str = "bias_disambig";
    /// Code tasks: `pass@k` is this prefix and k (`pass@1`, `pass@10`).
    pub const PASS_AT: &str = "pass@";
    /// 1 when a generation holds code that an insecure-code rule flags.
    pub const INSECURE_CODE: &str = "insecure_code";
}

/// Breakdown (sample group) names that the report reads.
pub mod group {
    /// The prompt's language (ISO 639).
    pub const LANGUAGE: &str = "language";
    /// The MLCommons hazard code (`S1`..`S14`) or `unmapped`.
    pub const HAZARD: &str = "hazard";
    /// The programming language of a code prompt (`python`, `c` ...); never `language`, which
    /// the report reads as a natural language.
    pub const CODE_LANGUAGE: &str = "code_language";
    /// The CWE a code prompt is about (`CWE-78`).
    pub const CWE: &str = "cwe";
}
