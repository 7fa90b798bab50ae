//! Two runs side by side: `candor compare RUN_A RUN_B`. Samples are paired by task and
//! document id; a pair whose prompts differ, or a task whose data files differ, is refused
//! (the two runs did not evaluate the same thing). For every task and metric, and for every
//! language and metric, the difference B − A gets a 95 % interval and a paired test: exact
//! McNemar for 0/1 scores, a seeded paired bootstrap otherwise. Task-level p-values are
//! Holm-corrected across all task × metric tests (language-level ones among themselves).
//!
//! Only what `compare` needs is read from `report.json` and `samples.jsonl`, so reports with
//! more fields (newer schema versions) compare too.

mod render;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candor_core::DataFile;
use serde::{Deserialize, Serialize};

use crate::direction::{better, Better};
pub use render::{html, markdown};

/// How to compare.
#[derive(Clone, Debug, Serialize)]
pub struct CompareOptions {
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Family-wise significance level (after Holm).
    pub alpha: f64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            seed: 1234,
            resamples: 10_000,
            alpha: 0.05,
        }
    }
}

/// Why two runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}{}: {source}", line.map_or(String::new(), |l| format!(":{l}")))]
    Json {
        path: PathBuf,
        line: Option<usize>,
        source: serde_json::Error,
    },
    #[error("{path}:{line}: task {task}, document {document} appears twice")]
    Duplicate {
        path: PathBuf,
        line: usize,
        task: String,
        document: String,
    },
    #[error(
        "task {task}, document {document}: the prompts of the two runs differ, so the runs did \
         not evaluate the same thing (A: {a:?}, B: {b:?})"
    )]
    PromptDiffers {
        task: String,
        document: String,
        a: String,
        b: String,
    },
    #[error("task {task}: data file {file} differs between the runs (A sha256 {a}, B sha256 {b})")]
    DataDiffers {
        task: String,
        file: String,
        a: String,
        b: String,
    },
    #[error("the runs share no (task, document) pair: nothing to compare")]
    NothingPaired,
}

// The parts of report.json and samples.jsonl that a comparison reads.
#[derive(Deserialize)]
struct RunReport {
    model: RunModel,
    tasks: Vec<RunTask>,
}

#[derive(Deserialize)]
struct RunModel {
    name: String,
    sha256: String,
    weights: String,
}

#[derive(Deserialize)]
struct RunTask {
    info: RunTaskInfo,
    metrics: Vec<RunMetric>,
    files: Vec<DataFile>,
}

#[derive(Deserialize)]
struct RunTaskInfo {
    name: String,
    languages: Vec<String>,
}

#[derive(Deserialize)]
struct RunMetric {
    name: String,
}

#[derive(Deserialize)]
struct RunSample {
    task: String,
    id: String,
    prompt: String,
    #[serde(default)]
    groups: BTreeMap<String, String>,
    scores: BTreeMap<String, f64>,
}

struct Run {
    side: RunSide,
    report: RunReport,
    /// (task, document id) → sample.
    samples: BTreeMap<(String, String), RunSample>,
}

/// Which run a side of the comparison is.
#[derive(Clone, Debug, Serialize)]
pub struct RunSide {
    pub dir: String,
    pub model: String,
    pub sha256: String,
    pub weights: String,
}

fn read(path: &Path) -> Result<String, CompareError> {
    std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn load(dir: &Path) -> Result<Run, CompareError> {
    let path = dir.join("report.json");
    let report: RunReport =
        serde_json::from_str(&read(&path)?).map_err(|source| CompareError::Json {
            path: path.clone(),
            line: None,
            source,
        })?;
    let path = dir.join("samples.jsonl");
    let mut samples = BTreeMap::new();
    for (i, line) in read(&path)?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let s: RunSample = serde_json::from_str(line).map_err(|source| CompareError::Json {
            path: path.clone(),
            line: Some(i + 1),
            source,
        })?;
        let key = (s.task.clone(), s.id.clone());
        if samples.contains_key(&key) {
            return Err(CompareError::Duplicate {
                path,
                line: i + 1,
                task: key.0,
                document: key.1,
            });
        }
        samples.insert(key, s);
    }
    Ok(Run {
        side: RunSide {
            dir: dir.display().to_string(),
            model: report.model.name.clone(),
            sha256: report.model.sha256.clone(),
            weights: report.model.weights.clone(),
        },
        report,
        samples,
    })
}

/// The paired test behind a difference.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum Test {
    /// Exact McNemar over the discordant pairs (0/1 scores).
    McNemar { a_only: u64, b_only: u64 },
    /// Paired bootstrap of the mean difference (continuous scores).
    Bootstrap { resamples: usize },
}

/// What a difference means, after Holm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B is significantly better.
    Better,
    /// B is significantly worse.
    Worse,
    /// Significant, for a metric without a better direction.
    Differs,
    NotSignificant,
}

/// B − A on one metric of one task or language.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    /// A task name, or a language code.
    pub scope: String,
    pub metric: String,
    /// Paired documents.
    pub n: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// `mean_b - mean_a`.
    pub diff: f64,
    /// 95 % interval of `diff`: Agresti–Min for 0/1 scores, bootstrap percentiles otherwise.
    pub ci: (f64, f64),
    pub test: Test,
    pub p: f64,
    /// Holm-adjusted p (within tasks, or within languages).
    pub p_holm: f64,
    pub better: Option<Better>,
    pub verdict: Verdict,
}

/// Documents that only one run evaluated (left out of the comparison).
#[derive(Clone, Debug, Serialize)]
pub struct Unpaired {
    pub task: String,
    pub only_in_a: usize,
    pub only_in_b: usize,
}

/// The result of [`compare`].
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub a: RunSide,
    pub b: RunSide,
    pub options: CompareOptions,
    pub tasks: Vec<Difference>,
    pub languages: Vec<Difference>,
    pub unpaired: Vec<Unpaired>,
}

impl Comparison {
    /// Task-level differences where B is significantly worse (after Holm).
    pub fn worse(&self) -> Vec<&Difference> {
        self.tasks
            .iter()
            .filter(|d| d.verdict == Verdict::Worse)
            .collect()
    }
}

/// Paired scores (A, B) of one metric.
type Pairs = Vec<(f64, f64)>;

/// 64-bit FNV-1a, to give each test its own bootstrap stream.
fn stream(seed: u64, scope: &str, metric: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scope.bytes().chain([0]).chain(metric.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ h
}

/// The test of paired scores `(a, b)` of one metric; Holm and the verdict come later.
fn difference(
    scope: &str,
    metric: &str,
    pairs: &[(f64, f64)],
    options: &CompareOptions,
) -> Option<Difference> {
    let n = pairs.len();
    if n == 0 {
        return None;
    }
    let mean_a = pairs.iter().map(|p| p.0).sum::<f64>() / n as f64;
    let mean_b = pairs.iter().map(|p| p.1).sum::<f64>() / n as f64;
    let binary = pairs
        .iter()
        .all(|&(a, b)| (a == 0.0 || a == 1.0) && (b == 0.0 || b == 1.0));
    let (ci, test, p) = if binary {
        let a_only = pairs.iter().filter(|&&(a, b)| a > b).count() as u64;
        let b_only = pairs.iter().filter(|&&(a, b)| b > a).count() as u64;
        (
            stats::agresti_min(a_only, b_only, n as u64),
            Test::McNemar { a_only, b_only },
            stats::mcnemar_exact(a_only, b_only),
        )
    } else {
        let diffs: Vec<f64> = pairs.iter().map(|(a, b)| b - a).collect();
        let boot = stats::paired_bootstrap(
            &diffs,
            options.resamples,
            stream(options.seed, scope, metric),
        )?;
        (
            boot.ci,
            Test::Bootstrap {
                resamples: options.resamples,
            },
            boot.p,
        )
    };
    Some(Difference {
        scope: scope.into(),
        metric: metric.into(),
        n,
        mean_a,
        mean_b,
        diff: mean_b - mean_a,
        ci,
        test,
        p,
        p_holm: p,
        better: better(metric),
        verdict: Verdict::NotSignificant,
    })
}

/// Holm across a family, then the verdicts.
fn adjust(family: &mut [Difference], alpha: f64) {
    let p: Vec<f64> = family.iter().map(|d| d.p).collect();
    for (d, adjusted) in family.iter_mut().zip(stats::holm(&p)) {
        d.p_holm = adjusted;
        d.verdict = if adjusted >= alpha || d.diff == 0.0 {
            Verdict::NotSignificant
        } else {
            match (d.better, d.diff > 0.0) {
                (Some(Better::Higher), true) | (Some(Better::Lower), false) => Verdict::Better,
                (Some(_), _) => Verdict::Worse,
                (None, _) => Verdict::Differs,
            }
        };
    }
}

/// Compare the runs in folders `a` and `b` (each with report.json and samples.jsonl).
pub fn compare(a: &Path, b: &Path, options: &CompareOptions) -> Result<Comparison, CompareError> {
    let (ra, rb) = (load(a)?, load(b)?);
    // The same task must have read the same data.
    for ta in &ra.report.tasks {
        let Some(tb) = rb.report.tasks.iter().find(|t| t.info.name == ta.info.name) else {
            continue;
        };
        let sha = |files: &[DataFile], path: &str| {
            files
                .iter()
                .find(|f| f.path == path)
                .map_or_else(|| "absent".to_string(), |f| f.sha256.clone())
        };
        for f in ta.files.iter().chain(&tb.files) {
            let (sa, sb) = (sha(&ta.files, &f.path), sha(&tb.files, &f.path));
            if sa != sb {
                return Err(CompareError::DataDiffers {
                    task: ta.info.name.clone(),
                    file: f.path.clone(),
                    a: sa,
                    b: sb,
                });
            }
        }
    }
    // Pair the samples; the same document must have had the same prompt.
    let mut pairs: Vec<(&RunSample, &RunSample)> = Vec::new();
    let mut unpaired: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (key, sa) in &ra.samples {
        match rb.samples.get(key) {
            Some(sb) if sa.prompt != sb.prompt => {
                return Err(CompareError::PromptDiffers {
                    task: key.0.clone(),
                    document: key.1.clone(),
                    a: crate::html::page::truncate(&sa.prompt, 80),
                    b: crate::html::page::truncate(&sb.prompt, 80),
                })
            }
            Some(sb) => pairs.push((sa, sb)),
            None => unpaired.entry(&key.0).or_default().0 += 1,
        }
    }
    for key in rb.samples.keys().filter(|k| !ra.samples.contains_key(*k)) {
        unpaired.entry(&key.0).or_default().1 += 1;
    }
    if pairs.is_empty() {
        return Err(CompareError::NothingPaired);
    }
    // Metric order: as report A lists each task's metrics; languages from the sample's
    // `language` group, else the task's only language.
    let task_info: BTreeMap<&str, &RunTask> = ra
        .report
        .tasks
        .iter()
        .map(|t| (t.info.name.as_str(), t))
        .collect();
    // (task position, task, metric) and (language, metric) → paired scores.
    let mut by_task: BTreeMap<(usize, &str, &str), Pairs> = BTreeMap::new();
    let mut by_language: BTreeMap<(&str, &str), Pairs> = BTreeMap::new();
    let task_order: Vec<&str> = ra
        .report
        .tasks
        .iter()
        .map(|t| t.info.name.as_str())
        .collect();
    for (sa, sb) in &pairs {
        let position = task_order
            .iter()
            .position(|t| *t == sa.task)
            .unwrap_or(usize::MAX);
        let language = sa
            .groups
            .get(candor_core::names::group::LANGUAGE)
            .map(String::as_str)
            .or_else(|| {
                task_info
                    .get(sa.task.as_str())
                    .and_then(|t| match t.info.languages.as_slice() {
                        [only] => Some(only.as_str()),
                        _ => None,
                    })
            });
        for (metric, va) in &sa.scores {
            let Some(vb) = sb.scores.get(metric) else {
                continue;
            };
            by_task
                .entry((position, sa.task.as_str(), metric.as_str()))
                .or_default()
                .push((*va, *vb));
            if let Some(lang) = language {
                by_language
                    .entry((lang, metric.as_str()))
                    .or_default()
                    .push((*va, *vb));
            }
        }
    }
    let mut tasks: Vec<(usize, usize, Difference)> = Vec::new();
    for ((position, task, metric), values) in &by_task {
        // Within a task, metrics in the order report A lists them (scores-only ones last).
        let rank = task_info.get(task).map_or(usize::MAX, |t| {
            t.metrics
                .iter()
                .position(|m| m.name == *metric)
                .unwrap_or(usize::MAX)
        });
        if let Some(d) = difference(task, metric, values, options) {
            tasks.push((*position, rank, d));
        }
    }
    tasks.sort_by(|x, y| (x.0, x.1, &x.2.metric).cmp(&(y.0, y.1, &y.2.metric)));
    let mut tasks: Vec<Difference> = tasks.into_iter().map(|t| t.2).collect();
    adjust(&mut tasks, options.alpha);
    let mut languages: Vec<Difference> = by_language
        .iter()
        .filter_map(|((lang, metric), values)| difference(lang, metric, values, options))
        .collect();
    adjust(&mut languages, options.alpha);
    Ok(Comparison {
        a: ra.side,
        b: rb.side,
        options: options.clone(),
        tasks,
        languages,
        unpaired: unpaired
            .into_iter()
            .map(|(task, (only_in_a, only_in_b))| Unpaired {
                task: task.into(),
                only_in_a,
                only_in_b,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_direction_after_holm() {
        let opts = CompareOptions::default();
        // acc: 0 of 12 only-A, 12 only-B: p = 2/4096; B better.
        let up: Vec<(f64, f64)> = (0..12).map(|_| (0.0, 1.0)).collect();
        // unsafe_compliance rising the same way: B worse.
        let mut family = vec![
            difference("t", "acc", &up, &opts).unwrap(),
            difference("t", "unsafe_compliance", &up, &opts).unwrap(),
            difference("t", "gap_to_en", &up, &opts).unwrap(),
            difference("u", "acc", &[(1.0, 1.0), (0.0, 0.0)], &opts).unwrap(),
        ];
        assert_eq!(
            family[0].test,
            Test::McNemar {
                a_only: 0,
                b_only: 12
            }
        );
        assert!((family[0].p - 2.0 / 4096.0).abs() < 1e-15);
        adjust(&mut family, 0.05);
        // Holm: three of 2/4096 and a 1 → 4·, 3·, 2· the small p: all far below 0.05.
        assert!((family[0].p_holm - 8.0 / 4096.0).abs() < 1e-15);
        let v: Vec<Verdict> = family.iter().map(|d| d.verdict).collect();
        assert_eq!(
            v,
            [
                Verdict::Better,
                Verdict::Worse,
                Verdict::Differs,
                Verdict::NotSignificant
            ]
        );
        // Continuous scores go to the bootstrap.
        let d = difference("t", "mc2", &[(0.2, 0.4), (0.5, 0.5)], &opts).unwrap();
        assert_eq!(d.test, Test::Bootstrap { resamples: 10_000 });
        assert!((d.diff - 0.1).abs() < 1e-12);
    }
}
