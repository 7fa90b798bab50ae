//! Attention on the CPU in f32 through candor-kernels' kernel, as a candle op: a query's
//! result depends only on the keys its mask shows, so a row scores the same alone and inside
//! any padded batch (with f32 and with quantized weights alike).

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use candor_kernels::{attention, AttentionShape, Mask};

use crate::Result;

/// A mask as the attention kernel reads it, copied off its tensor once per forward pass.
pub(crate) struct HostMask {
    values: Vec<f32>,
    per_row: bool,
}

impl HostMask {
    /// `(queries, keys)` (the same for every row) or `(batch, 1, queries, keys)`.
    pub fn new(mask: &Tensor) -> Result<Self> {
        Ok(Self {
            per_row: mask.rank() == 4,
            values: mask.flatten_all()?.to_vec1()?,
        })
    }
}

/// `softmax(scale·q·kᵀ + mask)·v` for `q` (batch, heads, queries, head_dim), the keys
/// transposed `kt` (batch, kv_heads, head_dim, keys) and `v` (batch, kv_heads, keys,
/// head_dim), giving (batch, queries, heads·head_dim).
pub(crate) struct CpuAttention<'a> {
    pub shape: AttentionShape,
    pub mask: Option<&'a HostMask>,
    pub scale: f32,
    pub softcap: Option<f32>,
}

impl CustomOp3 for CpuAttention<'_> {
    fn name(&self) -> &'static str {
        "candor-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        lq: &Layout,
        kt: &CpuStorage,
        lkt: &Layout,
        v: &CpuStorage,
        lv: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (q, kt, v) = (f32s(q, lq)?, f32s(kt, lkt)?, f32s(v, lv)?);
        let s = self.shape;
        let mask = self.mask.map(|m| Mask {
            values: &m.values,
            per_row: m.per_row,
        });
        let out = attention(q, kt, v, mask, s, self.scale, self.softcap);
        Ok((
            CpuStorage::F32(out),
            Shape::from((s.batch, s.queries, s.heads * s.head_dim)),
        ))
    }
}

fn f32s<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("candor's attention takes f32 tensors")
    };
    let Some((start, end)) = l.contiguous_offsets() else {
        candle_core::bail!("candor's attention takes contiguous tensors")
    };
    Ok(&data[start..end])
}
