//! report.html of a real small run, opened in headless Chromium (`tests/browser/`, Playwright
//! driving the system `chromium`): no console errors, no request but the file, the charts and
//! the sample browser in the DOM, the filters working, no horizontal overflow on a phone, and
//! a screenshot left in `target/tmp/report-html/` as an artifact.
//!
//! `.ci/run` installs chromium and the Playwright driver; under `CI=true` a missing one fails
//! the test, elsewhere it skips with one line.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::shared;

mod common;

/// node, the check script and chromium, when all are installed.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser");
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node_ok = Command::new("node").arg("--version").output().is_ok();
    let missing: Vec<String> = [
        (!node_ok).then(|| "node".to_string()),
        (!chromium.is_file()).then(|| chromium.display().to_string()),
        (!dir.join("node_modules/playwright-core").is_dir())
            .then(|| "tests/browser/node_modules (npm ci --prefix tests/browser)".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some((chromium, dir.join("check_report.mjs")));
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "headless browser check cannot run, missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "skipping the browser check of report.html: missing {}",
        missing.join(", ")
    );
    None
}

#[test]
fn report_html_loads_cleanly_in_headless_chromium() {
    let Some(shared) = shared() else { return };
    let Some((chromium, script)) = browser() else {
        return;
    };
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    let _ = std::fs::remove_dir_all(&artifacts);
    let run = artifacts.join("run");
    // Multiple choice with English and other languages (gap to English), generation with the
    // refusal detector in ten languages (the safety × language heatmap) and hazards.
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "run",
            "--suites",
            "truthfulqa_mc,xwinograd,xstest,multijail",
            "--limit",
            "2",
            "--max-new-tokens",
            "8",
            "--out",
        ])
        .arg(&run)
        .env("CANDOR_MODELS", shared.join("models"))
        .env("CANDOR_DATA", shared.join("datasets"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("candor runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Safety × language") && html.contains("vs en)"));

    let shot = artifacts.join("report.png");
    let check = Command::new("node")
        .arg(&script)
        .arg(&page)
        .arg(&shot)
        .args([
            "svg.chart",
            "svg.chart rect",
            "#sample-data",
            "#f-task option",
        ])
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let findings = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{findings}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let f: serde_json::Value = serde_json::from_str(findings.trim()).unwrap();
    assert_eq!(f["requests"].as_array().unwrap().len(), 1, "{f}");
    assert!(f["counts"]["svg.chart"].as_u64().unwrap() >= 4, "{f}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    eprintln!("screenshot: {}", shot.display());
}
