//! Phi-3 / Phi-3.5 / Phi-4-mini: the Llama design with fused `qkv_proj` (query rows, then
//! key, then value) and fused `gate_up_proj` (gate rows first), and a partial rotary factor.
//! LongRoPE scaling (the 128k models) is not supported and says so.

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig};
use crate::layers::{lm_head, AttentionWeights, Block, DecoderWeights, Mlp, Norm, Qkv};
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
    let eps = cfg.norm_eps;
    let blocks = (0..cfg.num_layers())
        .map(|i| {
            let p = format!("model.layers.{i}");
            Ok(Block {
                attn_norm: Norm::rms(store, &format!("{p}.input_layernorm"), eps)?,
                attn: AttentionWeights {
                    qkv: Qkv::Fused(store.linear(&format!("{p}.self_attn.qkv_proj"))?),
                    o: store.linear(&format!("{p}.self_attn.o_proj"))?,
                    q_norm: None,
                    k_norm: None,
                },
                post_attn_norm: None,
                mlp_norm: Norm::rms(store, &format!("{p}.post_attention_layernorm"), eps)?,
                mlp: Mlp::FusedGated {
                    gate_up: store.linear(&format!("{p}.mlp.gate_up_proj"))?,
                    down: store.linear(&format!("{p}.mlp.down_proj"))?,
                    act: cfg.activation,
                },
                post_mlp_norm: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DecoderWeights {
        embed: store.dense("model.embed_tokens.weight")?,
        position_embed: None,
        blocks,
        final_norm: Norm::rms(store, "model.norm", eps)?,
        lm_head: lm_head(
            store,
            cfg.tie_word_embeddings,
            "model.embed_tokens",
            "lm_head",
        )?,
    })
}
