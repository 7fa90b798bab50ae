//! candor evaluates open language models for safety and multilingual ability.
//!
//! This crate re-exports the public API of the workspace, so that one dependency gives a
//! library user everything:
//!
//! * the vocabulary of requests and answers and the [`LanguageModel`] trait ([`candor_core`]);
//! * in-process models on candle: [`CandleModel`], loaded from a GGUF file, a safetensors
//!   folder or a Hugging Face Hub id ([`candor_candle`]).
//!
//! ```no_run
//! use candor::{CandleModel, LanguageModel, LoadOptions, LoglikelihoodRequest};
//!
//! let model = CandleModel::load("default", &LoadOptions::default())?;
//! let answers = model.loglikelihood(&[LoglikelihoodRequest::new("2 + 2 =", " 4")])?;
//! println!("log p = {:.3}", answers[0].logprob);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use candor_candle::{
    hub, parse_device, set_threads, CandleModel, HubOptions, LoadOptions, ModelFiles, ModelInfo,
    ScoreJob, TextTokenizer, TokenScores, WeightFormat,
};
pub use candor_core::{
    ChatMessage, FinishReason, GenerateRequest, Generation, GenerationParams, LanguageModel,
    Loglikelihood, LoglikelihoodRequest, ModelError, Prompt, Request, Response,
    RollingLoglikelihood, RollingRequest,
};
