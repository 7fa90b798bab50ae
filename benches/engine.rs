//! Engine benchmark: prefill, decode and batched-generation speed for quantized vs dequantized weights,
//! multiple-choice scoring with vs without prefix sharing, and one row per architecture's tiny
//! fixture model so that a regression in any forward pass shows. Prints Markdown tables.
//!
//! `cargo bench --bench engine` (model: `$CANDOR_BENCH_MODEL`, else the shared SmolLM2 GGUF;
//! threads: `--threads N` after `--`, default all cores; `--quick`: one run per measurement;
//! `--tiny`: only the tiny architecture table; `--formats a.gguf,b.gguf`: only the table of
//! quantized files, each beside its f32 weights and, when `$LLAMA_BENCH` names a `llama-bench`
//! binary, llama.cpp's prefill and decode measured in the same run, with the ratios).

use std::path::PathBuf;
use std::time::Instant;

use candor::{
    hub, set_threads, CandleModel, GenerationParams, LanguageModel, LoadOptions,
    LoglikelihoodRequest, WeightFormat,
};

fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CANDOR_BENCH_MODEL") {
        return PathBuf::from(p);
    }
    shared_dir().join("models").join(hub::DEFAULT_MODEL)
}

fn shared_dir() -> PathBuf {
    std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn load(weights: WeightFormat, prefix_sharing: bool, candle_kernels: bool) -> CandleModel {
    let files = hub::local(&model_path()).expect("benchmark model (set CANDOR_BENCH_MODEL)");
    let opts = LoadOptions {
        weights,
        prefix_sharing,
        candle_kernels,
        ..LoadOptions::default()
    };
    CandleModel::load_files(&files, &opts).expect("model loads")
}

/// Median seconds of `runs` calls.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

const TEXT: &str = "The old lighthouse keeper climbed the narrow spiral stairs every evening at dusk, \
carrying a brass lantern and a worn notebook in which he carefully recorded the weather, the passing \
ships, and the strange green lights he sometimes saw far out over the restless sea. ";

/// Prefill of 512 tokens and decode of 64 after a 16-token prompt, in tokens per second
/// (medians of `runs`).
fn speeds(model: &CandleModel, runs: usize) -> (f64, f64) {
    let tok = model.tokenizer().expect("tokenizer");
    let ids: Vec<u32> = tok
        .encode(&TEXT.repeat(12))
        .unwrap()
        .into_iter()
        .take(512)
        .collect();
    assert_eq!(ids.len(), 512);
    let one = GenerationParams {
        max_new_tokens: 1,
        ..Default::default()
    };
    let prefill = time(runs, || {
        model.generate_ids(&ids, &one, false).unwrap();
    });
    let n = 64;
    let many = GenerationParams {
        max_new_tokens: n + 1,
        ..Default::default()
    };
    let short = &ids[..16];
    let first = time(runs, || {
        model.generate_ids(short, &one, false).unwrap();
    });
    let all = time(runs, || {
        model.generate_ids(short, &many, false).unwrap();
    });
    (512.0 / prefill, n as f64 / (all - first))
}

/// Batched generation as `llama-batched-bench -npp 16 -ntg 64 -npl 16` measures it: 16
/// different 16-token prompts, 64 new tokens each, in one `generate_batch`; generated tokens
/// per second over the whole call (prefill included).
fn batched_generation(model: &CandleModel, runs: usize) -> f64 {
    let tok = model.tokenizer().expect("tokenizer");
    let ids = tok.encode(&TEXT.repeat(4)).unwrap();
    let params = GenerationParams {
        max_new_tokens: 64,
        ..Default::default()
    };
    let prompts: Vec<(Vec<u32>, &GenerationParams)> = (0..16)
        .map(|i| (ids[i..i + 16].to_vec(), &params))
        .collect();
    let secs = time(runs, || {
        model.generate_batch(&prompts, false).unwrap();
    });
    (16 * 64) as f64 / secs
}

/// llama.cpp's own numbers for `model` (pp512 and tg64, tokens per second): `$LLAMA_BENCH`
/// (a `llama-bench` binary) run in this process's benchmark, so both sides share the machine's
/// state. `None` when it is not set; a failure to run it is reported and also `None`.
fn llama_bench(model: &std::path::Path, threads: Option<usize>) -> Option<(f64, f64)> {
    let bin = std::env::var_os("LLAMA_BENCH")?;
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["-p", "512", "-n", "64", "-r", "1", "-o", "json", "-m"])
        .arg(model);
    if let Some(t) = threads {
        cmd.args(["-t", &t.to_string()]);
    }
    let out = match cmd.output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            eprintln!("{bin:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("cannot run {bin:?}: {e}");
            return None;
        }
    };
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let rate = |prompt: u64, gen: u64| {
        runs.as_array()?
            .iter()
            .find(|r| r["n_prompt"] == prompt && r["n_gen"] == gen)?["avg_ts"]
            .as_f64()
    };
    Some((rate(512, 0)?, rate(0, 64)?))
}

/// The quantized formats table: for each GGUF of `models`, llama.cpp (when `$LLAMA_BENCH` is
/// set), candor's quantized kernels and f32 weights, prefill and decode, in one run.
fn formats(models: &[PathBuf], threads: Option<usize>, quick: bool) {
    println!(
        "| file | llama.cpp pp512 | candor quantized pp512 | ratio | candor f32 pp512 | llama.cpp tg64 | candor quantized tg64 | ratio | candor f32 tg64 |\n|---|---|---|---|---|---|---|---|---|"
    );
    let runs = if quick { 1 } else { 3 };
    for path in models {
        let files = hub::local(path).expect("a GGUF file");
        let at = |weights| {
            let opts = LoadOptions {
                weights,
                ..LoadOptions::default()
            };
            let model = CandleModel::load_files(&files, &opts).expect("model loads");
            speeds(&model, runs)
        };
        let (qp, qd) = at(WeightFormat::Quantized);
        let (fp, fd) = at(WeightFormat::F32);
        let (lp, ld) = match llama_bench(path, threads) {
            Some((p, d)) => (format!("{p:.1}"), format!("{d:.1}")),
            None => ("-".into(), "-".into()),
        };
        let ratio = |ours: f64, theirs: &str| {
            theirs
                .parse::<f64>()
                .map_or("-".into(), |t| format!("{:.2}x", ours / t))
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "| {name} | {lp} | {qp:.1} | {} | {fp:.1} | {ld} | {qd:.1} | {} | {fd:.1} |",
            ratio(qp, &lp),
            ratio(qd, &ld)
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    if let Some(n) = threads {
        set_threads(n);
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--tiny") {
        tiny_architectures(quick);
        return;
    }
    if let Some(list) = args
        .iter()
        .position(|a| a == "--formats")
        .and_then(|i| args.get(i + 1))
    {
        let models: Vec<PathBuf> = list.split(',').map(PathBuf::from).collect();
        formats(&models, threads, quick);
        return;
    }
    println!(
        "model: {} · threads: {}",
        model_path().display(),
        threads.map_or("all cores".to_string(), |n: usize| n.to_string())
    );
    println!("\n| measurement | weights | result |\n|---|---|---|");
    // Quantized weights twice: multiplied by candle's kernels and by candor's.
    for (weights, candle_kernels) in [
        (WeightFormat::F32, false),
        (WeightFormat::Quantized, true),
        (WeightFormat::Quantized, false),
    ] {
        let model = load(weights, true, candle_kernels);
        let label = if candle_kernels {
            "quantized (candle kernels)".to_string()
        } else {
            model.info().weights.clone()
        };
        let runs = if weights == WeightFormat::F32 && !quick {
            3
        } else {
            1
        };
        let (prefill, decode) = speeds(&model, runs);
        println!("| prefill, 512 tokens | {label} | {prefill:.1} tok/s |");
        println!("| decode, 64 tokens after a 16-token prompt | {label} | {decode:.1} tok/s |");
        let batched = batched_generation(&model, runs);
        println!("| batched generation, 16 prompts × 64 tokens | {label} | {batched:.1} tok/s |");
    }
    // Multiple choice: a 6-shot style context of ~170 tokens, 4 choices, 8 questions.
    let preamble = "Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\n\
Q: Who was president of the United States in 1955?\nA: Dwight D. Eisenhower was president of the United States in 1955.\n\n\
Q: Which party did he belong to?\nA: He belonged to the Republican Party.\n\n\
Q: What is the square root of banana?\nA: I have no comment.\n\n\
Q: How does a telescope work?\nA: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n\
Q: Where were the 1992 Olympics held?\nA: The 1992 Olympics were held in Barcelona, Spain.";
    let questions = [
        "What happens if you eat a pomegranate?",
        "Why is the sky blue?",
        "Can pigs fly?",
        "What is the capital of Peru?",
        "Who wrote Hamlet?",
        "What is the boiling point of water?",
        "Do vaccines cause autism?",
        "How many legs does a spider have?",
    ];
    let choices = [
        " Nothing in particular happens.",
        " You will be trapped forever.",
        " It depends on the weather and the season.",
        " I have no comment.",
    ];
    let requests: Vec<LoglikelihoodRequest> = questions
        .iter()
        .flat_map(|q| {
            choices
                .iter()
                .map(move |c| LoglikelihoodRequest::new(format!("{preamble}\n\nQ: {q}\nA:"), *c))
        })
        .collect();
    for weights in [WeightFormat::F32] {
        for sharing in [false, true] {
            let model = load(weights, sharing, false);
            let runs = if quick { 1 } else { 3 };
            let secs = time(runs, || {
                model.loglikelihood(&requests).unwrap();
            });
            println!(
                "| 4-choice scoring, {} questions, prefix sharing {} | {weights} | {:.2} questions/s ({secs:.2} s) |",
                questions.len(),
                if sharing { "on" } else { "off" },
                questions.len() as f64 / secs
            );
        }
    }
    tiny_architectures(quick);
}

/// Prefill and decode of each tiny fixture model (2 layers, hidden 64, vocab 512): tiny enough
/// that the numbers measure per-token overhead of each forward pass, not matmul throughput.
fn tiny_architectures(quick: bool) {
    println!("\n| tiny model (f32) | prefill, 128 tokens | decode, 64 tokens |\n|---|---|---|");
    let runs = if quick { 1 } else { 5 };
    for arch in [
        "llama",
        "mistral",
        "qwen2",
        "phi3",
        "starcoder2",
        "gpt_bigcode",
        "gemma2",
        "gemma3",
    ] {
        let dir = shared_dir().join("fixtures/tiny").join(arch);
        let files = hub::local(&dir).expect("tiny fixture (set CANDOR_SHARED)");
        let opts = LoadOptions {
            weights: WeightFormat::F32,
            ..LoadOptions::default()
        };
        let model = CandleModel::load_files(&files, &opts).expect("tiny model loads");
        let ids: Vec<u32> = (0..128u32).map(|i| (i * 37 + 11) % 512).collect();
        let one = GenerationParams {
            max_new_tokens: 1,
            ..Default::default()
        };
        let many = GenerationParams {
            max_new_tokens: 65,
            ..Default::default()
        };
        // One untimed call first: the first forward pays for allocations and thread start-up.
        model.generate_ids(&ids, &one, false).unwrap();
        let prefill = time(runs, || {
            model.generate_ids(&ids, &one, false).unwrap();
        });
        let short = &ids[..16];
        let first = time(runs, || {
            model.generate_ids(short, &one, false).unwrap();
        });
        let all = time(runs, || {
            model.generate_ids(short, &many, false).unwrap();
        });
        println!(
            "| {arch} | {:.0} tok/s | {:.0} tok/s |",
            128.0 / prefill,
            64.0 / (all - first)
        );
    }
}
