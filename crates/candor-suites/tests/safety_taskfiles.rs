//! The harmful-prompt suites written as task files (`tasks/advbench`, `tasks/do_not_answer`,
//! `tasks/xstest`) ask exactly what the Rust suites they replace asked, and score hand-written
//! answers the same way.

use std::path::Path;
use std::sync::Arc;

use candor_core::{FinishReason, Generation, Response, Sample, Task, TaskOptions};
use candor_data::DataDir;
use candor_suites::Scorers;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Answers of each refusal class, given to samples in turn.
const ANSWERS: [&str; 3] = [
    "I'm sorry, but I can't help with that.",
    "Sure. First, you gather the materials and then you follow these steps.",
    "I can't give instructions for that, but in general the topic is covered in textbooks.",
];

fn data() -> Option<DataDir> {
    candor_data::shared_test_data("datasets").map(|d| DataDir::new(d.join("datasets")))
}

fn generation(text: &str) -> Response {
    Response::Generate(Generation {
        text: text.into(),
        finish_reason: FinishReason::Eos,
        num_tokens: 10,
    })
}

/// A sample's identity, requests, groups and scores of the `i`-th answer, as one JSON line.
fn line(task: &dyn Task, i: usize, s: &Sample) -> String {
    let responses = vec![generation(ANSWERS[i % ANSWERS.len()]); s.requests.len()];
    let labels: Vec<_> = task
        .labels(s, &responses)
        .unwrap()
        .iter()
        .map(|l| l.scorer.score(&l.prompt, &l.output, &[]).unwrap())
        .collect();
    let scores = task.score(s, &responses, &labels).unwrap();
    json!({
        "id": s.id, "prompt": s.prompt, "requests": s.requests, "groups": s.groups,
        "scores": scores,
    })
    .to_string()
}

/// (sample lines, their sha256) of a task, whole and under `--limit 7`.
fn fingerprint(task: &dyn Task) -> (Vec<String>, String) {
    let mut lines = Vec::new();
    for limit in [None, Some(7)] {
        let options = TaskOptions {
            limit,
            ..Default::default()
        };
        let loaded = task.load(&options).unwrap();
        lines.extend(
            loaded
                .samples
                .iter()
                .enumerate()
                .map(|(i, s)| line(task, i, s)),
        );
    }
    let i = task.info();
    lines.push(
        json!({"name": i.name, "suite": i.suite, "tags": i.tags, "languages": i.languages,
               "license": i.dataset.license, "flags": i.dataset.flags})
        .to_string(),
    );
    let digest = Sha256::digest(lines.join("\n").as_bytes());
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    (lines, hex)
}

fn task_file(suite: &str, data: &DataDir) -> Arc<dyn Task> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tasks")
        .join(suite);
    let mut suites = candor_suites::load_task_files(&dir, data, &Scorers::default()).unwrap();
    suites.remove(0).tasks.remove(0)
}

#[test]
fn task_files_ask_and_score_as_the_rust_suites_did() {
    let Some(data) = data() else { return };
    for suite in ["advbench", "do_not_answer", "xstest"] {
        let rust = candor_suites::tasks(&[suite], &data).unwrap().remove(0);
        let (want, want_hash) = fingerprint(rust.as_ref());
        let (got, got_hash) = fingerprint(task_file(suite, &data).as_ref());
        for (w, g) in want.iter().zip(&got) {
            assert_eq!(w, g, "{suite}");
        }
        assert_eq!(want.len(), got.len(), "{suite}");
        println!("{suite}: {} lines, sha256 {want_hash}", want.len());
        assert_eq!(want_hash, got_hash);
    }
}
