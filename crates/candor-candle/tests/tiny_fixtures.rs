//! The tiny random Llama of `shared/fixtures/tiny/llama` against transformers' float32 outputs.

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

#[test]
fn llama_logits_logprobs_and_greedy_match_transformers() {
    let Some((model, expected)) = load("llama") else {
        return;
    };
    for seq in expected["sequences"].as_array().unwrap() {
        let ids = u32s(&seq["input_ids"]);
        let logits = model.logits(&ids).unwrap();
        let mut worst = 0f64;
        for (row, want) in logits.iter().zip(seq["logits"].as_array().unwrap()) {
            for (a, b) in row.iter().zip(f64s(want)) {
                worst = worst.max((f64::from(*a) - b).abs());
            }
        }
        assert!(worst <= 1e-4, "logits differ by {worst}");
        let argmax: Vec<u32> = logits.iter().map(|r| candor_candle::argmax(r)).collect();
        assert_eq!(argmax, u32s(&seq["argmax"]));

        let lp = model.token_logprobs(&ids).unwrap();
        let want = f64s(&seq["next_token_logprobs"]);
        assert_eq!(lp.len(), want.len());
        for (a, b) in lp.iter().zip(&want) {
            assert!((f64::from(*a) - b).abs() <= 1e-4, "{a} vs {b}");
        }
        let sum: f64 = lp.iter().map(|&x| f64::from(x)).sum();
        assert!((sum - seq["sum_logprob"].as_f64().unwrap()).abs() <= 1e-3);

        let greedy = &seq["greedy"];
        let params = GenerationParams {
            max_new_tokens: greedy["max_new_tokens"].as_u64().unwrap() as usize,
            ..Default::default()
        };
        let (new, _) = model.generate_ids(&ids, &params, false).unwrap();
        assert_eq!(new, u32s(&greedy["new_tokens"]));
    }
}

#[test]
fn llama_batches_and_shared_prefixes_do_not_change_scores() {
    let Some((model, expected)) = load("llama") else {
        return;
    };
    let seqs: Vec<Vec<u32>> = expected["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| u32s(&s["input_ids"]))
        .collect();
    // Jobs of mixed lengths, two of them sharing a context.
    let mut jobs = Vec::new();
    for s in &seqs {
        for cut in [1, 3, 6] {
            jobs.push(ScoreJob {
                ctx: s[..cut].to_vec(),
                cont: s[cut..].to_vec(),
            });
        }
        jobs.push(ScoreJob {
            ctx: s[..5].to_vec(),
            cont: s[7..9].to_vec(),
        });
        jobs.push(ScoreJob {
            ctx: s[..5].to_vec(),
            cont: s[5..6].to_vec(),
        });
    }
    let together = model.score(&jobs).unwrap();
    for (job, batched) in jobs.iter().zip(&together) {
        let alone = model.score(std::slice::from_ref(job)).unwrap().remove(0);
        for (a, b) in alone.logprobs.iter().zip(&batched.logprobs) {
            assert!((a - b).abs() <= 1e-5, "alone {a} vs batched {b}");
        }
        assert_eq!(alone.greedy, batched.greedy);
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
