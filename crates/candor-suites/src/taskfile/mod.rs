//! Task files: a benchmark as a YAML file plus data, no Rust.
//!
//! The keys follow lm-evaluation-harness's `TaskConfig` (see [`config`]), templates are Jinja
//! ([`minijinja`]), and a `languages:` matrix expands one file into one task per language.
//! Tasks built from a file implement [`candor_core::Task`] exactly like the Rust suites, so
//! the runner cannot tell them apart.
//!
//! ```no_run
//! use candor_data::DataDir;
//!
//! let data = DataDir::locate(None)?;
//! for suite in candor_suites::taskfile::load(std::path::Path::new("my_tasks/"), &data)? {
//!     println!("{}: {} tasks", suite.name, suite.tasks.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every problem is a [`TaskFileError`] naming the task file, and the line, key, data file and
//! row where they are known.

// Errors name the file, key, data file and row, so they are large; they are the cold path of
// loading a task once, not of any loop, and boxing them would only obscure the matches in tests.
#![allow(clippy::result_large_err)]

pub(crate) mod builtin;
mod compile;
pub mod config;
mod discover;
mod error;
mod fewshot;
mod filter;
pub mod manifest;
mod requests;
mod scoring;
mod task;
mod template;

use std::path::Path;
use std::sync::Arc;

use candor_core::{Task, TaskInfo};
use candor_data::DataDir;

pub use builtin::builtin_suites;
pub(crate) use compile::parse_task;
pub use discover::{load, load_scored};
pub use error::TaskFileError;
pub(crate) use error::{line_of, strip_location};
pub use manifest::{Manifest, ManifestError};
pub use task::FileTask;

/// File tasks as the runner sees them.
pub(crate) fn as_tasks(tasks: Vec<Arc<FileTask>>) -> Vec<Arc<dyn Task>> {
    tasks.into_iter().map(|t| t as Arc<dyn Task>).collect()
}

/// Where a task file's text came from.
pub(crate) struct Source<'a> {
    /// Shown in errors.
    pub origin: String,
    pub text: &'a str,
    /// The file's folder, for relative manifest paths (none for built-in files).
    pub dir: Option<&'a Path>,
}

/// Every sample of every task of a task file or folder, for `candor validate`: building them
/// renders every template and checks every target, without a model.
pub fn preview(
    path: &Path,
    data: &DataDir,
) -> Result<Vec<(TaskInfo, Vec<candor_core::Sample>)>, TaskFileError> {
    let options = candor_core::TaskOptions::default();
    let mut out = Vec::new();
    for suite in load(path, data)? {
        for t in &suite.tasks {
            let data = t.load(&options).map_err(|source| TaskFileError::Task {
                task: t.info().name.clone(),
                source,
            })?;
            out.push((t.info().clone(), data.samples));
        }
    }
    Ok(out)
}
