//! Choosing a kernel, and the matrix product: for many rows, blocks of rows split over rayon's
//! threads and blocks of columns kept in L1; for few rows (decode), columns split over the
//! threads. Rows are taken four at a time so that each weight row is unpacked once per four
//! activation rows.

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::activation::{ActRow, QuantizedRows};
use crate::format::QuantMatrix;
use crate::{reference, KernelError};

/// An implementation of the block dot products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust, the definition the others are tested against.
    Reference,
    /// x86-64 with AVX2, FMA and F16C.
    Avx2,
    /// x86-64 with AVX-512 F, BW, VL and VNNI (and F16C).
    Avx512Vnni,
}

impl Kernel {
    /// Kernels this CPU can run, the reference first and the fastest last.
    pub fn available() -> Vec<Kernel> {
        [Kernel::Reference, Kernel::Avx2, Kernel::Avx512Vnni]
            .into_iter()
            .filter(|k| k.runs_here())
            .collect()
    }

    /// Whether this CPU has what the kernel needs.
    pub fn runs_here(self) -> bool {
        match self {
            Kernel::Reference => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => crate::avx2::supported(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => crate::vnni::supported(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512Vnni => false,
        }
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernel::Reference => "reference",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512Vnni => "avx512-vnni",
        })
    }
}

/// The fastest kernel this CPU runs, chosen once per process; `CANDOR_KERNELS=reference` or
/// `=avx2` picks that one instead (when the CPU runs it).
pub fn kernel() -> Kernel {
    static CHOSEN: OnceLock<Kernel> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let available = Kernel::available();
        let asked = std::env::var("CANDOR_KERNELS").ok();
        available
            .iter()
            .copied()
            .find(|k| asked.as_deref() == Some(&k.to_string()))
            .or(available.last().copied())
            .unwrap_or(Kernel::Reference)
    })
}

/// Rows per parallel task when there are many rows.
const ROW_BLOCK: usize = 32;
/// Columns whose weights stay in L1 while a block of rows passes over them.
const COLUMN_BLOCK: usize = 32;
/// Columns per parallel task when there are few rows.
const COLUMN_TASK: usize = 16;
/// Products smaller than this (m·n·k) run on the calling thread.
const PARALLEL_WORK: usize = 1 << 20;

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
        let parallel = m * n * self.cols >= PARALLEL_WORK;
        if m >= 2 * ROW_BLOCK {
            let mut out = vec![0f32; m * n];
            let task = |(b, out): (usize, &mut [f32])| {
                let rows = b * ROW_BLOCK..b * ROW_BLOCK + out.len() / n;
                for start in (0..n).step_by(COLUMN_BLOCK) {
                    let columns = start..(start + COLUMN_BLOCK).min(n);
                    self.block(kernel, &acts, rows.clone(), columns, |i, j, v| {
                        out[(i - rows.start) * n + j] = v
                    });
                }
            };
            if parallel {
                out.par_chunks_mut(ROW_BLOCK * n).enumerate().for_each(task);
            } else {
                out.chunks_mut(ROW_BLOCK * n).enumerate().for_each(task);
            }
            return Ok(out);
        }
        // Few rows: whole columns per task, transposed at the end.
        let mut by_column = vec![0f32; n * m];
        let task = |(c, out): (usize, &mut [f32])| {
            let start = c * COLUMN_TASK;
            let columns = start..start + out.len() / m;
            self.block(kernel, &acts, 0..m, columns, |i, j, v| {
                out[(j - start) * m + i] = v
            });
        };
        if parallel {
            by_column
                .par_chunks_mut(COLUMN_TASK * m)
                .enumerate()
                .for_each(task);
        } else {
            by_column
                .chunks_mut(COLUMN_TASK * m)
                .enumerate()
                .for_each(task);
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

    /// Every (row, column) of the ranges, handed to `put`, four rows at a time.
    fn block(
        &self,
        kernel: Kernel,
        acts: &QuantizedRows,
        rows: Range<usize>,
        columns: Range<usize>,
        mut put: impl FnMut(usize, usize, f32),
    ) {
        let mut i = rows.start;
        while i < rows.end {
            let n = (rows.end - i).min(4);
            match n {
                4 => self.tile::<4>(kernel, acts, i, columns.clone(), &mut put),
                3 => self.tile::<3>(kernel, acts, i, columns.clone(), &mut put),
                2 => self.tile::<2>(kernel, acts, i, columns.clone(), &mut put),
                _ => self.tile::<1>(kernel, acts, i, columns.clone(), &mut put),
            }
            i += n;
        }
    }

    /// Rows `first..first + R` of the activations against each weight row of `columns`.
    fn tile<const R: usize>(
        &self,
        kernel: Kernel,
        acts: &QuantizedRows,
        first: usize,
        columns: Range<usize>,
        put: &mut impl FnMut(usize, usize, f32),
    ) {
        let rows: [ActRow; R] = std::array::from_fn(|r| acts.row(first + r));
        for j in columns {
            let w = self.row(j);
            let dots: [f32; R] = match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `matmul_with` checked `runs_here`.
                Kernel::Avx512Vnni => unsafe { crate::vnni::dots(w, rows) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: as above.
                Kernel::Avx2 => unsafe { crate::avx2::dots(w, rows) },
                _ => rows.map(|a| reference::dot(w, a)),
            };
            for (r, v) in dots.into_iter().enumerate() {
                put(first + r, j, v);
            }
        }
    }
}
