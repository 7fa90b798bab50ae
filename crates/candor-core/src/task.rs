//! Tasks: turn dataset documents into requests, and answers back into per-sample scores.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{LanguageModel, ModelError, Request, Response};

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
    /// The language the report measures this suite's other languages against; `None` means
    /// English (`en`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_language: Option<String>,
}

impl TaskInfo {
    /// [`TaskInfo::reference_language`], English by default.
    pub fn reference(&self) -> &str {
        self.reference_language.as_deref().unwrap_or("en")
    }
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// Evaluate at most this many documents per task.
    pub limit: Option<usize>,
    /// Evaluate this share of each task's documents (rounded up; with `limit`, the smaller of
    /// the two). The runner applies it after loading every document, so tasks never see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_fraction: Option<f64>,
    /// Evaluate a random sample of the documents drawn with this seed, in file order, rather
    /// than the first ones. Applied by the runner, like `limit_fraction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_seed: Option<u64>,
    /// Few-shot examples per prompt, for tasks that support them (their default otherwise).
    pub num_fewshot: Option<usize>,
    /// Seed of few-shot draws and anything else random.
    pub seed: u64,
    /// Tokens generation tasks may produce (their default otherwise).
    pub max_new_tokens: Option<usize>,
    /// Generations per prompt for tasks that sample (code tasks' pass@k): more than one
    /// samples at their temperature with a seed per generation; one (the default) is greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
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
    /// A data file is missing, unreadable or malformed; the source names file, line and field.
    #[error(transparent)]
    Data(Box<dyn std::error::Error + Send + Sync>),
    /// A response does not fit the sample (wrong kind or count): a harness bug, reported.
    #[error("task {task}, sample {sample}: {reason}")]
    Scoring {
        task: String,
        sample: String,
        reason: String,
    },
}

impl TaskError {
    /// A data error from any error (or message), keeping it as the source.
    pub fn data(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Data(source.into())
    }
}

/// A generated text that one of a task's scorers must label before the task scores a sample
/// (see [`Task::labels`]).
#[derive(Clone)]
pub struct LabelRequest {
    pub scorer: Arc<dyn Scorer>,
    /// The prompt that produced `output`, as the scorer should see it.
    pub prompt: String,
    pub output: String,
}

impl LabelRequest {
    pub fn new(
        scorer: &Arc<dyn Scorer>,
        prompt: impl Into<String>,
        output: impl Into<String>,
    ) -> Self {
        Self {
            scorer: Arc::clone(scorer),
            prompt: prompt.into(),
            output: output.into(),
        }
    }
}

/// A benchmark task. Tasks never call a model: they emit requests, and the runner answers them
/// for all tasks of a run together.
///
/// Scoring has two steps, so that a model-graded scorer (a guard judge) is batched like every
/// other request: [`Task::labels`] names the texts that scorers must label, the runner labels
/// them all (sending a judge's requests to the judge's model in batches), and [`Task::score`]
/// gets the labels in the same order.
pub trait Task: Send + Sync {
    fn info(&self) -> &TaskInfo;

    /// Read the data and build the samples (at most `options.limit`).
    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError>;

    /// The texts of this sample's answers that scorers must label. Default: none.
    fn labels(
        &self,
        _sample: &Sample,
        _responses: &[Response],
    ) -> Result<Vec<LabelRequest>, TaskError> {
        Ok(Vec::new())
    }

    /// Per-sample metric values from the answers to the sample's requests (in request order)
    /// and the labels of [`Task::labels`] (in its order). A metric a sample does not
    /// contribute to is simply absent.
    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError>;
}

/// Labels a generated text (refusal, toxicity, leakage ...). Detectors and model-graded judges
/// implement it, so tasks can swap one for another.
///
/// A detector labels the text itself. A judge names the [`Scorer::model`] that grades, says
/// what to ask it ([`Scorer::requests`]) and reads its label from the answers: the runner
/// batches, deduplicates and journals those requests like the evaluated model's own.
pub trait Scorer: Send + Sync {
    fn name(&self) -> &str;

    /// The model that answers [`Scorer::requests`]; `None` (the default) for detectors.
    fn model(&self) -> Option<Arc<dyn LanguageModel>> {
        None
    }

    /// What to ask [`Scorer::model`] about `output`. Default: nothing.
    fn requests(&self, _prompt: &str, _output: &str) -> Result<Vec<Request>, ScorerError> {
        Ok(Vec::new())
    }

    /// The label of `output` given the `prompt` that produced it, and a score in `[0, 1]`
    /// (confidence, or the probability of the positive class). `answers` are the model's
    /// answers to [`Scorer::requests`], in order (empty for detectors).
    fn score(
        &self,
        prompt: &str,
        output: &str,
        answers: &[Response],
    ) -> Result<ScorerOutput, ScorerError>;
}

/// What a [`Scorer`] says about one text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScorerOutput {
    pub label: String,
    pub score: f64,
}

/// Why a scorer could not label a text (a judge's model failed, or its prompt could not be
/// built). The runner marks the sample, and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum ScorerError {
    #[error("judge model failed: {0}")]
    Model(#[from] ModelError),
    #[error("{0}")]
    Invalid(String),
}
