//! The kernels against candle's quantizer and dequantizer, against the reference kernel, and
//! alone vs in batches.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candor_kernels::{matmul_stacked, Format, Kernel, KernelError, QuantMatrix};

const FORMATS: [(Format, GgmlDType); 8] = [
    (Format::Q4_0, GgmlDType::Q4_0),
    (Format::Q4_1, GgmlDType::Q4_1),
    (Format::Q5_0, GgmlDType::Q5_0),
    (Format::Q5_1, GgmlDType::Q5_1),
    (Format::Q8_0, GgmlDType::Q8_0),
    (Format::Q4K, GgmlDType::Q4K),
    (Format::Q5K, GgmlDType::Q5K),
    (Format::Q6K, GgmlDType::Q6K),
];

/// Matrix shapes for a format: edge sizes, odd row counts and partial panels of 16 (1 to 5
/// panels, so every tile shape runs; K-quant rows are multiples of 256).
fn shapes(format: Format) -> Vec<(usize, usize)> {
    if format.block_values() == 256 {
        vec![
            (1, 256),
            (3, 512),
            (17, 768),
            (5, 1280),
            (33, 1536),
            (65, 512),
        ]
    } else {
        vec![(1, 32), (3, 64), (17, 96), (5, 576), (33, 1536), (65, 96)]
    }
}

/// How far an unpacked weight may be from candle's: the last bit for the legacy formats;
/// for K-quants, whose scale and offset products are rounded to f16 at load, 2⁻¹¹ of the
/// terms `d·w` and `c` (bounded by the row's largest weight and the value itself).
fn tolerance(format: Format, value: f32, row_max: f32) -> f32 {
    if format.block_values() == 256 {
        2f32.powi(-10) * (value.abs() + 2.0 * row_max) + 1e-7
    } else {
        1e-6 * value.abs().max(1.0)
    }
}

/// Deterministic values in about [-1, 1], with some rows scaled up and a few exact zeros.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let v = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            if i % 97 == 5 {
                0.0
            } else if i % 61 < 3 {
                8.0 * v
            } else {
                v
            }
        })
        .collect()
}

/// A random matrix quantized by candle, and candle's dequantized copy of it.
fn quantized(format: GgmlDType, rows: usize, cols: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let t = Tensor::from_vec(values(rows * cols, seed), (rows, cols), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&t, format).unwrap();
    let dense = q.dequantize(&Device::Cpu).unwrap();
    (
        q.data().unwrap().into_owned(),
        dense.flatten_all().unwrap().to_vec1().unwrap(),
    )
}

#[test]
fn unpacked_weights_equal_candles_dequantized_ones() {
    for (format, ggml) in FORMATS {
        for (seed, &(rows, cols)) in shapes(format).iter().enumerate() {
            let (data, dense) = quantized(ggml, rows, cols, seed as u64);
            let m = QuantMatrix::from_gguf(format, rows, cols, &data).unwrap();
            for j in 0..rows {
                let want = &dense[j * cols..][..cols];
                let row_max = want.iter().fold(0f32, |m, v| m.max(v.abs()));
                for (i, (a, b)) in m.dequantize_row(j).iter().zip(want).enumerate() {
                    // d·w + c and d·(w − z) round differently in the last bit.
                    assert!(
                        (a - b).abs() <= tolerance(format, *b, row_max),
                        "{format:?} {rows}×{cols} row {j} value {i}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_kernel_equals_the_reference_bit_for_bit_and_agrees_with_dequantized_f32() {
    let kernels = Kernel::available();
    eprintln!("kernels on this CPU: {kernels:?}");
    for (format, ggml) in FORMATS {
        for (seed, &(rows, cols)) in shapes(format).iter().enumerate() {
            let (data, _) = quantized(ggml, rows, cols, 100 + seed as u64);
            let m = QuantMatrix::from_gguf(format, rows, cols, &data).unwrap();
            // The unpacked weights (candle's, to the rounding the test above allows).
            let dense: Vec<f32> = (0..rows).flat_map(|j| m.dequantize_row(j)).collect();
            // Few rows (columns split over threads) and many (row blocks).
            for batch in [1, 2, 5, 9, 70] {
                let x = values(batch * cols, 7 + seed as u64 * 13 + batch as u64);
                let reference = m.matmul_with(Kernel::Reference, &x).unwrap();
                for &kernel in &kernels {
                    let y = m.matmul_with(kernel, &x).unwrap();
                    for i in 0..batch {
                        let xi = &x[i * cols..][..cols];
                        for j in 0..rows {
                            let wj = &dense[j * cols..][..cols];
                            let exact: f64 =
                                xi.iter().zip(wj).map(|(a, b)| *a as f64 * *b as f64).sum();
                            // Activations round to s/2 per value, s = max|x| / 127 per block.
                            let bound: f64 = xi
                                .chunks(32)
                                .zip(wj.chunks(32))
                                .map(|(xb, wb)| {
                                    let s = xb.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                                    s as f64 / 2.0 * wb.iter().map(|w| w.abs() as f64).sum::<f64>()
                                })
                                .sum();
                            let magnitude: f64 =
                                xi.iter().zip(wj).map(|(a, b)| (*a * *b).abs() as f64).sum();
                            let (got, want) = (y[i * rows + j] as f64, reference[i * rows + j]);
                            assert!(
                                (got - exact).abs() <= bound * 1.01 + 1e-5 * magnitude,
                                "{kernel:?} {format:?} {rows}×{cols}, row {i} col {j}: {got} vs exact {exact} (bound {bound})"
                            );
                            assert_eq!(
                                got.to_bits(),
                                (want as f64).to_bits(),
                                "{kernel:?} {format:?} {rows}×{cols}, row {i} col {j}: {got} vs reference {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_row_is_bit_identical_alone_and_inside_any_batch() {
    let (rows, cols) = (37, 768);
    for (format, ggml) in FORMATS {
        let (data, _) = quantized(ggml, rows, cols, 42);
        let m = QuantMatrix::from_gguf(format, rows, cols, &data).unwrap();
        // 70 rows of mixed magnitude; row 0 is the one followed.
        let batch: Vec<f32> = (0..70)
            .flat_map(|r| {
                values(cols, 1000 + r)
                    .into_iter()
                    .map(move |v| v * (1 + r % 5) as f32)
            })
            .collect();
        for kernel in Kernel::available() {
            let alone = m.matmul_with(kernel, &batch[..cols]).unwrap();
            for size in [1, 3, 16, 70] {
                for position in [0, size / 2, size - 1] {
                    // Row 0 at `position` among `size` rows.
                    let mut x: Vec<f32> = batch[cols..][..(size - 1) * cols].to_vec();
                    x.splice(
                        position * cols..position * cols,
                        batch[..cols].iter().copied(),
                    );
                    let y = m.matmul_with(kernel, &x).unwrap();
                    let row = &y[position * rows..][..rows];
                    assert!(
                        row.iter()
                            .zip(&alone)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{kernel:?} {format:?}: row at {position} of {size} differs from alone"
                    );
                }
            }
        }
    }
}

#[test]
fn stacked_products_equal_each_product_alone() {
    let cols = 768;
    let matrices: Vec<QuantMatrix> = [
        (GgmlDType::Q4K, 33),
        (GgmlDType::Q6K, 17),
        (GgmlDType::Q8_0, 5),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(ggml, rows))| {
        let format = FORMATS.iter().find(|f| f.1 == ggml).unwrap().0;
        let (data, _) = quantized(ggml, rows, cols, 7 + i as u64);
        QuantMatrix::from_gguf(format, rows, cols, &data).unwrap()
    })
    .collect();
    let all: Vec<&QuantMatrix> = matrices.iter().collect();
    let width: usize = all.iter().map(|m| m.rows()).sum();
    for size in [1, 3, 70] {
        let x = values(size * cols, 99 + size as u64);
        let y = matmul_stacked(&all, &x).unwrap();
        assert_eq!(y.len(), size * width);
        let mut col = 0;
        for (k, m) in all.iter().enumerate() {
            let alone = m.matmul(&x).unwrap();
            for i in 0..size {
                let got = &y[i * width + col..][..m.rows()];
                let want = &alone[i * m.rows()..][..m.rows()];
                assert!(
                    got.iter()
                        .zip(want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "matrix {k}, {size} rows: row {i} differs from its product alone"
                );
            }
            col += m.rows();
        }
    }
    let narrow = QuantMatrix::from_gguf(Format::Q8_0, 1, 32, &[0; 34]).unwrap();
    let err = matmul_stacked(&[&matrices[0], &narrow], &values(cols, 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "matrices multiplied together take inputs of one width, not 768 and 32"
    );
}

#[test]
fn bad_shapes_are_refused_with_the_numbers() {
    let err = QuantMatrix::from_gguf(Format::Q4_0, 2, 40, &[0; 36]).unwrap_err();
    assert!(
        matches!(err, KernelError::RowLength { cols: 40, .. }),
        "{err}"
    );
    let err = QuantMatrix::from_gguf(Format::Q4_1, 2, 64, &[0; 79]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Q4_1 data of a 2×64 matrix takes 80 bytes, not 79"
    );
    let m = QuantMatrix::from_gguf(Format::Q8_0, 1, 32, &[0; 34]).unwrap();
    let err = m.matmul(&[1.0; 33]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "an input of 33 values is not a whole number of rows of 32"
    );
}
