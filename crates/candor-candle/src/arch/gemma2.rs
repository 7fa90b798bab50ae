//! Gemma 2: RMSNorm as `x·(1 + w)`, embeddings scaled by `√hidden`, norms before *and after*
//! attention and MLP, GeGLU, attention scaled by `query_pre_attn_scalar^-0.5` and soft-capped,
//! soft-capped final logits, and a sliding window on every other layer (the first included).
//! Gemma 3 reuses its layout.

use super::{Architecture, GgufForm};
use crate::config::{Activation, DecoderConfig, GgufConfig, HfConfig, LayerKind};
use crate::layers::{gated_mlp, lm_head, separate_attention, Block, DecoderWeights, Norm};
use crate::weights::{GgufNames, WeightStore, LLAMA_NAMES};
use crate::Result;

pub(super) const NAMES: GgufNames = GgufNames {
    global: LLAMA_NAMES.global,
    layer_prefix: "model.layers.",
    layer: &[
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("self_attn.q_norm", "attn_q_norm"),
        ("self_attn.k_norm", "attn_k_norm"),
        ("post_attention_layernorm", "post_attention_norm"),
        ("pre_feedforward_layernorm", "ffn_norm"),
        ("post_feedforward_layernorm", "post_ffw_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ],
};

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["gemma2"],
    gguf: Some(GgufForm {
        name: "gemma2",
        names: &NAMES,
        config: from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load: |cfg, store| load(cfg, store, false),
};

/// Which layers slide: `layer_types` when the config has it, else every `pattern`-th layer is
/// global and the others slide (Gemma 2: pattern 2, layer 0 sliding).
pub(super) fn gemma_layers(c: &HfConfig, pattern: usize) -> Result<Vec<LayerKind>> {
    let n = c.usize(&["num_hidden_layers"])?;
    let window = c.sliding_window()?;
    let sliding = match c.layer_types(n)? {
        Some(types) => types,
        None => (0..n).map(|i| (i + 1) % pattern.max(1) != 0).collect(),
    };
    Ok(sliding
        .into_iter()
        .map(|s| LayerKind {
            window: if s { window } else { None },
            rope: usize::from(s),
        })
        .collect())
}

/// The settings Gemma 2 and 3 share, on top of the common ones.
pub(super) fn gemma_common(c: &HfConfig, pattern: usize) -> Result<DecoderConfig> {
    let mut cfg = c.common(&["rms_norm_eps"], false)?;
    cfg.layers = gemma_layers(c, pattern)?;
    // A single rotary table: both layer kinds use it.
    for l in &mut cfg.layers {
        l.rope = 0;
    }
    let scalar = c
        .opt_f64(&["query_pre_attn_scalar"])?
        .unwrap_or(cfg.head_dim as f64);
    cfg.attn_scale = 1.0 / scalar.sqrt();
    cfg.attn_softcap = c.opt_f64(&["attn_logit_softcapping"])?;
    cfg.final_softcap = c.opt_f64(&["final_logit_softcapping"])?;
    cfg.embed_scale = Some((cfg.hidden_size as f64).sqrt());
    cfg.activation = c.activation(&["hidden_activation", "hidden_act"], Activation::GeluTanh)?;
    cfg.tie_word_embeddings = c.bool("tie_word_embeddings", true);
    Ok(cfg)
}

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    gemma_common(c, 2)
}

/// GGUF metadata of Gemma 2/3. Converters do not store `query_pre_attn_scalar`: an
/// `{arch}.attention.scale` key is used when present, else, like llama.cpp, the 27B models
/// (46 and 62 layers) scale by `(hidden/heads)^-0.5` and the others by `head_dim^-0.5`. The
/// sliding pattern is `{arch}.attention.sliding_window_pattern` when present.
pub(super) fn gemma_gguf(
    g: &GgufConfig,
    pattern: usize,
    big_layers: usize,
) -> Result<DecoderConfig> {
    let mut cfg = g.common("attention.layer_norm_rms_epsilon")?;
    let window = g.opt_usize("attention.sliding_window");
    let pattern = g
        .opt_usize("attention.sliding_window_pattern")
        .unwrap_or(pattern)
        .max(1);
    let n = cfg.num_layers();
    for (i, l) in cfg.layers.iter_mut().enumerate() {
        l.window = if (i + 1) % pattern != 0 { window } else { None };
    }
    if let Some(scale) = g.opt_f64("attention.scale") {
        cfg.attn_scale = scale;
    } else if n == big_layers {
        cfg.attn_scale = 1.0 / ((cfg.hidden_size / cfg.num_heads) as f64).sqrt();
    }
    cfg.attn_softcap = g.opt_f64("attn_logit_softcapping");
    cfg.final_softcap = g.opt_f64("final_logit_softcapping");
    cfg.embed_scale = Some((cfg.hidden_size as f64).sqrt());
    cfg.activation = Activation::GeluTanh;
    cfg.tie_word_embeddings = !g.has_tensor("output.weight");
    Ok(cfg)
}

fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    gemma_gguf(g, 2, 46)
}

/// The Gemma layout; `qk_norm` adds Gemma 3's per-head query and key norms.
pub(super) fn load(
    cfg: &mut DecoderConfig,
    store: &WeightStore,
    qk_norm: bool,
) -> Result<DecoderWeights> {
    let eps = cfg.norm_eps;
    let norm = |name: String| Norm::rms_plus_one(store, &name, eps);
    let blocks = (0..cfg.num_layers())
        .map(|i| {
            let p = format!("model.layers.{i}");
            let mut attn = separate_attention(store, &format!("{p}.self_attn"))?;
            if qk_norm {
                attn.q_norm = Some(norm(format!("{p}.self_attn.q_norm"))?);
                attn.k_norm = Some(norm(format!("{p}.self_attn.k_norm"))?);
            }
            Ok(Block {
                attn_norm: norm(format!("{p}.input_layernorm"))?,
                attn,
                post_attn_norm: Some(norm(format!("{p}.post_attention_layernorm"))?),
                mlp_norm: norm(format!("{p}.pre_feedforward_layernorm"))?,
                mlp: gated_mlp(store, &format!("{p}.mlp"), cfg.activation)?,
                post_mlp_norm: Some(norm(format!("{p}.post_feedforward_layernorm"))?),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DecoderWeights {
        embed: store.dense("model.embed_tokens.weight")?,
        position_embed: None,
        blocks,
        final_norm: norm("model.norm".into())?,
        lm_head: lm_head(
            store,
            cfg.tie_word_embeddings,
            "model.embed_tokens",
            "lm_head",
        )?,
    })
}
