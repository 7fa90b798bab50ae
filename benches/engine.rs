//! Engine benchmark: prefill and decode speed for quantized vs dequantized weights,
//! multiple-choice scoring with vs without prefix sharing, and one row per architecture's tiny
//! fixture model so that a regression in any forward pass shows. Prints Markdown tables.
//!
//! `cargo bench --bench engine` (model: `$CANDOR_BENCH_MODEL`, else the shared SmolLM2 GGUF;
//! threads: `--threads N` after `--`, default all cores; `--quick`: one run per measurement;
//! `--tiny`: only the tiny architecture table).

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
        let tok = model.tokenizer().expect("tokenizer");
        let ids: Vec<u32> = tok
            .encode(&TEXT.repeat(12))
            .unwrap()
            .into_iter()
            .take(512)
            .collect();
        assert_eq!(ids.len(), 512);
        let runs = if weights == WeightFormat::F32 && !quick {
            3
        } else {
            1
        };
        let one = GenerationParams {
            max_new_tokens: 1,
            ..Default::default()
        };
        let prefill = time(runs, || {
            model.generate_ids(&ids, &one, false).unwrap();
        });
        println!(
            "| prefill, 512 tokens | {label} | {:.1} tok/s ({prefill:.2} s) |",
            512.0 / prefill
        );
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
        println!(
            "| decode, {n} tokens after a 16-token prompt | {label} | {:.1} tok/s |",
            n as f64 / (all - first)
        );
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
