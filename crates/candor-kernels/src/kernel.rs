//! Choosing a kernel, and the matrix product: tasks of (a few panels of outputs × a chunk of
//! rows) split over the kernels' threads, panel-major, so that each thread streams its own share of
//! the weights once (decode) and a panel's weights stay in L1 while the rows pass (prefill).

use std::ops::Range;
use std::sync::OnceLock;

use crate::activation::{ActRow, QuantizedRows};
use crate::format::{QuantMatrix, PANEL};
use crate::pool::{self, Shared};
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

    /// Rows and panels of the kernel's largest tile for a product of `rows` rows (what its
    /// registers hold). One row (decode) takes more panels: independent sums to overlap.
    fn tile(self, rows: usize) -> (usize, usize) {
        match self {
            Kernel::Avx512Vnni if rows == 1 => (1, 4),
            Kernel::Avx512Vnni => (4, 2),
            Kernel::Avx2 => (2, 1),
            Kernel::Reference => (1, 1),
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

/// Rows per parallel task.
const ROW_CHUNK: usize = 64;
/// Products smaller than this (m·n·k) run on the calling thread.
const PARALLEL_WORK: usize = 1 << 16;

/// The product being written, (rows, cols) row-major: each task owns a disjoint set of
/// (row, output) cells (`stacked_with` gives each a distinct panel range × row range).
struct Output {
    cells: Shared<f32>,
    cols: usize,
}

impl Output {
    /// Writes the first `n` of a tile row's sixteen outputs to row `i` from column `col`.
    ///
    /// # Safety
    /// No other task writes these cells.
    unsafe fn put(&self, i: usize, col: usize, n: usize, values: &[f32; PANEL]) {
        self.cells
            .part(i * self.cols + col, n)
            .copy_from_slice(&values[..n]);
    }
}

impl QuantMatrix {
    /// `x·Wᵀ` for `x` of shape (rows, `self.cols()`), row-major: (rows, `self.rows()`).
    pub fn matmul(&self, x: &[f32]) -> Result<Vec<f32>, KernelError> {
        self.matmul_with(kernel(), x)
    }

    /// [`matmul`](Self::matmul) with a given kernel.
    pub fn matmul_with(&self, kernel: Kernel, x: &[f32]) -> Result<Vec<f32>, KernelError> {
        stacked_with(kernel, &[self], x)
    }
}

/// `x·[W₁ W₂ …]ᵀ`: the products of one input with several matrices of its width (a layer's
/// queries, keys and values), side by side in each output row: (rows, Σ `Wᵢ.rows()`). The
/// input is quantized once and all the products share one parallel call; each output equals
/// that of [`QuantMatrix::matmul`] alone.
pub fn matmul_stacked(matrices: &[&QuantMatrix], x: &[f32]) -> Result<Vec<f32>, KernelError> {
    stacked_with(kernel(), matrices, x)
}

/// The input width every matrix of a stacked product shares (`None`: there are none), once
/// `kernel` is known to run on this CPU.
pub(crate) fn stacked_width(
    kernel: Kernel,
    mut widths: impl Iterator<Item = usize>,
) -> Result<Option<usize>, KernelError> {
    if !kernel.runs_here() {
        return Err(KernelError::Unsupported(kernel));
    }
    let Some(first) = widths.next() else {
        return Ok(None);
    };
    match widths.find(|&w| w != first) {
        Some(other) => Err(KernelError::Widths { first, other }),
        None => Ok(Some(first)),
    }
}

fn stacked_with(
    kernel: Kernel,
    matrices: &[&QuantMatrix],
    x: &[f32],
) -> Result<Vec<f32>, KernelError> {
    let Some(cols) = stacked_width(kernel, matrices.iter().map(|w| w.cols))? else {
        return Ok(Vec::new());
    };
    let acts = QuantizedRows::new(x, cols)?;
    let m = acts.rows;
    let n: usize = matrices.iter().map(|w| w.rows).sum();
    let mut out = vec![0f32; m * n];
    let target = Output {
        cells: Shared::new(&mut out),
        cols: n,
    };
    // Tasks: (matrix, group of panels, chunk of rows), each matrix's output columns after
    // those of the matrices before it.
    let per_task = kernel.tile(m).1;
    let chunks = m.div_ceil(ROW_CHUNK);
    let mut tasks = Vec::new();
    let mut col = 0;
    for w in matrices {
        for g in 0..w.panels.div_ceil(per_task) {
            let panels = g * per_task..((g + 1) * per_task).min(w.panels);
            tasks.extend((0..chunks).map(|c| (*w, col, panels.clone(), c)));
        }
        col += w.rows;
    }
    let task = |t: usize| {
        let (w, col, panels, c) = &tasks[t];
        let rows = c * ROW_CHUNK..((c + 1) * ROW_CHUNK).min(m);
        w.tiles(kernel, &acts, rows, panels.clone(), *col, &target);
    };
    if m * n * cols >= PARALLEL_WORK {
        pool::run(tasks.len(), task);
    } else {
        (0..tasks.len()).for_each(task);
    }
    Ok(out)
}

impl QuantMatrix {
    /// Every row of `rows` against every output of `panels`, a tile at a time.
    fn tiles(
        &self,
        kernel: Kernel,
        acts: &QuantizedRows,
        rows: Range<usize>,
        panels: Range<usize>,
        col: usize,
        out: &Output,
    ) {
        let mut i = rows.start;
        while i < rows.end {
            let r = (rows.end - i).min(kernel.tile(acts.rows).0);
            match kernel {
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx512Vnni => match (r, panels.len()) {
                    (1, 4) => self.vnni::<1, 4>(acts, i, panels.start, col, out),
                    (1, 3) => self.vnni::<1, 3>(acts, i, panels.start, col, out),
                    (4, 2) => self.vnni::<4, 2>(acts, i, panels.start, col, out),
                    (3, 2) => self.vnni::<3, 2>(acts, i, panels.start, col, out),
                    (2, 2) => self.vnni::<2, 2>(acts, i, panels.start, col, out),
                    (1, 2) => self.vnni::<1, 2>(acts, i, panels.start, col, out),
                    (4, _) => self.vnni::<4, 1>(acts, i, panels.start, col, out),
                    (3, _) => self.vnni::<3, 1>(acts, i, panels.start, col, out),
                    (2, _) => self.vnni::<2, 1>(acts, i, panels.start, col, out),
                    _ => self.vnni::<1, 1>(acts, i, panels.start, col, out),
                },
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx2 => match r {
                    2 => self.avx2::<2>(acts, i, panels.start, col, out),
                    _ => self.avx2::<1>(acts, i, panels.start, col, out),
                },
                _ => {
                    for p in panels.clone() {
                        let row = acts.row(i);
                        let values = std::array::from_fn(|l| {
                            let j = p * PANEL + l;
                            if j < self.rows {
                                reference::dot(self, j, row)
                            } else {
                                0.0
                            }
                        });
                        // SAFETY: this task owns rows `rows` of `panels`.
                        unsafe { self.put(out, col, i, p, &values) };
                    }
                }
            }
            i += r;
        }
    }

    /// Writes panel `p`'s outputs for row `i` (those that exist), this matrix's columns
    /// starting at `col`.
    ///
    /// # Safety
    /// No other task writes row `i` of this panel.
    unsafe fn put(&self, out: &Output, col: usize, i: usize, p: usize, values: &[f32; PANEL]) {
        let j = p * PANEL;
        out.put(i, col + j, PANEL.min(self.rows - j), values);
    }

    #[cfg(target_arch = "x86_64")]
    fn vnni<const R: usize, const C: usize>(
        &self,
        acts: &QuantizedRows,
        first: usize,
        panel: usize,
        col: usize,
        out: &Output,
    ) {
        let rows: [ActRow; R] = std::array::from_fn(|r| acts.row(first + r));
        // SAFETY: `matmul_with` checked `runs_here`; the panels and rows exist.
        let tile = unsafe { crate::vnni::tile::<R, C>(self, panel, rows) };
        for (r, row) in tile.iter().enumerate() {
            for (c, values) in row.iter().enumerate() {
                // SAFETY: this task owns these rows of these panels.
                unsafe { self.put(out, col, first + r, panel + c, values) };
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn avx2<const R: usize>(
        &self,
        acts: &QuantizedRows,
        first: usize,
        panel: usize,
        col: usize,
        out: &Output,
    ) {
        let rows: [ActRow; R] = std::array::from_fn(|r| acts.row(first + r));
        // SAFETY: as in `vnni`.
        let tile = unsafe { crate::avx2::tile::<R>(self, panel, rows) };
        for (r, values) in tile.iter().enumerate() {
            // SAFETY: as in `vnni`.
            unsafe { self.put(out, col, first + r, panel, values) };
        }
    }
}
