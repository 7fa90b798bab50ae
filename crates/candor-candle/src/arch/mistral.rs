//! Mistral: the Llama layout with sliding-window attention in every layer when the config sets
//! `sliding_window` (llama.cpp stores Mistral GGUF files as `llama`).

use super::Architecture;
use crate::config::{Activation, DecoderConfig, HfConfig};
use crate::Result;

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["mistral"],
    gguf: None,
    from_hf,
    load: super::llama::load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["rms_norm_eps"], true)?;
    cfg.activation = c.activation(&["hidden_act"], Activation::Silu)?;
    Ok(cfg)
}
