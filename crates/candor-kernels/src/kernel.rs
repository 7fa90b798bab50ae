//! Choosing a kernel, and the matrix product: columns split over rayon's threads, rows taken
//! four at a time so that each weight row is unpacked once per four activation rows.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::activation::{ActRow, QuantizedRows};
use crate::format::{QuantMatrix, WeightRow};
use crate::{reference, KernelError};

/// An implementation of the block dot products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust, the definition the others are tested against.
    Reference,
    /// x86-64 with AVX-512 F, BW, VL and VNNI.
    Avx512Vnni,
}

impl Kernel {
    /// Kernels this CPU can run, the reference first.
    pub fn available() -> Vec<Kernel> {
        [Kernel::Reference, Kernel::Avx512Vnni]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect()
    }

    /// Whether this CPU has what the kernel needs.
    pub fn runs_here(self) -> bool {
        match self {
            Kernel::Reference => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => crate::vnni::supported(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512Vnni => false,
        }
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernel::Reference => "reference",
            Kernel::Avx512Vnni => "avx512-vnni",
        })
    }
}

/// The fastest kernel this CPU runs, chosen once per process (`CANDOR_KERNELS=reference` picks
/// the portable one).
pub fn kernel() -> Kernel {
    static CHOSEN: OnceLock<Kernel> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        if std::env::var("CANDOR_KERNELS").as_deref() == Ok("reference") {
            return Kernel::Reference;
        }
        Kernel::available().pop().unwrap_or(Kernel::Reference)
    })
}

/// Output columns per parallel task.
const COLUMNS: usize = 16;

impl QuantMatrix {
    /// `x·Wᵀ` for `x` of shape (rows, `self.cols()`), row-major: (rows, `self.rows()`).
    pub fn matmul(&self, x: &[f32]) -> Result<Vec<f32>, KernelError> {
        self.matmul_with(kernel(), x)
    }

    /// [`matmul`](Self::matmul) with a given kernel.
    pub fn matmul_with(&self, kernel: Kernel, x: &[f32]) -> Result<Vec<f32>, KernelError> {
        if !kernel.runs_here() {
            return Err(KernelError::Unsupported(kernel));
        }
        let acts = QuantizedRows::new(x, self.cols)?;
        let (m, n) = (acts.rows(), self.rows);
        // Column-major first: each task owns a contiguous run of whole columns.
        let mut by_column = vec![0f32; n * m];
        let task = |(c, out): (usize, &mut [f32])| {
            for (j, column) in out.chunks_exact_mut(m).enumerate() {
                let w = self.row(c * COLUMNS + j);
                let mut i = 0;
                while i < m {
                    let rows = (m - i).min(4);
                    match rows {
                        4 => tile::<4>(kernel, w, &acts, i, &mut column[i..]),
                        3 => tile::<3>(kernel, w, &acts, i, &mut column[i..]),
                        2 => tile::<2>(kernel, w, &acts, i, &mut column[i..]),
                        _ => tile::<1>(kernel, w, &acts, i, &mut column[i..]),
                    }
                    i += rows;
                }
            }
        };
        if m * n * self.cols >= 1 << 16 {
            by_column
                .par_chunks_mut(COLUMNS * m)
                .enumerate()
                .for_each(task);
        } else {
            by_column.chunks_mut(COLUMNS * m).enumerate().for_each(task);
        }
        if m == 1 {
            return Ok(by_column);
        }
        let mut out = vec![0f32; m * n];
        for (j, column) in by_column.chunks_exact(m).enumerate() {
            for (i, &v) in column.iter().enumerate() {
                out[i * n + j] = v;
            }
        }
        Ok(out)
    }
}

/// Rows `first..first + R` of the activations against one weight row.
fn tile<const R: usize>(
    kernel: Kernel,
    w: WeightRow,
    acts: &QuantizedRows,
    first: usize,
    out: &mut [f32],
) {
    let rows: [ActRow; R] = std::array::from_fn(|r| acts.row(first + r));
    let dots: [f32; R] = match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `matmul_with` checked `runs_here`.
        Kernel::Avx512Vnni => unsafe { crate::vnni::dots(w, rows) },
        _ => rows.map(|a| reference::dot(w, a)),
    };
    out[..R].copy_from_slice(&dots);
}
