//! GGUF weight blocks, unpacked at load into the layout the kernels read.

use half::f16;

use crate::KernelError;

/// Values per block of the unpacked layout (a GGUF block of the legacy formats, a sub-block
/// of a K-quant super-block).
pub const BLOCK: usize = 32;

/// A GGUF block format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    /// K-quants: super-blocks of 256 values. Q4_K and Q5_K have 8 sub-blocks of 32, each with
    /// a 6-bit scale and minimum; Q6_K has 16 of 16 with 8-bit scales. Their effective scales
    /// and offsets (`d·sc`, `dmin·m`) are rounded to f16 at load (relative error ≤ 2⁻¹¹, far
    /// below the quantization step); the legacy formats' are exact.
    Q4K,
    Q5K,
    Q6K,
}

impl Format {
    /// Bytes of one GGUF block ([`Format::block_values`] values).
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
            Self::Q4K => 144,
            Self::Q5K => 176,
            Self::Q6K => 210,
        }
    }

    /// Values of one GGUF block: a row's length must be a multiple.
    pub fn block_values(self) -> usize {
        match self {
            Self::Q4K | Self::Q5K | Self::Q6K => 256,
            _ => BLOCK,
        }
    }

    /// Values that share one scale and offset: 32, or 16 for Q6_K.
    pub(crate) fn group(self) -> usize {
        if self == Self::Q6K {
            16
        } else {
            BLOCK
        }
    }

    /// 4-bit formats keep two blocks per byte column; the others one byte per value.
    pub(crate) fn nibbles(self) -> bool {
        matches!(self, Self::Q4_0 | Self::Q4_1 | Self::Q4K)
    }

    /// Whether scales and offsets are exact in f16 (a rounded one is then a corrupt file).
    fn exact_scales(self) -> bool {
        !matches!(self, Self::Q4K | Self::Q5K | Self::Q6K)
    }

    /// Bytes of a pair of blocks in the unpacked layout.
    fn pair_bytes(self) -> usize {
        if self.nibbles() {
            BLOCK
        } else {
            2 * BLOCK
        }
    }

    /// A GGUF block's unsigned integers `w` ([`Format::block_values`] of them) and the scale
    /// `d` and offset `c` of each group of [`Format::group`] values (its values are `d·w + c`).
    fn decode(self, b: &[u8], w: &mut [u8], dc: &mut Vec<(f32, f32)>) {
        let half = |i: usize| f16::from_le_bytes([b[i], b[i + 1]]).to_f32();
        dc.clear();
        match self {
            Self::Q4K | Self::Q5K => {
                let (d, dmin) = (half(0), half(2));
                let scales = &b[4..16];
                for j in 0..8 {
                    let (sc, m) = k_scale_min(scales, j);
                    dc.push((d * f32::from(sc), -dmin * f32::from(m)));
                }
                let (qh, qs) = if self == Self::Q5K {
                    (Some(&b[16..48]), &b[48..176])
                } else {
                    (None, &b[16..144])
                };
                // Each 32 bytes hold two sub-blocks: low nibbles, then high nibbles.
                for (chunk, q) in qs.chunks_exact(32).enumerate() {
                    for (l, &v) in q.iter().enumerate() {
                        let (mut lo, mut hi) = (v & 0x0f, v >> 4);
                        if let Some(qh) = qh {
                            lo |= ((qh[l] >> (2 * chunk)) & 1) << 4;
                            hi |= ((qh[l] >> (2 * chunk + 1)) & 1) << 4;
                        }
                        w[64 * chunk + l] = lo;
                        w[64 * chunk + 32 + l] = hi;
                    }
                }
                return;
            }
            Self::Q6K => {
                let (ql, qh, sc) = (&b[..128], &b[128..192], &b[192..208]);
                let d = half(208);
                for &s in sc {
                    let ds = d * f32::from(s as i8);
                    dc.push((ds, -32.0 * ds));
                }
                for half_block in 0..2 {
                    let (ql, qh) = (&ql[64 * half_block..], &qh[32 * half_block..]);
                    let w = &mut w[128 * half_block..];
                    for l in 0..32 {
                        w[l] = (ql[l] & 0x0f) | ((qh[l] & 3) << 4);
                        w[l + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
                        w[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                        w[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                    }
                }
                return;
            }
            _ => {}
        }
        let d = half(0);
        match self {
            Self::Q4_0 | Self::Q4_1 => {
                let qs = &b[b.len() - 16..];
                for (j, &q) in qs.iter().enumerate() {
                    w[j] = q & 0x0f;
                    w[j + 16] = q >> 4;
                }
            }
            Self::Q5_0 | Self::Q5_1 => {
                let at = if self == Self::Q5_0 { 2 } else { 4 };
                let qh = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                let qs = &b[at + 4..];
                for (j, &q) in qs.iter().enumerate() {
                    w[j] = (q & 0x0f) | ((((qh >> j) & 1) as u8) << 4);
                    w[j + 16] = (q >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
                }
            }
            _ => {
                for (w, &q) in w.iter_mut().zip(&b[2..]) {
                    *w = (q as i8 as i16 + 128) as u8;
                }
            }
        }
        let c = match self {
            Self::Q4_0 => -8.0 * d,
            Self::Q5_0 => -16.0 * d,
            Self::Q4_1 | Self::Q5_1 => half(2),
            _ => -128.0 * d,
        };
        dc.push((d, c));
    }
}

/// The 6-bit scale and minimum of sub-block `j` of a Q4_K or Q5_K super-block (ggml's
/// `get_scale_min_k4`): the first four sit in the low six bits of bytes 0-7, the last four
/// in nibbles of bytes 8-11 with their top two bits in bytes 0-7.
fn k_scale_min(q: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// A quantized `rows × cols` weight matrix (one row per output), unpacked for the kernels.
///
/// Blocks are padded to an even count per row (a zero block) because the kernels take them in
/// pairs. Weights of a pair: for 4-bit formats 32 bytes whose low nibbles are the first block's
/// values and high nibbles the second's; otherwise the two blocks' 64 bytes in order.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    pub(crate) format: Format,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// Block pairs per row.
    pub(crate) pairs: usize,
    pub(crate) weights: Vec<u8>,
    /// `d` of each group of values (a block, or half a block for Q6_K), padding included
    /// (f16 as in the file: decode reads less memory).
    pub(crate) scales: Vec<f16>,
    /// `c` of each group (for the legacy formats exact in f16: `m` is stored so, and `−z·d`
    /// is a power-of-two multiple of `d`).
    pub(crate) offsets: Vec<f16>,
}

impl QuantMatrix {
    /// Unpacks a GGUF tensor's blocks, `rows` rows of `cols` values each, row-major.
    pub fn from_gguf(
        format: Format,
        rows: usize,
        cols: usize,
        data: &[u8],
    ) -> Result<Self, KernelError> {
        if !cols.is_multiple_of(format.block_values()) || cols == 0 {
            return Err(KernelError::RowLength {
                format,
                cols,
                block: format.block_values(),
            });
        }
        let expected = rows * cols / format.block_values() * format.block_bytes();
        if data.len() != expected {
            return Err(KernelError::DataLength {
                format,
                rows,
                cols,
                expected,
                actual: data.len(),
            });
        }
        let blocks = cols / BLOCK;
        let pairs = blocks.div_ceil(2);
        let pair_bytes = format.pair_bytes();
        // Scales and offsets per row: one per group, padding included.
        let groups = pairs * 2 * BLOCK / format.group();
        let mut weights = vec![0u8; rows * pairs * pair_bytes];
        let mut scales = vec![f16::ZERO; rows * groups];
        let mut offsets = vec![f16::ZERO; rows * groups];
        let mut w = vec![0u8; format.block_values()];
        let mut dc = Vec::new();
        let per_row = cols / format.block_values();
        for (i, block) in data.chunks_exact(format.block_bytes()).enumerate() {
            let row = i / per_row;
            let first = (i % per_row) * format.block_values();
            format.decode(block, &mut w, &mut dc);
            for (g, &(d, c)) in dc.iter().enumerate() {
                let (d16, c16) = (f16::from_f32(d), f16::from_f32(c));
                let rounded = format.exact_scales() && c16.to_f32() != c;
                if !d16.is_finite() || !c16.is_finite() || rounded {
                    return Err(KernelError::Offset {
                        format,
                        row,
                        block: (first + g * format.group()) / BLOCK,
                    });
                }
                let at = row * groups + first / format.group() + g;
                scales[at] = d16;
                offsets[at] = c16;
            }
            for (k, w) in w.chunks_exact(BLOCK).enumerate() {
                let b = first / BLOCK + k;
                let pair = &mut weights[(row * pairs + b / 2) * pair_bytes..][..pair_bytes];
                if format.nibbles() {
                    let shift = 4 * (b % 2);
                    for (p, &v) in pair.iter_mut().zip(w) {
                        *p |= v << shift;
                    }
                } else {
                    pair[(b % 2) * BLOCK..][..BLOCK].copy_from_slice(w);
                }
            }
        }
        Ok(Self {
            format,
            rows,
            cols,
            pairs,
            weights,
            scales,
            offsets,
        })
    }

    /// Outputs (rows of the weight matrix).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Inputs (values per row).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The weights of row `j` as f32 (for tests and diagnostics).
    pub fn dequantize_row(&self, j: usize) -> Vec<f32> {
        let w = self.row(j);
        (0..self.cols)
            .map(|i| {
                let (b, e, g) = (i / BLOCK, i % BLOCK, i / w.group);
                w.scales[g].to_f32() * w.value(b, e) as f32 + w.offsets[g].to_f32()
            })
            .collect()
    }

    pub(crate) fn row(&self, j: usize) -> WeightRow<'_> {
        let pair_bytes = self.format.pair_bytes();
        let n = self.pairs * 2 * BLOCK / self.format.group();
        WeightRow {
            group: self.format.group(),
            nibbles: self.format.nibbles(),
            weights: &self.weights[j * self.pairs * pair_bytes..][..self.pairs * pair_bytes],
            scales: &self.scales[j * n..][..n],
            offsets: &self.offsets[j * n..][..n],
        }
    }
}

/// One output's weights, in the unpacked layout.
#[derive(Clone, Copy)]
pub(crate) struct WeightRow<'a> {
    /// Values per scale and offset: 32, or 16 (two groups per block).
    pub group: usize,
    pub nibbles: bool,
    pub weights: &'a [u8],
    pub scales: &'a [f16],
    pub offsets: &'a [f16],
}

impl WeightRow<'_> {
    /// Value `e` (0..32) of block `b`, as the unsigned integer `w`.
    pub fn value(&self, b: usize, e: usize) -> u8 {
        if self.nibbles {
            (self.weights[(b / 2) * BLOCK + e] >> (4 * (b % 2))) & 0x0f
        } else {
            self.weights[b * BLOCK + e]
        }
    }
}
