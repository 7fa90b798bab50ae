//! SmolLM2-135M-Instruct (Q4_1 GGUF) against `shared/fixtures/smollm2/reference.json`, made by
//! transformers with the weights dequantised to float32.
//!
//! Measured deviations are printed (`cargo test -- --nocapture`) so they can be reported.

mod common;

use std::sync::OnceLock;

use candor_candle::{CandleModel, LoadOptions, ScoreJob, WeightFormat};
use candor_core::{GenerationParams, LanguageModel, LoglikelihoodRequest};
use common::{f64s, read_json, shared, smollm2_path, u32s};

fn model(weights: WeightFormat) -> Option<&'static CandleModel> {
    static F32: OnceLock<CandleModel> = OnceLock::new();
    static QUANT: OnceLock<CandleModel> = OnceLock::new();
    let cell = match weights {
        WeightFormat::F32 => &F32,
        _ => &QUANT,
    };
    load(cell, weights, false)
}

/// Quantized weights multiplied by candle's kernels instead of candor's.
fn candle_quantized() -> Option<&'static CandleModel> {
    static CANDLE: OnceLock<CandleModel> = OnceLock::new();
    load(&CANDLE, WeightFormat::Quantized, true)
}

fn load(
    cell: &'static OnceLock<CandleModel>,
    weights: WeightFormat,
    candle_kernels: bool,
) -> Option<&'static CandleModel> {
    let path = smollm2_path()?;
    Some(cell.get_or_init(|| {
        let files = candor_candle::hub::local(&path).expect("model file");
        let opts = LoadOptions {
            weights,
            candle_kernels,
            ..LoadOptions::default()
        };
        CandleModel::load_files(&files, &opts).expect("SmolLM2 loads")
    }))
}

fn reference() -> Option<serde_json::Value> {
    Some(read_json(shared()?.join("fixtures/smollm2/reference.json")))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn f32_weights_match_the_reference_per_token() {
    let (Some(model), Some(reference)) = (model(WeightFormat::F32), reference()) else {
        return;
    };
    let tok = model.tokenizer().unwrap();
    for text in reference["texts"].as_array().unwrap() {
        let ids = tok.encode(text["text"].as_str().unwrap()).unwrap();
        assert_eq!(
            ids,
            u32s(&text["token_ids"]),
            "token ids of {}",
            text["name"]
        );
        let got = model.token_logprobs(&ids).unwrap();
        let want = f64s(&text["next_token_logprobs"]);
        let diffs: Vec<f64> = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (f64::from(*a) - b).abs())
            .collect();
        let max = diffs.iter().copied().fold(0.0, f64::max);
        let total: f64 = got.iter().map(|&x| f64::from(x)).sum();
        let dtotal = (total - text["total_loglik"].as_f64().unwrap()).abs();
        eprintln!(
            "f32 {}: max |Δ| {max:.2e}, mean |Δ| {:.2e}, |Δ total| {dtotal:.2e}",
            text["name"],
            diffs.iter().sum::<f64>() / diffs.len() as f64
        );
        assert!(max <= 2e-3, "{}: max per-token diff {max}", text["name"]);
        assert!(dtotal <= 2e-2, "{}: total diff {dtotal}", text["name"]);
    }
}

#[test]
fn f32_weights_reproduce_the_greedy_chat() {
    let (Some(model), Some(reference)) = (model(WeightFormat::F32), reference()) else {
        return;
    };
    let chat = &reference["chat_greedy"];
    let prompt = model
        .tokenizer()
        .unwrap()
        .encode(chat["prompt"].as_str().unwrap())
        .unwrap();
    assert_eq!(prompt, u32s(&chat["prompt_ids"]));
    let params = GenerationParams {
        max_new_tokens: 24,
        ..Default::default()
    };
    let (new, _) = model.generate_ids(&prompt, &params, false).unwrap();
    assert_eq!(new, u32s(&chat["new_token_ids"]));
    let text = model.tokenizer().unwrap().decode(&new, false).unwrap();
    assert_eq!(text, chat["new_text"].as_str().unwrap());
}

#[test]
fn quantized_weights_stay_within_the_statistical_bounds() {
    let (Some(model), Some(candle), Some(reference)) = (
        model(WeightFormat::Quantized),
        candle_quantized(),
        reference(),
    ) else {
        return;
    };
    assert!(
        model.info().weights.starts_with("quantized ("),
        "candor's kernels multiply Q4_1: {}",
        model.info().weights
    );
    assert_eq!(candle.info().weights, "quantized");
    for text in reference["texts"].as_array().unwrap() {
        let ids = u32s(&text["token_ids"]);
        let want = f64s(&text["next_token_logprobs"]);
        for (kernels, model) in [("candor", model), ("candle", candle)] {
            let got: Vec<f64> = model
                .token_logprobs(&ids)
                .unwrap()
                .iter()
                .map(|&x| f64::from(x))
                .collect();
            let n = want.len() as f64;
            let mean = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / n;
            let max = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            let r = pearson(&got, &want);
            let dtotal = (got.iter().sum::<f64>() - want.iter().sum::<f64>()).abs();
            eprintln!("quantized, {kernels} kernels, {}: mean |Δ| {mean:.3}, max |Δ| {max:.3}, r {r:.4}, |Δ total| {dtotal:.3} over {n} tokens", text["name"]);
            assert!(
                mean <= 0.1 && r >= 0.99,
                "{kernels} {}: mean {mean}, r {r}",
                text["name"]
            );
            assert!(max <= 2.5, "{kernels} {}: max {max}", text["name"]);
            assert!(
                dtotal <= 0.05 * n,
                "{kernels} {}: total diff {dtotal}",
                text["name"]
            );
        }
    }
    let chat = &reference["chat_greedy"];
    let margins = f64s(&chat["top1_minus_top2_logit"]);
    let trusted = margins
        .iter()
        .position(|&m| m < 1.0)
        .unwrap_or(margins.len());
    let params = GenerationParams {
        max_new_tokens: trusted,
        ..Default::default()
    };
    let (new, _) = model
        .generate_ids(&u32s(&chat["prompt_ids"]), &params, false)
        .unwrap();
    assert_eq!(new, u32s(&chat["new_token_ids"])[..trusted]);
}

/// Sixteen requests of mixed lengths, some sharing contexts, from the reference texts.
fn mixed_jobs(reference: &serde_json::Value) -> Vec<ScoreJob> {
    let texts: Vec<Vec<u32>> = reference["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| u32s(&t["token_ids"]))
        .collect();
    let mut jobs = Vec::new();
    for (i, cut) in [2usize, 5, 9, 14, 20, 27, 33, 40].iter().enumerate() {
        let t = &texts[i % texts.len()];
        jobs.push(ScoreJob {
            ctx: t[..*cut].to_vec(),
            cont: t[*cut..(*cut + 3 + i * 2).min(t.len())].to_vec(),
        });
        let u = &texts[(i + 1) % texts.len()];
        jobs.push(ScoreJob {
            ctx: u[..cut + 1].to_vec(),
            cont: u[cut + 1..].to_vec(),
        });
    }
    jobs
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn f32_scores_do_not_depend_on_the_batch() {
    let (Some(model), Some(reference)) = (model(WeightFormat::F32), reference()) else {
        return;
    };
    let jobs = mixed_jobs(&reference);
    assert_eq!(jobs.len(), 16);
    let together = model.score(&jobs).unwrap();
    let mut worst = 0f64;
    for (job, batched) in jobs.iter().zip(&together) {
        let alone = model.score(std::slice::from_ref(job)).unwrap().remove(0);
        worst = worst.max(max_diff(&alone.logprobs, &batched.logprobs));
    }
    eprintln!("f32 alone vs batch of 16: max |Δ| per token {worst:.2e}");
    // candor's dense kernel and attention keep a row's arithmetic its own, and the padding of
    // a mixed batch is skipped: the same bits alone and batched.
    assert_eq!(worst, 0.0, "the batch moves an f32 score by {worst}");
}

#[test]
fn f32_prefix_sharing_equals_scoring_each_choice_from_scratch() {
    let (Some(model), Some(_)) = (model(WeightFormat::F32), reference()) else {
        return;
    };
    let worst = prefix_sharing_gap(model);
    eprintln!("f32 shared prefix vs from scratch: max |Δ| {worst:.2e}");
    assert_eq!(worst, 0.0, "prefix sharing changes an f32 score by {worst}");
}

/// Largest difference between scoring 4 choices with the shared context computed once and
/// scoring each (context, choice) alone.
fn prefix_sharing_gap(model: &CandleModel) -> f64 {
    // Two questions after one preamble: each question's choices share its context, and the
    // second context reuses the preamble computed for the first.
    let preamble = "Q: What is the boiling point of water at sea level?\nA: 100 degrees Celsius.\n\nQ: Who wrote Hamlet?\nA: William Shakespeare wrote Hamlet.\n\n";
    let choices = [
        " Mars",
        " Venus",
        " Jupiter, the largest planet",
        " Mercury",
    ];
    let requests: Vec<LoglikelihoodRequest> = [
        "Which planet is known as the red planet?",
        "Which planet is closest to the sun?",
    ]
    .iter()
    .flat_map(|q| {
        choices
            .iter()
            .map(move |c| LoglikelihoodRequest::new(format!("{preamble}Q: {q}\nA:"), *c))
    })
    .collect();
    let shared = model.loglikelihood(&requests).unwrap();
    let mut worst = 0f64;
    for (r, s) in requests.iter().zip(&shared) {
        let alone = model
            .loglikelihood(std::slice::from_ref(r))
            .unwrap()
            .remove(0);
        worst = worst.max((alone.logprob - s.logprob).abs());
    }
    worst
}

#[test]
fn quantized_scores_are_repeatable_and_do_not_depend_on_the_batch() {
    let (Some(model), Some(reference)) = (model(WeightFormat::Quantized), reference()) else {
        return;
    };
    let jobs = mixed_jobs(&reference);
    let together = model.score(&jobs).unwrap();
    let again = model.score(&jobs).unwrap();
    for (a, b) in together.iter().zip(&again) {
        assert_eq!(
            a.logprobs, b.logprobs,
            "the same batch must give bit-identical scores"
        );
    }
    let batch_gap = jobs
        .iter()
        .zip(&together)
        .map(|(job, batched)| {
            let alone = model.score(std::slice::from_ref(job)).unwrap().remove(0);
            max_diff(&alone.logprobs, &batched.logprobs)
        })
        .fold(0.0, f64::max);
    // candor's matmuls quantize each row alone and its attention visits only a row's own
    // keys, in a fixed order: nothing in a row's arithmetic depends on the batch.
    let prefix_gap = prefix_sharing_gap(model);
    eprintln!("quantized alone vs batch of 16: max |Δ| per token {batch_gap:.2e}");
    eprintln!("quantized shared prefix vs from scratch: max |Δ| {prefix_gap:.2e}");
    assert!(
        batch_gap <= 1e-4,
        "the batch moves a quantized score by {batch_gap}"
    );
    assert!(
        prefix_gap <= 1e-4,
        "prefix sharing moves a quantized score by {prefix_gap}"
    );
}
