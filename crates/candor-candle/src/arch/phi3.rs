//! Phi-3 / Phi-3.5 / Phi-4-mini: the Llama design with fused `qkv_proj` (query rows, then
//! key, then value) and fused `gate_up_proj` (gate rows first), and a partial rotary factor.
//! LongRoPE scaling (the 128k models) is not supported and says so.

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig};
use crate::layers::{fused_attention, fused_gated_mlp, pre_norm_model, DecoderWeights, Norm};
use crate::weights::{GgufNames, WeightStore};
use crate::Result;

const NAMES: GgufNames = GgufNames {
    global: crate::weights::LLAMA_NAMES.global,
    layer_prefix: "model.layers.",
    layer: &[
        ("input_layernorm", "attn_norm"),
        ("self_attn.qkv_proj", "attn_qkv"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ],
};

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["phi3"],
    gguf: Some(GgufForm {
        name: "phi3",
        names: &NAMES,
        config: from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["rms_norm_eps"], true)?;
    cfg.activation = c.activation(&["hidden_act"], Activation::Silu)?;
    Ok(cfg)
}

fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    if g.has_tensor("rope_factors_long.weight") {
        return Err(g.unsupported("LongRoPE scaling (rope_factors_long)".into()));
    }
    let mut cfg = g.common("attention.layer_norm_rms_epsilon")?;
    if let Some(w) = g.opt_usize("attention.sliding_window") {
        for layer in &mut cfg.layers {
            layer.window = Some(w);
        }
    }
    Ok(cfg)
}

fn load(cfg: &mut DecoderConfig, store: &WeightStore) -> Result<DecoderWeights> {
    pre_norm_model(cfg, store, Norm::rms, fused_attention, fused_gated_mlp)
}
