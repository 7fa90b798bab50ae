//! candor evaluates open language models for safety and multilingual ability.
//!
//! This crate re-exports the workspace, so that one dependency gives a library user
//! everything; each piece also lives in its own crate:
//!
//! * [`candor_core`]: requests and answers, the [`LanguageModel`] and [`Task`] traits,
//!   metrics, and the [`run`]ner;
//! * [`candor_journal`]: the SQLite journal that makes runs resumable and shares answers;
//! * [`candor_candle`]: in-process models ([`CandleModel`]) from GGUF, safetensors or the Hub;
//! * [`candor_openai`] (through [`connect_server`]): models behind OpenAI-compatible servers
//!   (vLLM, SGLang, TGI, llama.cpp), with a log-prob self-check;
//! * [`candor_data`]: dataset readers ([`DataDir`]);
//! * [`candor_suites`]: the built-in suites ([`suites::tasks`], [`suites::catalog`]);
//! * [`candor_safety`] (also as [`safety`]): detectors ([`RefusalDetector`], [`PiiDetector`],
//!   [`ToxicityDetector`]) and the model-graded [`GuardJudge`];
//! * [`candor_report`]: `report.json`, `samples.jsonl`, `report.md` and `report.html`
//!   ([`report::write`]), and [`report::compare`] (two runs, paired tests).
//!
//! [`Evaluation`] is what `candor run` does, over any [`LanguageModel`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use candor::{CandleModel, Evaluation, LoadOptions};
//!
//! let model = Arc::new(CandleModel::load("default", &LoadOptions::default())?);
//! let result = Evaluation::new(model).suites(["xcopa"]).limit(50).run()?;
//! for suite in &result.report.suites {
//!     println!("{}: {:?}", suite.name, suite.metrics);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use candor_candle::{
    hub, parse_device, set_threads, CandleModel, HubOptions, LoadOptions, ModelFiles, ModelInfo,
    ScoreJob, TextTokenizer, TokenScores, WeightFormat,
};
pub use candor_core::{
    metrics, run, ChatMessage, DataFile, DatasetInfo, FinishReason, GenerateRequest, Generation,
    GenerationParams, Journal, LabelRequest, LanguageModel, Loglikelihood, LoglikelihoodRequest,
    MetricValue, ModelError, ModelRecord, Prompt, Request, Response, RollingLoglikelihood,
    RollingRequest, RunConfig, RunError, RunOutput, Sample, SampleError, ScoredSample, Scorer,
    ScorerError, ScorerOutput, SplitMix64, SuiteResult, Task, TaskData, TaskError, TaskInfo,
    TaskOptions, TaskResult,
};
pub use candor_data::{DataDir, DataError, Row};
pub use candor_journal::SqliteJournal;
pub use candor_report as report;
pub use candor_safety as safety;
pub use candor_safety::{GuardJudge, PiiDetector, Refusal, RefusalDetector, ToxicityDetector};
pub use candor_suites as suites;
pub use candor_suites::{Scorers, Suite};

mod evaluation;
mod server;

pub use evaluation::{
    EvaluateError, Evaluated, Evaluation, CACHE_FILE, DEFAULT_SEED, JOURNAL_FILE,
};
pub use server::{connect_server, OpenAiModel, PromptForm, ServerError, ServerSpec};
