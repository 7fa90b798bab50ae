//! A server that dies mid-run: the run stops with an error, the journal keeps every answered
//! batch, and the same command with the server back finishes with the report of a run that was
//! never interrupted. On loopback, against the toy server of candor-openai's fault tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candor::{DataDir, Evaluation, OpenAiModel, ServerSpec, SqliteJournal, JOURNAL_FILE};
use candor_core::Tokenize;

#[path = "../crates/candor-openai/tests/fake/mod.rs"]
mod fake;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "candor-server-resume-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn connect(url: &str) -> Arc<OpenAiModel> {
    let spec = ServerSpec::parse(&format!("openai:toy@{url}?retries=1&backoff_ms=10")).unwrap();
    Arc::new(OpenAiModel::connect(spec, Some(Arc::new(fake::Bytes) as Arc<dyn Tokenize>)).unwrap())
}

fn evaluate(model: Arc<OpenAiModel>, data: &Path, out: &Path) -> Result<(), candor::EvaluateError> {
    Evaluation::new(model)
        .suites(["xcopa"])
        .data_dir(DataDir::new(data))
        .limit(3)
        .requests_per_call(4)
        .output(out)
        .run()
        .map(|_| ())
}

/// The report without what may differ between runs: times, and where the server was.
fn report(dir: &Path) -> serde_json::Value {
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    for volatile in ["timings", "created_unix"] {
        r.as_object_mut().unwrap().remove(volatile);
    }
    let model = r["model"].as_object_mut().unwrap();
    model.remove("spec");
    model.remove("details");
    r
}

#[test]
fn a_run_whose_server_dies_resumes_to_the_uninterrupted_report() {
    let Some(data) = candor_data::shared_test_data("datasets") else {
        return;
    };
    let data = data.join("datasets");
    let steady = fake::start(0, false, true);
    let whole = scratch("whole");
    evaluate(connect(&steady.url), &data, &whole).unwrap();

    let flaky = fake::start(0, false, true);
    let out = scratch("resumed");
    let model = connect(&flaky.url);
    flaky.faults.lock().unwrap().die_after = Some(20);
    let err = evaluate(model, &data, &out).unwrap_err().to_string();
    assert!(err.contains("no replica answered"), "{err}");
    assert!(!out.join("report.json").exists());
    let kept = SqliteJournal::stats_of(&out.join(JOURNAL_FILE)).unwrap();
    assert!(kept.batches_recorded >= 4, "{kept:?}");

    *flaky.faults.lock().unwrap() = fake::Faults::default();
    let sent_before = flaky.completions.load(std::sync::atomic::Ordering::Relaxed);
    evaluate(connect(&flaky.url), &data, &out).unwrap();
    assert_eq!(report(&out), report(&whole));
    // The resumed run asked only for what the journal lacked (and the self-check's probes).
    let resumed = flaky.completions.load(std::sync::atomic::Ordering::Relaxed) - sent_before;
    let whole_requests = steady
        .completions
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(resumed < whole_requests, "{resumed} of {whole_requests}");
}
