//! `truthfulqa_mc` with f32 weights reproduces the lm-evaluation-harness reference in
//! `shared/fixtures/smollm2/truthfulqa_mc.json`, question by question: every choice's
//! log-likelihood, each question's MC1 verdict and MC2 score. The first 200 of the 817
//! questions keep CI short (all 817 take about 8 minutes and matched too: MC1 0.2546, MC2
//! 0.4503, max |Δ loglik| 3.0e-4; set `CANDOR_TRUTHFULQA_ALL=1` to run them).

use std::path::PathBuf;

use candor::{CandleModel, DataDir, LoadOptions, ModelFiles, Response, RunConfig, WeightFormat};

fn shared() -> Option<PathBuf> {
    candor_data::shared_test_data("fixtures")
}

#[test]
fn questions_match_the_reference() {
    let Some(shared) = shared() else { return };
    let model = CandleModel::load_files(
        &ModelFiles::Gguf(shared.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")),
        &LoadOptions {
            weights: WeightFormat::F32,
            batch_size: 32,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let tasks =
        candor::suites::tasks(&["truthfulqa_mc"], &DataDir::new(shared.join("datasets"))).unwrap();
    let all = std::env::var_os("CANDOR_TRUTHFULQA_ALL").is_some();
    let config = RunConfig {
        progress: false,
        task: candor::TaskOptions {
            limit: (!all).then_some(200),
            ..candor::TaskOptions::default()
        },
        ..RunConfig::default()
    };
    let output = candor::run(&model, &tasks, &config).unwrap();
    let text = std::fs::read_to_string(shared.join("fixtures/smollm2/truthfulqa_mc.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = fixture["items"].as_array().unwrap();
    let items = &items[..output.samples.len()];
    assert_eq!(output.samples.len(), if all { 817 } else { 200 });
    let mut worst = 0f64;
    for (sample, item) in output.samples.iter().zip(items) {
        let want: Vec<f64> = ["mc1", "mc2"]
            .iter()
            .flat_map(|k| {
                item[k]["loglik"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
            })
            .collect();
        assert_eq!(sample.responses.len(), want.len());
        for (r, w) in sample.responses.iter().zip(&want) {
            let Response::Loglikelihood(l) = r else {
                panic!("{r:?}")
            };
            worst = worst.max((l.logprob - w).abs());
        }
        if item["mc1_margin"].as_f64().unwrap() > 1e-2 {
            let correct = item["mc1_correct"].as_bool().unwrap();
            assert_eq!(
                sample.scores["mc1"] == 1.0,
                correct,
                "question {}",
                sample.sample.id
            );
        }
    }
    let metric = |name: &str| {
        output.tasks[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap()
            .value
    };
    let (mc1, mc2) = (metric("mc1"), metric("mc2"));
    let n = items.len() as f64;
    let mean = |f: &dyn Fn(&serde_json::Value) -> f64| items.iter().map(f).sum::<f64>() / n;
    let want_mc1 = mean(&|i| f64::from(u8::from(i["mc1_correct"].as_bool().unwrap())));
    let want_mc2 = mean(&|i| i["mc2_score"].as_f64().unwrap());
    eprintln!(
        "truthfulqa_mc, {} questions: max |Δ loglik| {worst:.2e}; MC1 {mc1:.4} (reference {want_mc1:.4}), MC2 {mc2:.4} (reference {want_mc2:.4}); {:.0} s ({:.0} s in the model)",
        items.len(),
        output.timings.total_s,
        output.timings.model_s
    );
    assert!(
        worst <= 5e-3,
        "a choice's log-likelihood differs by {worst}"
    );
    // MC1 may differ only on near-ties (margin ≤ 0.01, not checked above): one question.
    assert!((mc1 - want_mc1).abs() <= 1.0 / n + 1e-12, "MC1 {mc1}");
    assert!((mc2 - want_mc2).abs() <= 1e-3, "MC2 {mc2}");
    if all {
        assert!((mc1 - 0.2546).abs() <= 1e-3, "MC1 {mc1}");
        assert!((mc2 - 0.4503).abs() <= 1e-3, "MC2 {mc2}");
    }
}
