//! The three request kinds on SmolLM2 through the `LanguageModel` API.

mod common;

use std::sync::OnceLock;

use candor_candle::{CandleModel, LoadOptions, ModelFiles, ScoreJob, WeightFormat};
use candor_core::{
    ChatMessage, FinishReason, GenerateRequest, GenerationParams, LanguageModel,
    LoglikelihoodRequest, Prompt, RollingRequest,
};
use common::{read_json, shared, smollm2_path, u32s};

fn model() -> Option<&'static CandleModel> {
    static MODEL: OnceLock<CandleModel> = OnceLock::new();
    let path = smollm2_path()?;
    Some(MODEL.get_or_init(|| {
        let opts = LoadOptions {
            weights: WeightFormat::F32,
            ..LoadOptions::default()
        };
        CandleModel::load_files(&ModelFiles::Gguf(path), &opts).unwrap()
    }))
}

#[test]
fn truthfulqa_logliks_match_lm_evaluation_harness_reference() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let fixture = read_json(shared.join("fixtures/smollm2/truthfulqa_mc.json"));
    let preamble = fixture["prompt"]["preamble"].as_str().unwrap();
    let items = fixture["items"].as_array().unwrap();
    let mut worst = 0f64;
    for item in items.iter().take(12) {
        let context = format!(
            "{preamble}\n\nQ: {}\nA:",
            item["question"].as_str().unwrap()
        );
        for key in ["mc1", "mc2"] {
            let part = &item[key];
            let requests: Vec<LoglikelihoodRequest> = part["choices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    LoglikelihoodRequest::new(context.clone(), format!(" {}", c.as_str().unwrap()))
                })
                .collect();
            let got = model.loglikelihood(&requests).unwrap();
            for (i, g) in got.iter().enumerate() {
                let want = part["loglik"][i].as_f64().unwrap();
                worst = worst.max((g.logprob - want).abs());
                assert_eq!(g.num_tokens as u64, part["num_tokens"][i].as_u64().unwrap());
                assert_eq!(g.is_greedy, part["is_greedy"][i].as_bool().unwrap());
            }
        }
    }
    eprintln!("truthfulqa (12 items): max |Δ loglik| {worst:.2e}");
    assert!(worst <= 5e-3, "{worst}");
}

#[test]
fn trailing_context_whitespace_moves_to_the_continuation() {
    let Some(model) = model() else { return };
    let a = model
        .loglikelihood(&[LoglikelihoodRequest::new(
            "The capital of France is ",
            "Paris",
        )])
        .unwrap();
    let b = model
        .loglikelihood(&[LoglikelihoodRequest::new(
            "The capital of France is",
            " Paris",
        )])
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a[0].num_tokens, 1);
}

#[test]
fn greedy_continuation_is_flagged() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let chat = read_json(shared.join("fixtures/smollm2/reference.json"))["chat_greedy"].clone();
    let prompt = chat["prompt"].as_str().unwrap();
    let answer = chat["text_until_eos"].as_str().unwrap();
    let r = model
        .loglikelihood(&[
            LoglikelihoodRequest::new(prompt, answer),
            LoglikelihoodRequest::new(prompt, "The capital of France is Lyon."),
        ])
        .unwrap();
    assert!(r[0].is_greedy && !r[1].is_greedy);
    assert!(r[0].logprob > r[1].logprob);
}

#[test]
fn rolling_loglikelihood_scores_every_token_after_the_prefix_token() {
    let (Some(model), Some(shared)) = (model(), shared()) else {
        return;
    };
    let reference = read_json(shared.join("fixtures/smollm2/reference.json"));
    let text = reference["texts"][1]["text"].as_str().unwrap();
    let ids = u32s(&reference["texts"][1]["token_ids"]);
    let r = model
        .loglikelihood_rolling(&[RollingRequest::new(text)])
        .unwrap()
        .remove(0);
    assert_eq!(r.num_tokens, ids.len());
    assert_eq!(r.num_bytes, text.len());
    let bos = model.tokenizer().unwrap().bos.unwrap();
    let direct = model
        .score(&[ScoreJob {
            ctx: vec![bos],
            cont: ids,
        }])
        .unwrap()
        .remove(0)
        .total();
    assert!(
        (r.logprob - direct).abs() < 1e-4,
        "{} vs {direct}",
        r.logprob
    );
}

#[test]
fn generation_stops_at_eos_stop_strings_and_length() {
    let Some(model) = model() else { return };
    let prompt = Prompt::Chat(vec![ChatMessage::user("What is the capital of France?")]);
    let run = |params: GenerationParams| {
        model
            .generate(&[GenerateRequest {
                prompt: prompt.clone(),
                params,
            }])
            .unwrap()
            .remove(0)
    };
    let eos = run(GenerationParams {
        max_new_tokens: 30,
        ..Default::default()
    });
    assert_eq!(eos.finish_reason, FinishReason::Eos);
    assert_eq!(eos.text, "The capital of France is Paris.");
    let stop = run(GenerationParams {
        max_new_tokens: 30,
        stop: vec![" Paris".into()],
        ..Default::default()
    });
    assert_eq!(stop.finish_reason, FinishReason::Stop);
    assert_eq!(stop.text, "The capital of France is");
    let length = run(GenerationParams {
        max_new_tokens: 3,
        ..Default::default()
    });
    assert_eq!(
        (length.finish_reason, length.num_tokens),
        (FinishReason::Length, 3)
    );
    let sampled = |seed| {
        run(GenerationParams {
            max_new_tokens: 12,
            temperature: 1.0,
            top_p: 0.95,
            seed,
            ..Default::default()
        })
        .text
    };
    assert_eq!(sampled(11), sampled(11));
    let texts: std::collections::HashSet<String> = (0..4).map(sampled).collect();
    assert!(texts.len() > 1, "four seeds gave one text");
}

#[test]
fn auto_weights_follow_the_kernels_and_the_memory_budget() {
    let Some(path) = smollm2_path() else { return };
    let load = |budget| {
        let opts = LoadOptions {
            memory_budget: Some(budget),
            ..LoadOptions::default()
        };
        CandleModel::load_files(&ModelFiles::Gguf(path.clone()), &opts).unwrap()
    };
    assert!(load(1 << 20).info().weights.starts_with("quantized"));
    // Where candor's SIMD kernels run they take every matmul of this file, and beat f32.
    let simd = candor_kernels::Kernel::available().len() > 1;
    let roomy = load(4 << 30).info().weights.clone();
    if simd {
        assert!(roomy.starts_with("quantized (avx"), "{roomy}");
    } else {
        assert_eq!(roomy, "f32");
    }
    let candle = LoadOptions {
        memory_budget: Some(4 << 30),
        candle_kernels: true,
        ..LoadOptions::default()
    };
    let candle = CandleModel::load_files(&ModelFiles::Gguf(path.clone()), &candle).unwrap();
    assert_eq!(candle.info().weights, "f32", "candle's kernels lose to f32");
}

#[test]
fn half_precision_weights_stay_close_to_the_reference() {
    let (Some(path), Some(shared)) = (smollm2_path(), shared()) else {
        return;
    };
    let reference = read_json(shared.join("fixtures/smollm2/reference.json"));
    let text = &reference["texts"][0];
    let ids = u32s(&text["token_ids"]);
    for weights in [WeightFormat::BF16, WeightFormat::F16] {
        let opts = LoadOptions {
            weights,
            ..LoadOptions::default()
        };
        let model = CandleModel::load_files(&ModelFiles::Gguf(path.clone()), &opts).unwrap();
        let got = model.token_logprobs(&ids).unwrap();
        let mean = got
            .iter()
            .zip(text["next_token_logprobs"].as_array().unwrap())
            .map(|(a, b)| (f64::from(*a) - b.as_f64().unwrap()).abs())
            .sum::<f64>()
            / got.len() as f64;
        eprintln!("{weights}: mean |Δ| {mean:.3} nats/token");
        assert!(mean < 0.2, "{weights}: mean |Δ| {mean}");
    }
}

#[test]
fn batched_generation_equals_one_prompt_at_a_time() {
    let Some(model) = model() else { return };
    let questions = [
        "What is 2+2?",
        "Name a color.",
        "Write a haiku about the sea and the old lighthouse.",
        "Hi",
    ];
    let requests: Vec<GenerateRequest> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| GenerateRequest {
            prompt: Prompt::Chat(vec![ChatMessage::user(*q)]),
            params: GenerationParams {
                max_new_tokens: 10 + 4 * i,
                ..Default::default()
            },
        })
        .collect();
    let together = model.generate(&requests).unwrap();
    for (r, t) in requests.iter().zip(&together) {
        let alone = model.generate(std::slice::from_ref(r)).unwrap().remove(0);
        assert_eq!(&alone, t);
    }
    let sampled = GenerateRequest {
        prompt: Prompt::Text("Once upon a time".into()),
        params: GenerationParams {
            max_new_tokens: 12,
            temperature: 0.9,
            seed: 5,
            ..Default::default()
        },
    };
    let mut mixed = requests.clone();
    mixed.push(sampled.clone());
    let in_batch = model.generate(&mixed).unwrap().pop().unwrap();
    assert_eq!(in_batch, model.generate(&[sampled]).unwrap().remove(0));
}
