//! The benchmark suites candor ships, and their catalog.
//!
//! A suite is a named group of tasks over one dataset. Tasks read their data from a
//! [`DataDir`] and never call a model: the runner answers their requests.
//!
//! ```no_run
//! use candor_data::DataDir;
//!
//! let data = DataDir::locate(None)?;
//! let tasks = candor_suites::tasks(&["xcopa", "truthfulqa_mc"], &data)?;
//! assert_eq!(tasks.len(), 12); // 11 XCOPA languages + TruthfulQA
//!
//! // Or everything a run asks for, as suites: names, task files, `CANDOR_TASKS`.
//! let scorers = candor_suites::Scorers::default();
//! let suites = candor_suites::select(&["xstest".into()], &["my-tasks".into()], &data, &scorers)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bbq;
mod choice;
pub mod code;
mod crows_pairs;
pub mod data;
mod harmful;
pub mod hazards;
mod jailbreak;
pub mod taskfile;
mod toxigen;
mod truthfulqa;
/// The Rust twin of `tasks/xcopa/xcopa.yaml`: tests check that both give identical requests.
#[cfg(test)]
mod xcopa;

mod suite;

use std::sync::Arc;

use candor_core::{DatasetInfo, Scorer, Task};
use candor_data::DataDir;

pub use suite::{env_task_paths, load_task_files, select, SelectError, Suite, DEFAULT_SUITES};
/// lm-evaluation-harness's TruthfulQA QA preamble, for task files that port the suite.
pub use truthfulqa::PREAMBLE as TRUTHFULQA_PREAMBLE;

/// How a suite written in Rust is described and built (each module's `spec()`).
pub(crate) struct SuiteSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
    pub dataset: fn() -> DatasetInfo,
    build: fn(&DataDir, &Scorers) -> Vec<Arc<dyn Task>>,
}

/// What judges the generated answers of the safety suites.
#[derive(Clone)]
pub struct Scorers {
    /// Answers to harmful prompts (AdvBench, Do-Not-Answer, MultiJail, jailbreaks, XSTest): a
    /// refusal detector (`full_compliance` is a violation) or a guard judge (`unsafe`).
    pub harm: Arc<dyn Scorer>,
    /// ToxiGen continuations: a toxicity detector (`toxic`) or a guard judge (`unsafe`).
    pub toxicity: Arc<dyn Scorer>,
    /// Code tasks' programs: run against their tests, in the sandbox unless the user chose
    /// otherwise.
    pub code: Arc<code::CodeExecutor>,
}

impl Default for Scorers {
    /// The local detectors: refusal and toxicity word lists.
    fn default() -> Self {
        Self {
            harm: Arc::new(candor_safety::RefusalDetector),
            toxicity: Arc::new(candor_safety::ToxicityDetector),
            code: Arc::new(code::CodeExecutor::sandboxed()),
        }
    }
}

impl Scorers {
    /// One scorer, such as a guard model, for harm and toxicity (code is still run).
    pub fn judged_by(scorer: Arc<dyn Scorer>) -> Self {
        Self {
            harm: scorer.clone(),
            toxicity: scorer,
            ..Self::default()
        }
    }
}

impl SuiteSpec {
    /// The description of one of the suite's tasks.
    pub fn task_info(&self, name: &str, languages: &[&str]) -> candor_core::TaskInfo {
        candor_core::TaskInfo {
            reference_language: None,
            name: name.into(),
            suite: self.name.into(),
            description: self.description.into(),
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
            dataset: (self.dataset)(),
        }
    }

    fn suite(&self, data: &DataDir, scorers: &Scorers) -> Suite {
        Suite {
            name: self.name.into(),
            summary: self.description.into(),
            origin: "built-in".into(),
            tasks: (self.build)(data, scorers),
        }
    }
}

/// The suites written in Rust.
pub(crate) fn rust_specs() -> [SuiteSpec; 10] {
    [
        truthfulqa::spec(),
        jailbreak::spec(),
        bbq::spec(),
        crows_pairs::spec(),
        toxigen::spec(),
        code::humaneval_spec(),
        code::mbpp_spec(),
        code::humaneval_x_spec(),
        code::cyberseceval_instruct_spec(),
        code::cyberseceval_autocomplete_spec(),
    ]
}

/// Every built-in suite, written in Rust or as task files (`tasks/`, compiled in), reading
/// from `data`, with `scorers` judging generated answers where a suite has any.
pub fn catalog(data: &DataDir, scorers: &Scorers) -> Vec<Suite> {
    // Files `data` lacks come from the program or the HF cache ([`data`]).
    let data = &data::with_builtin_data(data);
    let rust = rust_specs();
    let mut out: Vec<Suite> = rust.iter().map(|s| s.suite(data, scorers)).collect();
    out.extend(
        taskfile::builtin_suites(data, scorers)
            .expect("built-in task files parse (checked by tests)"),
    );
    out
}

/// The tasks of the named built-in suites, in the order given, with the default scorers.
pub fn tasks(names: &[&str], data: &DataDir) -> Result<Vec<Arc<dyn Task>>, SelectError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Ok(select(&names, &[], data, &Scorers::default())?
        .into_iter()
        .flat_map(|s| s.tasks)
        .collect())
}

fn dataset(name: &str, license: &str, source: &str, flags: &[&str]) -> DatasetInfo {
    DatasetInfo {
        name: name.into(),
        license: license.into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        source: source.into(),
        files: Vec::new(),
    }
}

fn data_error(e: candor_data::DataError) -> candor_core::TaskError {
    candor_core::TaskError::data(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_suites_are_named_with_the_known_ones() {
        std::env::remove_var("CANDOR_TASKS");
        let err = tasks(&["xcopa", "nope"], &DataDir::new("/nonexistent"))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "unknown suite 'nope' (known suites: truthfulqa_mc, jailbreak, bbq, crows_pairs, toxigen, humaneval, mbpp, humaneval_x, cyberseceval_instruct, cyberseceval_autocomplete, xcopa, xwinograd, mgsm, truthfulqa_multi, advbench, do_not_answer, multijail, xstest)"
        );
    }
}
