//! The dense f32 kernel against an f64 product, alone vs in batches, across instruction sets,
//! and stacked vs alone.

use candor_kernels::{dense_stacked, dense_stacked_with, DenseMatrix, Kernel, KernelError};

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

#[test]
fn products_match_f64_and_every_kernel_gives_the_same_bits() {
    // Partial panels, odd inputs, every row-tile size.
    for (rows, cols, m) in [
        (1, 1, 1),
        (17, 5, 3),
        (33, 64, 7),
        (50, 576, 13),
        (16, 96, 50),
    ] {
        let w = values(rows * cols, rows as u64);
        let x = values(m * cols, 100 + m as u64);
        let matrix = DenseMatrix::new(&w, rows, cols).unwrap();
        let y = matrix.matmul(&x).unwrap();
        for i in 0..m {
            for j in 0..rows {
                let want: f64 = (0..cols)
                    .map(|k| x[i * cols + k] as f64 * w[j * cols + k] as f64)
                    .sum();
                let got = y[i * rows + j] as f64;
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{rows}×{cols}, row {i} output {j}: {got} vs {want}"
                );
            }
        }
        for kernel in Kernel::available() {
            let other = dense_stacked_with(kernel, &[&matrix], &x).unwrap();
            assert!(
                other
                    .iter()
                    .zip(&y)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{kernel} differs on {rows}×{cols}"
            );
        }
    }
}

#[test]
fn a_row_is_bit_identical_alone_and_inside_any_batch() {
    let (rows, cols) = (37, 200);
    let matrix = DenseMatrix::new(&values(rows * cols, 1), rows, cols).unwrap();
    let batch = values(70 * cols, 2);
    let alone = matrix.matmul(&batch[..cols]).unwrap();
    for size in [1, 3, 16, 70] {
        for position in [0, size / 2, size - 1] {
            let mut x: Vec<f32> = batch[cols..][..(size - 1) * cols].to_vec();
            x.splice(
                position * cols..position * cols,
                batch[..cols].iter().copied(),
            );
            let y = matrix.matmul(&x).unwrap();
            assert!(
                y[position * rows..][..rows]
                    .iter()
                    .zip(&alone)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "row at {position} of {size} differs from alone"
            );
        }
    }
}

#[test]
fn stacked_products_equal_each_alone_and_bad_shapes_are_refused() {
    let cols = 96;
    let a = DenseMatrix::new(&values(40 * cols, 3), 40, cols).unwrap();
    let b = DenseMatrix::new(&values(9 * cols, 4), 9, cols).unwrap();
    let x = values(5 * cols, 5);
    let y = dense_stacked(&[&a, &b], &x).unwrap();
    let (ya, yb) = (a.matmul(&x).unwrap(), b.matmul(&x).unwrap());
    for i in 0..5 {
        assert_eq!(&y[i * 49..][..40], &ya[i * 40..][..40]);
        assert_eq!(&y[i * 49 + 40..][..9], &yb[i * 9..][..9]);
    }
    let err = DenseMatrix::new(&[0.0; 5], 2, 3).unwrap_err();
    assert_eq!(err.to_string(), "a dense 2×3 matrix takes 6 values, not 5");
    assert!(matches!(
        a.matmul(&[0.0; 95]),
        Err(KernelError::InputLength { len: 95, cols: 96 })
    ));
    let narrow = DenseMatrix::new(&values(4 * 8, 6), 4, 8).unwrap();
    assert!(matches!(
        dense_stacked(&[&a, &narrow], &x),
        Err(KernelError::Widths {
            first: 96,
            other: 8
        })
    ));
    assert_eq!(dense_stacked(&[], &x).unwrap(), Vec::<f32>::new());
}
