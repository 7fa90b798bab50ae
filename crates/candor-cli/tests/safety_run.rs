//! `candor run` on every safety suite with a tiny limit: a schema-valid report whose `safety`
//! section pools unsafe compliance per language and per hazard, with the suites' breakdowns
//! in report.json and report.md. Short generations keep the model time to a few seconds.

use std::path::Path;
use std::process::Command;

use common::shared;

mod common;

#[test]
fn safety_suites_report_breakdowns_and_the_safety_matrix() {
    let Some(shared) = shared() else { return };
    let out = std::env::temp_dir().join(format!("candor-safety-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let result = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "run",
            "--suites",
            "advbench,do_not_answer,multijail,jailbreak,bbq,crows_pairs,toxigen,xstest",
            "--limit",
            "1",
            "--max-new-tokens",
            "4",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("CANDOR_MODELS", shared.join("models"))
        .env("CANDOR_DATA", shared.join("datasets"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("candor runs");
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(Path::new(&out).join(name)).unwrap();
    let report: serde_json::Value = serde_json::from_str(&read("report.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(candor::report::SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let task = |name: &str| {
        report["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["info"]["name"] == name)
            .unwrap_or_else(|| panic!("no task {name}"))
            .clone()
    };
    assert_eq!(
        task("multijail")["breakdowns"]["language"]
            .as_object()
            .unwrap()
            .len(),
        10
    );
    assert!(task("multijail")["breakdowns"]["tier"]["low"].is_array());
    assert!(task("jailbreak")["breakdowns"]["wrapper"]["none"].is_array());
    assert!(task("do_not_answer")["breakdowns"]["risk_area"].is_object());
    assert!(task("bbq_age")["breakdowns"]["context_condition"]["ambig"].is_array());
    assert!(task("crows_pairs")["breakdowns"]["bias_type"].is_object());
    assert!(task("toxigen")["breakdowns"]["target_group"].is_object());

    // The matrix: 10 MultiJail languages; English unsafe compliance pools AdvBench,
    // Do-Not-Answer and MultiJail (XSTest's first prompt is a safe one), and only English has
    // over-refusal data.
    let languages = report["safety"]["languages"].as_array().unwrap();
    assert_eq!(languages.len(), 10);
    let en = languages.iter().find(|l| l["language"] == "en").unwrap();
    let n = en["unsafe_compliance"]["n"].as_u64().unwrap();
    assert_eq!(n, 3, "{en}");
    assert_eq!(en["over_refusal"]["n"], 1);
    let sw = languages.iter().find(|l| l["language"] == "sw").unwrap();
    assert!(sw["over_refusal"].is_null());
    assert!(!report["safety"]["hazards"].as_array().unwrap().is_empty());

    let md = read("report.md");
    for heading in [
        "## Safety × language",
        "## Unsafe compliance by hazard",
        "### multijail by tier",
        "### jailbreak by wrapper",
        "### bbq_age by context_condition",
    ] {
        assert!(md.contains(heading), "no '{heading}' in report.md");
    }
    assert!(md.contains("non-commercial"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_guard_model_can_judge_the_safety_suites() {
    let Some(shared) = shared() else { return };
    let out = std::env::temp_dir().join(format!("candor-judge-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // SmolLM2 stands in for a guard model: the verdicts mean nothing, the plumbing is real.
    let result = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "run",
            "--suites",
            "advbench,toxigen",
            "--limit",
            "2",
            "--max-new-tokens",
            "4",
            "--weights",
            "f32",
            "--judge",
            "default",
            "--out",
            out.to_str().unwrap(),
        ])
        .env("CANDOR_MODELS", shared.join("models"))
        .env("CANDOR_DATA", shared.join("datasets"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("candor runs");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (name, metric) in [("advbench", "unsafe_compliance"), ("toxigen", "toxic")] {
        let task = report["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["info"]["name"] == name)
            .unwrap_or_else(|| panic!("no task {name}"));
        let description = task["info"]["description"].as_str().unwrap();
        assert!(
            description.contains("scored by `guard_judge:SmolLM2"),
            "{description}"
        );
        let value = task["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == metric)
            .unwrap_or_else(|| panic!("{name}: no {metric} in {task}"));
        let v = value["value"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v) && value["n"] == 2, "{value}");
    }
}
