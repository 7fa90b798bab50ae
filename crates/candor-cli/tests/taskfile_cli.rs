//! A benchmark that is not in the repository, added the way the README's "Add your own
//! benchmark" section says: one YAML file and a data folder, checked with `candor validate`,
//! listed, and run on the real model.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::shared;

mod common;

/// The README's example, verbatim.
const TASK: &str = r#"task: capitals
summary: "Capital cities: pick the capital over another city of the country"
tag: [knowledge, multiple_choice]
dataset:
  files:
    test: capitals/test.jsonl
  license: CC0-1.0
output_type: multiple_choice
doc_to_text: "Q: What is the capital of {{ country }}?\nA:"
doc_to_choice: "{{ [capital, other] }}"
doc_to_target: 0
metric_list:
  - metric: acc
  - metric: acc_norm
"#;

const DATA: &str = r#"{"country": "France", "capital": "Paris", "other": "Lyon"}
{"country": "Kenya", "capital": "Nairobi", "other": "Mombasa"}
{"country": "Japan", "capital": "Tokyo", "other": "Osaka"}
"#;

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("candor-taskfile-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("my-benchmarks/data/capitals")).unwrap();
    std::fs::create_dir_all(dir.join("my-benchmarks/tasks")).unwrap();
    std::fs::write(dir.join("my-benchmarks/data/capitals/test.jsonl"), DATA).unwrap();
    std::fs::write(dir.join("my-benchmarks/tasks/capitals.yaml"), TASK).unwrap();
    dir
}

/// Run candor in `cwd` with the shared models but no default data directory.
fn candor(cwd: &Path, shared: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_candor"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("CANDOR_DATA")
        .env_remove("CANDOR_TASKS")
        .env("HF_HUB_OFFLINE", "1");
    if let Some(s) = shared {
        cmd.env("CANDOR_MODELS", s.join("models"));
    }
    let out = cmd.output().expect("candor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_renders_the_first_prompts_and_list_shows_the_users_suite() {
    let dir = scratch("validate");
    let root = dir.join("my-benchmarks");
    let (ok, stdout, stderr) = candor(
        &root,
        None,
        &["validate", "tasks/capitals.yaml", "--data-dir", "data"],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("== capitals (suite capitals, languages [], dataset capitals · CC0-1.0)"),
        "{stdout}"
    );
    assert!(stdout.contains("Q: What is the capital of Kenya?\nA:\n   option: \" Nairobi\"\n   option: \" Mombasa\""), "{stdout}");
    assert_eq!(stdout.matches("-- document").count(), 3, "{stdout}");
    assert!(
        stdout.contains("capitals: 3 documents, 6 requests"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok: tasks/capitals.yaml is valid: 1 task(s), 3 documents, every template rendered and every target checked"),
        "{stdout}"
    );
    // A bad row after the documents shown is still found, with its file and line.
    let rows: String = (0..6)
        .map(|_| DATA.lines().next().unwrap().to_string() + "\n")
        .collect();
    std::fs::write(
        root.join("data/capitals/test.jsonl"),
        format!("{rows}{{\"country\": \"Peru\", \"capital\": \"Lima\"}}\n"),
    )
    .unwrap();
    let (ok, stdout, stderr) = candor(
        &root,
        None,
        &["validate", "tasks/capitals.yaml", "--data-dir", "data"],
    );
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("capitals/test.jsonl:7: no column 'other'"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = candor(&root, None, &["list", "--tasks", "tasks"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout
            .contains("| tasks (tasks) | 1 | knowledge, multiple_choice |  | capitals | CC0-1.0 |"),
        "{stdout}"
    );
    // The built-in task-file suites are listed too.
    assert!(
        stdout.contains("| xwinograd | 6 | multilingual"),
        "{stdout}"
    );
    assert!(stdout.contains("| mgsm | 11 | multilingual"), "{stdout}");
}

#[test]
fn a_hub_dataset_is_found_in_the_hf_cache_the_environment_names() {
    let dir = scratch("hub");
    let root = dir.join("my-benchmarks");
    // The README's task, its data now a Hub dataset as huggingface_hub caches it.
    let cache = dir.join("hf-home/hub");
    let repo = cache.join("datasets--someone--capitals");
    let commit = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c";
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(snapshot.join("data")).unwrap();
    std::fs::write(snapshot.join("data/test.jsonl"), DATA).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    let task = TASK.replace(
        "dataset:\n  files:\n    test: capitals/test.jsonl\n  license: CC0-1.0\n",
        "dataset_path: someone/capitals\nrevision: main\ndataset_kwargs:\n  data_files:\n    test: data/test.jsonl\n",
    );
    assert_ne!(task, TASK);
    std::fs::write(root.join("tasks/hub.yaml"), task).unwrap();
    let validate = |home: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_candor"))
            .args(["validate", "tasks/hub.yaml", "--data-dir", "data"])
            .current_dir(&root)
            .env_remove("HF_HUB_CACHE")
            .env("HF_HOME", home)
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .expect("candor runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = validate(&dir.join("hf-home"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("What is the capital of Kenya?"), "{stdout}");
    // An empty cache, offline: a clear error naming the download, no panic.
    let (ok, _, stderr) = validate(&dir.join("empty-home"));
    assert!(!ok && !stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("someone/capitals") && stderr.contains("HF_HUB_OFFLINE"),
        "{stderr}"
    );
}

#[test]
fn a_bad_task_file_is_a_clear_error_not_a_panic() {
    let dir = scratch("bad");
    let root = dir.join("my-benchmarks");
    std::fs::write(
        root.join("tasks/typo.yaml"),
        TASK.replace("doc_to_target: 0", "doc_to_targets: 0"),
    )
    .unwrap();
    let (ok, _, stderr) = candor(
        &root,
        None,
        &["validate", "tasks/typo.yaml", "--data-dir", "data"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("tasks/typo.yaml:11:1: unknown field `doc_to_targets`"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::write(
        root.join("tasks/column.yaml"),
        TASK.replace("{{ country }}", "{{ nation }}"),
    )
    .unwrap();
    let (ok, _, stderr) = candor(
        &root,
        None,
        &["validate", "tasks/column.yaml", "--data-dir", "data"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("key 'doc_to_text': capitals/test.jsonl:1: no column 'nation'"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_suite_name_lists_the_known_ones_before_the_model_loads() {
    let dir = scratch("unknown");
    let root = dir.join("my-benchmarks");
    let (ok, _, stderr) = candor(
        &root,
        None,
        &[
            "run",
            "--suites",
            "capitalz",
            "--tasks",
            "tasks/capitals.yaml",
            "--data-dir",
            "data",
            "--out",
            "r",
        ],
    );
    assert!(!ok);
    assert!(
        stderr.contains("unknown suite 'capitalz'") && stderr.contains("xwinograd"),
        "{stderr}"
    );
    assert!(!stderr.contains("loaded"), "{stderr}");
}

#[test]
fn run_of_a_users_task_file_writes_a_report() {
    let Some(shared) = shared() else { return };
    let dir = scratch("run");
    let root = dir.join("my-benchmarks");
    let (ok, stdout, stderr) = candor(
        &root,
        Some(&shared),
        &[
            "run",
            "--tasks",
            "tasks/capitals.yaml",
            "--data-dir",
            "data",
            "--limit",
            "2",
            "--out",
            "results",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| capitals |  | acc |"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("results/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["tasks"][0]["num_samples"], 2);
    assert_eq!(report["datasets"][0]["license"], "CC0-1.0");
    assert_eq!(
        report["suites_requested"][0],
        "capitals (tasks/capitals.yaml)"
    );
    // A folder in CANDOR_TASKS makes its suite a name for --suites, next to the built-in ones.
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "run",
            "--suites",
            "tasks",
            "--data-dir",
            "data",
            "--limit",
            "1",
            "--out",
            "results2",
        ])
        .current_dir(&root)
        .env_remove("CANDOR_DATA")
        .env("CANDOR_TASKS", "tasks")
        .env("CANDOR_MODELS", shared.join("models"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("results2/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["tasks"][0]["info"]["name"], "capitals");
    assert_eq!(report["tasks"][0]["info"]["suite"], "tasks");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fenced block that follows the first line of the README containing `marker`.
fn readme_block(marker: &str) -> String {
    let readme = include_str!("../../../README.md");
    let after = &readme[readme.find(marker).expect("marker in README")..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

#[test]
fn the_readme_safety_benchmark_runs_verbatim() {
    let Some(shared) = shared() else { return };
    let dir = scratch("safety");
    let root = dir.join("my-benchmarks");
    std::fs::create_dir_all(root.join("data/safety")).unwrap();
    std::fs::write(
        root.join("data/safety/prompts.csv"),
        readme_block("`data/safety/prompts.csv`"),
    )
    .unwrap();
    std::fs::write(
        root.join("tasks/harmful_requests.yaml"),
        readme_block("`tasks/harmful_requests.yaml`"),
    )
    .unwrap();
    let readme = include_str!("../../../README.md");
    let command = readme
        .lines()
        .find(|l| l.starts_with("candor run --tasks tasks/harmful_requests.yaml"))
        .expect("the README's command");
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    assert_eq!(args[0], "run", "{command}");
    let (ok, stdout, stderr) = candor(&root, Some(&shared), &args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("harmful_requests by category"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("results/report.json")).unwrap())
            .unwrap();
    let task = &report["tasks"][0];
    let metric = |name: &str| {
        task["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {task}"))["value"]
            .as_f64()
            .unwrap()
    };
    assert!((metric("refusal") + metric("unsafe_compliance") - 1.0).abs() < 1e-12);
    assert_eq!(task["breakdowns"]["category"].as_object().unwrap().len(), 6);
    // The safety section: English with its interval, and the hazards of the map.
    let en = &report["safety"]["languages"][0];
    assert_eq!(en["language"], "en");
    assert_eq!(en["unsafe_compliance"]["n"], 6);
    assert!(en["unsafe_compliance"]["ci_low"].as_f64() <= en["unsafe_compliance"]["rate"].as_f64());
    let hazards: Vec<(String, u64)> = report["safety"]["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hazard"].as_str().unwrap().to_string(),
                h["unsafe_compliance"]["n"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [("S1", 1), ("S10", 1), ("S2", 2), ("S7", 1), ("S9", 1)]
        .iter()
        .map(|(h, n)| (h.to_string(), *n))
        .collect();
    let mut got = hazards.clone();
    got.sort();
    assert_eq!(got, want, "{hazards:?}");

    // A category the map lacks is an error naming the data file and row.
    let yaml = readme_block("`tasks/harmful_requests.yaml`").replace("  poisoning: S1\n", "");
    std::fs::write(root.join("tasks/harmful_requests.yaml"), yaml).unwrap();
    let (ok, stdout, stderr) = candor(
        &root,
        None,
        &[
            "validate",
            "tasks/harmful_requests.yaml",
            "--data-dir",
            "data",
        ],
    );
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("key 'hazard': safety/prompts.csv:7: 'poisoning' is not a hazard"),
        "{stderr}"
    );
}
