//! Llama 1/2/3, SmolLM, TinyLlama: RMSNorm, SwiGLU, rotary positions, grouped-query
//! attention, biases when the checkpoint has them. Its weight layout is shared by Mistral and
//! Qwen2.

use candle_core::DType;

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig, Positions, RopeScaling};
use crate::layers::{gated_mlp, pre_norm_model, separate_attention, DecoderWeights, Norm};
use crate::weights::{WeightStore, LLAMA_NAMES};
use crate::Result;

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["llama"],
    gguf: Some(GgufForm {
        name: "llama",
        names: &LLAMA_NAMES,
        config: from_gguf,
        interleaved_rope: true,
    }),
    from_hf,
    load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["rms_norm_eps"], false)?;
    cfg.activation = c.activation(&["hidden_act"], Activation::Silu)?;
    Ok(cfg)
}

/// GGUF metadata of the Llama layout (also Qwen2's, whose keys are the same).
pub(super) fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    g.common("attention.layer_norm_rms_epsilon")
}

/// The Llama layout: `model.layers.{i}` with `input_layernorm`, `self_attn.{q,k,v,o}_proj`,
/// `post_attention_layernorm`, `mlp.{gate,up,down}_proj`.
pub(super) fn load(cfg: &mut DecoderConfig, store: &WeightStore) -> Result<DecoderWeights> {
    // Llama 3.1 GGUF files store the frequency divisors of its rope scaling as a tensor.
    if store.contains("rope_freqs.weight") {
        let factors = store
            .dense_as("rope_freqs.weight", DType::F32)?
            .to_vec1::<f32>()?;
        if let Positions::Rotary(tables) = &mut cfg.positions {
            for t in tables {
                t.scaling = RopeScaling::Factors(factors.clone());
            }
        }
    }
    pre_norm_model(cfg, store, Norm::rms, separate_attention, gated_mlp)
}
