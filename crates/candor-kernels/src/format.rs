//! GGUF weight blocks, unpacked at load into the layout the kernels read.

use half::f16;

use crate::KernelError;

/// Values per block in every supported format.
pub const BLOCK: usize = 32;

/// A GGUF block format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

impl Format {
    /// Bytes of one block of 32 values in a GGUF file.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Q4_0 => 18,
            Self::Q4_1 => 20,
            Self::Q5_0 => 22,
            Self::Q5_1 => 24,
            Self::Q8_0 => 34,
        }
    }

    /// 4-bit formats keep two blocks per byte column; the others one byte per value.
    pub(crate) fn nibbles(self) -> bool {
        matches!(self, Self::Q4_0 | Self::Q4_1)
    }

    /// Bytes of a pair of blocks in the unpacked layout.
    fn pair_bytes(self) -> usize {
        if self.nibbles() {
            BLOCK
        } else {
            2 * BLOCK
        }
    }

    /// A block's unsigned integers `w`, scale `d` and offset `c` (its values are `d·w + c`).
    fn decode(self, b: &[u8], w: &mut [u8; BLOCK]) -> (f32, f32) {
        let half = |i: usize| f16::from_le_bytes([b[i], b[i + 1]]).to_f32();
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
            Self::Q8_0 => {
                for (w, &q) in w.iter_mut().zip(&b[2..]) {
                    *w = (q as i8 as i16 + 128) as u8;
                }
            }
        }
        let c = match self {
            Self::Q4_0 => -8.0 * d,
            Self::Q5_0 => -16.0 * d,
            Self::Q8_0 => -128.0 * d,
            Self::Q4_1 | Self::Q5_1 => half(2),
        };
        (d, c)
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
    /// `d` of each block, `2·pairs` per row (f16 as in the file: decode reads less memory).
    pub(crate) scales: Vec<f16>,
    /// `c` of each block, `2·pairs` per row (exact in f16: `m` is stored so, and `−z·d` is a
    /// power-of-two multiple of `d`).
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
        if !cols.is_multiple_of(BLOCK) || cols == 0 {
            return Err(KernelError::RowLength { format, cols });
        }
        let blocks = cols / BLOCK;
        let expected = rows * blocks * format.block_bytes();
        if data.len() != expected {
            return Err(KernelError::DataLength {
                format,
                rows,
                cols,
                expected,
                actual: data.len(),
            });
        }
        let pairs = blocks.div_ceil(2);
        let pair_bytes = format.pair_bytes();
        let mut weights = vec![0u8; rows * pairs * pair_bytes];
        let mut scales = vec![f16::ZERO; rows * 2 * pairs];
        let mut offsets = vec![f16::ZERO; rows * 2 * pairs];
        let mut w = [0u8; BLOCK];
        for (i, block) in data.chunks_exact(format.block_bytes()).enumerate() {
            let (row, b) = (i / blocks, i % blocks);
            let (d, c) = format.decode(block, &mut w);
            let c16 = f16::from_f32(c);
            if c16.to_f32() != c {
                return Err(KernelError::Offset {
                    format,
                    row,
                    block: b,
                });
            }
            scales[row * 2 * pairs + b] = f16::from_f32(d);
            offsets[row * 2 * pairs + b] = c16;
            let pair = &mut weights[(row * pairs + b / 2) * pair_bytes..][..pair_bytes];
            if format.nibbles() {
                let shift = 4 * (b % 2);
                for (p, &v) in pair.iter_mut().zip(&w) {
                    *p |= v << shift;
                }
            } else {
                pair[(b % 2) * BLOCK..][..BLOCK].copy_from_slice(&w);
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
                let (b, e) = (i / BLOCK, i % BLOCK);
                w.scales[b].to_f32() * w.value(b, e) as f32 + w.offsets[b].to_f32()
            })
            .collect()
    }

    pub(crate) fn row(&self, j: usize) -> WeightRow<'_> {
        let pair_bytes = self.format.pair_bytes();
        let n = 2 * self.pairs;
        WeightRow {
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
