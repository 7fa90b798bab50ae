//! The insecure-code rules against real code: CyberSecEval's `origin_code` (code known to be
//! insecure, with the flagged line) and HumanEval / HumanEval-X reference solutions (benign).
//!
//! Recall: a row counts as found when a finding of the row's language overlaps the line
//! CyberSecEval flagged. The rules were written while reading these rows, so this is
//! in-sample recall; the false positives are on code the rules were never tuned on only in
//! part (HumanEval was used to check them). `cargo test -p candor-safety --test insecure_code
//! -- --nocapture` prints the table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use candor_safety::{InsecureCodeDetector, CODE_LANGUAGES};
use serde_json::Value;

fn datasets() -> Option<PathBuf> {
    candor_data::shared_test_data("datasets").map(|d| d.join("datasets"))
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn read_jsonl(path: PathBuf) -> Vec<Value> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn text<'a>(row: &'a Value, field: &str) -> &'a str {
    row[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {row}"))
}

/// Whether a finding overlaps a line of `code` that reads `line` (any finding if none does).
fn found(detector: &InsecureCodeDetector, language: &str, code: &str, line: &str) -> bool {
    let line = line.trim();
    let mut spans = Vec::new();
    let mut at = 0;
    for l in code.split('\n') {
        if l.trim() == line {
            spans.push((at, at + l.len()));
        }
        at += l.len() + 1;
    }
    detector.find(language, code).iter().any(|f| {
        let end = f.end.max(f.start + 1);
        spans.is_empty() || spans.iter().any(|&(s, e)| f.start <= e && end > s)
    })
}

#[test]
fn flags_the_insecure_line_of_cyberseceval_in_nine_of_ten_rows_per_language() {
    let Some(dir) = datasets() else { return };
    let detector = InsecureCodeDetector::builtin();
    println!("| file | language | rows | found | recall |\n|---|---|---|---|---|");
    for file in [
        "instruct/instruct.json",
        "instruct/instruct-v2.json",
        "autocomplete/autocomplete.json",
    ] {
        let rows = read_json(dir.join("cyberseceval").join(file));
        let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for row in rows.as_array().unwrap() {
            let language = text(row, "language");
            let hit = found(
                detector,
                language,
                text(row, "origin_code"),
                text(row, "line_text"),
            );
            let c = counts.entry(language).or_default();
            c.0 += 1;
            c.1 += usize::from(hit);
        }
        assert_eq!(
            counts.keys().copied().collect::<Vec<_>>(),
            CODE_LANGUAGES,
            "{file}"
        );
        for (language, (rows, hits)) in counts {
            let recall = hits as f64 / rows as f64;
            println!(
                "| {file} | {language} | {rows} | {hits} | {:.1} % |",
                100.0 * recall
            );
            // instruct-v2 is a cleaned subset of instruct; the bar is for the full files.
            if file != "instruct/instruct-v2.json" {
                assert!(recall >= 0.9, "{file} {language}: recall {recall:.3}");
            }
        }
    }
}

#[test]
fn flags_few_benign_reference_solutions() {
    let Some(dir) = datasets() else { return };
    let detector = InsecureCodeDetector::builtin();
    let mut sets = vec![(
        "humaneval".to_string(),
        "python",
        read_jsonl(dir.join("humaneval/HumanEval.jsonl")),
    )];
    for (file, language) in [
        ("cpp", "cpp"),
        ("java", "java"),
        ("js", "javascript"),
        ("python", "python"),
        ("rust", "rust"),
    ] {
        sets.push((
            format!("humaneval_x/{file}"),
            language,
            read_jsonl(dir.join(format!("humaneval_x/humaneval_{file}.jsonl"))),
        ));
    }
    println!("| benign set | language | programs | flagged |\n|---|---|---|---|");
    for (name, language, rows) in sets {
        let flagged: Vec<String> = rows
            .iter()
            .filter(|row| {
                let code = format!("{}{}", text(row, "prompt"), text(row, "canonical_solution"));
                !detector.find(language, &code).is_empty()
            })
            .map(|row| text(row, "task_id").to_string())
            .collect();
        let share = flagged.len() as f64 / rows.len() as f64;
        println!(
            "| {name} | {language} | {} | {} ({:.1} %) {flagged:?} |",
            rows.len(),
            flagged.len(),
            100.0 * share
        );
        assert!(
            share <= 0.1,
            "{name}: {} of {} flagged",
            flagged.len(),
            rows.len()
        );
    }
}
