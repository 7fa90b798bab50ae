//! GPTBigCode (StarCoder, StarCoderBase, SantaCoder): GPT-2 style blocks with multi-query
//! attention (one key/value head, or one per query head when `multi_query` is off), a fused
//! `c_attn`, learned absolute positions, LayerNorm with bias and a plain GELU MLP.

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig, Positions};
use crate::layers::{lm_head, plain_mlp, AttentionWeights, Block, DecoderWeights, Norm, Qkv};
use crate::weights::{GgufNames, WeightStore};
use crate::Result;

const NAMES: GgufNames = GgufNames {
    global: &[
        ("transformer.wte.weight", "token_embd.weight"),
        ("transformer.wpe.weight", "position_embd.weight"),
        ("transformer.ln_f.weight", "output_norm.weight"),
        ("transformer.ln_f.bias", "output_norm.bias"),
        ("lm_head.weight", "output.weight"),
    ],
    layer_prefix: "transformer.h.",
    layer: &[
        ("ln_1", "attn_norm"),
        ("attn.c_attn", "attn_qkv"),
        ("attn.c_proj", "attn_output"),
        ("ln_2", "ffn_norm"),
        ("mlp.c_fc", "ffn_up"),
        ("mlp.c_proj", "ffn_down"),
    ],
};

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["gpt_bigcode"],
    gguf: Some(GgufForm {
        name: "starcoder",
        names: &NAMES,
        config: from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load,
};

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let hidden_size = c.usize(&["n_embd", "hidden_size"])?;
    let num_heads = c.usize(&["n_head", "num_attention_heads"])?;
    let head_dim = hidden_size / num_heads.max(1);
    let n = c.usize(&["n_layer", "num_hidden_layers"])?;
    if !c.bool("scale_attn_weights", true) {
        return Err(c.unsupported("unscaled attention (scale_attn_weights: false)".into()));
    }
    Ok(DecoderConfig {
        hidden_size,
        num_heads,
        num_kv_heads: if c.bool("multi_query", true) {
            1
        } else {
            num_heads
        },
        head_dim,
        intermediate_size: c.opt_usize(&["n_inner"])?.unwrap_or(4 * hidden_size),
        vocab_size: c.usize(&["vocab_size"])?,
        max_position: c.usize(&["n_positions", "max_position_embeddings"])?,
        norm_eps: c.opt_f64(&["layer_norm_epsilon"])?.unwrap_or(1e-5),
        positions: Positions::Learned,
        layers: DecoderConfig::uniform_layers(n, None),
        attn_scale: 1.0 / (head_dim as f64).sqrt(),
        attn_softcap: None,
        final_softcap: None,
        embed_scale: None,
        activation: c.activation(&["activation_function"], Activation::GeluTanh)?,
        tie_word_embeddings: c.bool("tie_word_embeddings", true),
    })
}

fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    let mut cfg = g.common("attention.layer_norm_epsilon")?;
    cfg.positions = Positions::Learned;
    cfg.activation = Activation::GeluTanh;
    Ok(cfg)
}

fn load(cfg: &mut DecoderConfig, store: &WeightStore) -> Result<DecoderWeights> {
    let eps = cfg.norm_eps;
    let blocks = (0..cfg.num_layers())
        .map(|i| {
            let p = format!("transformer.h.{i}");
            Ok(Block {
                attn_norm: Norm::layer(store, &format!("{p}.ln_1"), eps)?,
                attn: AttentionWeights {
                    qkv: Qkv::Fused(store.linear(&format!("{p}.attn.c_attn"))?),
                    o: store.linear(&format!("{p}.attn.c_proj"))?,
                    q_norm: None,
                    k_norm: None,
                },
                post_attn_norm: None,
                mlp_norm: Norm::layer(store, &format!("{p}.ln_2"), eps)?,
                mlp: plain_mlp(store, &format!("{p}.mlp"), cfg.activation)?,
                post_mlp_norm: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DecoderWeights {
        embed: store.dense("transformer.wte.weight")?,
        position_embed: Some(store.dense("transformer.wpe.weight")?),
        blocks,
        final_norm: Norm::layer(store, "transformer.ln_f", eps)?,
        lm_head: lm_head(store, cfg.tie_word_embeddings, "transformer.wte", "lm_head")?,
    })
}
