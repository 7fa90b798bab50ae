//! GGUF weight blocks, unpacked and repacked at load into the layout the kernels read.

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

    /// 4-bit formats keep two values per byte; the others one byte per value.
    pub(crate) fn nibbles(self) -> bool {
        matches!(self, Self::Q4_0 | Self::Q4_1 | Self::Q4K)
    }

    /// Whether scales and offsets are exact in f16 (a rounded one is then a corrupt file).
    fn exact_scales(self) -> bool {
        !matches!(self, Self::Q4K | Self::Q5K | Self::Q6K)
    }

    /// Groups of values sharing a scale and offset in a block of 32: 1, or 2 for Q6_K.
    pub(crate) fn groups_per_block(self) -> usize {
        BLOCK / self.group()
    }

    /// Whether weights reach 8 bits (Q8_0's `q + 128`): the AVX2 kernel must split them.
    pub(crate) fn wide(self) -> bool {
        self == Self::Q8_0
    }

    /// Bytes of one block of a panel in the repacked layout.
    pub(crate) fn panel_block_bytes(self) -> usize {
        if self.nibbles() {
            PANEL * BLOCK / 2
        } else {
            PANEL * BLOCK
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

/// Output rows per panel: one 512-bit register of f32 lanes, so that a kernel's lanes are
/// sixteen outputs and no lane ever needs adding to another.
pub const PANEL: usize = 16;

/// Steps of four values per block: each step is one `vpdpbusd` of a panel.
pub(crate) const STEPS: usize = BLOCK / 4;

/// A quantized `rows × cols` weight matrix (one row per output), repacked at load for the
/// kernels: rows in panels of [`PANEL`] (the last padded with zero rows), each panel's block
/// of 32 values interleaved by four, so that four consecutive values of sixteen rows are one
/// 64-byte vector.
///
/// Weights of a panel's block, step `s` holding values `4s..4s+4`: for 4-bit formats four
/// 64-byte chunks, chunk `c`'s low nibbles step `c` and its high nibbles step `c + 4`;
/// otherwise eight 64-byte steps. Within a step, row `l` of the panel has bytes `4l..4l+4`.
#[derive(Clone, Debug)]
pub struct QuantMatrix {
    pub(crate) format: Format,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// Blocks of 32 values per row.
    pub(crate) blocks: usize,
    /// Panels of [`PANEL`] rows.
    pub(crate) panels: usize,
    pub(crate) weights: Vec<u8>,
    /// `d` of each group of values (a block, or half of it for Q6_K): per panel, per group,
    /// one per row of the panel (f16 as in the file: decode reads less memory).
    pub(crate) scales: Vec<f16>,
    /// `c` of each group, laid out as `scales` (for the legacy formats exact in f16: `m` is
    /// stored so, and `−z·d` is a power-of-two multiple of `d`).
    pub(crate) offsets: Vec<f16>,
}

impl QuantMatrix {
    /// Repacks a GGUF tensor's blocks, `rows` rows of `cols` values each, row-major.
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
        let panels = rows.div_ceil(PANEL);
        let mut m = Self {
            format,
            rows,
            cols,
            blocks,
            panels,
            weights: vec![0; panels * blocks * format.panel_block_bytes()],
            scales: vec![f16::ZERO; panels * blocks * format.groups_per_block() * PANEL],
            offsets: vec![f16::ZERO; panels * blocks * format.groups_per_block() * PANEL],
        };
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
                let group = first / format.group() + g;
                if !d16.is_finite() || !c16.is_finite() || rounded {
                    return Err(KernelError::Offset {
                        format,
                        row,
                        block: group * format.group() / BLOCK,
                    });
                }
                let at = m.group_index(row, group);
                m.scales[at] = d16;
                m.offsets[at] = c16;
            }
            for (k, block) in w.chunks_exact(BLOCK).enumerate() {
                m.put_block(row, first / BLOCK + k, block);
            }
        }
        Ok(m)
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
        (0..self.cols)
            .map(|k| {
                let (d, c) = self.scale_offset(j, k / self.format.group());
                d * self.value(j, k) as f32 + c
            })
            .collect()
    }

    /// The unsigned integer `w` of row `j`, value `k`.
    pub(crate) fn value(&self, j: usize, k: usize) -> u8 {
        let (at, shift) = self.weight_index(j, k);
        (self.weights[at] >> shift) & if self.format.nibbles() { 0x0f } else { 0xff }
    }

    /// `d` and `c` of row `j`'s group `g` (groups counted along the row).
    pub(crate) fn scale_offset(&self, j: usize, g: usize) -> (f32, f32) {
        let at = self.group_index(j, g);
        (self.scales[at].to_f32(), self.offsets[at].to_f32())
    }

    /// Where value `k` of row `j` lives: the byte, and the shift of its nibble.
    fn weight_index(&self, j: usize, k: usize) -> (usize, u32) {
        let (p, l) = (j / PANEL, j % PANEL);
        let (b, e) = (k / BLOCK, k % BLOCK);
        let (step, t) = (e / 4, e % 4);
        let base = (p * self.blocks + b) * self.format.panel_block_bytes();
        if self.format.nibbles() {
            let (chunk, shift) = (step % 4, 4 * (step / 4) as u32);
            (base + chunk * 64 + l * 4 + t, shift)
        } else {
            (base + step * 64 + l * 4 + t, 0)
        }
    }

    /// Writes block `b` of row `j` (32 unsigned integers) into its panel.
    fn put_block(&mut self, j: usize, b: usize, w: &[u8]) {
        let (base, _) = self.weight_index(j, b * BLOCK);
        let nibbles = self.format.nibbles();
        for (step, four) in w.chunks_exact(4).enumerate() {
            let (at, shift) = if nibbles {
                (base + (step % 4) * 64, 4 * (step / 4))
            } else {
                (base + step * 64, 0)
            };
            for (t, &v) in four.iter().enumerate() {
                self.weights[at + t] |= v << shift;
            }
        }
    }

    /// Where the scale and offset of row `j`'s group `g` live.
    fn group_index(&self, j: usize, g: usize) -> usize {
        let per_block = self.format.groups_per_block();
        let (p, l) = (j / PANEL, j % PANEL);
        ((p * self.blocks + g / per_block) * per_block + g % per_block) * PANEL + l
    }

    /// Panel `p`'s weights, scales and offsets.
    pub(crate) fn panel(&self, p: usize) -> Panel<'_> {
        let bytes = self.blocks * self.format.panel_block_bytes();
        let groups = self.blocks * self.format.groups_per_block() * PANEL;
        Panel {
            weights: &self.weights[p * bytes..][..bytes],
            scales: &self.scales[p * groups..][..groups],
            offsets: &self.offsets[p * groups..][..groups],
        }
    }
}

/// One panel of [`PANEL`] rows in the repacked layout.
#[derive(Clone, Copy)]
pub(crate) struct Panel<'a> {
    pub weights: &'a [u8],
    pub scales: &'a [f16],
    pub offsets: &'a [f16],
}
