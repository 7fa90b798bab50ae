//! Writing what a run found: `report.json` (a versioned schema, [`SCHEMA`]), `samples.jsonl`
//! (one line per evaluated sample), `report.md` (a table a person reads) and `report.html`
//! (charts and a sample browser in one self-contained page); and [`compare`], two runs side by
//! side with paired tests.
//!
//! Files are written to temporary names and renamed into place, so an interrupted or failed
//! write never leaves a half-written report behind.

pub mod compare;
pub mod direction;
pub mod html;
mod markdown;
pub mod multilingual;
pub mod safety;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use candor_core::ModelRecord;
use candor_core::{
    DatasetInfo, RunConfig, RunOutput, ScoredSample, SuiteResult, TaskResult, Timings,
};
use serde::{Deserialize, Serialize};

pub use markdown::markdown;

/// Version of the `report.json` layout. 1.1 added the model's backend, device, batch size and
/// threads, per-sample labels and errors, and the journal's counts; 1.0 reports still read.
pub const SCHEMA_VERSION: &str = "1.2";
/// JSON Schema (draft 2020-12) of `report.json`.
pub const SCHEMA: &str = include_str!("../report.schema.json");

/// Where the run happened.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    pub threads: usize,
    pub device: String,
}

impl Environment {
    pub fn current(device: &str, threads: usize) -> Self {
        Self {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads,
            device: device.into(),
        }
    }
}

/// `report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: String,
    pub harness: Harness,
    /// Seconds since the Unix epoch when the report was written.
    pub created_unix: u64,
    pub model: ModelRecord,
    pub suites_requested: Vec<String>,
    pub config: RunConfig,
    pub environment: Environment,
    /// Every dataset read, with its licence, flags and the sha256 of each file.
    pub datasets: Vec<DatasetInfo>,
    pub timings: Timings,
    pub suites: Vec<SuiteResult>,
    pub tasks: Vec<TaskResult>,
    /// Unsafe compliance and over-refusal per language, unsafe compliance per hazard.
    pub safety: safety::SafetySummary,
    /// Scores per language with the gap to English, and tokenizer fertility per language.
    pub multilingual: multilingual::MultilingualSummary,
    /// Where model-written code ran, for runs that ran any: `namespaces` (the sandbox) or
    /// `unisolated` (the user passed `--allow-unsandboxed-code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Harness {
    pub name: String,
    pub version: String,
}

impl Report {
    /// Assemble the report of a finished run.
    pub fn new(
        model: ModelRecord,
        suites_requested: Vec<String>,
        config: RunConfig,
        environment: Environment,
        output: &RunOutput,
    ) -> Self {
        // One entry per dataset, with the files of all its tasks.
        let mut datasets: BTreeMap<String, DatasetInfo> = BTreeMap::new();
        for t in &output.tasks {
            let entry = datasets
                .entry(t.info.dataset.name.clone())
                .or_insert_with(|| t.info.dataset.clone());
            for f in &t.files {
                if !entry.files.contains(f) {
                    entry.files.push(f.clone());
                }
            }
        }
        Self {
            schema_version: SCHEMA_VERSION.into(),
            harness: Harness {
                name: "candor".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            model,
            suites_requested,
            config,
            environment,
            datasets: datasets.into_values().collect(),
            timings: output.timings.clone(),
            suites: output.suites.clone(),
            tasks: output.tasks.clone(),
            safety: safety::summarize(&output.tasks),
            multilingual: multilingual::summarize(&output.tasks),
            code_execution: None,
        }
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write to output folder {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create `dir` if needed and check that files can be written there. Call it before a long
/// run, so that a bad `--out` fails at once.
pub fn ensure_writable(dir: &Path) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let probe = dir.join(".candor-write-test");
    std::fs::write(&probe, b"").map_err(io(dir))?;
    std::fs::remove_file(&probe).map_err(io(dir))
}

/// Write `report.json`, `samples.jsonl`, `report.md` and `report.html` into `dir`.
pub fn write(dir: &Path, report: &Report, samples: &[ScoredSample]) -> Result<(), ReportError> {
    ensure_writable(dir)?;
    let json = serde_json::to_vec_pretty(report)?;
    let mut lines = Vec::new();
    for s in samples {
        serde_json::to_writer(&mut lines, s)?;
        lines.push(b'\n');
    }
    let md = markdown(report);
    let page = html::report(report, samples);
    // Everything is rendered before the first rename: a failure above leaves no file behind.
    let files = [
        ("report.json", json.as_slice()),
        ("samples.jsonl", lines.as_slice()),
        ("report.md", md.as_bytes()),
        ("report.html", page.as_bytes()),
    ];
    for (name, bytes) in &files {
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    for (name, _) in &files {
        std::fs::rename(dir.join(format!(".{name}.tmp")), dir.join(name)).map_err(io(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use candor_core::RunConfig;

    use super::*;

    #[test]
    fn a_schema_1_0_report_still_reads() {
        let output = RunOutput {
            tasks: Vec::new(),
            suites: Vec::new(),
            samples: Vec::new(),
            timings: Timings::default(),
        };
        let model = ModelRecord {
            name: "m".into(),
            backend: "candle".into(),
            device: "cpu".into(),
            ..ModelRecord::default()
        };
        let env = Environment::current("cpu", 2);
        let report = Report::new(
            model,
            vec!["xcopa".into()],
            RunConfig::default(),
            env,
            &output,
        );
        // A 1.0 report is this one without the fields 1.1 added.
        let mut old = serde_json::to_value(&report).unwrap();
        old["schema_version"] = "1.0".into();
        for field in ["backend", "device", "batch_size", "threads"] {
            old["model"].as_object_mut().unwrap().remove(field);
        }
        for field in ["judge_requests", "replayed_requests", "resumes"] {
            old["timings"].as_object_mut().unwrap().remove(field);
        }
        let read: Report = serde_json::from_value(old).unwrap();
        assert_eq!(read.schema_version, "1.0");
        assert_eq!(read.model.name, "m");
        assert_eq!(read.model.backend, "");
        assert_eq!(read.timings.replayed_requests, 0);
    }
}
