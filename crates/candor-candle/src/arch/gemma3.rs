//! Gemma 3 (text): Gemma 2's layout without soft-capping, with per-head query/key norms, five
//! sliding layers for every global one, and two rotary tables: the global layers' (θ = 1e6,
//! possibly scaled) and the sliding layers' (`rope_local_base_freq`, unscaled).

use super::gemma2::{gemma_common, gemma_gguf, gemma_layers, NAMES};
use super::{Architecture, GgufForm};
use crate::config::{DecoderConfig, GgufConfig, HfConfig, Positions, RopeScaling, RopeSpec};
use crate::Result;

pub(crate) const ARCH: Architecture = Architecture {
    hf_types: &["gemma3_text"],
    gguf: Some(GgufForm {
        name: "gemma3",
        names: &NAMES,
        config: from_gguf,
        interleaved_rope: false,
    }),
    from_hf,
    load: |cfg, store| super::gemma2::load(cfg, store, true),
};

/// Sliding layers per global layer, plus one, when the config does not list layer types.
const PATTERN: usize = 6;
/// llama.cpp's fixed θ of the sliding layers, which GGUF files do not store.
const LOCAL_THETA: f64 = 10_000.0;

fn from_hf(c: &HfConfig) -> Result<DecoderConfig> {
    let pattern = c
        .opt_usize(&["sliding_window_pattern", "_sliding_window_pattern"])?
        .unwrap_or(PATTERN);
    let mut cfg = gemma_common(c, pattern)?;
    let dim = cfg.head_dim;
    let global = match c.rope_for_layer_type("full_attention", dim)? {
        Some(spec) => spec,
        None => c.rope(dim)?,
    };
    let local = match c.rope_for_layer_type("sliding_attention", dim)? {
        Some(spec) => spec,
        None => RopeSpec {
            theta: c.opt_f64(&["rope_local_base_freq"])?.unwrap_or(LOCAL_THETA),
            scaling: RopeScaling::None,
            rotary_dim: dim,
        },
    };
    cfg.positions = Positions::Rotary(vec![global, local]);
    cfg.layers = gemma_layers(c, pattern)?;
    Ok(cfg)
}

fn from_gguf(g: &GgufConfig) -> Result<DecoderConfig> {
    let mut cfg = gemma_gguf(g, PATTERN, 62)?;
    let global = g.rope(cfg.head_dim)?;
    let local = RopeSpec {
        theta: LOCAL_THETA,
        scaling: RopeScaling::None,
        rotary_dim: global.rotary_dim,
    };
    cfg.positions = Positions::Rotary(vec![global, local]);
    for l in &mut cfg.layers {
        l.rope = usize::from(l.window.is_some());
    }
    Ok(cfg)
}
