//! The architecture registry. Adding an architecture means one new file here that says how
//! its config reads and where its weights are, and one line in [`ARCHITECTURES`]; the forward
//! pass and its pieces are shared (`decoder.rs`, `layers.rs`).

mod gemma2;
mod gemma3;
mod gpt_bigcode;
mod llama;
mod mistral;
mod phi3;
mod qwen2;
mod starcoder2;

use crate::config::{DecoderConfig, GgufConfig, HfConfig};
use crate::layers::DecoderWeights;
use crate::weights::{GgufNames, WeightStore};
use crate::Result;

/// One supported architecture.
pub(crate) struct Architecture {
    /// `model_type` values of its `config.json`.
    pub hf_types: &'static [&'static str],
    /// Its GGUF form, when llama.cpp has one.
    pub gguf: Option<GgufForm>,
    pub from_hf: fn(&HfConfig) -> Result<DecoderConfig>,
    /// Reads the weights; may refine the config from tensors (GGUF `rope_freqs`).
    pub load: fn(&mut DecoderConfig, &WeightStore) -> Result<DecoderWeights>,
}

/// How an architecture is stored in GGUF files.
pub(crate) struct GgufForm {
    /// `general.architecture`.
    pub name: &'static str,
    pub names: &'static GgufNames,
    pub config: fn(&GgufConfig) -> Result<DecoderConfig>,
    /// llama.cpp's converter permutes Q/K rows for an interleaved rotation (Llama only).
    pub interleaved_rope: bool,
}

/// Every architecture candor runs.
pub(crate) const ARCHITECTURES: &[&Architecture] = &[
    &llama::ARCH,
    &mistral::ARCH,
    &qwen2::ARCH,
    &phi3::ARCH,
    &gemma2::ARCH,
    &gemma3::ARCH,
    &starcoder2::ARCH,
    &gpt_bigcode::ARCH,
];

/// The architecture of a `config.json` `model_type`.
pub(crate) fn by_hf_type(model_type: &str) -> Option<&'static Architecture> {
    ARCHITECTURES
        .iter()
        .copied()
        .find(|a| a.hf_types.contains(&model_type))
}

/// The architecture of a GGUF `general.architecture`.
pub(crate) fn by_gguf_name(name: &str) -> Option<&'static Architecture> {
    ARCHITECTURES
        .iter()
        .copied()
        .find(|a| a.gguf.as_ref().is_some_and(|g| g.name == name))
}

/// Names of the supported architectures, as `config.json` and GGUF files spell them.
pub fn supported() -> Vec<&'static str> {
    let mut names: Vec<&str> = ARCHITECTURES
        .iter()
        .flat_map(|a| {
            a.hf_types
                .iter()
                .copied()
                .chain(a.gguf.as_ref().map(|g| g.name))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}
