//! `truthfulqa_mc` on all 817 questions with f32 weights reproduces the lm-evaluation-harness
//! reference in `shared/fixtures/smollm2/truthfulqa_mc.json`.

use std::path::PathBuf;

use candor::{CandleModel, DataDir, LoadOptions, ModelFiles, Response, RunConfig, WeightFormat};

fn shared() -> Option<PathBuf> {
    candor_data::shared_test_data("fixtures")
}

#[test]
fn all_817_questions_match_the_reference() {
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
    let config = RunConfig {
        progress: false,
        ..RunConfig::default()
    };
    let output = candor::run(&model, &tasks, &config).unwrap();
    let text = std::fs::read_to_string(shared.join("fixtures/smollm2/truthfulqa_mc.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = fixture["items"].as_array().unwrap();
    assert_eq!(output.samples.len(), items.len());
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
    eprintln!(
        "truthfulqa_mc, 817 questions: max |Δ loglik| {worst:.2e}; MC1 {mc1:.4}, MC2 {mc2:.4}; {:.0} s ({:.0} s in the model)",
        output.timings.total_s, output.timings.model_s
    );
    assert!(
        worst <= 5e-3,
        "a choice's log-likelihood differs by {worst}"
    );
    assert!((mc1 - 0.2546).abs() <= 1e-3, "MC1 {mc1}");
    assert!((mc2 - 0.4503).abs() <= 1e-3, "MC2 {mc2}");
}
