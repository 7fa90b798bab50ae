//! Throughput of the dense f32 kernel on the shapes of a small Llama (SmolLM2-135M: hidden 576,
//! MLP 1536, vocabulary 49152): `cargo run --release -p candor-kernels --example dense_speed`.
use candor_kernels::DenseMatrix;
use std::time::Instant;
fn main() {
    for (m, n, k) in [
        (100usize, 1536usize, 576usize),
        (100, 49152, 576),
        (16, 1536, 576),
        (400, 576, 1536),
    ] {
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i % 97) as f32 - 48.0) * 0.01)
            .collect();
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i % 31) as f32 - 15.0) * 0.03)
            .collect();
        let d = DenseMatrix::new(&w, n, k).unwrap();
        let _ = d.matmul(&x).unwrap();
        let t = Instant::now();
        let reps = 5;
        for _ in 0..reps {
            std::hint::black_box(d.matmul(&x).unwrap());
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        println!(
            "m{m} n{n} k{k}: {:.3} ms, {:.1} GFLOP/s",
            s * 1e3,
            2.0 * (m * n * k) as f64 / s / 1e9
        );
    }
}
