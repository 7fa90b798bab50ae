//! The binary on a machine with nothing beside it: no data directory, an empty HF cache. The
//! quick suites are ready from what ships; others name `candor pull`, which fetches them from a
//! Hub (here a server on 127.0.0.1); bad input is an error with its file and line, and a bad
//! model file gives one line without candle's internal frames.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::shared;

mod common;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candor-fresh-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `candor args` in `cwd` with no data directory and an empty HF cache at `hf_home`.
fn candor(
    cwd: &Path,
    hf_home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_candor"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("CANDOR_DATA")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_ENDPOINT")
        .env_remove("RUST_BACKTRACE")
        .env("HF_HOME", hf_home)
        .env("HF_HUB_OFFLINE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("candor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_says_which_suites_are_ready_offline() {
    let dir = temp("list");
    let (ok, out, err) = candor(&dir, &dir.join("hf"), &[], &["list"]);
    assert!(ok, "{err}");
    let row = |suite: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("| {suite} |")))
            .unwrap_or_else(|| panic!("no row for {suite}: {out}"))
            .to_string()
    };
    for suite in ["truthfulqa_mc", "xcopa", "xstest"] {
        assert!(
            row(suite).ends_with("| ready (shipped) |"),
            "{}",
            row(suite)
        );
    }
    assert!(row("multijail").ends_with("| `candor pull multijail` |"));
    assert!(row("bbq").ends_with("| needs --data-dir |"));
}

#[test]
fn a_run_whose_data_is_nowhere_names_the_pull_command_before_loading_a_model() {
    let dir = temp("run");
    let (ok, _, err) = candor(
        &dir,
        &dir.join("hf"),
        &[],
        &[
            "run",
            "--suites",
            "multijail",
            "--model",
            "/nonexistent.gguf",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("suite multijail") && err.contains("run `candor pull multijail`"),
        "{err}"
    );
    assert!(
        !err.contains("nonexistent.gguf"),
        "the model was loaded first: {err}"
    );
}

/// A Hub on loopback serving one dataset file at its pinned commit, for a few requests.
fn hub_serving(repo_path: &str, body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let want = repo_path.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(4) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            for _ in 0..100 {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = if path == want {
                ("200 OK", body.as_slice())
            } else {
                ("404 Not Found", &b""[..])
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    url
}

#[test]
fn pull_fetches_a_suite_from_the_hub_into_the_cache_and_the_run_finds_it_offline() {
    let Some(shared) = shared() else { return };
    let csv = std::fs::read(shared.join("datasets/multijail/MultiJail.csv")).unwrap();
    let commit = "189375ca64f5c09f8db2b22f833c57c4418c55ab";
    let url = hub_serving(
        &format!("/datasets/DAMO-NLP-SG/MultiJail/resolve/{commit}/MultiJail.csv"),
        csv.clone(),
    );
    let dir = temp("pull");
    let hf = dir.join("hf");
    let online = [("HF_HUB_OFFLINE", "0"), ("HF_ENDPOINT", url.as_str())];
    let (ok, _, err) = candor(&dir, &hf, &online, &["pull", "multijail"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("multijail: 1 file(s) downloaded and verified"),
        "{err}"
    );
    let cached = hf.join(format!(
        "hub/datasets--DAMO-NLP-SG--MultiJail/snapshots/{commit}/MultiJail.csv"
    ));
    assert_eq!(std::fs::read(&cached).unwrap(), csv);
    // Offline now, the suite is ready from the cache, for both suites that read the file.
    let (ok, out, err) = candor(&dir, &hf, &[], &["list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("| multijail |") && out.contains("ready (cached)"),
        "{out}"
    );
    let (ok, _, err) = candor(&dir, &hf, &[], &["pull", "jailbreak"]);
    assert!(ok && err.contains("jailbreak: ready (cached)"), "{err}");
}

#[test]
fn pull_refuses_a_file_whose_sha256_differs_and_keeps_nothing() {
    let commit = "189375ca64f5c09f8db2b22f833c57c4418c55ab";
    let url = hub_serving(
        &format!("/datasets/DAMO-NLP-SG/MultiJail/resolve/{commit}/MultiJail.csv"),
        b"id,en\n1,not the real file\n".to_vec(),
    );
    let dir = temp("pull-bad");
    let hf = dir.join("hf");
    let online = [("HF_HUB_OFFLINE", "0"), ("HF_ENDPOINT", url.as_str())];
    let (ok, _, err) = candor(&dir, &hf, &online, &["pull", "multijail"]);
    assert!(!ok);
    assert!(
        err.contains("does not match the expected") && err.contains("deleted"),
        "{err}"
    );
    let repo = hf.join("hub/datasets--DAMO-NLP-SG--MultiJail");
    assert!(!repo.join("snapshots").exists());
    assert_eq!(std::fs::read_dir(repo.join("blobs")).unwrap().count(), 0);
}

#[test]
fn an_unclosed_quote_in_a_csv_is_an_error_naming_file_and_line() {
    let dir = temp("quote");
    let file = dir.join("answers.csv");
    std::fs::write(
        &file,
        "id,completion\n1,\"I cannot help with that.\n2,Sure, here it is\n",
    )
    .unwrap();
    let (ok, _, err) = candor(
        &dir,
        &dir.join("hf"),
        &[],
        &[
            "detect",
            "--detector",
            "refusal",
            "--input",
            file.to_str().unwrap(),
            "--text-column",
            "completion",
        ],
    );
    assert!(!ok, "a 2-row file must not be read as 1 row: {err}");
    assert!(
        err.contains(
            "answers.csv:2: field 'completion': a quoted field opens here and is never closed"
        ),
        "{err}"
    );
}

#[test]
fn a_truncated_gguf_is_one_line_without_candles_frames() {
    let Some(shared) = shared() else { return };
    let gguf = std::fs::read(shared.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let dir = temp("gguf");
    let file = dir.join("truncated.gguf");
    // Cut inside the metadata: candle's reader fails (and would append its backtrace).
    std::fs::write(&file, &gguf[..50_000]).unwrap();
    let path = file.to_str().unwrap();
    let (ok, _, err) = candor(&dir, &dir.join("hf"), &[], &["info", "--model", path]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot load model") && err.contains("not a usable GGUF file"));
    // Asked for, a backtrace follows the message, which itself stays free of candle's frames.
    let (_, _, err) = candor(
        &dir,
        &dir.join("hf"),
        &[("RUST_BACKTRACE", "1")],
        &["info", "--model", path],
    );
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("not a usable GGUF file"), "{err}");
    assert!(!err.contains("candle_core::error::Error::bt"), "{err}");
    assert!(err.lines().count() > 2, "no backtrace: {err}");
}
