//! A guard-judged run on the real model: the judge's requests go through the runner (batched,
//! on the judge's own model), and a judgement that fails marks its sample instead of failing
//! the run. The shared SmolLM2 stands in for a guard model.

use std::path::PathBuf;
use std::sync::Arc;

use candor::{
    CandleModel, DataDir, Evaluation, GenerateRequest, Generation, LanguageModel, LoadOptions,
    Loglikelihood, LoglikelihoodRequest, ModelError, ModelFiles, ModelRecord, RollingLoglikelihood,
    RollingRequest, WeightFormat,
};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    if dir.join("models").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "no shared data at {}",
        dir.display()
    );
    eprintln!("skipping: no shared data");
    None
}

/// The real model as a judge, except that it fails on any guard prompt about `poisoned`.
struct FailsOn {
    inner: Arc<CandleModel>,
    poisoned: String,
}

impl LanguageModel for FailsOn {
    fn name(&self) -> &str {
        "smollm2-judge"
    }
    fn describe(&self) -> ModelRecord {
        ModelRecord {
            name: "smollm2-judge".into(),
            ..self.inner.describe()
        }
    }
    fn loglikelihood(
        &self,
        requests: &[LoglikelihoodRequest],
    ) -> Result<Vec<Loglikelihood>, ModelError> {
        if let Some(index) = requests
            .iter()
            .position(|r| r.context.contains(&self.poisoned))
        {
            return Err(ModelError::InvalidRequest {
                index,
                reason: "the judge refuses this one (test)".into(),
            });
        }
        self.inner.loglikelihood(requests)
    }
    fn loglikelihood_rolling(
        &self,
        requests: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        self.inner.loglikelihood_rolling(requests)
    }
    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        self.inner.generate(requests)
    }
}

#[test]
fn a_failed_judgement_marks_its_sample_and_the_report_is_written() {
    let Some(shared) = shared() else { return };
    let model = Arc::new(
        CandleModel::load_files(
            &ModelFiles::Gguf(shared.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")),
            &LoadOptions {
                weights: WeightFormat::F32,
                ..LoadOptions::default()
            },
        )
        .unwrap(),
    );
    let data = DataDir::new(shared.join("datasets"));
    // The second AdvBench behaviour's judgement fails.
    let tasks = candor::suites::tasks(&["advbench"], &data).unwrap();
    let second = tasks[0]
        .load(&candor::TaskOptions {
            limit: Some(3),
            ..Default::default()
        })
        .unwrap()
        .samples
        .remove(1);
    let judge = Arc::new(FailsOn {
        inner: model.clone(),
        poisoned: format!("User: {}\n", second.prompt),
    });
    let out = std::env::temp_dir().join(format!("candor-judged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let result = Evaluation::new(model)
        .suites(["advbench"])
        .data_dir(data)
        .judge(judge)
        .limit(3)
        .max_new_tokens(16)
        .output(&out)
        .run()
        .unwrap();
    let samples = &result.samples;
    assert_eq!(samples.len(), 3);
    let failed: Vec<_> = samples.iter().filter(|s| s.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].sample.id, second.id);
    let error = failed[0].error.as_ref().unwrap();
    assert!(
        error.scorer.starts_with("guard_judge:smollm2-judge"),
        "{error:?}"
    );
    assert!(
        error.message.contains("the judge refuses this one"),
        "{error:?}"
    );
    // The others were judged: a label with P(unsafe) in [0, 1], and scores.
    for s in samples.iter().filter(|s| s.error.is_none()) {
        assert!((0.0..=1.0).contains(&s.labels[0].score), "{:?}", s.labels);
        assert!(s.scores.contains_key("unsafe_compliance"));
    }
    let task = &result.report.tasks[0];
    assert_eq!((task.num_samples, task.num_errors), (3, 1));
    let unsafe_rate = task
        .metrics
        .iter()
        .find(|m| m.name == "unsafe_compliance")
        .unwrap();
    assert_eq!(unsafe_rate.n, 2);
    // Two judge requests per judged answer, in the run's timings.
    assert_eq!(result.report.timings.judge_requests, 6);
    // The report on disk marks the sample.
    let lines = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    let marked = lines
        .lines()
        .filter(|l| l.contains("\"error\":{\"scorer\":\"guard_judge:"))
        .count();
    assert_eq!(marked, 1);
    assert!(out.join("report.json").exists() && out.join("report.md").exists());
}
