//! Tasks: turn dataset documents into requests, and answers back into per-sample scores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Request, Response};

/// A data file a task read, identified by its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path relative to the data directory.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// Where a task's data comes from and on what terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    /// SPDX identifier of the data licence.
    pub license: String,
    /// Terms a user must know about: `non-commercial`, `share-alike`, `harmful-content`.
    pub flags: Vec<String>,
    /// Upstream repository or paper.
    pub source: String,
    /// Files read in this run, with their sha256 (empty in listings).
    pub files: Vec<DataFile>,
}

/// What a task is, for listings and reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub name: String,
    /// The suite the task belongs to.
    pub suite: String,
    pub description: String,
    /// `safety`, `multilingual`, `multiple_choice`, `generation` ...
    pub tags: Vec<String>,
    /// ISO 639 codes of the languages of the prompts.
    pub languages: Vec<String>,
    pub dataset: DatasetInfo,
}

/// One evaluated document: the requests it needs and what scoring needs to know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Stable id of the document within its task.
    pub id: String,
    /// The prompt as a person would read it (for `samples.jsonl`).
    pub prompt: String,
    pub requests: Vec<Request>,
    /// Breakdown keys: `language` → `sw`, `type` → `homonyms` ...
    pub groups: BTreeMap<String, String>,
    /// The gold answer and anything else the task's scorer needs.
    pub target: serde_json::Value,
}

/// Options every task understands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// Evaluate at most this many documents per task.
    pub limit: Option<usize>,
    /// Few-shot examples per prompt, for tasks that support them (their default otherwise).
    pub num_fewshot: Option<usize>,
    /// Seed of few-shot draws and anything else random.
    pub seed: u64,
    /// Tokens generation tasks may produce (their default otherwise).
    pub max_new_tokens: Option<usize>,
}

/// The samples of a task and the data files they were built from.
#[derive(Clone, Debug, Default)]
pub struct TaskData {
    pub samples: Vec<Sample>,
    pub files: Vec<DataFile>,
}

/// Why a task could not load its data or score a sample.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A data file is missing, unreadable or malformed; the message names file, line and field.
    #[error("{0}")]
    Data(String),
    /// A response does not fit the sample (wrong kind or count): a harness bug, reported.
    #[error("task {task}, sample {sample}: {reason}")]
    Scoring {
        task: String,
        sample: String,
        reason: String,
    },
}

/// A benchmark task. Tasks never call a model: they emit requests, and the runner answers them
/// for all tasks of a run together.
pub trait Task: Send + Sync {
    fn info(&self) -> &TaskInfo;

    /// Read the data and build the samples (at most `options.limit`).
    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError>;

    /// Per-sample metric values from the answers to the sample's requests, in request order.
    /// A metric a sample does not contribute to is simply absent.
    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
    ) -> Result<BTreeMap<String, f64>, TaskError>;
}

/// Labels a generated text (refusal, toxicity, leakage ...). Detectors and model-graded judges
/// implement it, so tasks can swap one for another.
pub trait Scorer: Send + Sync {
    fn name(&self) -> &str;
    /// The label of `output` given the `prompt` that produced it, and a score in `[0, 1]`
    /// (confidence, or the probability of the positive class).
    fn score(&self, prompt: &str, output: &str) -> ScorerOutput;
}

/// What a [`Scorer`] says about one text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScorerOutput {
    pub label: String,
    pub score: f64,
}
