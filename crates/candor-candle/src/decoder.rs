//! The one decoder forward pass every architecture runs, written for evaluation: a batch of
//! right-padded rows runs on top of an optional shared prefix cache, and the LM head is applied
//! only to the positions the caller asks for. Architectures differ only in their
//! [`DecoderConfig`] and in which [`Block`] pieces their weights fill.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use candor_kernels::AttentionShape;

use crate::attention::{CpuAttention, HostMask};
use crate::config::{DecoderConfig, Positions};
use crate::layers::{Block, DecoderWeights, RopeTable};
use crate::transformer::{attention_mask, KvCache, LayerCache, RowLayout, Transformer};
use crate::{Error, Result};

/// A loaded decoder-only model.
pub struct Decoder {
    cfg: DecoderConfig,
    w: DecoderWeights,
    ropes: Vec<RopeTable>,
    dtype: DType,
    device: Device,
}

impl Decoder {
    pub(crate) fn new(
        cfg: DecoderConfig,
        w: DecoderWeights,
        rope_interleaved: bool,
        dtype: DType,
    ) -> Result<Self> {
        let device = w.embed.device().clone();
        let ropes = match &cfg.positions {
            Positions::Rotary(specs) => specs
                .iter()
                .map(|s| RopeTable::new(s, cfg.max_position, rope_interleaved, dtype, &device))
                .collect::<Result<Vec<_>>>()?,
            Positions::Learned => Vec::new(),
        };
        Ok(Self {
            cfg,
            w,
            ropes,
            dtype,
            device,
        })
    }

    fn embed(&self, tokens: &Tensor, offset: usize, rows: Option<&RowLayout>) -> Result<Tensor> {
        let (b, t) = tokens.dims2()?;
        let hidden = self.cfg.hidden_size;
        let mut x = self
            .w
            .embed
            .embedding(&tokens.flatten_all()?)?
            .reshape((b, t, hidden))?;
        if let Some(scale) = self.cfg.embed_scale {
            // The scale is rounded to the weights' dtype first, as the reference does.
            let s = Tensor::new(scale as f32, &self.device)?.to_dtype(self.dtype)?;
            x = x.broadcast_mul(&s)?;
        }
        if let Some(wpe) = &self.w.position_embed {
            let pos = match rows {
                Some(r) => wpe
                    .embedding(&r.positions.flatten_all()?)?
                    .reshape((b, t, hidden))?,
                None => wpe.narrow(0, offset, t)?.unsqueeze(0)?,
            };
            x = x.broadcast_add(&pos)?;
        }
        Ok(x)
    }

    /// Attention over packed tokens `x` (`packing` says where they sit in the padded rows):
    /// the projections run on the real tokens only, attention itself on the padded rows.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        block: &Block,
        rope: Option<&RopeTable>,
        x: &Tensor,
        packing: &Packing,
        prefix: Option<&LayerCache>,
        mask: Option<&LayerMask>,
        rows: Option<&RowLayout>,
    ) -> Result<(Tensor, LayerCache)> {
        let (b, t) = (packing.batch, packing.time);
        let (h, kvh, hd) = (self.cfg.num_heads, self.cfg.num_kv_heads, self.cfg.head_dim);
        let offset = prefix.map_or(0, LayerCache::len);
        let a = &block.attn;
        let [q, k, v] = a.qkv.forward(x, h * hd, kvh * hd)?;
        let [q, k, v] = [q, k, v].map(|y| packing.unpack(&y));
        let mut q = q?.reshape((b, t, h, hd))?.transpose(1, 2)?;
        let mut k = k?.reshape((b, t, kvh, hd))?.transpose(1, 2)?;
        let v = v?.reshape((b, t, kvh, hd))?.transpose(1, 2)?.contiguous()?;
        if let Some(n) = &a.q_norm {
            q = n.forward(&q)?;
        }
        if let Some(n) = &a.k_norm {
            k = n.forward(&k)?;
        }
        if let Some(rope) = rope {
            let positions = rows.map(|r| &r.positions);
            q = rope.apply(&q, offset, positions)?;
            k = rope.apply(&k, offset, positions)?;
        }
        let kt = k.transpose(2, 3)?.contiguous()?;
        let (kt, v) = match prefix {
            Some(p) => p.extend(&kt, &v, b)?,
            None => (kt, v),
        };
        let len = v.dim(2)?;
        if self.host_attention() {
            let op = CpuAttention {
                shape: AttentionShape {
                    batch: b,
                    heads: h,
                    kv_heads: kvh,
                    queries: t,
                    keys: len,
                    head_dim: hd,
                },
                mask: mask.and_then(|m| m.host.as_ref()),
                scale: self.cfg.attn_scale as f32,
                softcap: self.cfg.attn_softcap.map(|c| c as f32),
            };
            let out = q.contiguous()?.apply_op3_no_bwd(&kt, &v, &op)?;
            return Ok((a.o.forward(&packing.pack(&out)?)?, LayerCache { kt, v }));
        }
        // Grouped-query attention without copying K/V: the `rep` query heads that share one
        // KV head are stacked along the time axis.
        let rep = h / kvh;
        let q = q.contiguous()?.reshape((b, kvh, rep * t, hd))?;
        let mut scores = (q.matmul(&kt)? * self.cfg.attn_scale)?
            .to_dtype(DType::F32)?
            .reshape((b, h, t, len))?;
        if let Some(cap) = self.cfg.attn_softcap {
            scores = ((scores / cap)?.tanh()? * cap)?;
        }
        if let Some(m) = mask {
            scores = scores.broadcast_add(&m.tensor)?;
        }
        let probs = candle_nn::ops::softmax_last_dim(&scores)?
            .to_dtype(self.dtype)?
            .reshape((b, kvh, rep * t, len))?;
        let out = probs
            .matmul(&v)?
            .reshape((b, h, t, hd))?
            .transpose(1, 2)?
            .reshape((b, t, h * hd))?;
        Ok((a.o.forward(&packing.pack(&out)?)?, LayerCache { kt, v }))
    }

    /// Whether attention runs in candor's kernel, whose rows do not depend on the batch: on
    /// the CPU in f32; other devices and dtypes keep candle's matmuls.
    fn host_attention(&self) -> bool {
        self.device.is_cpu() && self.dtype == DType::F32
    }

    /// The additive mask of every distinct window the layers use (`None`: full attention).
    fn masks(
        &self,
        t: usize,
        offset: usize,
        rows: Option<&RowLayout>,
    ) -> Result<BTreeMap<Option<usize>, Option<LayerMask>>> {
        let mut masks = BTreeMap::new();
        for layer in &self.cfg.layers {
            if masks.contains_key(&layer.window) {
                continue;
            }
            let mask = match rows {
                None => attention_mask(t, offset, layer.window, &self.device)?,
                Some(r) => Some(match layer.window {
                    None => r.mask.clone(),
                    Some(w) => r.windowed_mask(w)?,
                }),
            };
            let mask = match mask {
                Some(tensor) => Some(LayerMask {
                    host: match self.host_attention() {
                        true => Some(HostMask::new(&tensor)?),
                        false => None,
                    },
                    tensor,
                }),
                None => None,
            };
            masks.insert(layer.window, mask);
        }
        Ok(masks)
    }
}

/// Where the real tokens of a batch of right-padded rows are. Every per-token step (norms,
/// products, the MLP, residuals) runs on the real tokens alone, packed `(tokens, hidden)`;
/// only attention and the cache see the padded rows, zeros at the padding, which no real
/// query sees. A row's numbers stay those it has alone (every kernel's rows are independent of
/// the others), while the padding, often a third of a scoring batch, costs nothing.
struct Packing {
    batch: usize,
    time: usize,
    /// Flat `row · time + position` of every real token; `None` when there is no padding.
    index: Option<Tensor>,
}

impl Packing {
    fn new(batch: usize, time: usize, lengths: Option<&[usize]>, device: &Device) -> Result<Self> {
        let index = match lengths {
            Some(lengths) if lengths.iter().any(|&n| n < time) => {
                let index: Vec<u32> = lengths
                    .iter()
                    .enumerate()
                    .flat_map(|(r, &n)| (0..n.min(time)).map(move |j| (r * time + j) as u32))
                    .collect();
                Some(Tensor::new(index.as_slice(), device)?)
            }
            _ => None,
        };
        Ok(Self { batch, time, index })
    }

    /// `(batch, time, d)` → `(tokens, d)`.
    fn pack(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.dim(2)?;
        let flat = x.reshape((self.batch * self.time, d))?;
        Ok(match &self.index {
            Some(index) => flat.index_select(index, 0)?,
            None => flat,
        })
    }

    /// `(tokens, d)` → `(batch, time, d)`, zeros at the padding.
    fn unpack(&self, x: &Tensor) -> Result<Tensor> {
        let d = x.dim(1)?;
        let flat = match &self.index {
            Some(index) => Tensor::zeros((self.batch * self.time, d), x.dtype(), x.device())?
                .index_add(index, &x.contiguous()?, 0)?,
            None => x.clone(),
        };
        Ok(flat.reshape((self.batch, self.time, d))?)
    }
}

/// A layer's mask, with its host copy when attention runs in candor's kernel.
struct LayerMask {
    tensor: Tensor,
    host: Option<HostMask>,
}

impl Transformer for Decoder {
    fn forward(
        &self,
        tokens: &Tensor,
        lengths: Option<&[usize]>,
        prefix: Option<&KvCache>,
        rows: Option<&RowLayout>,
    ) -> Result<(Tensor, KvCache)> {
        let (b, t) = tokens.dims2()?;
        let offset = prefix.map_or(0, KvCache::len);
        if rows.is_none() && offset + t > self.cfg.max_position {
            return Err(Error::Candle(candle_core::Error::Msg(format!(
                "{} positions exceed the model's context of {}",
                offset + t,
                self.cfg.max_position
            ))));
        }
        let masks = self.masks(t, offset, rows)?;
        let packing = Packing::new(b, t, lengths, &self.device)?;
        let mut x = packing.pack(&self.embed(tokens, offset, rows)?)?;
        let mut caches = Vec::with_capacity(self.w.blocks.len());
        for (i, (block, kind)) in self.w.blocks.iter().zip(&self.cfg.layers).enumerate() {
            let h = block.attn_norm.forward(&x)?;
            let (h, cache) = self.attention(
                block,
                self.ropes.get(kind.rope),
                &h,
                &packing,
                prefix.map(|p| &p.layers[i]),
                masks.get(&kind.window).and_then(Option::as_ref),
                rows,
            )?;
            caches.push(cache);
            let h = match &block.post_attn_norm {
                Some(n) => n.forward(&h)?,
                None => h,
            };
            x = (x + h)?;
            let h = block.mlp.forward(&block.mlp_norm.forward(&x)?)?;
            let h = match &block.post_mlp_norm {
                Some(n) => n.forward(&h)?,
                None => h,
            };
            x = (x + h)?;
        }
        let hidden = packing.unpack(&self.w.final_norm.forward(&x)?)?;
        Ok((hidden, KvCache { layers: caches }))
    }

    fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let logits = self.w.lm_head.forward(hidden)?.to_dtype(DType::F32)?;
        Ok(match self.cfg.final_softcap {
            Some(cap) => ((logits / cap)?.tanh()? * cap)?,
            None => logits,
        })
    }

    fn max_context(&self) -> usize {
        self.cfg.max_position
    }

    fn vocab_size(&self) -> usize {
        self.cfg.vocab_size
    }
}
