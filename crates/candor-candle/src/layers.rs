//! The pieces architectures share: norms, MLPs, projections and rotary tables. Each
//! architecture file only says which of them it uses and where their weights are.

use candle_core::{DType, Device, Tensor, D};

use crate::config::{Activation, DecoderConfig, RopeSpec};
use crate::weights::{Linear, WeightStore};
use crate::Result;

/// A normalisation layer; weights are kept in f32 and the statistics computed in f32.
#[derive(Clone, Debug)]
pub(crate) enum Norm {
    Rms {
        weight: Tensor,
        eps: f32,
    },
    Layer {
        weight: Tensor,
        bias: Tensor,
        eps: f32,
    },
}

impl Norm {
    /// RMSNorm `x / rms(x) · w`.
    pub fn rms(store: &WeightStore, prefix: &str, eps: f64) -> Result<Self> {
        Ok(Self::Rms {
            weight: store.dense_as(&format!("{prefix}.weight"), DType::F32)?,
            eps: eps as f32,
        })
    }

    /// Gemma's RMSNorm `x / rms(x) · (1 + w)`. GGUF files store `1 + w` already.
    pub fn rms_plus_one(store: &WeightStore, prefix: &str, eps: f64) -> Result<Self> {
        let weight = store.dense_as(&format!("{prefix}.weight"), DType::F32)?;
        let weight = if store.is_gguf() {
            weight
        } else {
            (weight + 1.0)?
        };
        Ok(Self::Rms {
            weight,
            eps: eps as f32,
        })
    }

    /// LayerNorm with weight and bias.
    pub fn layer(store: &WeightStore, prefix: &str, eps: f64) -> Result<Self> {
        Ok(Self::Layer {
            weight: store.dense_as(&format!("{prefix}.weight"), DType::F32)?,
            bias: store.dense_as(&format!("{prefix}.bias"), DType::F32)?,
            eps: eps as f32,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dtype = x.dtype();
        let x = x.to_dtype(DType::F32)?.contiguous()?;
        let y = match self {
            Norm::Rms { weight, eps } => candle_nn::ops::rms_norm(&x, weight, *eps)?,
            Norm::Layer { weight, bias, eps } => {
                candle_nn::ops::layer_norm(&x, weight, bias, *eps)?
            }
        };
        Ok(y.to_dtype(dtype)?)
    }
}

/// The feed-forward block.
#[derive(Clone, Debug)]
pub(crate) enum Mlp {
    /// `down(act(gate(x)) · up(x))` (SwiGLU, GeGLU).
    Gated {
        gate: Linear,
        up: Linear,
        down: Linear,
        act: Activation,
    },
    /// The same with gate and up in one matrix, gate rows first (Phi-3).
    FusedGated {
        gate_up: Linear,
        down: Linear,
        act: Activation,
    },
    /// `down(act(up(x)))` (GPT-2, StarCoder).
    Plain {
        up: Linear,
        down: Linear,
        act: Activation,
    },
}

impl Mlp {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Mlp::Gated {
                gate,
                up,
                down,
                act,
            } => {
                let [gate, up] = Linear::forward_all([gate, up], x)?;
                down.forward(&(act.apply(&gate)? * up)?)
            }
            Mlp::FusedGated { gate_up, down, act } => {
                let both = gate_up.forward(x)?;
                let half = both.dim(D::Minus1)? / 2;
                let gate = act.apply(&both.narrow(D::Minus1, 0, half)?)?;
                down.forward(&(gate * both.narrow(D::Minus1, half, half)?)?)
            }
            Mlp::Plain { up, down, act } => down.forward(&act.apply(&up.forward(x)?)?),
        }
    }
}

/// The query, key and value projections.
#[derive(Clone, Debug)]
pub(crate) enum Qkv {
    Separate {
        q: Linear,
        k: Linear,
        v: Linear,
    },
    /// One matrix whose rows are all queries, then keys, then values.
    Fused(Linear),
}

impl Qkv {
    /// `x (b, t, hidden)` → q `(b, t, heads·hd)`, k and v `(b, t, kv_heads·hd)`.
    pub fn forward(&self, x: &Tensor, q_dim: usize, kv_dim: usize) -> Result<[Tensor; 3]> {
        Ok(match self {
            Qkv::Separate { q, k, v } => Linear::forward_all([q, k, v], x)?,
            Qkv::Fused(w) => {
                let all = w.forward(x)?;
                [
                    all.narrow(D::Minus1, 0, q_dim)?,
                    all.narrow(D::Minus1, q_dim, kv_dim)?,
                    all.narrow(D::Minus1, q_dim + kv_dim, kv_dim)?,
                ]
            }
        })
    }
}

/// The attention weights of one layer.
#[derive(Clone, Debug)]
pub(crate) struct AttentionWeights {
    pub qkv: Qkv,
    pub o: Linear,
    /// Per-head norms of queries and keys before the rotation (Gemma 3, Qwen 3).
    pub q_norm: Option<Norm>,
    pub k_norm: Option<Norm>,
}

/// The weights of one decoder layer. Pre-norm residual blocks; the optional post-norms wrap
/// each block's output before it is added back (Gemma 2/3).
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub attn_norm: Norm,
    pub attn: AttentionWeights,
    pub post_attn_norm: Option<Norm>,
    pub mlp_norm: Norm,
    pub mlp: Mlp,
    pub post_mlp_norm: Option<Norm>,
}

/// Everything a decoder's forward pass reads.
pub(crate) struct DecoderWeights {
    pub embed: Tensor,
    /// Learned absolute positions `(max_position, hidden)`, when the model has them.
    pub position_embed: Option<Tensor>,
    pub blocks: Vec<Block>,
    pub final_norm: Norm,
    pub lm_head: Linear,
}

/// Separate q/k/v/o projections under `{prefix}.{q,k,v,o}_proj` (biases when present).
pub(crate) fn separate_attention(store: &WeightStore, prefix: &str) -> Result<AttentionWeights> {
    Ok(AttentionWeights {
        qkv: Qkv::Separate {
            q: store.linear(&format!("{prefix}.q_proj"))?,
            k: store.linear(&format!("{prefix}.k_proj"))?,
            v: store.linear(&format!("{prefix}.v_proj"))?,
        },
        o: store.linear(&format!("{prefix}.o_proj"))?,
        q_norm: None,
        k_norm: None,
    })
}

/// A gated MLP under `{prefix}.{gate,up,down}_proj`.
pub(crate) fn gated_mlp(store: &WeightStore, prefix: &str, act: Activation) -> Result<Mlp> {
    Ok(Mlp::Gated {
        gate: store.linear(&format!("{prefix}.gate_proj"))?,
        up: store.linear(&format!("{prefix}.up_proj"))?,
        down: store.linear(&format!("{prefix}.down_proj"))?,
        act,
    })
}

/// A fused `{prefix}.qkv_proj` and `{prefix}.o_proj` (Phi-3).
pub(crate) fn fused_attention(store: &WeightStore, prefix: &str) -> Result<AttentionWeights> {
    Ok(AttentionWeights {
        qkv: Qkv::Fused(store.linear(&format!("{prefix}.qkv_proj"))?),
        o: store.linear(&format!("{prefix}.o_proj"))?,
        q_norm: None,
        k_norm: None,
    })
}

/// A gated MLP with gate and up fused in `{prefix}.gate_up_proj` (Phi-3).
pub(crate) fn fused_gated_mlp(store: &WeightStore, prefix: &str, act: Activation) -> Result<Mlp> {
    Ok(Mlp::FusedGated {
        gate_up: store.linear(&format!("{prefix}.gate_up_proj"))?,
        down: store.linear(&format!("{prefix}.down_proj"))?,
        act,
    })
}

/// A plain MLP `{prefix}.c_fc → act → {prefix}.c_proj` (GPT-2, StarCoder).
pub(crate) fn plain_mlp(store: &WeightStore, prefix: &str, act: Activation) -> Result<Mlp> {
    Ok(Mlp::Plain {
        up: store.linear(&format!("{prefix}.c_fc"))?,
        down: store.linear(&format!("{prefix}.c_proj"))?,
        act,
    })
}

/// How one kind of weight is read from `(store, prefix, ...)`.
pub(crate) type NormLoader = fn(&WeightStore, &str, f64) -> Result<Norm>;
pub(crate) type AttentionLoader = fn(&WeightStore, &str) -> Result<AttentionWeights>;
pub(crate) type MlpLoader = fn(&WeightStore, &str, Activation) -> Result<Mlp>;

/// The weights of the `model.*` layout most architectures share: `model.embed_tokens`,
/// layers `model.layers.{i}` with `input_layernorm`, `self_attn`, `post_attention_layernorm`
/// and `mlp`, then `model.norm` and `lm_head`. The loaders say what each piece is.
pub(crate) fn pre_norm_model(
    cfg: &DecoderConfig,
    store: &WeightStore,
    norm: NormLoader,
    attention: AttentionLoader,
    mlp: MlpLoader,
) -> Result<DecoderWeights> {
    let eps = cfg.norm_eps;
    let blocks = (0..cfg.num_layers())
        .map(|i| {
            let p = format!("model.layers.{i}");
            Ok(Block {
                attn_norm: norm(store, &format!("{p}.input_layernorm"), eps)?,
                attn: attention(store, &format!("{p}.self_attn"))?,
                post_attn_norm: None,
                mlp_norm: norm(store, &format!("{p}.post_attention_layernorm"), eps)?,
                mlp: mlp(store, &format!("{p}.mlp"), cfg.activation)?,
                post_mlp_norm: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(DecoderWeights {
        embed: store.dense("model.embed_tokens.weight")?,
        position_embed: None,
        blocks,
        final_norm: norm(store, "model.norm", eps)?,
        lm_head: lm_head(
            store,
            cfg.tie_word_embeddings,
            "model.embed_tokens",
            "lm_head",
        )?,
    })
}

/// The LM head: its own matrix, or the embedding when tied (or when the file has no head).
pub(crate) fn lm_head(store: &WeightStore, tied: bool, embed: &str, head: &str) -> Result<Linear> {
    if tied || !store.contains(&format!("{head}.weight")) {
        store.linear(embed)
    } else {
        store.linear(head)
    }
}

/// Cosine and sine tables of one rotary embedding, `(max_position, rotary_dim / 2)`.
pub(crate) struct RopeTable {
    cos: Tensor,
    sin: Tensor,
    rotary_dim: usize,
    interleaved: bool,
}

impl RopeTable {
    pub fn new(
        spec: &RopeSpec,
        max_position: usize,
        interleaved: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let inv_freq = Tensor::new(spec.inv_freq(), device)?;
        let positions = Tensor::arange(0u32, max_position as u32, device)?
            .to_dtype(DType::F32)?
            .unsqueeze(1)?;
        let freqs = positions.broadcast_mul(&inv_freq.unsqueeze(0)?)?;
        Ok(Self {
            cos: freqs.cos()?.to_dtype(dtype)?,
            sin: freqs.sin()?.to_dtype(dtype)?,
            rotary_dim: spec.rotary_dim,
            interleaved,
        })
    }

    /// Rotate `x (b, heads, t, hd)` at positions `offset..offset+t`, or at per-row
    /// `positions (b, t)`.
    pub fn apply(&self, x: &Tensor, offset: usize, positions: Option<&Tensor>) -> Result<Tensor> {
        let (b, h, t, hd) = x.dims4()?;
        let half = self.rotary_dim / 2;
        let (cos, sin) = match positions {
            Some(p) => {
                let at = p.flatten_all()?;
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
        let rotate = |x: &Tensor| -> Result<Tensor> {
            let x = x.contiguous()?;
            Ok(if self.interleaved {
                candle_nn::rotary_emb::rope_i(&x, &cos, &sin)?
            } else {
                candle_nn::rotary_emb::rope(&x, &cos, &sin)?
            })
        };
        if self.rotary_dim == hd {
            return rotate(x);
        }
        let turned = rotate(&x.narrow(3, 0, self.rotary_dim)?)?;
        let kept = x.narrow(3, self.rotary_dim, hd - self.rotary_dim)?;
        Ok(Tensor::cat(&[&turned, &kept], 3)?.reshape((b, h, t, hd))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_rotation_leaves_the_tail_alone() {
        let spec = RopeSpec {
            theta: 10_000.0,
            scaling: crate::config::RopeScaling::None,
            rotary_dim: 2,
        };
        let table = RopeTable::new(&spec, 8, false, DType::F32, &Device::Cpu).unwrap();
        let x = Tensor::new(&[1f32, 0.0, 5.0, 7.0], &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 1, 4))
            .unwrap();
        // Position 1, frequency 1: (1, 0) turns by one radian; dims 2..4 pass through.
        let y = table.apply(&x, 1, None).unwrap().flatten_all().unwrap();
        let y = y.to_vec1::<f32>().unwrap();
        assert!((y[0] - 1f32.cos()).abs() < 1e-6 && (y[1] - 1f32.sin()).abs() < 1e-6);
        assert_eq!(y[2..], [5.0, 7.0]);
    }
}
