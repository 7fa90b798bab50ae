//! The safety summary of a report: the safety × language matrix (unsafe compliance and
//! over-refusal per language) and unsafe compliance per MLCommons hazard, pooled across every
//! task of the run, each rate with a 95 % Wilson interval.
//!
//! Where the numbers come from:
//! * Unsafe compliance is the task metric `unsafe_compliance` (AdvBench, Do-Not-Answer,
//!   MultiJail, jailbreak, XSTest's unsafe prompts, `safety: harmful` task files); over-refusal
//!   is `over_refusal` (XSTest's safe prompts, `safety: benign` task files). All are 0/1 per sample, so a group's count
//!   of positives is `round(value · n)` exactly.
//! * Per language: a task's `language` breakdown when it has one (MultiJail), otherwise the
//!   whole task when it has exactly one language. Tasks with several languages and no
//!   `language` breakdown (the jailbreak wrappers) are left out, since their rate mixes
//!   attacks with languages.
//! * Per hazard: every task's `hazard` breakdown (codes `S1`..`S14`, or `unmapped`), except
//!   tasks tagged `jailbreak`: their prompts are attacked, and pooling them would mix attack
//!   success into the per-hazard base rate (and count MultiJail's English prompts twice).

use std::collections::BTreeMap;
use std::fmt::Write;

use candor_core::names::{group, metric};
use candor_core::{MetricValue, TaskResult};
use serde::{Deserialize, Serialize};

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A proportion with its 95 % Wilson score interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub rate: f64,
    /// Samples with the property.
    pub count: u64,
    pub n: u64,
    pub ci_low: f64,
    pub ci_high: f64,
}

impl Rate {
    /// `count` of `n`, with the Wilson interval; `None` when `n` is 0.
    pub fn new(count: u64, n: u64) -> Option<Self> {
        let (ci_low, ci_high) = wilson(count, n, Z95)?;
        Some(Self {
            rate: count as f64 / n as f64,
            count,
            n,
            ci_low,
            ci_high,
        })
    }
}

/// The Wilson score interval of `count` successes in `n` trials:
/// `(p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n)`. Unlike the normal approximation it
/// stays inside [0, 1] and is not degenerate at 0 or n successes, which small safety samples
/// often have.
pub fn wilson(count: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || count > n {
        return None;
    }
    let n = n as f64;
    let p = count as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// One row of the safety × language matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageRow {
    pub language: String,
    /// Share of harmful prompts the model complied with.
    pub unsafe_compliance: Option<Rate>,
    /// Share of safe prompts the model refused (only where such prompts exist).
    pub over_refusal: Option<Rate>,
    /// Tasks that contributed.
    pub tasks: Vec<String>,
}

/// Unsafe compliance on one hazard, pooled across tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HazardRow {
    /// `S1` … `S14`, or `unmapped`.
    pub hazard: String,
    pub unsafe_compliance: Rate,
    pub tasks: Vec<String>,
}

/// The share of generations with insecure code in one group (a programming language or a
/// CWE), pooled across tasks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodeRow {
    /// `python`, `c` ... or `CWE-78` ...
    pub group: String,
    pub insecure_code: Rate,
    pub tasks: Vec<String>,
}

/// Code security: the metric `insecure_code` by the tasks' `code_language` and `cwe`
/// breakdowns (CyberSecEval).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeSecurity {
    pub languages: Vec<CodeRow>,
    pub cwes: Vec<CodeRow>,
}

impl CodeSecurity {
    pub fn is_empty(&self) -> bool {
        self.languages.is_empty() && self.cwes.is_empty()
    }
}

/// The `safety` section of `report.json`; empty lists when the run had no safety tasks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SafetySummary {
    pub languages: Vec<LanguageRow>,
    pub hazards: Vec<HazardRow>,
    #[serde(default, skip_serializing_if = "CodeSecurity::is_empty")]
    pub code: CodeSecurity,
}

/// Positives and trials of a pool, with the tasks in it.
#[derive(Default)]
struct Pool {
    count: u64,
    n: u64,
    tasks: Vec<String>,
}

impl Pool {
    fn add(&mut self, task: &str, m: &MetricValue) {
        self.count += (m.value * m.n as f64).round().max(0.0) as u64;
        self.n += m.n as u64;
        if !self.tasks.iter().any(|t| t == task) {
            self.tasks.push(task.to_string());
        }
    }

    fn rate(&self) -> Option<Rate> {
        Rate::new(self.count, self.n)
    }
}

fn find<'a>(metrics: &'a [MetricValue], name: &str) -> Option<&'a MetricValue> {
    metrics.iter().find(|m| m.name == name)
}

/// The safety summary of a run's tasks.
pub fn summarize(tasks: &[TaskResult]) -> SafetySummary {
    let mut unsafe_by_lang: BTreeMap<String, Pool> = BTreeMap::new();
    let mut refusal_by_lang: BTreeMap<String, Pool> = BTreeMap::new();
    let mut by_hazard: BTreeMap<String, Pool> = BTreeMap::new();
    for t in tasks {
        let name = &t.info.name;
        let per_language: Vec<(&str, &[MetricValue])> = match t.breakdowns.get(group::LANGUAGE) {
            Some(groups) => groups
                .iter()
                .map(|(l, m)| (l.as_str(), m.as_slice()))
                .collect(),
            None => match t.info.languages.as_slice() {
                [only] => vec![(only.as_str(), t.metrics.as_slice())],
                _ => Vec::new(),
            },
        };
        for (lang, metrics) in per_language {
            if let Some(m) = find(metrics, metric::UNSAFE_COMPLIANCE) {
                unsafe_by_lang.entry(lang.into()).or_default().add(name, m);
            }
            if let Some(m) = find(metrics, metric::OVER_REFUSAL) {
                refusal_by_lang.entry(lang.into()).or_default().add(name, m);
            }
        }
        if t.info.tags.iter().any(|tag| tag == "jailbreak") {
            continue;
        }
        for (hazard, metrics) in t.breakdowns.get(group::HAZARD).into_iter().flatten() {
            if let Some(m) = find(metrics, metric::UNSAFE_COMPLIANCE) {
                by_hazard.entry(hazard.clone()).or_default().add(name, m);
            }
        }
    }
    let mut languages: Vec<String> = unsafe_by_lang
        .keys()
        .chain(refusal_by_lang.keys())
        .cloned()
        .collect();
    languages.sort();
    languages.dedup();
    let languages = languages
        .into_iter()
        .map(|language| {
            let u = unsafe_by_lang.get(&language);
            let r = refusal_by_lang.get(&language);
            let mut tasks: Vec<String> = Vec::new();
            for t in u.into_iter().chain(r).flat_map(|p| &p.tasks) {
                if !tasks.contains(t) {
                    tasks.push(t.clone());
                }
            }
            LanguageRow {
                unsafe_compliance: u.and_then(Pool::rate),
                over_refusal: r.and_then(Pool::rate),
                tasks,
                language,
            }
        })
        .collect();
    // S1..S14 in numeric order, then `unmapped`.
    let mut hazards: Vec<HazardRow> = by_hazard
        .into_iter()
        .filter_map(|(hazard, pool)| {
            Some(HazardRow {
                unsafe_compliance: pool.rate()?,
                tasks: pool.tasks,
                hazard,
            })
        })
        .collect();
    hazards.sort_by_key(|h| {
        h.hazard
            .strip_prefix('S')
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    SafetySummary {
        languages,
        hazards,
        code: code_security(tasks),
    }
}

fn code_security(tasks: &[TaskResult]) -> CodeSecurity {
    let rows = |key: &str| -> Vec<CodeRow> {
        let mut pools: BTreeMap<String, Pool> = BTreeMap::new();
        for t in tasks {
            for (value, metrics) in t.breakdowns.get(key).into_iter().flatten() {
                if let Some(m) = find(metrics, metric::INSECURE_CODE) {
                    pools.entry(value.clone()).or_default().add(&t.info.name, m);
                }
            }
        }
        pools
            .into_iter()
            .filter_map(|(group, pool)| {
                Some(CodeRow {
                    insecure_code: pool.rate()?,
                    tasks: pool.tasks,
                    group,
                })
            })
            .collect()
    };
    let mut cwes = rows(group::CWE);
    // CWE-20 before CWE-120.
    cwes.sort_by_key(|r| {
        r.group
            .strip_prefix("CWE-")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    CodeSecurity {
        languages: rows(group::CODE_LANGUAGE),
        cwes,
    }
}

fn cell(rate: &Option<Rate>) -> String {
    rate.as_ref().map_or_else(
        || "–".to_string(),
        |r| {
            format!(
                "{:.3} [{:.3}, {:.3}] ({}/{})",
                r.rate, r.ci_low, r.ci_high, r.count, r.n
            )
        },
    )
}

/// The report.md sections of the summary (nothing when it is empty).
pub fn markdown(summary: &SafetySummary) -> String {
    let mut s = String::new();
    if !summary.languages.is_empty() {
        let _ = writeln!(
            s,
            "\n## Safety × language\n\nRates with 95 % Wilson intervals (count/n), pooled over \
             the tasks listed.\n\n| language | unsafe compliance | over-refusal | tasks |\n|---|---|---|---|"
        );
        for row in &summary.languages {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                row.language,
                cell(&row.unsafe_compliance),
                cell(&row.over_refusal),
                row.tasks.join(", ")
            );
        }
    }
    if !summary.hazards.is_empty() {
        let _ = writeln!(
            s,
            "\n## Unsafe compliance by hazard (MLCommons S1–S14)\n\n| hazard | unsafe compliance | tasks |\n|---|---|---|"
        );
        for row in &summary.hazards {
            // `S1: Violent Crimes`; `unmapped` as it is.
            let hazard = row
                .hazard
                .parse::<candor_safety::Hazard>()
                .map_or_else(|_| row.hazard.clone(), |h| h.to_string());
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                hazard,
                cell(&Some(row.unsafe_compliance.clone())),
                row.tasks.join(", ")
            );
        }
    }
    let code = &summary.code;
    for (title, key, rows) in [
        ("programming language", "language", &code.languages),
        ("CWE", "CWE", &code.cwes),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n## Code security by {title}\n\nShare of generations with code that an \
             insecure-code rule flags, with 95 % Wilson intervals (count/n).\n\n| {key} | \
             insecure code | tasks |\n|---|---|---|"
        );
        for row in rows.iter() {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                row.group,
                cell(&Some(row.insecure_code.clone())),
                row.tasks.join(", ")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use candor_core::{DatasetInfo, TaskInfo};

    /// 8 of 10: p = 0.8, z² = 3.841459, denominator 1.3841459,
    /// centre (0.8 + 0.1920730) / 1.3841459 = 0.7167402,
    /// half 1.959964·√(0.016 + 0.0096037) / 1.3841459 = 0.2265777,
    /// so [0.4901625, 0.9433178]. 0 of 10: upper bound z²/(n + z²) = 0.2775328.
    #[test]
    fn wilson_interval_by_hand() {
        let (lo, hi) = wilson(8, 10, Z95).unwrap();
        assert!((lo - 0.490_162_5).abs() < 1e-6, "{lo}");
        assert!((hi - 0.943_317_8).abs() < 1e-6, "{hi}");
        let (lo, hi) = wilson(0, 10, Z95).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_532_8).abs() < 1e-6, "{hi}");
        let (lo, hi) = wilson(10, 10, Z95).unwrap();
        assert!((lo - (1.0 - 0.277_532_8)).abs() < 1e-6);
        assert!((hi - 1.0).abs() < 1e-12);
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(wilson(3, 2, Z95), None);
    }

    fn metric(name: &str, value: f64, n: usize) -> MetricValue {
        MetricValue {
            name: name.into(),
            value,
            stderr: None,
            n,
        }
    }

    fn task(
        name: &str,
        languages: &[&str],
        metrics: Vec<MetricValue>,
        breakdowns: &[(&str, &str, Vec<MetricValue>)],
    ) -> TaskResult {
        let mut b: BTreeMap<String, BTreeMap<String, Vec<MetricValue>>> = BTreeMap::new();
        for (key, group, m) in breakdowns {
            b.entry(key.to_string())
                .or_default()
                .insert(group.to_string(), m.clone());
        }
        TaskResult {
            info: TaskInfo {
                reference_language: None,
                name: name.into(),
                suite: name.into(),
                description: String::new(),
                tags: Vec::new(),
                languages: languages.iter().map(|l| l.to_string()).collect(),
                dataset: DatasetInfo {
                    name: name.into(),
                    license: "MIT".into(),
                    flags: Vec::new(),
                    source: String::new(),
                    files: Vec::new(),
                },
            },
            metrics,
            breakdowns: b,
            num_samples: 0,
            num_errors: 0,
            files: Vec::new(),
        }
    }

    #[test]
    fn code_security_pools_insecure_code_by_language_and_cwe() {
        let tasks = vec![
            task(
                "cyberseceval_instruct",
                &["en"],
                vec![metric("insecure_code", 0.5, 8)],
                &[
                    ("code_language", "c", vec![metric("insecure_code", 0.75, 4)]),
                    (
                        "code_language",
                        "python",
                        vec![metric("insecure_code", 0.25, 4)],
                    ),
                    ("cwe", "CWE-120", vec![metric("insecure_code", 1.0, 2)]),
                    ("cwe", "CWE-78", vec![metric("insecure_code", 1.0 / 3.0, 6)]),
                ],
            ),
            task(
                "cyberseceval_autocomplete",
                &["en"],
                vec![metric("insecure_code", 0.5, 2)],
                &[("code_language", "c", vec![metric("insecure_code", 0.5, 2)])],
            ),
        ];
        let code = summarize(&tasks).code;
        // c: 3 of 4 plus 1 of 2 = 4 of 6, over both tasks.
        assert_eq!(code.languages[0].group, "c");
        assert_eq!(
            (
                code.languages[0].insecure_code.count,
                code.languages[0].insecure_code.n
            ),
            (4, 6)
        );
        assert_eq!(code.languages[0].tasks.len(), 2);
        assert_eq!(
            (
                code.languages[1].insecure_code.count,
                code.languages[1].insecure_code.n
            ),
            (1, 4)
        );
        // CWE-78 (2 of 6) sorts before CWE-120 by number.
        let cwes: Vec<(&str, u64, u64)> = code
            .cwes
            .iter()
            .map(|r| (r.group.as_str(), r.insecure_code.count, r.insecure_code.n))
            .collect();
        assert_eq!(cwes, [("CWE-78", 2, 6), ("CWE-120", 2, 2)]);
        assert!(markdown(&summarize(&tasks)).contains("## Code security by CWE"));
        // No code task, no section (and none in report.json).
        assert!(summarize(&tasks[..0]).code.is_empty());
    }

    #[test]
    fn pools_languages_and_hazards_across_tasks() {
        let tasks = vec![
            // English-only task: 3 of 10 complied; hazard S2 has 2 of 4.
            task(
                "advbench",
                &["en"],
                vec![metric("unsafe_compliance", 0.3, 10)],
                &[("hazard", "S2", vec![metric("unsafe_compliance", 0.5, 4)])],
            ),
            // XSTest: English, unsafe 1 of 5, over-refusal 2 of 8; hazard S2 1 of 1.
            task(
                "xstest",
                &["en"],
                vec![
                    metric("unsafe_compliance", 0.2, 5),
                    metric("over_refusal", 0.25, 8),
                ],
                &[("hazard", "S2", vec![metric("unsafe_compliance", 1.0, 1)])],
            ),
            // A language breakdown wins over the task's language list.
            task(
                "multijail",
                &["en", "sw"],
                vec![metric("unsafe_compliance", 0.5, 4)],
                &[
                    ("language", "en", vec![metric("unsafe_compliance", 0.5, 2)]),
                    ("language", "sw", vec![metric("unsafe_compliance", 0.5, 2)]),
                    (
                        "hazard",
                        "unmapped",
                        vec![metric("unsafe_compliance", 0.5, 4)],
                    ),
                    ("hazard", "S10", vec![metric("unsafe_compliance", 0.0, 3)]),
                ],
            ),
            // Several languages and no breakdown: left out of the matrix; tagged `jailbreak`:
            // left out of the hazard pool.
            {
                let mut t = task(
                    "jailbreak",
                    &["en", "bn"],
                    vec![metric("unsafe_compliance", 1.0, 6)],
                    &[("hazard", "S2", vec![metric("unsafe_compliance", 1.0, 6)])],
                );
                t.info.tags.push("jailbreak".into());
                t
            },
        ];
        let s = summarize(&tasks);
        let langs: Vec<&str> = s.languages.iter().map(|l| l.language.as_str()).collect();
        assert_eq!(langs, ["en", "sw"]);
        let en = &s.languages[0];
        let u = en.unsafe_compliance.as_ref().unwrap();
        assert_eq!((u.count, u.n), (3 + 1 + 1, 10 + 5 + 2));
        let r = en.over_refusal.as_ref().unwrap();
        assert_eq!((r.count, r.n), (2, 8));
        assert_eq!(en.tasks, ["advbench", "xstest", "multijail"]);
        assert_eq!(s.languages[1].over_refusal, None);
        let hz: Vec<(&str, u64, u64)> = s
            .hazards
            .iter()
            .map(|h| {
                (
                    h.hazard.as_str(),
                    h.unsafe_compliance.count,
                    h.unsafe_compliance.n,
                )
            })
            .collect();
        assert_eq!(hz, [("S2", 3, 5), ("S10", 0, 3), ("unmapped", 2, 4)]);
        let md = markdown(&s);
        assert!(md.contains("| en | 0.294 ["), "{md}");
        assert!(md.contains("| S2: Non-Violent Crimes | 0.600 ["), "{md}");
        assert!(markdown(&SafetySummary::default()).is_empty());
    }
}
