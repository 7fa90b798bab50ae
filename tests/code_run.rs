//! Code tasks through `Evaluation`, as `candor run` drives them: the sandbox is checked before
//! the model is asked anything, `--samples` gives n seeded generations per problem, the
//! verdicts are the samples' labels, and the report says where the code ran (`namespaces`, or
//! `unisolated` with `--allow-unsandboxed-code`).

use std::sync::Arc;

use candor::{
    DataDir, Evaluation, FinishReason, GenerateRequest, Generation, LanguageModel, Loglikelihood,
    LoglikelihoodRequest, ModelError, Prompt, RollingLoglikelihood, RollingRequest,
};

/// Answers each request with the text its function gives.
struct Answering(fn(&GenerateRequest) -> String);

impl LanguageModel for Answering {
    fn name(&self) -> &str {
        "answering"
    }

    fn loglikelihood(&self, _: &[LoglikelihoodRequest]) -> Result<Vec<Loglikelihood>, ModelError> {
        Err(ModelError::Backend("not asked".into()))
    }

    fn loglikelihood_rolling(
        &self,
        _: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        Err(ModelError::Backend("not asked".into()))
    }

    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        Ok(requests
            .iter()
            .map(|r| Generation {
                text: (self.0)(r),
                finish_reason: FinishReason::Eos,
                num_tokens: 1,
            })
            .collect())
    }
}

/// HumanEval/0 with a correct body when the seed is even, and a wrong one otherwise.
fn alternating(r: &GenerateRequest) -> String {
    let Prompt::Text(prompt) = &r.prompt else {
        panic!("expected text");
    };
    assert!(prompt.contains("def has_close_elements"), "{prompt}");
    if r.params.seed.is_multiple_of(2) {
        "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])"
    } else {
        "    return False"
    }
    .into()
}

fn data() -> Option<DataDir> {
    candor_data::shared_test_data("datasets").map(|d| DataDir::new(d.join("datasets")))
}

#[test]
fn samples_are_seeded_labelled_and_the_report_says_where_code_ran() {
    let Some(data) = data() else { return };
    for unsandboxed in [false, true] {
        let result = Evaluation::new(Arc::new(Answering(alternating)))
            .suites(["humaneval"])
            .data_dir(data.clone())
            .limit(1)
            .samples(8)
            .allow_unsandboxed_code(unsandboxed)
            .run()
            .unwrap();
        let sample = &result.samples[0];
        // Eight requests with distinct seeds, sampled.
        let seeds: std::collections::BTreeSet<u64> = sample
            .sample
            .requests
            .iter()
            .map(|r| match r {
                candor::Request::Generate(g) => {
                    assert!(g.params.temperature > 0.0);
                    g.params.seed
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(seeds.len(), 8);
        let even = seeds.iter().filter(|s| *s % 2 == 0).count();
        let labels: Vec<&str> = sample.labels.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels.iter().filter(|l| **l == "passed").count(), even);
        assert_eq!(
            labels.iter().filter(|l| **l == "assertion").count(),
            8 - even
        );
        // pass@1 = c / n; pass@8 = 1 when any passed.
        let metric = |name: &str| {
            result.output.tasks[0]
                .metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap()
                .value
        };
        assert!((metric("pass@1") - even as f64 / 8.0).abs() < 1e-12);
        assert_eq!(metric("pass@8"), f64::from(u8::from(even > 0)));
        let report = serde_json::to_value(&result.report).unwrap();
        let want = if unsandboxed {
            "unisolated"
        } else {
            "namespaces"
        };
        assert_eq!(report["code_execution"], want);
        assert!(
            candor::report::markdown(&result.report).contains(if unsandboxed {
                "without the sandbox's namespaces"
            } else {
                "ran in candor's sandbox"
            })
        );
    }
}

#[test]
fn a_humaneval_x_language_without_its_toolchain_is_left_out() {
    let Some(data) = data() else { return };
    // The other test here runs Python only, so the variable cannot reach it.
    std::env::set_var("CANDOR_JAVA", "/nonexistent/java");
    let result = Evaluation::new(Arc::new(Answering(|_| String::new())))
        .suites(["humaneval_x"])
        .data_dir(data)
        .limit(1)
        .run();
    std::env::remove_var("CANDOR_JAVA");
    let result = result.unwrap();
    let names: Vec<&str> = result
        .output
        .tasks
        .iter()
        .map(|t| t.info.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "humaneval_x_python",
            "humaneval_x_cpp",
            "humaneval_x_javascript",
            "humaneval_x_rust"
        ]
    );
    // An empty body fails everywhere else.
    assert!(result
        .samples
        .iter()
        .all(|s| s.labels.iter().all(|l| l.label != "passed")));
}
