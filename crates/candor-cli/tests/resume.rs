//! Nothing is lost: `candor run` killed with SIGKILL at random points resumes from its journal
//! and ends with the same samples and metrics as a run never interrupted, recomputing at most
//! the batch it was killed in; a journal whose last write was torn resumes from its last
//! complete transaction; a journal of another run is refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use candor::{SplitMix64, SqliteJournal};
use common::shared;

mod common;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candor-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A log-likelihood suite and a generation suite, in small calls so that a run has many
/// batches.
fn command(shared: &Path, out: &Path, limit: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_candor"));
    c.args([
        "run",
        "--suites",
        "truthfulqa_mc,xstest",
        "--limit",
        limit,
        "--max-new-tokens",
        "8",
        "--requests-per-call",
        "4",
        "--out",
    ])
    .arg(out)
    .env("CANDOR_MODELS", shared.join("models"))
    .env("CANDOR_DATA", shared.join("datasets"))
    .env("HF_HUB_OFFLINE", "1")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    c
}

fn finish(mut c: Command) -> String {
    let out = c.output().expect("candor runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

fn report(dir: &Path) -> serde_json::Value {
    let mut r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    // What may differ between a resumed and an uninterrupted run.
    for volatile in ["timings", "created_unix"] {
        r.as_object_mut().unwrap().remove(volatile);
    }
    r
}

/// Waits until the journal has recorded `batches` batches, then a little more, and kills.
/// Returns false if the run finished first.
fn kill_after(mut child: Child, journal: &Path, batches: usize, extra_ms: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let recorded = SqliteJournal::stats_of(journal).map_or(0, |s| s.batches_recorded);
        if recorded >= batches {
            break;
        }
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(extra_ms));
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    true
}

#[test]
fn a_killed_run_resumes_to_the_same_report() {
    let Some(shared) = shared() else { return };
    let limit = "10";
    let whole = scratch("whole");
    finish(command(&shared, &whole, limit));
    let expected_samples = std::fs::read_to_string(whole.join("samples.jsonl")).unwrap();
    let expected = report(&whole);
    let batches = SqliteJournal::stats_of(&whole.join("journal.sqlite"))
        .unwrap()
        .batches_sent;
    assert!(
        batches >= 6,
        "{batches} batches: too few to kill in between"
    );

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("kill points from seed {seed}");
    let mut rng = SplitMix64::new(seed);
    for trial in 0..3 {
        let dir = scratch(&format!("trial{trial}"));
        let journal = dir.join("journal.sqlite");
        // A random batch to kill after, then a random moment inside the next one.
        let mut killed = false;
        for _attempt in 0..5 {
            let _ = std::fs::remove_dir_all(&dir);
            let at = 1 + (rng.next_u64() as usize) % (batches - 2);
            let extra = rng.next_u64() % 60;
            let child = command(&shared, &dir, limit).spawn().unwrap();
            if kill_after(child, &journal, at, extra) {
                eprintln!("trial {trial}: killed after batch {at} + {extra} ms");
                killed = true;
                break;
            }
        }
        assert!(
            killed,
            "trial {trial}: the run always finished before the kill"
        );
        assert!(
            !dir.join("report.json").exists(),
            "no report before the end"
        );
        let torn = trial == 2;
        if torn {
            // The last write torn: cut the write-ahead log inside its last frame.
            let wal = dir.join("journal.sqlite-wal");
            let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
            assert!(len > 100, "the killed run's last writes are in the WAL");
            let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
            f.set_len(len - 100).unwrap();
        }
        let stderr = finish(command(&shared, &dir, limit));
        assert!(stderr.contains("replayed from the journal"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.join("samples.jsonl")).unwrap(),
            expected_samples,
            "trial {trial}: samples differ from the uninterrupted run"
        );
        assert_eq!(report(&dir), expected, "trial {trial}: report differs");
        let stats = SqliteJournal::stats_of(&journal).unwrap();
        assert_eq!(stats.attempts, 2);
        // The batch being computed at the kill is the only one sent twice (a torn write may
        // also lose the last recorded one).
        let allowed = if torn { 2 } else { 1 };
        assert!(
            stats.batches_recomputed <= allowed,
            "trial {trial}: {stats:?}"
        );
        assert_eq!(stats.batches_sent - stats.batches_recomputed, batches);
    }
}

#[test]
fn a_journal_of_another_run_is_refused() {
    let Some(shared) = shared() else { return };
    let dir = scratch("other");
    finish(command(&shared, &dir, "1"));
    let out = command(&shared, &dir, "2").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("belongs to another run")
            && stderr.contains("options.limit is 1 there, 2 now"),
        "{stderr}"
    );
}

#[test]
fn a_cache_shares_answers_across_runs_and_suites() {
    let Some(shared) = shared() else { return };
    let cache = scratch("cache");
    let (first, second) = (scratch("cache-run1"), scratch("cache-run2"));
    let mut c = command(&shared, &first, "2");
    c.arg("--cache").arg(&cache);
    let stderr = finish(c);
    assert!(!stderr.contains("replayed"), "{stderr}");
    // Another run with more documents and another output folder: what the first run asked
    // is answered from the cache, the rest by the model.
    let mut c = command(&shared, &second, "3");
    c.arg("--cache").arg(&cache);
    let stderr = finish(c);
    let replayed: usize = stderr
        .lines()
        .flat_map(|l| l.split(", "))
        .find_map(|part| part.strip_suffix(" answers replayed from the journal or cache)"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    let first_report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("report.json")).unwrap()).unwrap();
    let unique = first_report["timings"]["unique_requests"].as_u64().unwrap() as usize;
    assert_eq!(replayed, unique, "{stderr}");
    let lines = |dir: &Path| -> Vec<String> {
        std::fs::read_to_string(dir.join("samples.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    // The first run's samples are among the second's, unchanged.
    let (a, b) = (lines(&first), lines(&second));
    assert!(a.iter().all(|l| b.contains(l)));
}
