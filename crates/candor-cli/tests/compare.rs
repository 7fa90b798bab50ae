//! `candor compare` on run folders written by `candor::report::write` from runs built in code:
//! the Markdown table, the HTML page, `--fail-if-worse`'s exit status, and the refusals when
//! prompts or data files differ. (BENCHMARKS.md has the comparison of two real runs.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use candor::report::{Environment, ModelRecord, Report};
use candor::{
    DataFile, DatasetInfo, MetricValue, RunConfig, RunOutput, Sample, ScoredSample, TaskInfo,
    TaskResult,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candor-compare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn file(sha: &str) -> DataFile {
    DataFile {
        path: "toy/docs.jsonl".into(),
        sha256: sha.into(),
        bytes: 100,
    }
}

fn task(name: &str, language: &str, metric: &str, values: &[f64], sha: &str) -> TaskResult {
    let n = values.len();
    TaskResult {
        info: TaskInfo {
            reference_language: None,
            name: name.into(),
            suite: "toy".into(),
            description: String::new(),
            tags: Vec::new(),
            languages: vec![language.into()],
            dataset: DatasetInfo {
                name: "toy".into(),
                license: "CC-BY-4.0".into(),
                flags: Vec::new(),
                source: "test".into(),
                files: Vec::new(),
            },
        },
        metrics: vec![MetricValue {
            name: metric.into(),
            value: values.iter().sum::<f64>() / n as f64,
            stderr: None,
            n,
        }],
        breakdowns: BTreeMap::new(),
        num_samples: n,
        num_errors: 0,
        files: vec![file(sha)],
    }
}

fn sample(task: &str, id: usize, prompt: &str, metric: &str, value: f64) -> ScoredSample {
    ScoredSample {
        task: task.into(),
        sample: Sample {
            id: id.to_string(),
            prompt: prompt.into(),
            requests: Vec::new(),
            groups: BTreeMap::new(),
            target: serde_json::Value::Null,
        },
        responses: Vec::new(),
        labels: Vec::new(),
        scores: BTreeMap::from([(metric.to_string(), value)]),
        error: None,
    }
}

/// A run of two tasks on 20 documents: `toy_sw` (0/1 accuracy) and `toy_en` (a continuous
/// mc2-like score), written as `candor run` writes its folder.
fn write_run(dir: &Path, weights: &str, acc: &[f64], mc2: &[f64], sha: &str, edit: Option<usize>) {
    let prompt = |i: usize| {
        if edit == Some(i) {
            format!("question {i}, reworded")
        } else {
            format!("question {i}")
        }
    };
    let mut samples: Vec<ScoredSample> = (0..acc.len())
        .map(|i| sample("toy_sw", i, &prompt(i), "acc", acc[i]))
        .collect();
    samples.extend((0..mc2.len()).map(|i| sample("toy_en", i, &prompt(i), "mc2", mc2[i])));
    let output = RunOutput {
        tasks: vec![
            task("toy_sw", "sw", "acc", acc, sha),
            task("toy_en", "en", "mc2", mc2, sha),
        ],
        suites: Vec::new(),
        samples,
        timings: candor_core::Timings::default(),
    };
    let model = ModelRecord {
        spec: "toy".into(),
        name: "toy-model".into(),
        path: "toy.gguf".into(),
        sha256: "ab".repeat(32),
        architecture: "llama".into(),
        parameters: 1,
        quantization: "F32 × 1".into(),
        weights: weights.into(),
        context_length: 64,
        ..ModelRecord::default()
    };
    let report = Report::new(
        model,
        vec!["toy".into()],
        RunConfig::default(),
        Environment::current("cpu", 1),
        &output,
    );
    candor::report::write(dir, &report, &output.samples).unwrap();
}

fn candor(args: &[&Path], flags: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .arg("compare")
        .args(args)
        .args(flags)
        .output()
        .expect("candor runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn compare_tables_html_and_fail_if_worse() {
    let (a, b) = (scratch("a"), scratch("b"));
    // A gets all 20 right; B loses 12 and gains none: McNemar 12/0, p = 2 / 2¹² = 0.000488;
    // Agresti–Min: (0.5 − 12.5) / 22 = −0.5455 ± 1.96·√((0.5682 + 0.0227 − 0.2975) / 22),
    // so [−0.7718, −0.3191]. Holm over the two tasks: 1/10001 · 2 = 0.0002, then
    // max(0.0002, 0.000488 · 1) = 0.000488.
    let acc_a = vec![1.0; 20];
    let acc_b: Vec<f64> = (0..20).map(|i| if i < 12 { 0.0 } else { 1.0 }).collect();
    let mc2_a: Vec<f64> = (0..20).map(|i| 0.3 + 0.01 * f64::from(i)).collect();
    let mc2_b: Vec<f64> = mc2_a.iter().map(|v| v + 0.001).collect();
    write_run(&a, "f32", &acc_a, &mc2_a, "11", None);
    write_run(&b, "quantized", &acc_b, &mc2_b, "11", None);
    assert!(a.join("report.html").is_file());

    let page = scratch("page").with_extension("html");
    let (code, out, err) = candor(&[&a, &b], &["--html", page.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains(
            "| toy_sw | acc | 20 | 1.0000 | 0.4000 | -0.6000 [-0.7718, -0.3191] | McNemar 12/0 | 0.0005 | 0.0005 | B worse |"
        ),
        "{out}"
    );
    // mc2 moved by +0.001 on every document: the bootstrap interval is that point, and the
    // smallest p a bootstrap of 10000 gives, 1/10001; lower is not better for mc2.
    assert!(
        out.contains("| toy_en | mc2 | 20 | 0.3950 | 0.3960 | +0.0010 [+0.0010, +0.0010] | bootstrap ×10000 | 1.0e-4 | 0.0002 | B better |"),
        "{out}"
    );
    assert!(
        out.contains("## Languages") && out.contains("| sw | acc | 20 |"),
        "{out}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg") && html.contains("class=\"worse\">B worse"));

    let (code, _, err) = candor(&[&a, &b], &["--fail-if-worse"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("significantly worse than A on: toy_sw (acc -0.6000"),
        "{err}"
    );
    // B → A is an improvement on acc and a loss on mc2.
    let (code, out, err) = candor(&[&b, &a], &["--fail-if-worse"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("toy_en (mc2 -0.0010") && !err.contains("toy_sw"),
        "{err}"
    );
    // A run against itself: nothing differs.
    let (code, out, _) = candor(&[&a, &a], &["--fail-if-worse"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("| McNemar 0/0 | 1.0000 | 1.0000 | – |"),
        "{out}"
    );
}

#[test]
fn compare_refuses_runs_of_different_prompts_or_data() {
    let (a, b, c) = (scratch("ra"), scratch("rb"), scratch("rc"));
    let ones = vec![1.0; 5];
    write_run(&a, "f32", &ones, &ones, "11", None);
    write_run(&b, "f32", &ones, &ones, "11", Some(3));
    write_run(&c, "f32", &ones, &ones, "22", None);
    let (code, _, err) = candor(&[&a, &b], &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("task toy_en, document 3: the prompts of the two runs differ"),
        "{err}"
    );
    let (code, _, err) = candor(&[&a, &c], &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("task toy_sw: data file toy/docs.jsonl differs between the runs (A sha256 11, B sha256 22)"),
        "{err}"
    );
    let (code, _, err) = candor(&[&a, &scratch("missing")], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("report.json"), "{err}");
}
