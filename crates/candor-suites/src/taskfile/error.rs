//! What goes wrong with a task file, and where: errors name the file and the line, key, data
//! file and row where they are known.

use candor_data::DataError;

use super::ManifestError;

/// Why a task file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TaskFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// YAML syntax, an unknown key or a value of the wrong type.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// A key whose value cannot work (a metric the output type has no data for ...).
    #[error("{file}:{line}: key '{key}': {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}:{line}: key '{key}': template error: {message}")]
    Template {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}: key '{key}': {data_file}:{row}: no column '{column}' (columns: {available})")]
    MissingColumn {
        file: String,
        key: String,
        data_file: String,
        row: usize,
        column: String,
        available: String,
    },
    #[error("{file}: key '{key}': {data_file}:{row}: {message}")]
    Render {
        file: String,
        key: String,
        data_file: String,
        row: usize,
        message: String,
    },
    #[error("{file}: split '{split}' has no documents ({detail})")]
    EmptyDataset {
        file: String,
        split: String,
        detail: String,
    },
    #[error("{file}: {source}")]
    Data { file: String, source: DataError },
    #[error("{file}: {source}")]
    Manifest { file: String, source: ManifestError },
    #[error("no task files (*.yaml, *.yml) in {path}")]
    NoTaskFiles { path: String },
    #[error("task {task}: {source}")]
    Task {
        task: String,
        source: candor_core::TaskError,
    },
}

/// serde_yaml_ng appends " at line L column C"; errors here put the location first.
pub(crate) fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The line where `key` (its last dotted part, without an index) is written, or 1.
pub(crate) fn line_of(text: &str, key: &str) -> usize {
    let last = key.rsplit('.').next().unwrap_or(key);
    let last = last.split('[').next().unwrap_or(last);
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            l.strip_prefix(last)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or(1, |i| i + 1)
}

pub(crate) fn syntax(origin: &str, e: &serde_yaml_ng::Error) -> TaskFileError {
    let loc = e.location();
    TaskFileError::Syntax {
        file: origin.to_string(),
        line: loc.as_ref().map_or(0, |l| l.line()),
        column: loc.as_ref().map_or(0, |l| l.column()),
        message: strip_location(&e.to_string()),
    }
}
