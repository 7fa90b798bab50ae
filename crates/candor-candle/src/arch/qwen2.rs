//! Qwen2 / Qwen2.5: the Llama layout with q/k/v biases (picked up from the checkpoint) and
//! tied embeddings in the small models. Sliding windows apply only where `layer_types` says
//! so (`use_sliding_window` is off in every released model).

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, HfConfig};
use crate::weights::LLAMA_NAMES;
use crate::Result;

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["qwen2"],
    gguf: Some(GgufForm {
        name: "qwen2",
        names: &LLAMA_NAMES,
        config: super::llama::from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load: super::llama::load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["rms_norm_eps"], false)?;
    if !c.bool("use_sliding_window", false) {
        for layer in &mut cfg.layers {
            layer.window = None;
        }
    }
    cfg.activation = c.activation(&["hidden_act"], Activation::Silu)?;
    Ok(cfg)
}
