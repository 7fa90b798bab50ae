//! The tiny random models of `shared/fixtures/tiny/<arch>`, one per architecture, against
//! transformers' float32 outputs, and the engine's batching and prefix sharing on each.

mod common;

use candor_candle::{CandleModel, LoadOptions, ModelFiles, ScoreJob, WeightFormat};
use candor_core::GenerationParams;
use common::{f64s, read_json, shared, u32s};

fn load(arch: &str) -> Option<(CandleModel, serde_json::Value)> {
    let dir = shared()?.join("fixtures/tiny").join(arch);
    let files = candor_candle::hub::local(&dir).expect("fixture folder");
    assert!(matches!(files, ModelFiles::Safetensors { .. }));
    let opts = LoadOptions {
        weights: WeightFormat::F32,
        ..LoadOptions::default()
    };
    let model = CandleModel::load_files(&files, &opts).expect("tiny model loads");
    Some((model, read_json(dir.join("expected.json"))))
}

/// Every architecture folder of `fixtures/tiny`.
const ARCHS: &[&str] = &[
    "llama",
    "mistral",
    "qwen2",
    "phi3",
    "starcoder2",
    "gpt_bigcode",
    "gemma2",
    "gemma3",
];

fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).abs())
        .fold(0.0, f64::max)
}

fn check_against_transformers(arch: &str) {
    let Some((model, expected)) = load(arch) else {
        return;
    };
    assert_eq!(model.info().architecture, expected["config_model_type"]);
    for (s, seq) in expected["sequences"].as_array().unwrap().iter().enumerate() {
        let ids = u32s(&seq["input_ids"]);
        let logits = model.logits(&ids).unwrap();
        for (pos, (row, want)) in logits
            .iter()
            .zip(seq["logits"].as_array().unwrap())
            .enumerate()
        {
            let worst = max_abs_diff(row, &f64s(want));
            assert!(
                worst <= 1e-4,
                "{arch} seq {s} position {pos}: logits differ by {worst}"
            );
        }
        let argmax: Vec<u32> = logits.iter().map(|r| candor_candle::argmax(r)).collect();
        assert_eq!(argmax, u32s(&seq["argmax"]), "{arch} seq {s}: argmax");

        let lp = model.token_logprobs(&ids).unwrap();
        let want = f64s(&seq["next_token_logprobs"]);
        let worst = max_abs_diff(&lp, &want);
        assert!(worst <= 1e-4, "{arch} seq {s}: log-probs differ by {worst}");
        let sum: f64 = lp.iter().map(|&x| f64::from(x)).sum();
        assert!((sum - seq["sum_logprob"].as_f64().unwrap()).abs() <= 1e-3);

        // Greedy decoding through the KV cache, EOS ignored as the reference did.
        let greedy = &seq["greedy"];
        let params = GenerationParams {
            max_new_tokens: greedy["max_new_tokens"].as_u64().unwrap() as usize,
            ..Default::default()
        };
        let (new, _) = model.generate_ids(&ids, &params, false).unwrap();
        assert_eq!(new, u32s(&greedy["new_tokens"]), "{arch} seq {s}: greedy");
    }
}

#[test]
fn llama_matches_transformers() {
    check_against_transformers("llama");
}

#[test]
fn mistral_matches_transformers() {
    check_against_transformers("mistral");
}

#[test]
fn qwen2_matches_transformers() {
    check_against_transformers("qwen2");
}

#[test]
fn phi3_matches_transformers() {
    check_against_transformers("phi3");
}

#[test]
fn starcoder2_matches_transformers() {
    check_against_transformers("starcoder2");
}

#[test]
fn gpt_bigcode_matches_transformers() {
    check_against_transformers("gpt_bigcode");
}

#[test]
fn gemma2_matches_transformers() {
    check_against_transformers("gemma2");
}

#[test]
fn gemma3_matches_transformers() {
    check_against_transformers("gemma3");
}

/// Jobs of mixed lengths over both fixture sequences joined (28 tokens, past Gemma's window of
/// 8): some share a context, some share a long preamble (which the engine computes once).
fn mixed_jobs(expected: &serde_json::Value) -> Vec<ScoreJob> {
    let seq: Vec<u32> = expected["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| u32s(&s["input_ids"]))
        .collect();
    let mut jobs = Vec::new();
    for cut in [1, 3, 6, 12, 20] {
        jobs.push(ScoreJob {
            ctx: seq[..cut].to_vec(),
            cont: seq[cut..(cut + 7).min(seq.len())].to_vec(),
        });
    }
    // Two continuations of one context, and contexts sharing an 18-token preamble.
    for cont in [&seq[20..21], &seq[24..28]] {
        jobs.push(ScoreJob {
            ctx: seq[..20].to_vec(),
            cont: cont.to_vec(),
        });
    }
    for tail in [&[5u32, 6][..], &[7, 8, 9, 10], &[11]] {
        let mut ctx = seq[..18].to_vec();
        ctx.extend_from_slice(tail);
        jobs.push(ScoreJob {
            ctx,
            cont: seq[18..23].to_vec(),
        });
    }
    jobs
}

#[test]
fn batches_and_shared_prefixes_do_not_change_scores() {
    for arch in ARCHS {
        let Some((model, expected)) = load(arch) else {
            return;
        };
        let jobs = mixed_jobs(&expected);
        let together = model.score(&jobs).unwrap();
        for (job, batched) in jobs.iter().zip(&together) {
            // Alone: no batch neighbours and no shared preamble.
            let alone = model.score(std::slice::from_ref(job)).unwrap().remove(0);
            for (a, b) in alone.logprobs.iter().zip(&batched.logprobs) {
                assert!((a - b).abs() <= 1e-5, "{arch}: alone {a} vs batched {b}");
            }
            assert_eq!(alone.greedy, batched.greedy, "{arch}");
            // And the same as one plain forward over the whole text.
            let whole: Vec<u32> = job.ctx.iter().chain(&job.cont).copied().collect();
            let plain = model.token_logprobs(&whole).unwrap();
            let tail = &plain[plain.len() - job.cont.len()..];
            for (a, b) in alone.logprobs.iter().zip(tail) {
                assert!((a - b).abs() <= 1e-5, "{arch}: scored {a} vs plain {b}");
            }
        }
    }
}

#[test]
fn batched_generation_matches_one_row_at_a_time() {
    for arch in ARCHS {
        let Some((model, expected)) = load(arch) else {
            return;
        };
        let seqs: Vec<Vec<u32>> = expected["sequences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| u32s(&s["input_ids"]))
            .collect();
        // Prompts of different lengths decode together with per-row positions and masks.
        let prompts = [seqs[0].clone(), seqs[1].clone(), seqs[0][..4].to_vec()];
        let params = GenerationParams {
            max_new_tokens: 12,
            ..Default::default()
        };
        let batch: Vec<(Vec<u32>, &GenerationParams)> =
            prompts.iter().map(|p| (p.clone(), &params)).collect();
        let together = model.generate_batch(&batch, false).unwrap();
        for (prompt, (batched, _)) in prompts.iter().zip(&together) {
            let (alone, _) = model.generate_ids(prompt, &params, false).unwrap();
            assert_eq!(&alone, batched, "{arch}: prompt of {} tokens", prompt.len());
        }
    }
}

#[test]
fn sharded_checkpoints_load_through_their_index() {
    let Some((model, _)) = load("llama") else {
        return;
    };
    let src = shared().unwrap().join("fixtures/tiny/llama");
    let dir = std::env::temp_dir().join(format!("candor-sharded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
    let tensors =
        candle_core::safetensors::load(src.join("model.safetensors"), &candle_core::Device::Cpu)
            .unwrap();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let mut weight_map = serde_json::Map::new();
    for (i, chunk) in names.chunks(names.len().div_ceil(2)).enumerate() {
        let file = format!("model-0000{}-of-00002.safetensors", i + 1);
        let part: std::collections::HashMap<String, candle_core::Tensor> = chunk
            .iter()
            .map(|n| ((*n).clone(), tensors[*n].clone()))
            .collect();
        candle_core::safetensors::save(&part, dir.join(&file)).unwrap();
        for n in chunk {
            weight_map.insert((*n).clone(), file.clone().into());
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let files = candor_candle::hub::local(&dir).unwrap();
    let ModelFiles::Safetensors { files: shards, .. } = &files else {
        panic!("{files:?}")
    };
    assert_eq!(shards.len(), 2);
    let sharded = CandleModel::load_files(&files, &LoadOptions::default()).unwrap();
    let ids = [82, 405, 77, 297, 157];
    assert_eq!(sharded.logits(&ids).unwrap(), model.logits(&ids).unwrap());
}
