//! What every architecture provides to the engine, and the pieces they share.

use candle_core::{DType, Device, Tensor};

use crate::Result;

/// A decoder-only transformer as the engine drives it.
///
/// `forward` runs a batch of right-padded rows `(batch, time)` after an optional prefix whose
/// keys and values are cached (batch 1, shared by every row, or one per row). It returns the
/// final hidden states, *before* the LM head, and the cache extended by these rows. Right
/// padding needs no mask beyond the causal one: a real token never attends to a later pad.
/// `lengths` (real tokens per row) lets it skip the padding's work; the padding's outputs and
/// cache entries are then zeros, which callers never read.
///
/// Rows whose cached prefixes have different lengths (batched generation) pass a
/// [`RowLayout`] with their own positions and key mask instead.
pub trait Transformer: Send + Sync {
    fn forward(
        &self,
        tokens: &Tensor,
        lengths: Option<&[usize]>,
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
    /// `(batch, cached + time)` u32 positions of every key slot (padding slots: any value).
    pub key_positions: Tensor,
    /// `(batch, 1, time, cached + time)` additive mask: 0 where a key is visible, -inf elsewhere.
    pub mask: Tensor,
}

/// Where one row's keys are in a cache padded to a common length: its own prefix
/// `[0, prefix)`, padding up to `padded`, then its own again from `padded` on (tokens decoded
/// after the padding).
#[derive(Clone, Copy, Debug)]
pub struct RowSpan {
    pub prefix: usize,
    pub padded: usize,
}

impl RowLayout {
    /// The layout of `width` new tokens per row after a cache of `cached` slots: each row sees
    /// its own cached keys, not the padding, then its new tokens causally, and its positions
    /// continue from its own keys. The one place batched scoring and batched decoding get
    /// their positions and masks.
    pub fn after_cache(
        rows: &[RowSpan],
        cached: usize,
        width: usize,
        device: &Device,
    ) -> Result<Self> {
        let (b, keys) = (rows.len(), cached + width);
        let mut positions = Vec::with_capacity(b * width);
        let mut key_positions = Vec::with_capacity(b * keys);
        let mut mask = Vec::with_capacity(b * width * keys);
        for r in rows {
            // The row's own cached tokens: its prefix, and what follows the padding.
            let own = r.prefix + cached - r.padded;
            key_positions.extend((0..keys).map(|k| match k {
                k if k < r.padded => k as u32,
                k => (r.prefix + k - r.padded) as u32,
            }));
            for j in 0..width {
                positions.push((own + j) as u32);
                mask.extend((0..keys).map(|k| {
                    let visible = match k {
                        k if k < r.padded => k < r.prefix,
                        k if k < cached => true,
                        k => k - cached <= j,
                    };
                    if visible {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                }));
            }
        }
        Ok(Self {
            positions: Tensor::from_vec(positions, (b, width), device)?,
            key_positions: Tensor::from_vec(key_positions, (b, keys), device)?,
            mask: Tensor::from_vec(mask, (b, 1, width, keys), device)?,
        })
    }

    /// The mask with keys `window` or more positions behind their query hidden as well.
    pub fn windowed_mask(&self, window: usize) -> Result<Tensor> {
        let q = self.positions.to_dtype(DType::F32)?.unsqueeze(2)?;
        let k = self.key_positions.to_dtype(DType::F32)?.unsqueeze(1)?;
        let too_old = q.broadcast_sub(&k)?.ge(window as f64)?;
        let hidden = Tensor::full(f32::NEG_INFINITY, too_old.shape(), too_old.device())?;
        let open = Tensor::zeros(too_old.shape(), DType::F32, too_old.device())?;
        let extra = too_old.where_cond(&hidden, &open)?.unsqueeze(1)?;
        Ok((&self.mask + extra)?)
    }
}

/// Keys and values of one layer: the keys transposed, `kt` `(batch, kv_heads, head_dim, len)`
/// (as attention reads them, so no step transposes the whole cache again), the values
/// `(batch, kv_heads, len, head_dim)`.
#[derive(Clone, Debug)]
pub struct LayerCache {
    pub kt: Tensor,
    pub v: Tensor,
}

impl LayerCache {
    pub fn len(&self) -> usize {
        self.v.dim(2).unwrap_or(0)
    }

    /// Append new (transposed) keys and values of `batch` rows. A batch-1 cache is shared by
    /// all rows.
    pub fn extend(&self, kt: &Tensor, v: &Tensor, batch: usize) -> Result<(Tensor, Tensor)> {
        let widen = |t: &Tensor| -> Result<Tensor> {
            if t.dim(0)? == batch {
                Ok(t.clone())
            } else {
                let (_, h, a, b) = t.dims4()?;
                Ok(t.broadcast_as((batch, h, a, b))?.contiguous()?)
            }
        };
        Ok((
            Tensor::cat(&[&widen(&self.kt)?, kt], 3)?,
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
                    kt: l.kt.index_select(rows, 0)?,
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
                    kt: l.kt.narrow(3, 0, len)?.contiguous()?,
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

/// Additive causal mask `(t, offset + t)`: query `i` (at position `offset + i`) sees keys
/// `0..=offset + i`, and with a sliding `window` only the last `window` of them.
/// `None` when every query sees every key.
pub fn attention_mask(
    t: usize,
    offset: usize,
    window: Option<usize>,
    device: &Device,
) -> Result<Option<Tensor>> {
    let len = offset + t;
    let visible = |i: usize, j: usize| j <= offset + i && window.is_none_or(|w| offset + i - j < w);
    if (0..t).all(|i| (0..len).all(|j| visible(i, j))) {
        return Ok(None);
    }
    let mask: Vec<f32> = (0..t)
        .flat_map(|i| {
            (0..len).map(move |j| {
                if visible(i, j) {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Ok(Some(Tensor::from_vec(mask, (t, len), device)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_sees_prefix_and_past_only() {
        let m = attention_mask(2, 3, None, &Device::Cpu).unwrap().unwrap();
        let rows = m.to_vec2::<f32>().unwrap();
        assert_eq!(rows[0][..4], [0.0; 4]);
        assert!(rows[0][4].is_infinite());
        assert_eq!(rows[1], vec![0.0; 5]);
        assert!(attention_mask(1, 7, None, &Device::Cpu).unwrap().is_none());
    }

    #[test]
    fn row_layouts_by_hand() {
        // Scoring: 2 new tokens after a 3-slot cache whose row prefix is 2 long.
        let l = RowLayout::after_cache(
            &[RowSpan {
                prefix: 2,
                padded: 3,
            }],
            3,
            2,
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(l.positions.to_vec2::<u32>().unwrap(), [[2, 3]]);
        let m = l.mask.squeeze(0).unwrap().squeeze(0).unwrap();
        let m = m.to_vec2::<f32>().unwrap();
        let seen = |row: &[f32]| row.iter().map(|v| *v == 0.0).collect::<Vec<_>>();
        assert_eq!(seen(&m[0]), [true, true, false, true, false]);
        assert_eq!(seen(&m[1]), [true, true, false, true, true]);
        // Decoding: a prompt of 2 in a cache padded to 4, then 2 decoded tokens.
        let l = RowLayout::after_cache(
            &[RowSpan {
                prefix: 2,
                padded: 4,
            }],
            6,
            1,
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(l.positions.to_vec2::<u32>().unwrap(), [[4]]);
        assert_eq!(
            l.key_positions.to_vec2::<u32>().unwrap(),
            [[0, 1, 2, 3, 2, 3, 4]]
        );
        let m = l.mask.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(seen(&m), [true, true, false, false, true, true, true]);
    }

    #[test]
    fn sliding_windows_hide_old_keys() {
        // Query at position 4 with window 2 sees keys 3 and 4 only.
        let m = attention_mask(1, 4, Some(2), &Device::Cpu)
            .unwrap()
            .unwrap();
        let row = &m.to_vec2::<f32>().unwrap()[0];
        assert!(row[..3].iter().all(|v| v.is_infinite()));
        assert_eq!(row[3..], [0.0, 0.0]);
        assert!(attention_mask(1, 1, Some(2), &Device::Cpu)
            .unwrap()
            .is_none());
        let rows = RowLayout {
            positions: Tensor::new(&[[4u32]], &Device::Cpu).unwrap(),
            key_positions: Tensor::new(&[[0u32, 1, 9, 3, 4]], &Device::Cpu).unwrap(),
            mask: Tensor::new(&[0f32, 0.0, f32::NEG_INFINITY, 0.0, 0.0], &Device::Cpu)
                .unwrap()
                .reshape((1, 1, 1, 5))
                .unwrap(),
        };
        let w = rows.windowed_mask(2).unwrap().flatten_all().unwrap();
        let w = w.to_vec1::<f32>().unwrap();
        assert!(w[..3].iter().all(|v| v.is_infinite()));
        assert_eq!(w[3..], [0.0, 0.0]);
    }
}
