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
//! * [`candor_safety`] (also as [`safety`]): detectors ([`RefusalDetector`], [`PiiDetector`],
//!   [`ToxicityDetector`]) and the model-graded [`GuardJudge`];
//! * [`candor_report`]: `report.json`, `samples.jsonl`, `report.md` and `report.html`
//!   ([`report::write`]), and [`report::compare`] (two runs, paired tests).
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
pub use candor_safety as safety;
pub use candor_safety::{GuardJudge, PiiDetector, Refusal, RefusalDetector, ToxicityDetector};
pub use candor_suites as suites;

use report::{Environment, ModelRecord, Report};

/// Why [`evaluate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    UnknownSuite(#[from] suites::UnknownSuite),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Model(#[from] candor_candle::Error),
}

/// What the report records about a loaded model; `spec` is what the user asked for.
pub fn model_record(spec: &str, model: &CandleModel) -> Result<ModelRecord, candor_candle::Error> {
    let info = model.info();
    Ok(ModelRecord {
        spec: spec.to_string(),
        name: info.name.clone(),
        path: info.path.display().to_string(),
        sha256: hub::sha256_file(&info.path)?,
        architecture: info.architecture.clone(),
        parameters: info.parameters,
        quantization: info
            .tensor_types
            .iter()
            .map(|(t, n)| format!("{t} × {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        weights: info.weights.clone(),
        context_length: info.context_length,
    })
}

/// Run the named suites on a model and assemble the report: everything `candor run` does
/// except writing the files ([`report::write`]).
pub fn evaluate(
    model: &CandleModel,
    spec: &str,
    suite_names: &[&str],
    data: &DataDir,
    config: &RunConfig,
    environment: Environment,
) -> Result<(Report, RunOutput), EvaluateError> {
    let tasks = suites::tasks(suite_names, data)?;
    let names: Vec<String> = suite_names.iter().map(|s| s.to_string()).collect();
    evaluate_tasks(model, spec, &tasks, names, config, environment)
}

/// Run any tasks (built-in, from task files, or your own [`Task`]s) and assemble the report;
/// `requested` is what the report lists as asked for. The report's multilingual section gets
/// the tokenizer fertility of every language evaluated.
pub fn evaluate_tasks(
    model: &CandleModel,
    spec: &str,
    tasks: &[std::sync::Arc<dyn Task>],
    requested: Vec<String>,
    config: &RunConfig,
    environment: Environment,
) -> Result<(Report, RunOutput), EvaluateError> {
    let output = run(model, tasks, config)?;
    let record = model_record(spec, model)?;
    let mut report = Report::new(record, requested, config.clone(), environment, &output);
    report.multilingual.fertility = fertility(model, &output);
    Ok((report, output))
}

/// Tokens per word and per byte of each language's prompts, with the model's tokenizer (a
/// sample's `language` group, else its task's only language). A diagnostic: empty for a model
/// without a tokenizer, rather than failing a finished run.
fn fertility(model: &CandleModel, output: &RunOutput) -> Vec<report::multilingual::Fertility> {
    let languages: std::collections::HashMap<&str, &str> = output
        .tasks
        .iter()
        .filter(|t| t.info.languages.len() == 1)
        .map(|t| (t.info.name.as_str(), t.info.languages[0].as_str()))
        .collect();
    let texts = output.samples.iter().filter_map(|s| {
        let lang = s
            .sample
            .groups
            .get("language")
            .map(String::as_str)
            .or_else(|| languages.get(s.task.as_str()).copied())?;
        Some((lang, s.sample.prompt.as_str()))
    });
    let Ok(tokenizer) = model.tokenizer() else {
        return Vec::new();
    };
    report::multilingual::fertility(texts, |t| tokenizer.encode(t).map(|ids| ids.len()))
        .unwrap_or_default()
}
