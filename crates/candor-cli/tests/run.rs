//! `candor run` end to end: the three report files, a valid report.json, identical metrics for
//! identical runs, and clear errors for bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::shared;

mod common;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candor-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn candor(shared: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .env("CANDOR_MODELS", shared.join("models"))
        .env("CANDOR_DATA", shared.join("datasets"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("candor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn run_writes_a_valid_report_and_repeats_exactly() {
    let Some(shared) = shared() else { return };
    let run = |dir: &Path| {
        let args = [
            "run",
            "--suites",
            "truthfulqa_mc,xcopa,xstest",
            "--limit",
            "2",
            "--max-new-tokens",
            "16",
            "--out",
            dir.to_str().unwrap(),
        ];
        let (ok, stdout, stderr) = candor(&shared, &args);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("| xcopa_sw | sw | acc |"), "{stdout}");
        read_json(&dir.join("report.json"))
    };
    let (a, b) = (scratch("a"), scratch("b"));
    let report = run(&a);
    let schema: serde_json::Value = serde_json::from_str(candor::report::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        report["model"]["sha256"],
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert_eq!(report["tasks"].as_array().unwrap().len(), 13);
    assert_eq!(report["suites"][0]["name"], "xcopa");
    let samples = std::fs::read_to_string(a.join("samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count(), 2 + 11 * 2 + 2);
    for line in samples.lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            s["responses"].as_array().unwrap().len() == s["requests"].as_array().unwrap().len()
        );
    }
    assert!(std::fs::read_to_string(a.join("report.md"))
        .unwrap()
        .contains("## Data"));
    // Same model, data, config and seed: the same results.
    let again = run(&b);
    assert_eq!(report["tasks"], again["tasks"]);
    assert_eq!(report["suites"], again["suites"]);
    assert_eq!(
        std::fs::read_to_string(b.join("samples.jsonl")).unwrap(),
        samples
    );
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_no_report() {
    let Some(shared) = shared() else { return };
    let out = scratch("bad");
    let out_s = out.to_str().unwrap();
    let (ok, _, err) = candor(&shared, &["run", "--suites", "xcopa,nope", "--out", out_s]);
    assert!(
        !ok && err.contains("unknown suite 'nope'") && err.contains("truthfulqa_mc"),
        "{err}"
    );

    let empty = scratch("empty-data");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = candor(
        &shared,
        &[
            "run",
            "--suites",
            "multijail",
            "--data-dir",
            empty.to_str().unwrap(),
            "--out",
            out_s,
        ],
    );
    // MultiJail's data does not ship with candor: offline, the error says how to get it.
    assert!(!ok && err.contains("candor pull multijail"), "{err}");

    let broken = scratch("broken-data");
    std::fs::create_dir_all(broken.join("xstest")).unwrap();
    std::fs::write(
        broken.join("xstest/xstest_prompts.csv"),
        "id,prompt,type,label,focus,note\n1,Hi,homonyms,safe,x,y\n2,\"unclosed,homonyms\n",
    )
    .unwrap();
    let (ok, _, err) = candor(
        &shared,
        &[
            "run",
            "--suites",
            "xstest",
            "--data-dir",
            broken.to_str().unwrap(),
            "--out",
            out_s,
        ],
    );
    assert!(!ok && err.contains("xstest/xstest_prompts.csv:3"), "{err}");

    let file = scratch("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let (ok, _, err) = candor(
        &shared,
        &[
            "run",
            "--suites",
            "xcopa",
            "--limit",
            "1",
            "--out",
            file.join("sub").to_str().unwrap(),
        ],
    );
    assert!(
        !ok && err.contains("cannot write to output folder"),
        "{err}"
    );

    assert!(!out.join("report.json").exists() && !out.join("samples.jsonl").exists());
}

#[test]
fn list_shows_suites_tags_languages_and_licences() {
    let Some(shared) = shared() else { return };
    let (ok, stdout, err) = candor(&shared, &["list"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("| xcopa | 11 | multilingual"), "{stdout}");
    assert!(stdout.contains("CC-BY-4.0 | harmful-content"), "{stdout}");
}
