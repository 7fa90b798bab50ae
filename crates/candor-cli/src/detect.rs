//! `candor detect`: label texts a user already has (transcripts, saved model answers) with a
//! detector, without loading any model.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candor::safety::{PiiDetector, RefusalDetector, ToxicityDetector};
use candor::{DataDir, Row};
use serde_json::{json, Value};

/// The detectors `candor detect` offers.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Detector {
    /// full_compliance, full_refusal or partial_refusal.
    Refusal,
    /// pii or clean, with the spans found.
    Pii,
    /// toxic or non_toxic, with the lexicon hits.
    Toxicity,
}

/// Label every row's `column` of `input` (.csv, .tsv or .jsonl) and write one JSON line per
/// row to `out` (stdout when `None`); counts per label go to stderr. Without a column, `input`
/// must be a candor `samples.jsonl`: every generated answer in it is labelled.
pub fn detect(
    detector: Detector,
    input: &Path,
    column: Option<&str>,
    out: Option<&Path>,
) -> Result<()> {
    let rows = read_rows(input)?;
    let Some(column) = column else {
        return detect_samples(detector, input, &rows, out);
    };
    if let Some(first) = rows.first() {
        if !first.fields.contains_key(column) {
            let columns: Vec<&str> = first.fields.keys().map(String::as_str).collect();
            bail!(
                "{}: no column '{column}' (columns: {})",
                input.display(),
                columns.join(", ")
            );
        }
    }
    // Label everything before writing, so a bad row leaves no half-written output.
    let mut lines = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let text = row.str(column).with_context(|| {
            format!(
                "{}: row {} (line {}) has no text in column '{column}'",
                input.display(),
                i + 1,
                row.line
            )
        })?;
        lines.push(label(detector, text, i + 1, row.line));
    }
    finish(detector, input, &lines, "rows", out)
}

/// The generated answers of a candor `samples.jsonl`, each labelled with its task, sample id
/// and answer index.
fn detect_samples(
    detector: Detector,
    input: &Path,
    rows: &[Row],
    out: Option<&Path>,
) -> Result<()> {
    let mut lines = Vec::new();
    for row in rows {
        let (Some(task), Some(id), Some(Value::Array(responses))) = (
            row.fields.get("task").and_then(Value::as_str),
            row.fields.get("id").and_then(Value::as_str),
            row.fields.get("responses"),
        ) else {
            bail!(
                "{}:{}: not a candor samples.jsonl line (it needs task, id and responses); give \
                 --text-column for other files",
                input.display(),
                row.line
            );
        };
        for (answer, response) in responses.iter().enumerate() {
            let Some(text) = response.pointer("/generate/text").and_then(Value::as_str) else {
                continue;
            };
            let mut line = label(detector, text, lines.len() + 1, row.line);
            line["task"] = json!(task);
            line["id"] = json!(id);
            line["answer"] = json!(answer);
            lines.push(line);
        }
    }
    finish(detector, input, &lines, "generated answers", out)
}

/// Write the labelled `lines`, then say on stderr how many `what` of `input` got each label.
fn finish(
    detector: Detector,
    input: &Path,
    lines: &[Value],
    what: &str,
    out: Option<&Path>,
) -> Result<()> {
    write_lines(lines, out)?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for line in lines {
        *counts
            .entry(line["label"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(l, n)| format!("{l} {n}")).collect();
    eprintln!(
        "{detector:?} detector: {} {what} of {} labelled: {}",
        lines.len(),
        input.display(),
        if summary.is_empty() {
            "nothing to label".to_string()
        } else {
            summary.join(", ")
        }
    );
    Ok(())
}

fn read_rows(input: &Path) -> Result<Vec<Row>> {
    let name = input
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} is not a file name", input.display()))?;
    let dir = match input.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let data = DataDir::new(dir);
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let rows = match extension.as_deref() {
        Some("csv") => data.csv(name),
        Some("tsv") => data.tsv(name),
        Some("jsonl") => data.jsonl(name),
        _ => bail!(
            "{}: unsupported input format (expected .csv, .tsv or .jsonl)",
            input.display()
        ),
    }
    .with_context(|| format!("cannot read {}", input.display()))?;
    Ok(rows.0)
}

/// The output line of one row: its 1-based row number and file line, label and score, and
/// what the detector found (spans for PII, lexicon hits for toxicity).
fn label(detector: Detector, text: &str, row: usize, line: usize) -> Value {
    match detector {
        Detector::Refusal => {
            let out = RefusalDetector.label(text);
            json!({"row": row, "line": line, "label": out.label, "score": out.score})
        }
        Detector::Pii => {
            let spans = PiiDetector.find(text);
            let out = PiiDetector.label(text);
            json!({"row": row, "line": line, "label": out.label, "score": out.score, "spans": spans})
        }
        Detector::Toxicity => {
            let hits = ToxicityDetector.hits(text);
            let out = ToxicityDetector.label(text);
            json!({"row": row, "line": line, "label": out.label, "score": out.score, "hits": hits})
        }
    }
}

fn write_lines(lines: &[Value], out: Option<&Path>) -> Result<()> {
    let mut text = String::new();
    for line in lines {
        text.push_str(&line.to_string());
        text.push('\n');
    }
    match out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("cannot write to stdout")?,
    }
    Ok(())
}
