//! What every architecture provides to the engine, and the pieces they share.

use candle_core::{DType, Device, Tensor};

use crate::Result;

/// A decoder-only transformer as the engine drives it.
///
/// `forward` runs a batch of right-padded rows `(batch, time)` after an optional prefix whose
/// keys and values are cached (batch 1, shared by every row, or one per row). It returns the
/// final hidden states, *before* the LM head, and the cache extended by these rows. Right
/// padding needs no mask beyond the causal one: a real token never attends to a later pad.
///
/// Rows whose cached prefixes have different lengths (batched generation) pass a
/// [`RowLayout`] with their own positions and key mask instead.
pub trait Transformer: Send + Sync {
    fn forward(
        &self,
        tokens: &Tensor,
        prefix: Option<&KvCache>,
        rows: Option<&RowLayout>,
    ) -> Result<(Tensor, KvCache)>;
    /// Logits in f32 for hidden states `(n, hidden)`; applied only where log-probs are needed.
    fn logits(&self, hidden: &Tensor) -> Result<Tensor>;
    fn max_context(&self) -> usize;
    fn vocab_size(&self) -> usize;
}

/// Per-row positions and attention mask, for rows whose caches are padded to a common length.
#[derive(Clone, Debug)]
pub struct RowLayout {
    /// `(batch, time)` u32 positions of the new tokens.
    pub positions: Tensor,
    /// `(batch, 1, time, cached + time)` additive mask: 0 where a key is visible, -inf elsewhere.
    pub mask: Tensor,
}

/// Keys and values of one layer, `(batch, kv_heads, len, head_dim)`.
#[derive(Clone, Debug)]
pub struct LayerCache {
    pub k: Tensor,
    pub v: Tensor,
}

impl LayerCache {
    pub fn len(&self) -> usize {
        self.k.dim(2).unwrap_or(0)
    }

    /// Append new keys and values of `batch` rows. A batch-1 cache is shared by all rows.
    pub fn extend(&self, k: &Tensor, v: &Tensor, batch: usize) -> Result<(Tensor, Tensor)> {
        let widen = |t: &Tensor| -> Result<Tensor> {
            if t.dim(0)? == batch {
                Ok(t.clone())
            } else {
                let (_, h, l, d) = t.dims4()?;
                Ok(t.broadcast_as((batch, h, l, d))?.contiguous()?)
            }
        };
        Ok((
            Tensor::cat(&[&widen(&self.k)?, k], 2)?,
            Tensor::cat(&[&widen(&self.v)?, v], 2)?,
        ))
    }
}

/// The cache of every layer.
#[derive(Clone, Debug)]
pub struct KvCache {
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// Keep only the given batch rows (generation drops finished rows).
    pub fn select_rows(&self, rows: &Tensor) -> Result<Self> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(LayerCache {
                    k: l.k.index_select(rows, 0)?,
                    v: l.v.index_select(rows, 0)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// The cache of the first `len` positions.
    pub fn truncate(&self, len: usize) -> Result<Self> {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                Ok(LayerCache {
                    k: l.k.narrow(2, 0, len)?,
                    v: l.v.narrow(2, 0, len)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::len)
    }
}

/// Additive causal mask `(t, offset + t)`: query `i` sees keys `0..=offset + i`.
/// `None` when a single query sees every key.
pub fn causal_mask(t: usize, offset: usize, device: &Device) -> Result<Option<Tensor>> {
    if t <= 1 {
        return Ok(None);
    }
    let len = offset + t;
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..len).map(move |j| {
                if j <= offset + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Some(
        Tensor::from_vec(mask, (t, len), device)?.to_dtype(DType::F32)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_sees_prefix_and_past_only() {
        let m = causal_mask(2, 3, &Device::Cpu).unwrap().unwrap();
        let rows = m.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0][..4], [0.0; 4]);
        assert!(rows[0][4].is_infinite());
        assert_eq!(rows[1], vec![0.0; 5]);
        assert!(causal_mask(1, 7, &Device::Cpu).unwrap().is_none());
    }
}
