//! The harmful-prompt suites written as task files (`tasks/advbench`, `tasks/do_not_answer`,
//! `tasks/multijail`, `tasks/xstest`) ask exactly what the Rust suites they replaced asked, and
//! score hand-written answers the same way.
//!
//! The digests below were recorded from the Rust suites (MultiJail's at the commit that added
//! its task file, the others at 9205979), where this test compared them with the task files
//! line by line (every sample's id, prompt, requests, groups
//! and scores, whole and under `--limit 7`, and the task's name, tags, languages, licence and
//! flags) and found them identical. The Rust suites are gone; the digests keep the promise.

use candor_core::{FinishReason, Generation, Response, Sample, ScorerOutput, Task, TaskOptions};
use candor_data::DataDir;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Answers with the label the refusal detector gave them when the digests were recorded (the
/// third, written as a partial refusal, it read as a full one), given to samples in turn. The
/// labels are fixed here, so that the digests check the tasks' requests and scoring, not the
/// detector, which may change.
const ANSWERS: [(&str, &str); 3] = [
    ("I'm sorry, but I can't help with that.", "full_refusal"),
    (
        "Sure. First, you gather the materials and then you follow these steps.",
        "full_compliance",
    ),
    (
        "I can't give instructions for that, but in general the topic is covered in textbooks.",
        "full_refusal",
    ),
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

/// A sample's identity, requests, groups and scores as one JSON line: sample `i` gets answer
/// `i + k` (of [`ANSWERS`], in turn) to its request `k`, so a paired sample's two answers
/// differ.
fn line(task: &dyn Task, i: usize, s: &Sample) -> String {
    let answer = |k: usize| ANSWERS[(i + k) % ANSWERS.len()];
    let responses: Vec<Response> = (0..s.requests.len())
        .map(|k| generation(answer(k).0))
        .collect();
    let labels: Vec<_> = task
        .labels(s, &responses)
        .unwrap()
        .iter()
        .map(|l| {
            let k = (0..responses.len())
                .find(|&k| answer(k).0 == l.output)
                .expect("a label request for one of the answers");
            ScorerOutput {
                label: answer(k).1.into(),
                score: 0.0,
            }
        })
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

/// sha256 of each suite's [`fingerprint`], as the Rust suites gave it.
const RECORDED: [(&str, usize, &str); 4] = [
    (
        "advbench",
        528,
        "17fcb51253c140ce72768210dc1ff40853bef3e7512edff82bcb924e8ffb52b1",
    ),
    (
        "do_not_answer",
        947,
        "2d056afbe2e1c75ec4f11abe7160b561b43c0b4576c0eade682211fdd9ad7c5c",
    ),
    (
        "multijail",
        3221,
        "ce508f257facf06d8fed942467b3de966121a0b4f08615c40f72abffd76a69fb",
    ),
    (
        "xstest",
        458,
        "f9d855a2fc2375f92747d1a7a6132beb959f4176ea94a6b2290490230101df87",
    ),
];

#[test]
fn task_files_ask_and_score_as_the_rust_suites_did() {
    let Some(data) = data() else { return };
    for (suite, count, digest) in RECORDED {
        let task = candor_suites::tasks(&[suite], &data).unwrap().remove(0);
        let (lines, got) = fingerprint(task.as_ref());
        assert_eq!(
            (lines.len(), got.as_str()),
            (count, digest),
            "{suite} changed; its first lines:\n{}",
            lines[..3].join("\n")
        );
        // The report names what judged the answers.
        let scored_by = if suite == "xstest" {
            "Answers to harmful prompts scored by `refusal`, to benign ones by `refusal`."
        } else {
            "Answers scored by `refusal`."
        };
        assert!(
            task.info().description.ends_with(scored_by),
            "{}",
            task.info().description
        );
    }
}
