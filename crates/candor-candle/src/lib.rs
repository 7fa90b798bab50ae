//! In-process language models on [candle](https://github.com/huggingface/candle) for candor.
//!
//! This crate loads GGUF files and safetensors checkpoints, tokenizes (a `tokenizer.json` or
//! the vocabulary embedded in a GGUF file), renders chat templates, and runs its own forward
//! passes so that it can return what an evaluation needs: log-probabilities at exactly the
//! positions asked for, over right-padded batches, with a shared context computed once.
//!
//! ```no_run
//! use candor_candle::{CandleModel, LoadOptions};
//! use candor_core::{LanguageModel, LoglikelihoodRequest};
//!
//! let model = CandleModel::load("default", &LoadOptions::default())?;
//! let scores = model.loglikelihood(&[
//!     LoglikelihoodRequest::new("The capital of France is", " Paris"),
//!     LoglikelihoodRequest::new("The capital of France is", " Rome"),
//! ])?;
//! assert!(scores[0].logprob > scores[1].logprob);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Numerics
//!
//! With f32 weights (`WeightFormat::F32`; `Auto` picks them only where candor's SIMD kernels
//! do not take the whole file and they fit in memory) log-probs match a PyTorch float32
//! reference to ~1e-4 nats per token, and a request's score does not depend on the batch it
//! runs in. Quantized weights (`WeightFormat::Quantized`) use candor's kernels on the CPU
//! (`candor-kernels`: Q4_0 to Q8_0 and Q4_K, Q5_K, Q6_K) and candle's otherwise; both round
//! activations to 8 bits before each matmul, so their log-probs differ from the f32
//! reference by ~0.1 nats per token. With candor's kernels on the CPU (quantized and f32
//! products, and attention, which visits only a row's own keys; padding skipped) a request
//! scores bit-identically alone and in any batch; every path is deterministic from run to run.

mod arch;
mod attention;
mod backend;
mod chat;
mod config;
mod decoder;
mod device;
mod engine;
mod error;
mod generation;
pub mod hub;
mod layers;
mod model;
mod sampling;
mod tokenizer;
mod transformer;
mod weights;

pub use arch::supported as supported_architectures;
pub use chat::ChatTemplate;
pub use config::{Activation, DecoderConfig, LayerKind, Positions, RopeScaling, RopeSpec};
pub use device::{parse_device, set_threads};
pub use engine::{ScoreJob, TokenScores};
pub use error::{Error, Result};
pub use hub::{HubOptions, ModelFiles};
pub use model::{CandleModel, LoadOptions, ModelInfo};
pub use sampling::{argmax, Sampler};
pub use tokenizer::{TextFiles, TextTokenizer};
pub use weights::WeightFormat;
