//! The runner: gathers the requests of every task in a run, removes duplicates, orders them so
//! the model can share contexts and batch, sends them, and scores and aggregates the answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::mean_stderr;
use crate::task::{DataFile, Sample, Task, TaskError, TaskInfo, TaskOptions};
use crate::{LanguageModel, ModelError, Request, Response};

/// How a run is carried out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunConfig {
    pub task: TaskOptions,
    /// Requests sent to the model per call (the model batches within a call).
    pub requests_per_call: usize,
    /// Show progress on stderr: a bar on a terminal, log lines otherwise.
    pub progress: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            task: TaskOptions::default(),
            requests_per_call: 64,
            progress: true,
        }
    }
}

/// A metric over the samples that contribute to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricValue {
    pub name: String,
    pub value: f64,
    /// Standard error (closed form for means).
    pub stderr: Option<f64>,
    /// Samples behind the value.
    pub n: usize,
}

/// The results of one task.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskResult {
    pub info: TaskInfo,
    pub metrics: Vec<MetricValue>,
    /// Group key → group value → metrics over that group's samples.
    pub breakdowns: BTreeMap<String, BTreeMap<String, Vec<MetricValue>>>,
    pub num_samples: usize,
    pub files: Vec<DataFile>,
}

/// A suite's headline numbers: each metric that all its tasks report, averaged over tasks
/// (e.g. xcopa accuracy over 11 languages), with the standard error of that average.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteResult {
    pub name: String,
    pub tasks: Vec<String>,
    pub metrics: Vec<MetricValue>,
}

/// One sample with the answers it got and its scores (a line of `samples.jsonl`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScoredSample {
    pub task: String,
    #[serde(flatten)]
    pub sample: Sample,
    pub responses: Vec<Response>,
    pub scores: BTreeMap<String, f64>,
}

/// Where the time went.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Reading data and building requests.
    pub load_s: f64,
    /// Inside the model's methods.
    pub model_s: f64,
    /// Everything else after loading: deduplication, ordering, scoring, aggregation.
    pub harness_s: f64,
    pub total_s: f64,
    pub requests: usize,
    pub unique_requests: usize,
}

/// Everything a run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutput {
    pub tasks: Vec<TaskResult>,
    pub suites: Vec<SuiteResult>,
    pub samples: Vec<ScoredSample>,
    pub timings: Timings,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("task {task}: {source}")]
    Task { task: String, source: TaskError },
    #[error("model: {0}")]
    Model(#[from] ModelError),
}

/// Run `tasks` on `model`.
pub fn run(
    model: &dyn LanguageModel,
    tasks: &[Arc<dyn Task>],
    config: &RunConfig,
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    let loaded: Vec<_> = tasks
        .par_iter()
        .map(|t| {
            t.load(&config.task).map_err(|source| RunError::Task {
                task: t.info().name.clone(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    let load_s = started.elapsed().as_secs_f64();

    // Deduplicate: identical requests (same kind and content) are answered once.
    let mut unique: Vec<Request> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut slots: Vec<Vec<Vec<usize>>> = Vec::with_capacity(loaded.len());
    let mut total = 0;
    for data in &loaded {
        let mut task_slots = Vec::with_capacity(data.samples.len());
        for sample in &data.samples {
            let ids = sample
                .requests
                .iter()
                .map(|r| {
                    total += 1;
                    let key = serde_json::to_string(r).unwrap_or_default();
                    *index.entry(key).or_insert_with(|| {
                        unique.push(r.clone());
                        unique.len() - 1
                    })
                })
                .collect();
            task_slots.push(ids);
        }
        slots.push(task_slots);
    }

    let mut progress = Progress::new(config.progress, unique.len());
    let mut answers: Vec<Option<Response>> = vec![None; unique.len()];
    let mut model_time = Duration::ZERO;
    for batch in order(&unique, config.requests_per_call.max(1)) {
        let requests: Vec<Request> = batch.iter().map(|&i| unique[i].clone()).collect();
        let t = Instant::now();
        let responses = model.answer(&requests)?;
        model_time += t.elapsed();
        for (&i, r) in batch.iter().zip(responses) {
            answers[i] = Some(r);
        }
        progress.advance(batch.len());
    }
    progress.finish();

    let mut results = Vec::with_capacity(tasks.len());
    let mut samples = Vec::new();
    for ((task, data), task_slots) in tasks.iter().zip(loaded).zip(slots) {
        let scored: Vec<ScoredSample> = data
            .samples
            .into_par_iter()
            .zip(task_slots)
            .map(|(sample, ids)| {
                let responses: Vec<Response> =
                    ids.iter().filter_map(|&i| answers[i].clone()).collect();
                let scores = task
                    .score(&sample, &responses)
                    .map_err(|source| RunError::Task {
                        task: task.info().name.clone(),
                        source,
                    })?;
                Ok(ScoredSample {
                    task: task.info().name.clone(),
                    sample,
                    responses,
                    scores,
                })
            })
            .collect::<Result<_, RunError>>()?;
        results.push(aggregate(task.info(), &scored, data.files));
        samples.extend(scored);
    }
    let suites = suite_results(&results);
    let total_s = started.elapsed().as_secs_f64();
    Ok(RunOutput {
        tasks: results,
        suites,
        samples,
        timings: Timings {
            load_s,
            model_s: model_time.as_secs_f64(),
            harness_s: total_s - load_s - model_time.as_secs_f64(),
            total_s,
            requests: total,
            unique_requests: unique.len(),
        },
    })
}

/// Batches of request indices: log-likelihood requests sorted so continuations of one context
/// are adjacent (and never split across calls), rolling requests longest first, generations as
/// they come.
fn order(requests: &[Request], per_call: usize) -> Vec<Vec<usize>> {
    let mut ll: Vec<usize> = Vec::new();
    let mut rolling = Vec::new();
    let mut generate = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        match r {
            Request::Loglikelihood(_) => ll.push(i),
            Request::Rolling(_) => rolling.push(i),
            Request::Generate(_) => generate.push(i),
        }
    }
    let context = |i: usize| match &requests[i] {
        Request::Loglikelihood(r) => (r.context.as_str(), r.continuation.as_str()),
        _ => ("", ""),
    };
    ll.sort_by(|&a, &b| context(a).cmp(&context(b)));
    rolling.sort_by_key(|&i| match &requests[i] {
        Request::Rolling(r) => std::cmp::Reverse(r.text.len()),
        _ => std::cmp::Reverse(0),
    });
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for &i in &ll {
        let same_context = current
            .last()
            .is_some_and(|&p| context(p).0 == context(i).0);
        if current.len() >= per_call && !same_context {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches.extend(rolling.chunks(per_call).map(<[usize]>::to_vec));
    batches.extend(generate.chunks(per_call).map(<[usize]>::to_vec));
    batches
}

fn metric_values(samples: &[&ScoredSample]) -> Vec<MetricValue> {
    let names: BTreeSet<&String> = samples.iter().flat_map(|s| s.scores.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let values: Vec<f64> = samples
                .iter()
                .filter_map(|s| s.scores.get(name))
                .copied()
                .collect();
            let (value, stderr) = mean_stderr(&values);
            MetricValue {
                name: name.clone(),
                value,
                stderr,
                n: values.len(),
            }
        })
        .collect()
}

/// Means of every metric, overall and per group.
pub fn aggregate(info: &TaskInfo, samples: &[ScoredSample], files: Vec<DataFile>) -> TaskResult {
    let all: Vec<&ScoredSample> = samples.iter().collect();
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<&ScoredSample>>> = BTreeMap::new();
    for s in samples {
        for (key, value) in &s.sample.groups {
            groups
                .entry(key.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .push(s);
        }
    }
    TaskResult {
        info: info.clone(),
        metrics: metric_values(&all),
        breakdowns: groups
            .into_iter()
            .map(|(k, by_value)| {
                let v = by_value
                    .into_iter()
                    .map(|(value, members)| (value, metric_values(&members)))
                    .collect();
                (k, v)
            })
            .collect(),
        num_samples: samples.len(),
        files,
    }
}

/// Suites with more than one task report the unweighted mean over tasks of each metric all
/// of them have; the tasks' samples are independent, so the error is `√Σse² / k`.
fn suite_results(tasks: &[TaskResult]) -> Vec<SuiteResult> {
    let mut by_suite: BTreeMap<&str, Vec<&TaskResult>> = BTreeMap::new();
    for t in tasks {
        by_suite.entry(t.info.suite.as_str()).or_default().push(t);
    }
    by_suite
        .into_iter()
        .filter(|(_, members)| members.len() > 1)
        .map(|(name, members)| {
            let k = members.len() as f64;
            let names: BTreeSet<&String> = members[0].metrics.iter().map(|m| &m.name).collect();
            let metrics = names
                .into_iter()
                .filter_map(|name| {
                    let found: Vec<&MetricValue> = members
                        .iter()
                        .filter_map(|t| t.metrics.iter().find(|m| &m.name == name))
                        .collect();
                    (found.len() == members.len()).then(|| MetricValue {
                        name: name.clone(),
                        value: found.iter().map(|m| m.value).sum::<f64>() / k,
                        stderr: found
                            .iter()
                            .map(|m| m.stderr.map(|s| s * s))
                            .sum::<Option<f64>>()
                            .map(|v| v.sqrt() / k),
                        n: found.iter().map(|m| m.n).sum(),
                    })
                })
                .collect();
            SuiteResult {
                name: name.to_string(),
                tasks: members.iter().map(|t| t.info.name.clone()).collect(),
                metrics,
            }
        })
        .collect()
}

/// Progress on stderr: a bar with ETA on a terminal, a log line every 10 % otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    log: bool,
    total: usize,
    done: usize,
    next_log: usize,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, total: usize) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} requests {pos}/{len} [{bar:30}] {elapsed_precise} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            log: enabled && bar.is_none(),
            bar,
            total,
            done: 0,
            next_log: 0,
            started: Instant::now(),
        }
    }

    fn advance(&mut self, n: usize) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        } else if self.log && self.done >= self.next_log {
            let elapsed = self.started.elapsed().as_secs_f64();
            let eta = elapsed / self.done.max(1) as f64 * (self.total - self.done) as f64;
            eprintln!(
                "candor: {}/{} requests ({:.0}%), {elapsed:.0}s elapsed, eta {eta:.0}s",
                self.done,
                self.total,
                100.0 * self.done as f64 / self.total.max(1) as f64
            );
            self.next_log = self.done + self.total.div_ceil(10);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
