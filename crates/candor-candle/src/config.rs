//! The numbers that define a decoder, and readers for the two places they come from: a
//! Hugging Face `config.json` (transformers 4 or 5 layout) and GGUF metadata.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::Tensor;

use crate::{Error, Result};

/// How rotary frequencies are stretched for long contexts.
#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    None,
    /// Positions divided by `factor`.
    Linear {
        factor: f64,
    },
    /// Llama 3.1's frequency-dependent scaling.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position: f64,
    },
    /// Per-frequency divisors stored in the file (GGUF `rope_freqs.weight`).
    Factors(Vec<f32>),
}

/// One table of rotary embeddings.
#[derive(Clone, Debug, PartialEq)]
pub struct RopeSpec {
    pub theta: f64,
    pub scaling: RopeScaling,
    /// Leading dimensions of each head that rotate (the rest pass through).
    pub rotary_dim: usize,
}

impl RopeSpec {
    /// Inverse rotary frequencies, one per rotated pair, with scaling applied.
    pub fn inv_freq(&self) -> Vec<f32> {
        let dim = self.rotary_dim as f64;
        (0..self.rotary_dim / 2)
            .map(|i| {
                let f = 1.0 / self.theta.powf(2.0 * i as f64 / dim);
                let f = match &self.scaling {
                    RopeScaling::None => f,
                    RopeScaling::Linear { factor } => f / factor,
                    RopeScaling::Factors(div) => f / f64::from(div.get(i).copied().unwrap_or(1.0)),
                    RopeScaling::Llama3 {
                        factor,
                        low_freq_factor,
                        high_freq_factor,
                        original_max_position,
                    } => {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        let low_wavelen = original_max_position / low_freq_factor;
                        let high_wavelen = original_max_position / high_freq_factor;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (original_max_position / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    }
                };
                f as f32
            })
            .collect()
    }
}

/// The MLP's non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Silu,
    /// GELU with the tanh approximation (`gelu_pytorch_tanh`).
    GeluTanh,
    /// GELU with the exact error function.
    Gelu,
}

impl Activation {
    /// The activation named by a config (`hidden_act`, `activation_function`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "silu" | "swish" => Some(Self::Silu),
            "gelu_pytorch_tanh" | "gelu_new" | "gelu_fast" => Some(Self::GeluTanh),
            "gelu" => Some(Self::Gelu),
            _ => None,
        }
    }

    pub(crate) fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Self::Silu => candle_nn::ops::silu(x)?,
            Self::GeluTanh => x.gelu()?,
            Self::Gelu => x.gelu_erf()?,
        })
    }
}

/// Where positions come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Positions {
    /// Rotary embeddings; each layer names one of these tables.
    Rotary(Vec<RopeSpec>),
    /// A learned absolute position embedding added to the token embedding (GPT-2 style).
    Learned,
}

/// What differs from layer to layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerKind {
    /// Keys further back than this many positions (the query included) are not attended.
    pub window: Option<usize>,
    /// Index of the layer's rotary table.
    pub rope: usize,
}

/// Shape and numerics of a decoder, whatever its architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    pub hidden_size: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position: usize,
    pub norm_eps: f64,
    pub positions: Positions,
    pub layers: Vec<LayerKind>,
    /// Multiplier of query·key scores (usually `head_dim^-0.5`).
    pub attn_scale: f64,
    /// `cap·tanh(s/cap)` on attention scores before masking (Gemma 2).
    pub attn_softcap: Option<f64>,
    /// `cap·tanh(l/cap)` on the final logits (Gemma 2).
    pub final_softcap: Option<f64>,
    /// Multiplier of token embeddings (Gemma: `√hidden`).
    pub embed_scale: Option<f64>,
    pub activation: Activation,
    pub tie_word_embeddings: bool,
}

impl DecoderConfig {
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Every layer with the same window and rotary table.
    pub fn uniform_layers(n: usize, window: Option<usize>) -> Vec<LayerKind> {
        vec![LayerKind { window, rope: 0 }; n]
    }

    /// Check the invariants the forward pass relies on.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &str| Error::BadConfig {
            path: path.to_path_buf(),
            key: key.into(),
        };
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return Err(bad("head_dim"));
        }
        if self.num_kv_heads == 0 || !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(bad("num_key_value_heads"));
        }
        if self.layers.is_empty() {
            return Err(bad("num_hidden_layers"));
        }
        if let Positions::Rotary(tables) = &self.positions {
            for t in tables {
                if t.rotary_dim == 0
                    || t.rotary_dim > self.head_dim
                    || !t.rotary_dim.is_multiple_of(2)
                {
                    return Err(bad("partial_rotary_factor"));
                }
            }
            if self.layers.iter().any(|l| l.rope >= tables.len()) {
                return Err(bad("rope_parameters"));
            }
        }
        if self.layers.iter().any(|l| l.window == Some(0)) {
            return Err(bad("sliding_window"));
        }
        Ok(())
    }
}

/// A `config.json`, read with errors that name the file and the key.
pub struct HfConfig {
    pub path: PathBuf,
    pub json: serde_json::Value,
}

impl HfConfig {
    pub fn bad(&self, key: &str) -> Error {
        Error::BadConfig {
            path: self.path.clone(),
            key: key.to_string(),
        }
    }

    pub fn unsupported(&self, feature: String) -> Error {
        Error::UnsupportedFeature {
            path: self.path.clone(),
            feature,
        }
    }

    /// The first of `keys` that is present and not null.
    pub fn get(&self, keys: &[&str]) -> Option<&serde_json::Value> {
        keys.iter()
            .filter_map(|k| self.json.get(k))
            .find(|v| !v.is_null())
    }

    pub fn usize(&self, keys: &[&str]) -> Result<usize> {
        self.opt_usize(keys)?.ok_or_else(|| self.bad(keys[0]))
    }

    /// An integer that may be absent, but must be an integer when present.
    pub fn opt_usize(&self, keys: &[&str]) -> Result<Option<usize>> {
        match self.get(keys) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|v| Some(v as usize))
                .ok_or_else(|| self.bad(keys[0])),
        }
    }

    pub fn opt_f64(&self, keys: &[&str]) -> Result<Option<f64>> {
        match self.get(keys) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.bad(keys[0])),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.get(&[key])
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(default)
    }

    /// The rotary table of the whole model: `rope_theta` + `rope_scaling` (transformers 4) or
    /// `rope_parameters` (transformers 5), rotating `rotary_dim` dimensions.
    pub fn rope(&self, rotary_dim: usize) -> Result<RopeSpec> {
        let params = self.get(&["rope_parameters"]);
        let theta = self
            .opt_f64(&["rope_theta"])?
            .or_else(|| params.and_then(|p| p.get("rope_theta")?.as_f64()))
            .unwrap_or(10_000.0);
        let scaling = self.get(&["rope_scaling"]).or(params);
        Ok(RopeSpec {
            theta,
            scaling: self.rope_scaling(scaling, "rope_scaling")?,
            rotary_dim,
        })
    }

    /// One entry of `rope_parameters` keyed by layer type (transformers 5, Gemma 3), if any.
    pub fn rope_for_layer_type(
        &self,
        layer_type: &str,
        rotary_dim: usize,
    ) -> Result<Option<RopeSpec>> {
        let Some(p) = self
            .get(&["rope_parameters"])
            .and_then(|p| p.get(layer_type))
            .filter(|p| p.is_object())
        else {
            return Ok(None);
        };
        let key = format!("rope_parameters.{layer_type}");
        let theta = p
            .get("rope_theta")
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| self.bad(&format!("{key}.rope_theta")))?;
        Ok(Some(RopeSpec {
            theta,
            scaling: self.rope_scaling(Some(p), &key)?,
            rotary_dim,
        }))
    }

    fn rope_scaling(&self, s: Option<&serde_json::Value>, key: &str) -> Result<RopeScaling> {
        let Some(s) = s else {
            return Ok(RopeScaling::None);
        };
        let kind = s
            .get("rope_type")
            .or_else(|| s.get("type"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("default");
        let f = |name: &str| {
            s.get(name)
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| self.bad(&format!("{key}.{name}")))
        };
        Ok(match kind {
            "default" => RopeScaling::None,
            "linear" => RopeScaling::Linear {
                factor: f("factor")?,
            },
            "llama3" => RopeScaling::Llama3 {
                factor: f("factor")?,
                low_freq_factor: f("low_freq_factor")?,
                high_freq_factor: f("high_freq_factor")?,
                original_max_position: f("original_max_position_embeddings")?,
            },
            other => return Err(self.unsupported(format!("rope scaling type '{other}'"))),
        })
    }

    /// Per-layer attention kinds from `layer_types` (`sliding_attention` / `full_attention`),
    /// when the file has them.
    pub fn layer_types(&self, n: usize) -> Result<Option<Vec<bool>>> {
        let Some(types) = self.get(&["layer_types"]) else {
            return Ok(None);
        };
        let types = types.as_array().ok_or_else(|| self.bad("layer_types"))?;
        if types.len() != n {
            return Err(self.bad("layer_types"));
        }
        types
            .iter()
            .map(|t| match t.as_str() {
                Some("sliding_attention") => Ok(true),
                Some("full_attention") => Ok(false),
                Some(other) => Err(self.unsupported(format!("layer type '{other}'"))),
                None => Err(self.bad("layer_types")),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The MLP activation named by the first of `keys` present, else `default`.
    pub fn activation(&self, keys: &[&str], default: Activation) -> Result<Activation> {
        match self.get(keys) {
            None => Ok(default),
            Some(v) => {
                let name = v.as_str().ok_or_else(|| self.bad(keys[0]))?;
                Activation::parse(name)
                    .ok_or_else(|| self.unsupported(format!("activation '{name}'")))
            }
        }
    }

    /// The sliding window, if the config sets one.
    pub fn sliding_window(&self) -> Result<Option<usize>> {
        self.opt_usize(&["sliding_window"])
    }
}

/// GGUF metadata of one architecture (`{arch}.block_count` ...).
pub struct GgufConfig<'a> {
    pub path: &'a Path,
    pub content: &'a gguf_file::Content,
    pub arch: &'a str,
}

impl GgufConfig<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.arch)
    }

    pub fn bad(&self, key: &str) -> Error {
        Error::BadConfig {
            path: self.path.to_path_buf(),
            key: self.key(key),
        }
    }

    pub fn unsupported(&self, feature: String) -> Error {
        Error::UnsupportedFeature {
            path: self.path.to_path_buf(),
            feature,
        }
    }

    pub fn opt_usize(&self, key: &str) -> Option<usize> {
        self.content
            .metadata
            .get(&self.key(key))
            .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
            .map(|v| v as usize)
    }

    pub fn usize(&self, key: &str) -> Result<usize> {
        self.opt_usize(key).ok_or_else(|| self.bad(key))
    }

    pub fn opt_f64(&self, key: &str) -> Option<f64> {
        self.content
            .metadata
            .get(&self.key(key))
            .and_then(|v| v.to_f32().ok().map(f64::from).or_else(|| v.to_f64().ok()))
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The vocabulary size: the tokenizer's token count, else `{arch}.vocab_size`.
    pub fn vocab_size(&self) -> Result<usize> {
        match self
            .content
            .metadata
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
        {
            Some(tokens) => Ok(tokens.len()),
            None => self.usize("vocab_size"),
        }
    }

    /// The rotary table from `{arch}.rope.*`.
    pub fn rope(&self, head_dim: usize) -> Result<RopeSpec> {
        let rotary_dim = self.opt_usize("rope.dimension_count").unwrap_or(head_dim);
        let scaling = match self
            .content
            .metadata
            .get(&self.key("rope.scaling.type"))
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
        {
            None | Some("none") => RopeScaling::None,
            Some("linear") => RopeScaling::Linear {
                factor: self
                    .opt_f64("rope.scaling.factor")
                    .ok_or_else(|| self.bad("rope.scaling.factor"))?,
            },
            Some(other) => return Err(self.unsupported(format!("rope scaling type '{other}'"))),
        };
        Ok(RopeSpec {
            theta: self.opt_f64("rope.freq_base").unwrap_or(10_000.0),
            scaling,
            rotary_dim,
        })
    }

    /// The fields every architecture shares, with one rotary table, full attention everywhere
    /// and `head_dim^-0.5` scaling; architectures adjust the rest.
    pub fn common(&self, norm_eps_key: &str) -> Result<DecoderConfig> {
        let hidden_size = self.usize("embedding_length")?;
        let num_heads = self.usize("attention.head_count")?;
        let head_dim = self
            .opt_usize("attention.key_length")
            .unwrap_or(hidden_size / num_heads.max(1));
        Ok(DecoderConfig {
            hidden_size,
            num_heads,
            num_kv_heads: self
                .opt_usize("attention.head_count_kv")
                .unwrap_or(num_heads),
            head_dim,
            intermediate_size: self.usize("feed_forward_length")?,
            vocab_size: self.vocab_size()?,
            max_position: self.usize("context_length")?,
            norm_eps: self.opt_f64(norm_eps_key).unwrap_or(1e-5),
            positions: Positions::Rotary(vec![self.rope(head_dim)?]),
            layers: DecoderConfig::uniform_layers(self.usize("block_count")?, None),
            attn_scale: 1.0 / (head_dim as f64).sqrt(),
            attn_softcap: None,
            final_softcap: None,
            embed_scale: None,
            activation: Activation::Silu,
            tie_word_embeddings: !self.has_tensor("output.weight"),
        })
    }
}

impl HfConfig {
    /// The fields every `model.layers.*` architecture shares, with one rotary table and
    /// `head_dim^-0.5` scaling; the window comes from `layer_types` when present, else
    /// applies to every layer when `window_everywhere`.
    pub fn common(&self, norm_eps_keys: &[&str], window_everywhere: bool) -> Result<DecoderConfig> {
        let hidden_size = self.usize(&["hidden_size", "n_embd"])?;
        let num_heads = self.usize(&["num_attention_heads", "n_head"])?;
        let head_dim = self
            .opt_usize(&["head_dim"])?
            .unwrap_or(hidden_size / num_heads.max(1));
        let n = self.usize(&["num_hidden_layers", "n_layer"])?;
        let window = self.sliding_window()?;
        let layers = match (self.layer_types(n)?, window) {
            (Some(sliding), Some(w)) => sliding
                .into_iter()
                .map(|s| LayerKind {
                    window: s.then_some(w),
                    rope: 0,
                })
                .collect(),
            (_, w) if window_everywhere => DecoderConfig::uniform_layers(n, w),
            _ => DecoderConfig::uniform_layers(n, None),
        };
        let factor = self
            .opt_f64(&["partial_rotary_factor"])?
            .or_else(|| {
                self.get(&["rope_parameters"])
                    .and_then(|p| p.get("partial_rotary_factor")?.as_f64())
            })
            .unwrap_or(1.0);
        let rotary_dim = (head_dim as f64 * factor).round() as usize;
        Ok(DecoderConfig {
            hidden_size,
            num_heads,
            num_kv_heads: self
                .opt_usize(&["num_key_value_heads"])?
                .unwrap_or(num_heads),
            head_dim,
            intermediate_size: self.usize(&["intermediate_size", "n_inner"])?,
            vocab_size: self.usize(&["vocab_size"])?,
            max_position: self.usize(&["max_position_embeddings", "n_positions"])?,
            norm_eps: self.opt_f64(norm_eps_keys)?.unwrap_or(1e-5),
            positions: Positions::Rotary(vec![self.rope(rotary_dim)?]),
            layers,
            attn_scale: 1.0 / (head_dim as f64).sqrt(),
            attn_softcap: None,
            final_softcap: None,
            embed_scale: None,
            activation: Activation::Silu,
            tie_word_embeddings: self.bool("tie_word_embeddings", false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> HfConfig {
        HfConfig {
            path: "config.json".into(),
            json,
        }
    }

    #[test]
    fn rope_is_read_from_either_transformers_layout() {
        let v4 = cfg(serde_json::json!({"rope_theta": 5e5, "rope_scaling":
            {"rope_type": "linear", "factor": 2.0}}));
        let v5 = cfg(serde_json::json!({"rope_parameters":
            {"rope_theta": 5e5, "rope_type": "linear", "factor": 2.0}}));
        for c in [v4, v5] {
            let r = c.rope(8).unwrap();
            assert_eq!(r.theta, 5e5);
            assert_eq!(r.scaling, RopeScaling::Linear { factor: 2.0 });
        }
    }

    #[test]
    fn unknown_rope_scaling_is_named() {
        let c = cfg(serde_json::json!({"rope_scaling": {"type": "yarn", "factor": 4.0}}));
        let err = c.rope(8).unwrap_err().to_string();
        assert!(
            err.contains("rope scaling type 'yarn' is not supported"),
            "{err}"
        );
    }

    #[test]
    fn activations_are_named_as_configs_name_them() {
        assert_eq!(Activation::parse("silu"), Some(Activation::Silu));
        assert_eq!(
            Activation::parse("gelu_pytorch_tanh"),
            Some(Activation::GeluTanh)
        );
        let c = cfg(serde_json::json!({"hidden_act": "relu2"}));
        let err = c.activation(&["hidden_act"], Activation::Silu).unwrap_err();
        assert!(err.to_string().contains("activation 'relu2'"), "{err}");
    }

    #[test]
    fn inverse_frequencies_follow_theta_and_scaling() {
        let mut r = RopeSpec {
            theta: 10_000.0,
            scaling: RopeScaling::None,
            rotary_dim: 4,
        };
        assert_eq!(r.inv_freq(), vec![1.0, 0.01]);
        r.scaling = RopeScaling::Linear { factor: 4.0 };
        assert_eq!(r.inv_freq(), vec![0.25, 0.0025]);
    }
}
