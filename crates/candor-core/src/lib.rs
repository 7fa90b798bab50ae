//! candor's vocabulary and engine room: the requests an evaluation sends to a model, the
//! answers it gets back, the [`LanguageModel`] trait every backend implements, the [`Task`]
//! trait every benchmark implements, metrics with their standard errors, and the [`run`]ner
//! that connects them.
//!
//! The three request kinds are those of EleutherAI's lm-evaluation-harness, so that its tasks
//! port directly:
//!
//! * [`LoglikelihoodRequest`]: how likely is `continuation` after `context`? (multiple choice,
//!   pairwise bias tests)
//! * [`RollingRequest`]: how likely is a whole text? (perplexity, bits per byte)
//! * [`GenerateRequest`]: what does the model say? (refusal, toxicity, free answers)
//!
//! Backends answer whole batches, so that they can share work between requests:
//!
//! ```
//! use candor_core::{LanguageModel, LoglikelihoodRequest};
//!
//! fn best_choice(model: &dyn LanguageModel, question: &str, choices: &[&str]) -> usize {
//!     let requests: Vec<_> = choices
//!         .iter()
//!         .map(|c| LoglikelihoodRequest::new(question, format!(" {c}")))
//!         .collect();
//!     let scores = model.loglikelihood(&requests).expect("scored");
//!     (0..choices.len())
//!         .max_by(|&a, &b| scores[a].logprob.total_cmp(&scores[b].logprob))
//!         .unwrap_or(0)
//! }
//! ```

pub mod journal;
pub mod metrics;
pub mod names;
mod record;
mod request;
mod rng;
pub mod runner;
mod task;
pub mod tokens;

pub use journal::{Journal, JournalError};
pub use record::ModelRecord;
pub use request::{
    ChatMessage, FinishReason, GenerateRequest, Generation, GenerationParams, Loglikelihood,
    LoglikelihoodRequest, Prompt, Request, Response, RollingLoglikelihood, RollingRequest,
};
pub use rng::SplitMix64;
pub use runner::{
    run, MetricValue, RunConfig, RunError, RunOutput, SampleError, ScoredSample, SuiteResult,
    TaskResult, Timings,
};
pub use task::{
    DataFile, DatasetInfo, LabelRequest, Sample, Scorer, ScorerError, ScorerOutput, Task, TaskData,
    TaskError, TaskInfo, TaskOptions,
};
pub use tokens::{ScoreJob, Tokenize};

/// Why a model could not answer a batch.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The request itself is unusable (an empty continuation, a chat prompt for a model
    /// without a chat template, ...). Names the request and the problem.
    #[error("invalid request #{index}: {reason}")]
    InvalidRequest { index: usize, reason: String },
    /// The tokens of a request do not fit in the model's context window.
    #[error("request #{index} needs {tokens} tokens but the model's context holds {max} tokens")]
    ContextTooLong {
        index: usize,
        tokens: usize,
        max: usize,
    },
    /// The backend failed (tensor error, tokenizer error, I/O on a server ...).
    #[error("{0}")]
    Backend(String),
}

/// A language model that answers candor's three request kinds, a batch at a time.
///
/// Implementations must return exactly one answer per request, in request order, and must
/// give the same answer for a request whatever else is in the batch (within the numeric
/// tolerance their documentation states).
pub trait LanguageModel: Send + Sync {
    /// A short name for reports and logs.
    fn name(&self) -> &str;

    /// What the report records about the model; its [`ModelRecord::identity`] keys the
    /// model's answers in a journal. The default knows only the name: a backend whose answers
    /// may be journaled should say more.
    fn describe(&self) -> ModelRecord {
        ModelRecord {
            name: self.name().to_string(),
            ..ModelRecord::default()
        }
    }

    /// How many tokens `text` is for this model's tokenizer, where the backend has one (for
    /// the report's tokenizer fertility per language). Default: unknown.
    fn count_tokens(&self, _text: &str) -> Option<usize> {
        None
    }

    /// Log-probability of each continuation given its context.
    fn loglikelihood(
        &self,
        requests: &[LoglikelihoodRequest],
    ) -> Result<Vec<Loglikelihood>, ModelError>;

    /// Log-probability of each whole text, scored over windows of the model's context.
    fn loglikelihood_rolling(
        &self,
        requests: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError>;

    /// Text generated for each prompt.
    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError>;

    /// Answer a mixed batch: requests of each kind go to the matching method together, so a
    /// backend still sees whole batches.
    fn answer(&self, requests: &[Request]) -> Result<Vec<Response>, ModelError> {
        let mut ll = Vec::new();
        let mut rolling = Vec::new();
        let mut generate = Vec::new();
        for request in requests {
            match request {
                Request::Loglikelihood(r) => ll.push(r.clone()),
                Request::Rolling(r) => rolling.push(r.clone()),
                Request::Generate(r) => generate.push(r.clone()),
            }
        }
        // A kind with no requests is not asked for: backends need not handle empty batches.
        let mut ll = if ll.is_empty() {
            Vec::new()
        } else {
            self.loglikelihood(&ll)?
        }
        .into_iter();
        let mut rolling = if rolling.is_empty() {
            Vec::new()
        } else {
            self.loglikelihood_rolling(&rolling)?
        }
        .into_iter();
        let mut generate = if generate.is_empty() {
            Vec::new()
        } else {
            self.generate(&generate)?
        }
        .into_iter();
        let missing = || ModelError::Backend("backend returned fewer answers than requests".into());
        requests
            .iter()
            .map(|request| {
                Ok(match request {
                    Request::Loglikelihood(_) => {
                        Response::Loglikelihood(ll.next().ok_or_else(missing)?)
                    }
                    Request::Rolling(_) => Response::Rolling(rolling.next().ok_or_else(missing)?),
                    Request::Generate(_) => {
                        Response::Generate(generate.next().ok_or_else(missing)?)
                    }
                })
            })
            .collect()
    }
}
