//! Runner benchmark: wall time of `truthfulqa_mc --limit 200`, how it splits between the model
//! and the harness (loading data, building and deduplicating requests, scoring, aggregation),
//! and what the journal costs: the same run without a journal and with a fresh one (every
//! batch recorded), alternated. Prints a Markdown table.
//!
//! `cargo bench --bench runner [-- --quantized] [--reps N] [--limit N] [--per-call N]` (model:
//! `$CANDOR_BENCH_MODEL`, else the shared SmolLM2 GGUF; data: `$CANDOR_DATA`, else
//! `../shared/datasets`).
//! `--quantized` adds rows for quantized weights, which take about ten times longer.

use std::path::PathBuf;
use std::sync::Arc;

use candor::{hub, CandleModel, DataDir, Evaluation, LanguageModel, LoadOptions, WeightFormat};

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
    let args: Vec<String> = std::env::args().collect();
    let number = |flag: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let reps = number("--reps", 2);
    let limit = number("--limit", 200);
    let per_call = number("--per-call", candor::RunConfig::default().requests_per_call);
    println!(
        "model: {} · truthfulqa_mc --limit {limit} · {per_call} requests per call · {reps} runs each, alternated\n",
        model_path.display()
    );
    println!("| weights | journal | total s | model s | harness s | data load s | requests (unique) | questions/s |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut formats = vec![WeightFormat::F32];
    if args.iter().any(|a| a == "--quantized") {
        formats.push(WeightFormat::Quantized);
    }
    for weights in formats {
        let files = hub::local(&model_path).expect("benchmark model");
        let opts = LoadOptions {
            weights,
            ..LoadOptions::default()
        };
        let model: Arc<dyn LanguageModel> =
            Arc::new(CandleModel::load_files(&files, &opts).expect("model loads"));
        // Wall time and harness time (everything outside the model, the journal included),
        // without and with the journal.
        let mut totals = [0.0f64; 2];
        let mut harness = [0.0f64; 2];
        for rep in 0..reps {
            for (j, journal) in [false, true].into_iter().enumerate() {
                let dir = std::env::temp_dir()
                    .join(format!("candor-bench-runner-{}-{rep}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                let mut eval = Evaluation::new(Arc::clone(&model))
                    .suites(["truthfulqa_mc"])
                    .data_dir(data.clone())
                    .limit(limit)
                    .requests_per_call(per_call);
                if journal {
                    eval = eval.output(&dir);
                }
                let out = eval.run().expect("run").output;
                let _ = std::fs::remove_dir_all(&dir);
                let t = &out.timings;
                totals[j] += t.total_s;
                harness[j] += t.harness_s;
                println!(
                    "| {weights} | {} | {:.2} | {:.2} | {:.3} | {:.3} | {} ({}) | {:.2} |",
                    if journal { "yes" } else { "no" },
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
        println!(
            "\n{weights}: journal overhead {:+.2} % of wall time by harness time ({:.3} s), {:+.2} % by wall time (noisier; {reps} runs each)\n",
            100.0 * (harness[1] - harness[0]) / totals[0],
            (harness[1] - harness[0]) / reps as f64,
            100.0 * (totals[1] - totals[0]) / totals[0]
        );
    }
}
