//! Dense f32 products `y = x·Wᵀ` with weights repacked at load, as the quantized ones are:
//! panels of sixteen output rows stored input by input, so one 64-byte load is one input's
//! weights for sixteen outputs. Each output is a chain of multiply-adds over the inputs in
//! order, whichever rows share the call and whatever the tile: a row's outputs are
//! bit-identical alone and in any batch, and the same in AVX-512, AVX2 and portable code.

use std::ops::Range;

use crate::format::PANEL;
use crate::kernel::{kernel, stacked_width, Kernel};
use crate::pool::{self, Shared};
use crate::KernelError;

/// An f32 matrix (`rows` outputs × `cols` inputs) in panels: panel `p`, input `k` holds the
/// weights of outputs `16p..16p + 16` (zeros past the last row).
pub struct DenseMatrix {
    rows: usize,
    cols: usize,
    panels: usize,
    data: Vec<f32>,
}

impl std::fmt::Debug for DenseMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DenseMatrix({}×{})", self.rows, self.cols)
    }
}

impl DenseMatrix {
    /// Repacks a row-major (`rows`, `cols`) matrix.
    pub fn new(w: &[f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        if w.len() != rows * cols {
            return Err(KernelError::DenseLength {
                rows,
                cols,
                len: w.len(),
            });
        }
        let panels = rows.div_ceil(PANEL);
        let mut data = vec![0f32; panels * cols * PANEL];
        for (j, row) in w.chunks_exact(cols.max(1)).enumerate().take(rows) {
            let panel = &mut data[j / PANEL * cols * PANEL..][..cols * PANEL];
            for (k, &x) in row.iter().enumerate() {
                panel[k * PANEL + j % PANEL] = x;
            }
        }
        Ok(Self {
            rows,
            cols,
            panels,
            data,
        })
    }

    /// Outputs.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Inputs.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `x·Wᵀ` for `x` of shape (rows, `self.cols()`): (rows, `self.rows()`).
    pub fn matmul(&self, x: &[f32]) -> Result<Vec<f32>, KernelError> {
        dense_stacked_with(kernel(), &[self], x)
    }
}

/// `x·[W₁ W₂ …]ᵀ`, the products side by side in each output row (as
/// [`crate::matmul_stacked`] for quantized matrices).
pub fn dense_stacked(matrices: &[&DenseMatrix], x: &[f32]) -> Result<Vec<f32>, KernelError> {
    dense_stacked_with(kernel(), matrices, x)
}

/// [`dense_stacked`] in a given kernel's instruction set (they all give the same bits).
pub fn dense_stacked_with(
    kernel: Kernel,
    matrices: &[&DenseMatrix],
    x: &[f32],
) -> Result<Vec<f32>, KernelError> {
    let Some(cols) = stacked_width(kernel, matrices.iter().map(|w| w.cols))? else {
        return Ok(Vec::new());
    };
    if cols == 0 || !x.len().is_multiple_of(cols) {
        return Err(KernelError::InputLength { len: x.len(), cols });
    }
    let m = x.len() / cols;
    let n: usize = matrices.iter().map(|w| w.rows).sum();
    let mut out = vec![0f32; m * n];
    let cells = Shared::new(&mut out);
    // Tasks: (matrix, pair of panels, chunk of rows).
    let chunks = m.div_ceil(ROW_CHUNK);
    let mut tasks = Vec::new();
    let mut col = 0;
    for w in matrices {
        for g in 0..w.panels.div_ceil(2) {
            let panels = 2 * g..(2 * g + 2).min(w.panels);
            tasks.extend((0..chunks).map(|c| (*w, col, panels.clone(), c)));
        }
        col += w.rows;
    }
    let task = |t: usize| {
        let (w, col, panels, c) = &tasks[t];
        let rows = c * ROW_CHUNK..((c + 1) * ROW_CHUNK).min(m);
        let job = Job {
            w,
            x,
            rows,
            panels: panels.clone(),
            out: &cells,
            col: *col,
            width: n,
        };
        match kernel {
            // SAFETY: `runs_here` said the CPU has what the kernel needs.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe { job.avx512() },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { job.avx2() },
            _ => job.reference(),
        }
    };
    if m * n * cols >= PARALLEL_WORK {
        pool::run(tasks.len(), task);
    } else {
        (0..tasks.len()).for_each(task);
    }
    Ok(out)
}

/// Rows per parallel task.
const ROW_CHUNK: usize = 48;
/// Products smaller than this (m·n·k) run on the calling thread.
const PARALLEL_WORK: usize = 1 << 16;

/// One task: rows × a pair of panels of one matrix, into columns `col..` of the output.
struct Job<'a> {
    w: &'a DenseMatrix,
    x: &'a [f32],
    rows: Range<usize>,
    panels: Range<usize>,
    out: &'a Shared<f32>,
    col: usize,
    width: usize,
}

impl Job<'_> {
    /// Six rows × two panels: twelve 16-lane sums in registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn avx512(&self) {
        self.tiles::<6>(|job, first, r, c| match (r, c) {
            (6, 2) => job.tile512::<6, 2>(first),
            (5, 2) => job.tile512::<5, 2>(first),
            (4, 2) => job.tile512::<4, 2>(first),
            (3, 2) => job.tile512::<3, 2>(first),
            (2, 2) => job.tile512::<2, 2>(first),
            (1, 2) => job.tile512::<1, 2>(first),
            (6, _) => job.tile512::<6, 1>(first),
            (5, _) => job.tile512::<5, 1>(first),
            (4, _) => job.tile512::<4, 1>(first),
            (3, _) => job.tile512::<3, 1>(first),
            (2, _) => job.tile512::<2, 1>(first),
            _ => job.tile512::<1, 1>(first),
        })
    }

    /// Two rows × two panels: each 16-lane sum takes two registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2(&self) {
        self.tiles::<2>(|job, first, r, c| match (r, c) {
            (2, 2) => job.tile256::<2, 2>(first),
            (1, 2) => job.tile256::<1, 2>(first),
            (2, _) => job.tile256::<2, 1>(first),
            _ => job.tile256::<1, 1>(first),
        })
    }

    /// One row at a time in portable code.
    fn reference(&self) {
        self.tiles::<1>(|job, first, _, _| {
            let k = job.w.cols;
            let x = &job.x[first * k..][..k];
            for p in job.panels.clone() {
                let w = &job.w.data[p * k * PANEL..][..k * PANEL];
                let mut acc = [0f32; PANEL];
                for (a, w) in x.iter().zip(w.chunks_exact(PANEL)) {
                    for (acc, w) in acc.iter_mut().zip(w) {
                        *acc = a.mul_add(*w, *acc);
                    }
                }
                job.store(first, p, &acc);
            }
        })
    }

    /// Tiles of up to `R` rows × the task's panels, each given to `tile(job, first row, rows,
    /// panels)`.
    #[inline(always)]
    fn tiles<const R: usize>(&self, tile: impl Fn(&Self, usize, usize, usize)) {
        let mut i = self.rows.start;
        while i < self.rows.end {
            let r = (self.rows.end - i).min(R);
            tile(self, i, r, self.panels.len());
            i += r;
        }
    }

    /// Rows `first..first + R` against the first `C` panels of the task, in AVX-512.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn tile512<const R: usize, const C: usize>(&self, first: usize) {
        use std::arch::x86_64::*;
        let k = self.w.cols;
        assert!(
            (first + R) * k <= self.x.len()
                && (self.panels.start + C) * k * PANEL <= self.w.data.len()
        );
        let x = self.x.as_ptr().add(first * k);
        let w = self.w.data.as_ptr().add(self.panels.start * k * PANEL);
        let mut acc = [[_mm512_setzero_ps(); C]; R];
        for kk in 0..k {
            let mut wv = [_mm512_setzero_ps(); C];
            for (c, wv) in wv.iter_mut().enumerate() {
                *wv = _mm512_loadu_ps(w.add((c * k + kk) * PANEL));
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let a = _mm512_set1_ps(*x.add(r * k + kk));
                for (acc, wv) in acc.iter_mut().zip(&wv) {
                    *acc = _mm512_fmadd_ps(a, *wv, *acc);
                }
            }
        }
        let mut lanes = [0f32; PANEL];
        for (r, acc) in acc.iter().enumerate() {
            for (c, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(lanes.as_mut_ptr(), *acc);
                self.store(first + r, self.panels.start + c, &lanes);
            }
        }
    }

    /// [`Self::tile512`] in AVX2: each 16-lane sum in two registers.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile256<const R: usize, const C: usize>(&self, first: usize) {
        use std::arch::x86_64::*;
        let k = self.w.cols;
        assert!(
            (first + R) * k <= self.x.len()
                && (self.panels.start + C) * k * PANEL <= self.w.data.len()
        );
        let x = self.x.as_ptr().add(first * k);
        let w = self.w.data.as_ptr().add(self.panels.start * k * PANEL);
        let mut acc = [[[_mm256_setzero_ps(); 2]; C]; R];
        for kk in 0..k {
            let mut wv = [[_mm256_setzero_ps(); 2]; C];
            for (c, wv) in wv.iter_mut().enumerate() {
                let p = w.add((c * k + kk) * PANEL);
                *wv = [_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))];
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                let a = _mm256_set1_ps(*x.add(r * k + kk));
                for (acc, wv) in acc.iter_mut().zip(&wv) {
                    acc[0] = _mm256_fmadd_ps(a, wv[0], acc[0]);
                    acc[1] = _mm256_fmadd_ps(a, wv[1], acc[1]);
                }
            }
        }
        let mut lanes = [0f32; PANEL];
        for (r, acc) in acc.iter().enumerate() {
            for (c, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(lanes.as_mut_ptr(), acc[0]);
                _mm256_storeu_ps(lanes.as_mut_ptr().add(8), acc[1]);
                self.store(first + r, self.panels.start + c, &lanes);
            }
        }
    }

    /// Writes row `row`'s sums for panel `panel` (dropping the lanes past the last output).
    #[inline(always)]
    fn store(&self, row: usize, panel: usize, lanes: &[f32; PANEL]) {
        let j = panel * PANEL;
        let n = PANEL.min(self.w.rows - j);
        // SAFETY: this task alone writes these rows of these panels.
        let cells = unsafe { self.out.part(row * self.width + self.col + j, n) };
        cells.copy_from_slice(&lanes[..n]);
    }
}
