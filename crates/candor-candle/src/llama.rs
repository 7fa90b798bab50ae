//! The Llama-family decoder (Llama 2/3, SmolLM2, TinyLlama, Mistral without a sliding window),
//! written for evaluation: a batch of right-padded rows runs on top of an optional shared
//! prefix cache, and the LM head is applied only to the positions the caller asks for.

use std::path::Path;

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor};

use crate::transformer::{causal_mask, KvCache, LayerCache, RowLayout, Transformer};
use crate::weights::{Linear, WeightStore};
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

/// Shape and numerics of a Llama-family model.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaConfig {
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_scaling: RopeScaling,
    pub max_position: usize,
    pub vocab_size: usize,
    pub tie_word_embeddings: bool,
}

impl LlamaConfig {
    /// Read the config from GGUF metadata (`llama.*` keys).
    pub fn from_gguf(path: &Path, content: &gguf_file::Content, arch: &str) -> Result<Self> {
        let md = &content.metadata;
        let bad = |key: &str| Error::BadConfig {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        let get_u = |key: &str| -> Result<usize> {
            let k = format!("{arch}.{key}");
            md.get(&k)
                .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
                .map(|v| v as usize)
                .ok_or_else(|| bad(&k))
        };
        let get_f = |key: &str| -> Option<f64> {
            md.get(&format!("{arch}.{key}"))
                .and_then(|v| v.to_f32().ok().map(f64::from).or_else(|| v.to_f64().ok()))
        };
        let hidden_size = get_u("embedding_length")?;
        let num_heads = get_u("attention.head_count")?;
        let head_dim = get_u("attention.key_length").unwrap_or(hidden_size / num_heads.max(1));
        if let Ok(rot) = get_u("rope.dimension_count") {
            if rot != head_dim {
                return Err(Error::UnsupportedFeature {
                    path: path.to_path_buf(),
                    feature: format!("partial rotary embedding ({rot} of {head_dim} dims)"),
                });
            }
        }
        let rope_scaling = match md
            .get(&format!("{arch}.rope.scaling.type"))
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
        {
            None | Some("none") => RopeScaling::None,
            Some("linear") => RopeScaling::Linear {
                factor: get_f("rope.scaling.factor").ok_or_else(|| bad("rope.scaling.factor"))?,
            },
            Some(other) => {
                return Err(Error::UnsupportedFeature {
                    path: path.to_path_buf(),
                    feature: format!("rope scaling type '{other}'"),
                })
            }
        };
        let vocab_size = match md
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
        {
            Some(tokens) => tokens.len(),
            None => get_u("vocab_size")?,
        };
        Ok(Self {
            hidden_size,
            num_layers: get_u("block_count")?,
            num_heads,
            num_kv_heads: get_u("attention.head_count_kv").unwrap_or(num_heads),
            head_dim,
            intermediate_size: get_u("feed_forward_length")?,
            rms_norm_eps: get_f("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            rope_theta: get_f("rope.freq_base").unwrap_or(10_000.0),
            rope_scaling,
            max_position: get_u("context_length")?,
            vocab_size,
            tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
        })
    }

    /// Read the config from a Hugging Face `config.json`.
    pub fn from_hf(path: &Path, json: &serde_json::Value) -> Result<Self> {
        let bad = |key: &str| Error::BadConfig {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        let get_u = |key: &str| -> Result<usize> {
            json.get(key)
                .and_then(|v| v.as_u64())
                .map(|v| v as usize)
                .ok_or_else(|| bad(key))
        };
        if let Some(w) = json.get("sliding_window").and_then(|v| v.as_u64()) {
            let max = get_u("max_position_embeddings")?;
            if (w as usize) < max {
                return Err(Error::UnsupportedFeature {
                    path: path.to_path_buf(),
                    feature: format!("sliding-window attention (window {w})"),
                });
            }
        }
        let hidden_size = get_u("hidden_size")?;
        let num_heads = get_u("num_attention_heads")?;
        let rope_params = json.get("rope_parameters");
        let rope_theta = json
            .get("rope_theta")
            .or_else(|| rope_params.and_then(|p| p.get("rope_theta")))
            .and_then(|v| v.as_f64())
            .unwrap_or(10_000.0);
        let scaling = json
            .get("rope_scaling")
            .filter(|v| !v.is_null())
            .or(rope_params);
        let rope_scaling = match scaling {
            None => RopeScaling::None,
            Some(s) => {
                let kind = s
                    .get("rope_type")
                    .or_else(|| s.get("type"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("default");
                let f = |key: &str| {
                    s.get(key)
                        .and_then(|v| v.as_f64())
                        .ok_or_else(|| bad(&format!("rope_scaling.{key}")))
                };
                match kind {
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
                    other => {
                        return Err(Error::UnsupportedFeature {
                            path: path.to_path_buf(),
                            feature: format!("rope scaling type '{other}'"),
                        })
                    }
                }
            }
        };
        Ok(Self {
            hidden_size,
            num_layers: get_u("num_hidden_layers")?,
            num_heads,
            num_kv_heads: get_u("num_key_value_heads").unwrap_or(num_heads),
            head_dim: get_u("head_dim").unwrap_or(hidden_size / num_heads.max(1)),
            intermediate_size: get_u("intermediate_size")?,
            rms_norm_eps: json
                .get("rms_norm_eps")
                .and_then(|v| v.as_f64())
                .unwrap_or(1e-5),
            rope_theta,
            rope_scaling,
            max_position: get_u("max_position_embeddings")?,
            vocab_size: get_u("vocab_size")?,
            tie_word_embeddings: json
                .get("tie_word_embeddings")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        })
    }

    /// Inverse rotary frequencies, one per pair of dimensions, with scaling applied.
    fn inv_freq(&self) -> Vec<f32> {
        let half = self.head_dim / 2;
        (0..half)
            .map(|i| {
                let f = 1.0 / self.rope_theta.powf(2.0 * i as f64 / self.head_dim as f64);
                let f = match &self.rope_scaling {
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

struct Layer {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    mlp_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded Llama-family model.
pub struct Llama {
    cfg: LlamaConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Linear,
    cos: Tensor,
    sin: Tensor,
    rope_interleaved: bool,
    dtype: DType,
    device: Device,
}

impl Llama {
    pub(crate) fn load(mut cfg: LlamaConfig, store: &WeightStore) -> Result<Self> {
        if cfg.head_dim == 0 || !cfg.head_dim.is_multiple_of(2) {
            return Err(Error::BadConfig {
                path: store.path().to_path_buf(),
                key: "head_dim".into(),
            });
        }
        if cfg.num_kv_heads == 0 || !cfg.num_heads.is_multiple_of(cfg.num_kv_heads) {
            return Err(Error::BadConfig {
                path: store.path().to_path_buf(),
                key: "num_key_value_heads".into(),
            });
        }
        let norm_dtype = DType::F32;
        if store.contains("rope_freqs.weight") {
            let factors = store
                .dense_as("rope_freqs.weight", DType::F32)?
                .to_vec1::<f32>()?;
            cfg.rope_scaling = RopeScaling::Factors(factors);
        }
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let p = format!("model.layers.{i}");
            layers.push(Layer {
                attn_norm: store.dense_as(&format!("{p}.input_layernorm.weight"), norm_dtype)?,
                q: store.linear(&format!("{p}.self_attn.q_proj"))?,
                k: store.linear(&format!("{p}.self_attn.k_proj"))?,
                v: store.linear(&format!("{p}.self_attn.v_proj"))?,
                o: store.linear(&format!("{p}.self_attn.o_proj"))?,
                mlp_norm: store
                    .dense_as(&format!("{p}.post_attention_layernorm.weight"), norm_dtype)?,
                gate: store.linear(&format!("{p}.mlp.gate_proj"))?,
                up: store.linear(&format!("{p}.mlp.up_proj"))?,
                down: store.linear(&format!("{p}.mlp.down_proj"))?,
            });
        }
        let embed = store.dense("model.embed_tokens.weight")?;
        let lm_head = if cfg.tie_word_embeddings || !store.contains("lm_head.weight") {
            store.linear("model.embed_tokens")?
        } else {
            store.linear("lm_head")?
        };
        let device = embed.device().clone();
        let inv_freq = Tensor::new(cfg.inv_freq(), &device)?;
        let positions = Tensor::arange(0u32, cfg.max_position as u32, &device)?
            .to_dtype(DType::F32)?
            .unsqueeze(1)?;
        let freqs = positions.broadcast_mul(&inv_freq.unsqueeze(0)?)?;
        Ok(Self {
            norm: store.dense_as("model.norm.weight", norm_dtype)?,
            cos: freqs.cos()?.to_dtype(store.dtype)?,
            sin: freqs.sin()?.to_dtype(store.dtype)?,
            rope_interleaved: store.rope_interleaved(),
            dtype: store.dtype,
            embed,
            layers,
            lm_head,
            device,
            cfg,
        })
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        let y = candle_nn::ops::rms_norm(
            &x.to_dtype(DType::F32)?.contiguous()?,
            w,
            self.cfg.rms_norm_eps as f32,
        )?;
        Ok(y.to_dtype(self.dtype)?)
    }

    fn rope(&self, x: &Tensor, offset: usize, rows: Option<&RowLayout>) -> Result<Tensor> {
        let (b, _, t, _) = x.dims4()?;
        let (cos, sin) = match rows {
            Some(r) => {
                let at = r.positions.flatten_all()?;
                let half = self.cfg.head_dim / 2;
                (
                    self.cos.index_select(&at, 0)?.reshape((b, t, half))?,
                    self.sin.index_select(&at, 0)?.reshape((b, t, half))?,
                )
            }
            None => (
                self.cos.narrow(0, offset, t)?,
                self.sin.narrow(0, offset, t)?,
            ),
        };
        let x = x.contiguous()?;
        Ok(if self.rope_interleaved {
            candle_nn::rotary_emb::rope_i(&x, &cos, &sin)?
        } else {
            candle_nn::rotary_emb::rope(&x, &cos, &sin)?
        })
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        prefix: Option<&LayerCache>,
        mask: Option<&Tensor>,
        rows: Option<&RowLayout>,
    ) -> Result<(Tensor, LayerCache)> {
        let (b, t, _) = x.dims3()?;
        let (h, kvh, hd) = (self.cfg.num_heads, self.cfg.num_kv_heads, self.cfg.head_dim);
        let offset = prefix.map_or(0, |p| p.len());
        let q = layer
            .q
            .forward(x)?
            .reshape((b, t, h, hd))?
            .transpose(1, 2)?;
        let k = layer
            .k
            .forward(x)?
            .reshape((b, t, kvh, hd))?
            .transpose(1, 2)?;
        let v = layer
            .v
            .forward(x)?
            .reshape((b, t, kvh, hd))?
            .transpose(1, 2)?;
        let q = self.rope(&q, offset, rows)?;
        let k = self.rope(&k, offset, rows)?;
        let v = v.contiguous()?;
        let (k, v) = match prefix {
            Some(p) => p.extend(&k, &v, b)?,
            None => (k, v),
        };
        // Grouped-query attention without copying K/V: the `rep` query heads that share one
        // KV head are stacked along the time axis.
        let rep = h / kvh;
        let len = k.dim(2)?;
        let q = q.reshape((b, kvh, rep * t, hd))?;
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?
            .to_dtype(DType::F32)?
            .reshape((b, h, t, len))?;
        let scores = match mask {
            Some(m) => scores.broadcast_add(m)?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?
            .to_dtype(self.dtype)?
            .reshape((b, kvh, rep * t, len))?;
        let out = probs
            .matmul(&v)?
            .reshape((b, h, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, h * hd))?;
        Ok((layer.o.forward(&out)?, LayerCache { k, v }))
    }
}

impl Transformer for Llama {
    fn forward(
        &self,
        tokens: &Tensor,
        prefix: Option<&KvCache>,
        rows: Option<&RowLayout>,
    ) -> Result<(Tensor, KvCache)> {
        let (_, t) = tokens.dims2()?;
        let offset = prefix.map_or(0, KvCache::len);
        if rows.is_none() && offset + t > self.cfg.max_position {
            return Err(Error::Candle(candle_core::Error::Msg(format!(
                "{} positions exceed the model's context of {}",
                offset + t,
                self.cfg.max_position
            ))));
        }
        let mask = match rows {
            Some(r) => Some(r.mask.clone()),
            None => causal_mask(t, offset, &self.device)?,
        };
        let mut x = self.embed.embedding(&tokens.flatten_all()?)?.reshape((
            tokens.dim(0)?,
            t,
            self.cfg.hidden_size,
        ))?;
        let mut caches = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let residual = x.clone();
            let h = self.rms_norm(&x, &layer.attn_norm)?;
            let (h, cache) =
                self.attention(layer, &h, prefix.map(|p| &p.layers[i]), mask.as_ref(), rows)?;
            caches.push(cache);
            x = (residual + h)?;
            let residual = x.clone();
            let h = self.rms_norm(&x, &layer.mlp_norm)?;
            let gate = candle_nn::ops::silu(&layer.gate.forward(&h)?)?;
            let h = layer.down.forward(&(gate * layer.up.forward(&h)?)?)?;
            x = (residual + h)?;
        }
        Ok((self.rms_norm(&x, &self.norm)?, KvCache { layers: caches }))
    }

    fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.lm_head.forward(hidden)?.to_dtype(DType::F32)?)
    }

    fn max_context(&self) -> usize {
        self.cfg.max_position
    }

    fn vocab_size(&self) -> usize {
        self.cfg.vocab_size
    }
}
