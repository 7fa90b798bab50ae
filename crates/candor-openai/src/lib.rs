//! candor's client for OpenAI-compatible servers (vLLM, SGLang, TGI, llama.cpp's
//! `llama-server`, llama-cpp-python): a [`LanguageModel`](candor_core::LanguageModel) over
//! `/v1/completions` and `/v1/chat/completions`.
//!
//! Log-likelihoods are split into context and continuation by candor's own tokenizer (the
//! lm-evaluation-harness rule of [`candor_core::tokens`]) and scored from the server's echoed
//! prompt log-probs, sent as token ids where the server accepts them. Because servers get
//! prompt log-probs wrong in ways that silently ruin scores, [`OpenAiModel::connect`] first
//! runs a self-check and refuses a server that fails it, saying what it does wrong.
//!
//! ```no_run
//! use candor_openai::{OpenAiModel, ServerSpec};
//!
//! let spec = ServerSpec::parse("openai:smollm2@http://127.0.0.1:8000/v1?scoring=off")?;
//! let model = OpenAiModel::connect(spec, None)?;
//! # Ok::<(), candor_openai::Error>(())
//! ```

mod check;
mod http;
mod model;
mod spec;

pub use model::{ChatRenderer, OpenAiModel};
pub use spec::{PromptForm, ServerSpec, SCHEME};

/// Why a server cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad server spec '{spec}': {reason}")]
    Spec { spec: String, reason: String },
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    #[error("{url} does not serve '{model}' (it lists: {available})")]
    UnknownModel {
        url: String,
        model: String,
        available: String,
    },
    #[error("scoring through a server needs candor's tokenizer of the served model: add tokenizer=<tokenizer.json, GGUF file, folder or Hub id> to the spec, or scoring=off for generation-only suites")]
    NoTokenizer,
    #[error("the server failed candor's log-prob self-check: {problem}. {advice}")]
    SelfCheck { problem: String, advice: String },
}
