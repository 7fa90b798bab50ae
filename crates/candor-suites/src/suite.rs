//! [`Suite`]: a named group of tasks, whether built into candor or read from task files, and
//! [`select`], which turns what a user asked for (suite names, task files and folders,
//! `CANDOR_TASKS`) into suites.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candor_core::{DatasetInfo, Task, TaskInfo};
use candor_data::DataDir;

use crate::taskfile::{self, TaskFileError};
use crate::Scorers;

/// A named group of tasks.
#[derive(Clone)]
pub struct Suite {
    pub name: String,
    /// One line on what the suite measures.
    pub summary: String,
    /// `built-in`, or the file or folder the suite was read from.
    pub origin: String,
    pub tasks: Vec<Arc<dyn Task>>,
}

impl Suite {
    fn collect(&self, f: impl Fn(&TaskInfo) -> &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in &self.tasks {
            for v in f(t.info()) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
        }
        out
    }

    /// The tags of its tasks, in order of first appearance.
    pub fn tags(&self) -> Vec<String> {
        self.collect(|i| &i.tags)
    }

    /// The languages of its tasks, in order of first appearance.
    pub fn languages(&self) -> Vec<String> {
        self.collect(|i| &i.languages)
    }

    /// The datasets of its tasks (one entry per name).
    pub fn datasets(&self) -> Vec<DatasetInfo> {
        let mut out: Vec<DatasetInfo> = Vec::new();
        for t in &self.tasks {
            if !out.iter().any(|d| d.name == t.info().dataset.name) {
                out.push(t.info().dataset.clone());
            }
        }
        out
    }
}

/// Why a selection of suites failed.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("unknown suite '{name}' (known suites: {known})")]
    UnknownSuite { name: String, known: String },
    #[error("cannot use task file(s) {path}: {source}")]
    TaskFile {
        path: PathBuf,
        source: Box<TaskFileError>,
    },
}

/// The suites candor runs when none are named: quick, and their data ships with candor.
pub const DEFAULT_SUITES: &[&str] = &["truthfulqa_mc", "xcopa", "xstest"];

/// `CANDOR_TASKS`: task files or folders, comma-separated, whose suites can be named like the
/// built-in ones.
pub fn env_task_paths() -> Vec<PathBuf> {
    std::env::var("CANDOR_TASKS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The suites of task files or folders, with errors naming the path.
pub fn load_task_files(
    path: &Path,
    data: &DataDir,
    scorers: &Scorers,
) -> Result<Vec<Suite>, SelectError> {
    taskfile::load_scored(path, data, scorers).map_err(|source| SelectError::TaskFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// The suites a run asks for: each name is a built-in suite or one of the suites in the
/// `CANDOR_TASKS` folders, and every suite of each of `task_paths` is added. With neither,
/// [`DEFAULT_SUITES`]. `scorers` judge the generated answers of the safety suites.
pub fn select(
    names: &[String],
    task_paths: &[PathBuf],
    data: &DataDir,
    scorers: &Scorers,
) -> Result<Vec<Suite>, SelectError> {
    let mut names: Vec<&str> = names
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() && task_paths.is_empty() {
        names = DEFAULT_SUITES.to_vec();
    }
    let catalog = crate::catalog(data, scorers);
    let mut user: Option<Vec<Suite>> = None;
    let mut out = Vec::new();
    for name in names {
        if let Some(s) = catalog.iter().find(|s| s.name == name) {
            out.push(s.clone());
            continue;
        }
        if user.is_none() {
            let mut suites = Vec::new();
            for p in env_task_paths() {
                suites.extend(load_task_files(&p, data, scorers)?);
            }
            user = Some(suites);
        }
        let found = user.iter().flatten().find(|s| s.name == name);
        match found {
            Some(s) => out.push(s.clone()),
            None => {
                return Err(SelectError::UnknownSuite {
                    name: name.to_string(),
                    known: catalog
                        .iter()
                        .chain(user.iter().flatten())
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    }
    for path in task_paths {
        out.extend(load_task_files(path, data, scorers)?);
    }
    Ok(out)
}
