//! StarCoder2: LayerNorm with bias, biases on every projection, a plain (ungated) GELU MLP
//! `c_fc → gelu → c_proj`, rotary positions, grouped-query attention and tied embeddings.

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig};
use crate::layers::{plain_mlp, pre_norm_model, separate_attention, DecoderWeights, Norm};
use crate::weights::{GgufNames, WeightStore, LLAMA_NAMES};
use crate::Result;

const NAMES: GgufNames = GgufNames {
    global: LLAMA_NAMES.global,
    layer_prefix: "model.layers.",
    layer: &[
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.c_fc", "ffn_up"),
        ("mlp.c_proj", "ffn_down"),
    ],
};

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["starcoder2"],
    gguf: Some(GgufForm {
        name: "starcoder2",
        names: &NAMES,
        config: from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["norm_epsilon", "layer_norm_epsilon"], true)?;
    cfg.activation = c.activation(&["hidden_act"], Activation::GeluTanh)?;
    cfg.tie_word_embeddings = c.bool("tie_word_embeddings", true);
    Ok(cfg)
}

fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    let mut cfg = g.common("attention.layer_norm_epsilon")?;
    cfg.activation = Activation::GeluTanh;
    Ok(cfg)
}

fn load(cfg: &mut DecoderConfig, store: &WeightStore) -> Result<DecoderWeights> {
    pre_norm_model(cfg, store, Norm::layer, separate_attention, plain_mlp)
}
