//! Runner benchmark: wall time of `truthfulqa_mc --limit 200` and how it splits between the
//! model and the harness (loading data, building and deduplicating requests, scoring,
//! aggregation). Prints a Markdown table.
//!
//! `cargo bench --bench runner [-- --quantized]` (model: `$CANDOR_BENCH_MODEL`, else the shared
//! SmolLM2 GGUF; data: `$CANDOR_DATA`, else `../shared/datasets`). `--quantized` adds a row for
//! quantized weights, which takes about ten times longer.

use std::path::PathBuf;
use std::time::Instant;

use candor::{hub, CandleModel, DataDir, LoadOptions, RunConfig, TaskOptions, WeightFormat};

fn main() {
    let shared = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let model_path = std::env::var_os("CANDOR_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared.join("models").join(hub::DEFAULT_MODEL));
    let data = std::env::var_os("CANDOR_DATA")
        .map(DataDir::new)
        .unwrap_or_else(|| DataDir::new(shared.join("datasets")));
    let limit = 200;
    println!(
        "model: {} · truthfulqa_mc --limit {limit}\n",
        model_path.display()
    );
    println!("| weights | total s | model s | harness s | data load s | requests (unique) | questions/s |");
    println!("|---|---|---|---|---|---|---|");
    let mut formats = vec![WeightFormat::F32];
    if std::env::args().any(|a| a == "--quantized") {
        formats.push(WeightFormat::Quantized);
    }
    for weights in formats {
        let started = Instant::now();
        let files = hub::local(&model_path).expect("benchmark model");
        let opts = LoadOptions {
            weights,
            ..LoadOptions::default()
        };
        let model = CandleModel::load_files(&files, &opts).expect("model loads");
        let load_model = started.elapsed().as_secs_f64();
        let tasks = candor::suites::tasks(&["truthfulqa_mc"], &data).expect("suite");
        let config = RunConfig {
            task: TaskOptions {
                limit: Some(limit),
                ..Default::default()
            },
            progress: false,
            ..RunConfig::default()
        };
        let out = candor::run(&model, &tasks, &config).expect("run");
        let t = &out.timings;
        println!(
            "| {weights} | {:.1} (+{load_model:.1} model load) | {:.1} | {:.2} | {:.2} | {} ({}) | {:.2} |",
            t.total_s,
            t.model_s,
            t.harness_s,
            t.load_s,
            t.requests,
            t.unique_requests,
            limit as f64 / t.total_s
        );
    }
}
