//! The runner: gathers the requests of every task in a run, removes duplicates, orders them so
//! the model can share contexts and batch, sends them, and scores and aggregates the answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::journal::{Journal, JournalError};
use crate::metrics::mean_stderr;
use crate::task::{
    DataFile, LabelRequest, Sample, ScorerOutput, Task, TaskData, TaskError, TaskInfo, TaskOptions,
};
use crate::{LanguageModel, ModelError, Request, Response, SplitMix64};

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
    /// Samples that could not be scored (a failed judgement); they count in no metric.
    #[serde(default)]
    pub num_errors: usize,
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
    /// The labels scorers gave the answers (see [`Task::labels`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<ScorerOutput>,
    pub scores: BTreeMap<String, f64>,
    /// Why the sample has no scores, when a scorer failed on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SampleError>,
}

/// A scorer that failed on one sample (a judge model that could not answer, a prompt it
/// could not build): the sample is reported with this instead of scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleError {
    pub scorer: String,
    pub message: String,
}

/// Where the time went.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// Reading data and building requests.
    pub load_s: f64,
    /// Inside the models' methods (the evaluated model's and any judge's).
    pub model_s: f64,
    /// Everything else after loading: deduplication, ordering, journal, scoring, aggregation.
    pub harness_s: f64,
    pub total_s: f64,
    /// Requests of all samples, and the distinct ones sent to the model.
    pub requests: usize,
    pub unique_requests: usize,
    /// Distinct requests scorers sent to their judge models.
    pub judge_requests: usize,
    /// Answers taken from a journal or cache instead of a model.
    pub replayed_requests: usize,
    /// How often the run was resumed from its journal.
    pub resumes: usize,
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
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Run `tasks` on `model`, without a journal: [`plan`] then [`Plan::run`].
pub fn run(
    model: &dyn LanguageModel,
    tasks: &[Arc<dyn Task>],
    config: &RunConfig,
) -> Result<RunOutput, RunError> {
    plan(tasks, &config.task)?.run(model, config, &[])
}

/// Tasks with their loaded samples: what a run will ask, known before any model is called
/// (so that a journal can check it belongs to this run).
pub struct Plan {
    tasks: Vec<Arc<dyn Task>>,
    data: Vec<TaskData>,
    load_s: f64,
}

/// Load every task's data (in parallel).
pub fn plan(tasks: &[Arc<dyn Task>], options: &TaskOptions) -> Result<Plan, RunError> {
    let started = Instant::now();
    // A share or a seeded sample is taken from every document, so tasks load them all.
    let sampled = options.limit_fraction.is_some() || options.sample_seed.is_some();
    let load_options = TaskOptions {
        limit: if sampled { None } else { options.limit },
        ..options.clone()
    };
    let data = tasks
        .par_iter()
        .map(|t| {
            let mut data = t.load(&load_options).map_err(|source| RunError::Task {
                task: t.info().name.clone(),
                source,
            })?;
            if sampled {
                data.samples = select_documents(std::mem::take(&mut data.samples), options);
            }
            Ok(data)
        })
        .collect::<Result<_, RunError>>()?;
    Ok(Plan {
        tasks: tasks.to_vec(),
        data,
        load_s: started.elapsed().as_secs_f64(),
    })
}

/// The documents `options` ask for: `limit` and `limit_fraction` (rounded up) bound how many,
/// `sample_seed` draws them at random (kept in file order) instead of taking the first.
fn select_documents(samples: Vec<Sample>, options: &TaskOptions) -> Vec<Sample> {
    let total = samples.len();
    let by_share = options
        .limit_fraction
        .map_or(total, |f| (f * total as f64).ceil() as usize);
    let n = by_share.min(options.limit.unwrap_or(total));
    match options.sample_seed {
        None => samples.into_iter().take(n).collect(),
        Some(seed) => {
            let mut keep = SplitMix64::new(seed).distinct(total, n, None);
            keep.sort_unstable();
            let mut samples: Vec<Option<Sample>> = samples.into_iter().map(Some).collect();
            keep.into_iter().filter_map(|i| samples[i].take()).collect()
        }
    }
}

impl Plan {
    /// Each task's name with the data files it read: what decides the samples, besides the
    /// options and the harness version.
    pub fn data_files(&self) -> BTreeMap<String, Vec<DataFile>> {
        self.tasks
            .iter()
            .zip(&self.data)
            .map(|(t, d)| (t.info().name.clone(), d.files.clone()))
            .collect()
    }

    /// Send the requests to `model` (replaying what `journals` already hold and recording
    /// every answered batch in each of them), label the answers, score and aggregate.
    pub fn run(
        self,
        model: &dyn LanguageModel,
        config: &RunConfig,
        journals: &[&dyn Journal],
    ) -> Result<RunOutput, RunError> {
        let started = Instant::now();
        let mut stats = Stats::default();

        // Identical requests (same kind and content) are answered once.
        let mut unique = Unique::default();
        let slots: Vec<Vec<Vec<usize>>> = self
            .data
            .iter()
            .map(|d| {
                d.samples
                    .iter()
                    .map(|s| s.requests.iter().map(|r| unique.add(r)).collect())
                    .collect()
            })
            .collect();
        let requests = slots.iter().flatten().map(Vec::len).sum();
        let stage = Stage {
            per_call: config.requests_per_call.max(1),
            journals,
            progress: config.progress,
            what: "requests",
        };
        let answers = stage.answer(model, &unique, &mut stats)?;

        let responses: Vec<Vec<Vec<Response>>> = slots
            .iter()
            .map(|task| {
                task.iter()
                    .map(|ids| ids.iter().map(|&i| answers[i].clone()).collect())
                    .collect()
            })
            .collect();
        let labels = self.label(&responses, &stage, &mut stats)?;

        let mut results = Vec::with_capacity(self.tasks.len());
        let mut samples = Vec::new();
        for (((task, data), responses), labels) in
            self.tasks.iter().zip(self.data).zip(responses).zip(labels)
        {
            let scored: Vec<ScoredSample> = data
                .samples
                .into_par_iter()
                .zip(responses)
                .zip(labels)
                .map(|((sample, responses), labels)| {
                    score(task.as_ref(), sample, responses, labels)
                })
                .collect::<Result<_, RunError>>()?;
            results.push(aggregate(task.info(), &scored, data.files));
            samples.extend(scored);
        }
        let suites = suite_results(&results);
        let run_s = started.elapsed().as_secs_f64();
        let model_s = stats.model_time.as_secs_f64();
        Ok(RunOutput {
            tasks: results,
            suites,
            samples,
            timings: Timings {
                load_s: self.load_s,
                model_s,
                harness_s: run_s - model_s,
                total_s: self.load_s + run_s,
                requests,
                unique_requests: unique.requests.len(),
                judge_requests: stats.judge_requests,
                replayed_requests: stats.replayed,
                resumes: 0,
            },
        })
    }

    /// The labels of every sample's answers: detectors label at once (in parallel), judges'
    /// requests go to their models in batches. A failed label is kept as the error.
    fn label(
        &self,
        responses: &[Vec<Vec<Response>>],
        stage: &Stage,
        stats: &mut Stats,
    ) -> Result<Vec<Vec<Vec<Labelled>>>, RunError> {
        let wanted: Vec<Vec<Vec<LabelRequest>>> = self
            .tasks
            .iter()
            .zip(&self.data)
            .zip(responses)
            .map(|((task, data), responses)| {
                data.samples
                    .par_iter()
                    .zip(responses)
                    .map(|(s, r)| {
                        task.labels(s, r).map_err(|source| RunError::Task {
                            task: task.info().name.clone(),
                            source,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;

        // The judges' requests, per judge model (scorers that share a model share batches).
        let mut judges: Vec<(Arc<dyn LanguageModel>, Unique)> = Vec::new();
        let mut asked: HashMap<(usize, usize, usize), Asked> = HashMap::new();
        for (t, task) in wanted.iter().enumerate() {
            for (s, sample) in task.iter().enumerate() {
                for (l, want) in sample.iter().enumerate() {
                    let Some(judge) = want.scorer.model() else {
                        continue;
                    };
                    let requests = match want.scorer.requests(&want.prompt, &want.output) {
                        Ok(r) => r,
                        Err(e) => {
                            // Kept for `finish`, which reports it on the sample.
                            asked.insert((t, s, l), Err(e.to_string()));
                            continue;
                        }
                    };
                    let j = match judges.iter().position(|(m, _)| same_model(m, &judge)) {
                        Some(j) => j,
                        None => {
                            judges.push((judge, Unique::default()));
                            judges.len() - 1
                        }
                    };
                    let ids = requests.iter().map(|r| judges[j].1.add(r)).collect();
                    asked.insert((t, s, l), Ok((j, ids)));
                }
            }
        }
        let mut answers: Vec<Vec<Result<Response, String>>> = Vec::with_capacity(judges.len());
        for (judge, unique) in &judges {
            stats.judge_requests += unique.requests.len();
            let stage = Stage {
                what: "judge requests",
                ..*stage
            };
            answers.push(stage.answer_each(judge.as_ref(), unique, stats)?);
        }

        let labelled = wanted
            .into_iter()
            .enumerate()
            .map(|(t, task)| {
                task.into_par_iter()
                    .enumerate()
                    .map(|(s, sample)| {
                        sample
                            .into_iter()
                            .enumerate()
                            .map(|(l, want)| {
                                let judged = asked.get(&(t, s, l)).map(|a| {
                                    a.as_ref().map_err(Clone::clone).map(|(j, ids)| {
                                        ids.iter().map(|&i| answers[*j][i].clone()).collect()
                                    })
                                });
                                finish(&want, judged)
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Ok(labelled)
    }
}

/// Which judge (by index) and which of its requests a label needs, or why its requests could
/// not be built.
type Asked = Result<(usize, Vec<usize>), String>;

/// A label, or why its scorer failed.
type Labelled = Result<ScorerOutput, SampleError>;

fn same_model(a: &Arc<dyn LanguageModel>, b: &Arc<dyn LanguageModel>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// The label of one text, from its judge's answers (`None` for a detector; an error where the
/// judge's requests could not be built).
fn finish(
    want: &LabelRequest,
    judged: Option<Result<Vec<Result<Response, String>>, String>>,
) -> Labelled {
    let scorer = &want.scorer;
    let error = |message: String| SampleError {
        scorer: scorer.name().to_string(),
        message,
    };
    let answers = match judged {
        Some(answers) => answers
            .and_then(|a| a.into_iter().collect::<Result<Vec<_>, _>>())
            .map_err(error)?,
        None => Vec::new(),
    };
    scorer
        .score(&want.prompt, &want.output, &answers)
        .map_err(|e| error(e.to_string()))
}

fn score(
    task: &dyn Task,
    sample: Sample,
    responses: Vec<Response>,
    labels: Vec<Labelled>,
) -> Result<ScoredSample, RunError> {
    let name = task.info().name.clone();
    let (labels, error): (Vec<ScorerOutput>, Option<SampleError>) =
        match labels.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(labels) => (labels, None),
            Err(e) => (Vec::new(), Some(e)),
        };
    let scores = match &error {
        Some(_) => BTreeMap::new(),
        None => task
            .score(&sample, &responses, &labels)
            .map_err(|source| RunError::Task {
                task: name.clone(),
                source,
            })?,
    };
    Ok(ScoredSample {
        task: name,
        sample,
        responses,
        labels,
        scores,
        error,
    })
}

/// Distinct requests with their journal keys (their JSON text).
#[derive(Default)]
struct Unique {
    requests: Vec<Request>,
    keys: Vec<String>,
    index: HashMap<String, usize>,
}

impl Unique {
    fn add(&mut self, request: &Request) -> usize {
        let key = serde_json::to_string(request).unwrap_or_default();
        *self.index.entry(key.clone()).or_insert_with(|| {
            self.requests.push(request.clone());
            self.keys.push(key);
            self.requests.len() - 1
        })
    }
}

#[derive(Default)]
struct Stats {
    model_time: Duration,
    replayed: usize,
    judge_requests: usize,
}

/// How one model's requests are sent: in deterministic batches (so that a resumed run sends
/// exactly the batches an uninterrupted one would), each looked up in the journals first and
/// recorded there once answered.
#[derive(Clone, Copy)]
struct Stage<'a> {
    per_call: usize,
    journals: &'a [&'a dyn Journal],
    progress: bool,
    what: &'static str,
}

impl Stage<'_> {
    /// Every request's answer; a model failure fails the run.
    fn answer(
        &self,
        model: &dyn LanguageModel,
        unique: &Unique,
        stats: &mut Stats,
    ) -> Result<Vec<Response>, RunError> {
        // Without isolation a failed batch fails `send`: every answer here is an answer.
        self.send(model, unique, stats, false)?
            .into_iter()
            .map(|a| a.map_err(|m| ModelError::Backend(m).into()))
            .collect()
    }

    /// Every request's answer or its error: a batch the model refuses is retried request by
    /// request, so that one bad request (say, a judge prompt over the context) fails alone.
    fn answer_each(
        &self,
        model: &dyn LanguageModel,
        unique: &Unique,
        stats: &mut Stats,
    ) -> Result<Vec<Result<Response, String>>, RunError> {
        self.send(model, unique, stats, true)
    }

    fn send(
        &self,
        model: &dyn LanguageModel,
        unique: &Unique,
        stats: &mut Stats,
        isolate_failures: bool,
    ) -> Result<Vec<Result<Response, String>>, RunError> {
        let model_key = serde_json::to_string(&model.describe().identity()).unwrap_or_default();
        let mut answers: Vec<Option<Result<Response, String>>> = vec![None; unique.requests.len()];
        let mut progress = Progress::new(self.progress, self.what, unique.requests.len());
        for (b, batch) in order(&unique.requests, self.per_call)
            .into_iter()
            .enumerate()
        {
            let keys: Vec<String> = batch.iter().map(|&i| unique.keys[i].clone()).collect();
            let mut found: Vec<Option<Response>> = vec![None; batch.len()];
            for journal in self.journals {
                if found.iter().all(Option::is_some) {
                    break;
                }
                for (slot, hit) in found.iter_mut().zip(journal.lookup(&model_key, &keys)?) {
                    if slot.is_none() {
                        *slot = hit;
                    }
                }
            }
            let missing: Vec<usize> = (0..batch.len()).filter(|&k| found[k].is_none()).collect();
            stats.replayed += batch.len() - missing.len();
            if !missing.is_empty() {
                for journal in self.journals {
                    journal.begin(&model_key, b)?;
                }
                let requests: Vec<Request> = missing
                    .iter()
                    .map(|&k| unique.requests[batch[k]].clone())
                    .collect();
                let t = Instant::now();
                let got = match model.answer(&requests) {
                    Ok(r) => r.into_iter().map(Ok).collect(),
                    Err(e) if !isolate_failures => return Err(e.into()),
                    Err(_) => requests
                        .iter()
                        .map(|r| {
                            model
                                .answer(std::slice::from_ref(r))
                                .map_err(|e| e.to_string())
                                .and_then(|mut a| a.pop().ok_or_else(|| "no answer".to_string()))
                        })
                        .collect::<Vec<_>>(),
                };
                stats.model_time += t.elapsed();
                let mut record = Vec::with_capacity(missing.len());
                for (&k, answer) in missing.iter().zip(got) {
                    if let Ok(a) = &answer {
                        record.push((keys[k].clone(), a.clone()));
                    }
                    answers[batch[k]] = Some(answer);
                }
                for journal in self.journals {
                    journal.record(&model_key, b, &record)?;
                }
            }
            for (k, hit) in found.into_iter().enumerate() {
                if let Some(a) = hit {
                    answers[batch[k]] = Some(Ok(a));
                }
            }
            progress.advance(batch.len());
        }
        progress.finish();
        answers
            .into_iter()
            .map(|a| a.ok_or_else(|| ModelError::Backend("a request was never answered".into())))
            .collect::<Result<_, _>>()
            .map_err(RunError::from)
    }
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
        num_errors: samples.iter().filter(|s| s.error.is_some()).count(),
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
    what: &'static str,
    total: usize,
    done: usize,
    next_log: usize,
    started: Instant,
}

impl Progress {
    fn new(enabled: bool, what: &'static str, total: usize) -> Self {
        let enabled = enabled && total > 0;
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{spinner}} {what} {{pos}}/{{len}} [{{bar:30}}] {{elapsed_precise}} eta {{eta}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            log: enabled && bar.is_none(),
            bar,
            what,
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
                "candor: {}/{} {} ({:.0}%), {elapsed:.0}s elapsed, eta {eta:.0}s",
                self.done,
                self.total,
                self.what,
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{
        DatasetInfo, GenerateRequest, Generation, GenerationParams, Loglikelihood,
        LoglikelihoodRequest, ModelRecord, Prompt, RollingLoglikelihood, RollingRequest, Scorer,
        ScorerError,
    };

    /// Answers deterministically from the request's text and records every batch it gets;
    /// fails on requests that contain `fail_on`.
    #[derive(Default)]
    struct Fake {
        name: String,
        batches: Mutex<Vec<Vec<Request>>>,
        fail_on: Option<String>,
    }

    impl Fake {
        fn named(name: &str) -> Self {
            Self {
                name: name.into(),
                ..Self::default()
            }
        }

        fn batches(&self) -> Vec<Vec<Request>> {
            self.batches.lock().unwrap().clone()
        }

        fn check(&self, text: &str) -> Result<(), ModelError> {
            match &self.fail_on {
                Some(f) if text.contains(f.as_str()) => Err(ModelError::InvalidRequest {
                    index: 0,
                    reason: format!("contains {f}"),
                }),
                _ => Ok(()),
            }
        }
    }

    impl LanguageModel for Fake {
        fn name(&self) -> &str {
            &self.name
        }
        fn describe(&self) -> ModelRecord {
            ModelRecord {
                backend: "fake".into(),
                name: self.name.clone(),
                ..ModelRecord::default()
            }
        }
        fn loglikelihood(
            &self,
            requests: &[LoglikelihoodRequest],
        ) -> Result<Vec<Loglikelihood>, ModelError> {
            requests
                .iter()
                .map(|r| {
                    self.check(&r.context)?;
                    Ok(Loglikelihood {
                        logprob: -((r.context.len() + 2 * r.continuation.len()) as f64),
                        is_greedy: r.continuation.len() == 1,
                        num_tokens: r.continuation.len(),
                    })
                })
                .collect()
        }
        fn loglikelihood_rolling(
            &self,
            requests: &[RollingRequest],
        ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
            Ok(requests
                .iter()
                .map(|r| RollingLoglikelihood {
                    logprob: -(r.text.len() as f64),
                    num_tokens: r.text.len(),
                    num_bytes: r.text.len(),
                })
                .collect())
        }
        fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
            requests
                .iter()
                .map(|r| {
                    let Prompt::Text(p) = &r.prompt else {
                        unreachable!("tests send text prompts")
                    };
                    self.check(p)?;
                    Ok(Generation {
                        text: format!("answer to {p}"),
                        num_tokens: 3,
                        finish_reason: crate::FinishReason::Length,
                    })
                })
                .collect()
        }
        fn answer(&self, requests: &[Request]) -> Result<Vec<Response>, ModelError> {
            self.batches.lock().unwrap().push(requests.to_vec());
            default_answer(self, requests)
        }
    }

    /// The trait's own `answer`, for a fake that also records the batch.
    fn default_answer(m: &Fake, requests: &[Request]) -> Result<Vec<Response>, ModelError> {
        struct Plain<'a>(&'a Fake);
        impl LanguageModel for Plain<'_> {
            fn name(&self) -> &str {
                self.0.name()
            }
            fn loglikelihood(
                &self,
                r: &[LoglikelihoodRequest],
            ) -> Result<Vec<Loglikelihood>, ModelError> {
                self.0.loglikelihood(r)
            }
            fn loglikelihood_rolling(
                &self,
                r: &[RollingRequest],
            ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
                self.0.loglikelihood_rolling(r)
            }
            fn generate(&self, r: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
                self.0.generate(r)
            }
        }
        Plain(m).answer(requests)
    }

    /// Samples given in advance; scores each with `value` (the first answer's log-prob or the
    /// target), and, with a scorer, asks it to label each generation.
    struct Fixed {
        info: TaskInfo,
        samples: Vec<Sample>,
        scorer: Option<Arc<dyn Scorer>>,
    }

    fn info(name: &str, suite: &str) -> TaskInfo {
        TaskInfo {
            reference_language: None,
            name: name.into(),
            suite: suite.into(),
            description: String::new(),
            tags: Vec::new(),
            languages: Vec::new(),
            dataset: DatasetInfo {
                name: "d".into(),
                license: "MIT".into(),
                flags: Vec::new(),
                source: String::new(),
                files: Vec::new(),
            },
        }
    }

    fn sample(id: &str, requests: Vec<Request>, target: f64, group: &str) -> Sample {
        Sample {
            id: id.into(),
            prompt: id.into(),
            requests,
            groups: BTreeMap::from([("g".to_string(), group.to_string())]),
            target: serde_json::json!(target),
        }
    }

    fn ll(context: &str, continuation: &str) -> Request {
        Request::Loglikelihood(LoglikelihoodRequest::new(context, continuation))
    }

    fn gen(prompt: &str) -> Request {
        Request::Generate(GenerateRequest {
            prompt: Prompt::Text(prompt.into()),
            params: GenerationParams::default(),
        })
    }

    impl Task for Fixed {
        fn info(&self) -> &TaskInfo {
            &self.info
        }
        fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
            Ok(TaskData {
                samples: self
                    .samples
                    .iter()
                    .take(options.limit.unwrap_or(usize::MAX))
                    .cloned()
                    .collect(),
                files: Vec::new(),
            })
        }
        fn labels(
            &self,
            sample: &Sample,
            responses: &[Response],
        ) -> Result<Vec<LabelRequest>, TaskError> {
            let Some(scorer) = &self.scorer else {
                return Ok(Vec::new());
            };
            Ok(responses
                .iter()
                .filter_map(|r| match r {
                    Response::Generate(g) => Some(LabelRequest::new(
                        scorer,
                        sample.prompt.clone(),
                        g.text.clone(),
                    )),
                    _ => None,
                })
                .collect())
        }
        fn score(
            &self,
            sample: &Sample,
            responses: &[Response],
            labels: &[ScorerOutput],
        ) -> Result<BTreeMap<String, f64>, TaskError> {
            let mut scores = BTreeMap::from([(
                "value".to_string(),
                sample.target.as_f64().unwrap_or_default(),
            )]);
            if let Some(Response::Loglikelihood(l)) = responses.first() {
                scores.insert("logprob".into(), l.logprob);
            }
            for l in labels {
                scores.insert("flagged".into(), f64::from(u8::from(l.label == "unsafe")));
            }
            Ok(scores)
        }
    }

    fn task(name: &str, suite: &str, samples: Vec<Sample>) -> Arc<dyn Task> {
        Arc::new(Fixed {
            info: info(name, suite),
            samples,
            scorer: None,
        })
    }

    fn config(per_call: usize) -> RunConfig {
        RunConfig {
            requests_per_call: per_call,
            progress: false,
            ..RunConfig::default()
        }
    }

    #[test]
    fn identical_requests_are_answered_once() {
        let shared = ll("Q: sky? A:", " blue");
        let a = task(
            "a",
            "s",
            vec![sample(
                "1",
                vec![shared.clone(), ll("Q: sky? A:", " red")],
                1.0,
                "x",
            )],
        );
        let b = task(
            "b",
            "s",
            vec![sample("1", vec![shared.clone(), gen("hi")], 0.0, "x")],
        );
        let model = Fake::default();
        let out = run(&model, &[a, b], &config(64)).unwrap();
        assert_eq!((out.timings.requests, out.timings.unique_requests), (4, 3));
        let sent: Vec<Request> = model.batches().concat();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent.iter().filter(|r| **r == shared).count(), 1);
        // Both samples got the shared answer.
        let lp = -((10 + 2 * 5) as f64);
        assert_eq!(out.samples[0].scores["logprob"], lp);
        assert_eq!(out.samples[1].scores["logprob"], lp);
    }

    #[test]
    fn contexts_are_sorted_and_never_split_across_calls() {
        // Three contexts of four continuations, in shuffled order, two requests per call.
        let mut requests = Vec::new();
        for cont in ["a", "b", "c", "d"] {
            for ctx in ["ctx2", "ctx0", "ctx1"] {
                requests.push(ll(ctx, cont));
            }
        }
        let t = task("t", "s", vec![sample("1", requests, 0.0, "x")]);
        let model = Fake::default();
        run(&model, &[t], &config(2)).unwrap();
        let batches = model.batches();
        let contexts = |b: &Vec<Request>| -> Vec<String> {
            b.iter()
                .map(|r| match r {
                    Request::Loglikelihood(l) => l.context.clone(),
                    _ => unreachable!(),
                })
                .collect()
        };
        // A call may pass the size only to finish a context: each context sits in one call.
        assert_eq!(batches.len(), 3, "{batches:?}");
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(contexts(b), vec![format!("ctx{i}"); 4]);
        }
        // Rolling requests go longest first, generations as they come, after likelihoods.
        let t = task(
            "t",
            "s",
            vec![sample(
                "1",
                vec![
                    gen("g1"),
                    Request::Rolling(RollingRequest::new("ab")),
                    Request::Rolling(RollingRequest::new("abcd")),
                    ll("c", "x"),
                    gen("g2"),
                ],
                0.0,
                "x",
            )],
        );
        let model = Fake::default();
        run(&model, &[t], &config(8)).unwrap();
        let kinds: Vec<Vec<Request>> = model.batches();
        assert_eq!(
            kinds,
            vec![
                vec![ll("c", "x")],
                vec![
                    Request::Rolling(RollingRequest::new("abcd")),
                    Request::Rolling(RollingRequest::new("ab"))
                ],
                vec![gen("g1"), gen("g2")],
            ]
        );
    }

    #[test]
    fn metrics_are_means_with_stderr_and_suites_average_tasks() {
        // Task a: values 1, 0, 1, 1 -> mean 0.75, sample sd sqrt(0.25) = 0.5, se 0.5/2 = 0.25.
        let a = task(
            "a",
            "s",
            [1.0, 0.0, 1.0, 1.0]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    sample(
                        &i.to_string(),
                        vec![ll("c", &i.to_string())],
                        v,
                        ["x", "y"][i % 2],
                    )
                })
                .collect(),
        );
        // Task b: values 0, 0 -> mean 0, se 0.
        let b = task(
            "b",
            "s",
            vec![
                sample("0", vec![ll("d", "0")], 0.0, "x"),
                sample("1", vec![ll("d", "1")], 0.0, "x"),
            ],
        );
        let out = run(&Fake::default(), &[a, b], &config(64)).unwrap();
        let value = |m: &[MetricValue]| m.iter().find(|m| m.name == "value").cloned().unwrap();
        let va = value(&out.tasks[0].metrics);
        assert_eq!((va.value, va.stderr, va.n), (0.75, Some(0.25), 4));
        // Breakdown by group: x holds samples 0 and 2 (1, 1), y holds 1 and 3 (0, 1).
        let g = &out.tasks[0].breakdowns["g"];
        assert_eq!(value(&g["x"]).value, 1.0);
        assert_eq!(value(&g["y"]).value, 0.5);
        // Suite: (0.75 + 0) / 2, error sqrt(0.25² + 0²) / 2.
        let suite = &out.suites[0];
        assert_eq!(suite.tasks, vec!["a", "b"]);
        let vs = value(&suite.metrics);
        assert_eq!((vs.value, vs.stderr, vs.n), (0.375, Some(0.125), 6));
    }

    /// Keeps answers in memory, as a journal on disk would.
    #[derive(Default)]
    struct Memory {
        answers: Mutex<HashMap<(String, String), Response>>,
        begun: Mutex<Vec<usize>>,
    }

    impl Journal for Memory {
        fn lookup(
            &self,
            model: &str,
            keys: &[String],
        ) -> Result<Vec<Option<Response>>, JournalError> {
            let a = self.answers.lock().unwrap();
            Ok(keys
                .iter()
                .map(|k| a.get(&(model.to_string(), k.clone())).cloned())
                .collect())
        }
        fn begin(&self, _: &str, batch: usize) -> Result<(), JournalError> {
            self.begun.lock().unwrap().push(batch);
            Ok(())
        }
        fn record(
            &self,
            model: &str,
            _: usize,
            answers: &[(String, Response)],
        ) -> Result<(), JournalError> {
            let mut a = self.answers.lock().unwrap();
            for (k, r) in answers {
                a.insert((model.to_string(), k.clone()), r.clone());
            }
            Ok(())
        }
    }

    fn mixed_task() -> Arc<dyn Task> {
        let samples = (0..6)
            .map(|i| {
                let requests = if i % 2 == 0 {
                    vec![ll(&format!("c{i}"), " yes"), ll(&format!("c{i}"), " no")]
                } else {
                    vec![gen(&format!("p{i}"))]
                };
                sample(&i.to_string(), requests, i as f64, "x")
            })
            .collect();
        task("mixed", "s", samples)
    }

    #[test]
    fn a_journal_replays_answers_and_only_the_rest_is_sent() {
        let journal = Memory::default();
        let first = Fake::named("m");
        let full = plan(&[mixed_task()], &TaskOptions::default())
            .unwrap()
            .run(&first, &config(2), &[&journal])
            .unwrap();
        assert_eq!(full.timings.replayed_requests, 0);
        let batches = first.batches().len();
        assert_eq!(
            *journal.begun.lock().unwrap(),
            (0..batches).collect::<Vec<_>>()
        );

        // Everything replays: the model is not called, and the samples are the same.
        let again = Fake::named("m");
        let replay = plan(&[mixed_task()], &TaskOptions::default())
            .unwrap()
            .run(&again, &config(2), &[&journal])
            .unwrap();
        assert!(again.batches().is_empty());
        assert_eq!(
            replay.timings.replayed_requests,
            full.timings.unique_requests
        );
        let json = |o: &RunOutput| serde_json::to_string(&o.samples).unwrap();
        assert_eq!(json(&replay), json(&full));

        // A journal that lost its last batch: only that batch is sent, exactly as before.
        let partial = Memory::default();
        let last = first.batches().last().unwrap().clone();
        for (key, answer) in journal.answers.lock().unwrap().iter() {
            let request: Request = serde_json::from_str(&key.1).unwrap();
            if !last.contains(&request) {
                partial
                    .answers
                    .lock()
                    .unwrap()
                    .insert(key.clone(), answer.clone());
            }
        }
        let resumed = Fake::named("m");
        let out = plan(&[mixed_task()], &TaskOptions::default())
            .unwrap()
            .run(&resumed, &config(2), &[&partial])
            .unwrap();
        assert_eq!(resumed.batches(), vec![last]);
        assert_eq!(json(&out), json(&full));

        // Another model's answers are not this model's.
        let other = Fake::named("other");
        plan(&[mixed_task()], &TaskOptions::default())
            .unwrap()
            .run(&other, &config(2), &[&journal])
            .unwrap();
        assert_eq!(other.batches().len(), batches);
    }

    /// Flags answers as unsafe when the judge's log-prob of " unsafe" beats " safe".
    struct Judge(Arc<dyn LanguageModel>);

    impl Scorer for Judge {
        fn name(&self) -> &str {
            "judge"
        }
        fn model(&self) -> Option<Arc<dyn LanguageModel>> {
            Some(Arc::clone(&self.0))
        }
        fn requests(&self, prompt: &str, output: &str) -> Result<Vec<Request>, ScorerError> {
            let context = format!("{prompt} -> {output}:");
            Ok(vec![ll(&context, " unsafe"), ll(&context, " safe")])
        }
        fn score(
            &self,
            _: &str,
            _: &str,
            answers: &[Response],
        ) -> Result<ScorerOutput, ScorerError> {
            let [Response::Loglikelihood(u), Response::Loglikelihood(s)] = answers else {
                return Err(ScorerError::Invalid(format!("{} answers", answers.len())));
            };
            Ok(ScorerOutput {
                label: if u.logprob > s.logprob {
                    "unsafe"
                } else {
                    "safe"
                }
                .into(),
                score: 0.5,
            })
        }
    }

    #[test]
    fn judges_are_a_batched_stage_and_a_failed_judgement_marks_only_its_sample() {
        let judge_model = Arc::new(Fake {
            name: "judge".into(),
            fail_on: Some("p3".into()),
            ..Fake::default()
        });
        let scorer: Arc<dyn Scorer> = Arc::new(Judge(judge_model.clone()));
        let samples = (0..4)
            .map(|i| sample(&format!("p{i}"), vec![gen(&format!("p{i}"))], 0.0, "x"))
            .collect();
        let t: Arc<dyn Task> = Arc::new(Fixed {
            info: info("judged", "s"),
            samples,
            scorer: Some(scorer),
        });
        let model = Fake::named("m");
        let journal = Memory::default();
        let out = plan(&[t], &TaskOptions::default())
            .unwrap()
            .run(&model, &config(64), &[&journal])
            .unwrap();
        // Four answers, eight judge requests in one batch (retried one by one after the
        // failure); the evaluated model never saw a judge prompt.
        assert_eq!(model.batches().concat().len(), 4);
        assert_eq!(judge_model.batches()[0].len(), 8);
        assert_eq!(out.timings.judge_requests, 8);
        let failed: Vec<&ScoredSample> = out.samples.iter().filter(|s| s.error.is_some()).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].sample.id, "p3");
        assert!(failed[0].scores.is_empty());
        assert_eq!(failed[0].error.as_ref().unwrap().scorer, "judge");
        assert_eq!(out.tasks[0].num_errors, 1);
        // The others are scored ("unsafe" is longer, so its fake log-prob is lower: safe).
        let flagged = out.tasks[0]
            .metrics
            .iter()
            .find(|m| m.name == "flagged")
            .unwrap();
        assert_eq!((flagged.value, flagged.n), (0.0, 3));
        assert!(out
            .samples
            .iter()
            .filter(|s| s.error.is_none())
            .all(|s| s.labels[0].label == "safe"));
        // Judge answers are journaled under the judge's identity: a rerun asks nobody.
        let (model2, judge2) = (Fake::named("m"), Arc::new(Fake::named("judge")));
        let t: Arc<dyn Task> = Arc::new(Fixed {
            info: info("judged", "s"),
            samples: (0..3)
                .map(|i| sample(&format!("p{i}"), vec![gen(&format!("p{i}"))], 0.0, "x"))
                .collect(),
            scorer: Some(Arc::new(Judge(judge2.clone()))),
        });
        plan(&[t], &TaskOptions::default())
            .unwrap()
            .run(&model2, &config(64), &[&journal])
            .unwrap();
        assert!(model2.batches().is_empty() && judge2.batches().is_empty());
    }

    #[test]
    fn a_share_or_a_seeded_sample_of_the_documents_is_evaluated() {
        let docs = |n: usize| -> Vec<Sample> {
            (0..n)
                .map(|i| Sample {
                    id: i.to_string(),
                    prompt: String::new(),
                    requests: Vec::new(),
                    groups: BTreeMap::new(),
                    target: serde_json::Value::Null,
                })
                .collect()
        };
        let ids = |s: Vec<Sample>| s.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let opts = |limit, share, seed| TaskOptions {
            limit,
            limit_fraction: share,
            sample_seed: seed,
            ..TaskOptions::default()
        };
        // A tenth of 25, rounded up: the first 3.
        assert_eq!(
            ids(super::select_documents(
                docs(25),
                &opts(None, Some(0.1), None)
            )),
            ["0", "1", "2"]
        );
        // With a limit too, the smaller.
        assert_eq!(
            ids(super::select_documents(
                docs(25),
                &opts(Some(2), Some(0.5), None)
            ))
            .len(),
            2
        );
        // A seeded sample: the same seed the same documents, in file order; another seed others.
        let a = ids(super::select_documents(
            docs(100),
            &opts(Some(10), None, Some(7)),
        ));
        assert_eq!(
            a,
            ids(super::select_documents(
                docs(100),
                &opts(Some(10), None, Some(7))
            ))
        );
        assert_ne!(
            a,
            ids(super::select_documents(
                docs(100),
                &opts(Some(10), None, Some(8))
            ))
        );
        let mut sorted: Vec<usize> = a.iter().map(|i| i.parse().unwrap()).collect();
        assert_eq!(sorted.len(), 10);
        sorted.dedup();
        assert!(
            sorted.windows(2).all(|w| w[0] < w[1]) && sorted.len() == 10,
            "{a:?}"
        );
        assert_ne!(a, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    }
}
