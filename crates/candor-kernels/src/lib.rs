//! Quantized matrix products `y = x·Wᵀ` for the GGUF block formats Q4_0, Q4_1, Q5_0, Q5_1,
//! Q8_0 and the K-quants Q4_K, Q5_K, Q6_K, on the CPU.
//!
//! Weights are unpacked at load into blocks of 32 unsigned integers `w`, each group of values
//! (the block, or half of it for Q6_K) with a scale `d` and an offset `c`, so that its values
//! are `d·w + c` (Q4_0: `c = −8d`; Q4_1: `c = m`; Q8_0: `w = q + 128`, `c = −128d`; Q4_K:
//! `d·sc` and `−dmin·m` of its sub-block ...), and repacked into panels of sixteen rows whose
//! values are interleaved by four, so that one `vpdpbusd` multiplies four values of sixteen
//! outputs at once and each SIMD lane holds one output. Each activation row is quantized on
//! its own, per block of 32, to 8-bit integers `a` with a scale `s` (as llama.cpp's Q8_1), and
//! a group's contribution is `d·s·Σ w·a + c·s·Σ a`: an exact integer dot product plus two
//! products of scales.
//!
//! **Batch invariance by construction**: a row's quantization depends on that row alone, and
//! each (row, column) result is accumulated in the same order whatever other rows share the
//! call, so a row's outputs are bit-identical alone and inside any batch; every kernel follows
//! the reference's order of operations, so all of them give the same bits. The kernel is chosen
//! once per process at run time: AVX-512 VNNI where the CPU has it, else AVX2 (with FMA and
//! F16C), else the portable reference; `CANDOR_KERNELS=avx2` or `=reference` asks for one.
//!
//! [`DenseMatrix`] is the same for f32 weights: repacked into panels at load, each output a
//! chain of multiply-adds in input order, so dense rows are batch-invariant too.
//!
//! [`attention()`] is the f32 attention around those products, batch-invariant in the same
//! sense: a query's result depends only on the keys its mask shows, in their order.
//!
//! Both run on the crate's own threads (as many as rayon's global pool has), which spin for a
//! moment between calls instead of sleeping: a forward pass makes hundreds of calls of a few
//! microseconds each at decode, and waking a sleeping thread costs about as much.

mod activation;
mod attention;
#[cfg(target_arch = "x86_64")]
mod avx2;
mod dense;
mod format;
mod kernel;
mod pool;
mod reference;
#[cfg(target_arch = "x86_64")]
mod vnni;

pub use attention::{attention, attention_with, AttentionShape, Mask};
pub use dense::{dense_stacked, dense_stacked_with, DenseMatrix};
pub use format::{Format, QuantMatrix};
pub use kernel::{kernel, matmul_stacked, Kernel};

/// Why a matrix cannot be built or multiplied.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("{format:?} needs a row length that is a multiple of {block}, not {cols}")]
    RowLength {
        format: Format,
        cols: usize,
        block: usize,
    },
    #[error("{format:?} data of a {rows}×{cols} matrix takes {expected} bytes, not {actual}")]
    DataLength {
        format: Format,
        rows: usize,
        cols: usize,
        expected: usize,
        actual: usize,
    },
    #[error(
        "{format:?} row {row} block {block}: its scale or offset overflows f16 (a corrupt file?)"
    )]
    Offset {
        format: Format,
        row: usize,
        block: usize,
    },
    #[error("a dense {rows}×{cols} matrix takes {} values, not {len}", rows * cols)]
    DenseLength {
        rows: usize,
        cols: usize,
        len: usize,
    },
    #[error("this CPU cannot run the {0:?} kernel")]
    Unsupported(Kernel),
    #[error("matrices multiplied together take inputs of one width, not {first} and {other}")]
    Widths { first: usize, other: usize },
    #[error("an input of {len} values is not a whole number of rows of {cols}")]
    InputLength { len: usize, cols: usize },
}
