//! candor evaluates open language models for safety and multilingual ability.
//!
//! This crate re-exports the workspace, so that one dependency gives a library user
//! everything; each piece also lives in its own crate:
//!
//! * [`candor_core`]: requests and answers, the [`LanguageModel`] and [`Task`] traits,
//!   metrics, and the [`run`]ner;
//! * [`candor_candle`]: in-process models ([`CandleModel`]) from GGUF, safetensors or the Hub;
//! * [`candor_data`]: dataset readers ([`DataDir`]);
//! * [`candor_suites`]: the built-in suites ([`suites::tasks`], [`suites::catalog`]);
//! * [`candor_safety`]: detectors such as [`RefusalDetector`];
//! * [`candor_report`]: `report.json`, `samples.jsonl` and `report.md` ([`report::write`]).
//!
//! ```no_run
//! use candor::{CandleModel, DataDir, LoadOptions, RunConfig};
//!
//! let model = CandleModel::load("default", &LoadOptions::default())?;
//! let tasks = candor::suites::tasks(&["xcopa"], &DataDir::locate(None)?)?;
//! let output = candor::run(&model, &tasks, &RunConfig::default())?;
//! for suite in &output.suites {
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
    GenerationParams, LanguageModel, Loglikelihood, LoglikelihoodRequest, MetricValue, ModelError,
    Prompt, Request, Response, RollingLoglikelihood, RollingRequest, RunConfig, RunError,
    RunOutput, Sample, ScoredSample, Scorer, ScorerOutput, SuiteResult, Task, TaskData, TaskError,
    TaskInfo, TaskOptions, TaskResult,
};
pub use candor_data::{DataDir, DataError, Row};
pub use candor_report as report;
pub use candor_safety::{Refusal, RefusalDetector};
pub use candor_suites as suites;
