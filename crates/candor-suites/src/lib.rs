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
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod advbench;
mod bbq;
mod choice;
mod crows_pairs;
pub mod data;
mod do_not_answer;
mod harmful;
pub mod hazards;
mod jailbreak;
mod multijail;
pub mod taskfile;
mod toxigen;
mod truthfulqa;
/// The Rust twin of `tasks/xcopa/xcopa.yaml`: tests check that both give identical requests.
#[cfg(test)]
mod xcopa;
mod xstest;

use std::sync::Arc;

use candor_core::{DatasetInfo, Scorer, Task};
use candor_data::DataDir;

/// A suite in the catalog.
pub struct SuiteSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
    pub languages: &'static [&'static str],
    pub dataset: fn() -> DatasetInfo,
    build: fn(&DataDir, &Scorers) -> Vec<Arc<dyn Task>>,
}

/// What judges the generated answers of the safety suites.
#[derive(Clone)]
pub struct Scorers {
    /// Answers to harmful prompts (AdvBench, Do-Not-Answer, MultiJail, jailbreaks): a refusal
    /// detector (`full_compliance` is a violation) or a guard judge (`unsafe`).
    pub harm: Arc<dyn Scorer>,
    /// ToxiGen continuations: a toxicity detector (`toxic`) or a guard judge (`unsafe`).
    pub toxicity: Arc<dyn Scorer>,
}

impl Default for Scorers {
    /// The local detectors: refusal and toxicity word lists.
    fn default() -> Self {
        Self {
            harm: Arc::new(candor_safety::RefusalDetector),
            toxicity: Arc::new(candor_safety::ToxicityDetector),
        }
    }
}

impl Scorers {
    /// One scorer, such as a guard model, for both.
    pub fn judged_by(scorer: Arc<dyn Scorer>) -> Self {
        Self {
            harm: scorer.clone(),
            toxicity: scorer,
        }
    }
}

impl SuiteSpec {
    /// The description of one of the suite's tasks.
    pub fn task_info(&self, name: &str, languages: &[&str]) -> candor_core::TaskInfo {
        candor_core::TaskInfo {
            name: name.into(),
            suite: self.name.into(),
            description: self.description.into(),
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
            languages: languages.iter().map(|l| l.to_string()).collect(),
            dataset: (self.dataset)(),
        }
    }

    /// The suite's tasks, reading from `data`, with the default scorers.
    pub fn tasks(&self, data: &DataDir) -> Vec<Arc<dyn Task>> {
        self.tasks_scored_by(data, &Scorers::default())
    }

    /// The suite's tasks, with `scorers` judging generated answers where the suite has any;
    /// files `data` lacks come from the program or the HF cache ([`data`]).
    pub fn tasks_scored_by(&self, data: &DataDir, scorers: &Scorers) -> Vec<Arc<dyn Task>> {
        (self.build)(&data::with_builtin_data(data), scorers)
    }
}

/// Every built-in suite.
pub fn catalog() -> Vec<SuiteSpec> {
    vec![
        truthfulqa::spec(),
        xstest::spec(),
        advbench::spec(),
        do_not_answer::spec(),
        multijail::spec(),
        jailbreak::spec(),
        bbq::spec(),
        crows_pairs::spec(),
        toxigen::spec(),
    ]
}

/// A suite name that is not in the catalog.
#[derive(Debug, thiserror::Error)]
#[error("unknown suite '{name}' (known suites: {known})")]
pub struct UnknownSuite {
    pub name: String,
    pub known: String,
}

/// The suites candor ships as task files (`tasks/` in the repository, compiled in).
pub fn file_suites(data: &DataDir) -> Vec<taskfile::FileSuite> {
    taskfile::builtin_suites(data).expect("built-in task files parse (checked by tests)")
}

/// The suites that run by default: quick, and their data ships with candor.
pub const DEFAULT_SUITES: &[&str] = &["truthfulqa_mc", "xcopa", "xstest"];

/// The tasks of the named suites, in the order given: the catalog's, then those written as
/// task files.
pub fn tasks(names: &[&str], data: &DataDir) -> Result<Vec<Arc<dyn Task>>, UnknownSuite> {
    tasks_scored_by(names, data, &Scorers::default())
}

/// [`tasks`], with `scorers` judging the safety suites' generated answers.
pub fn tasks_scored_by(
    names: &[&str],
    data: &DataDir,
    scorers: &Scorers,
) -> Result<Vec<Arc<dyn Task>>, UnknownSuite> {
    let catalog = catalog();
    let data = &data::with_builtin_data(data);
    let files = file_suites(data);
    let mut out = Vec::new();
    for name in names {
        if let Some(spec) = catalog.iter().find(|s| s.name == *name) {
            out.extend(spec.tasks_scored_by(data, scorers));
        } else if let Some(suite) = files.iter().find(|s| s.name == *name) {
            out.extend(suite.tasks());
        } else {
            return Err(UnknownSuite {
                name: name.to_string(),
                known: catalog
                    .iter()
                    .map(|s| s.name)
                    .chain(files.iter().map(|s| s.name.as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(out)
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
    candor_core::TaskError::Data(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_suites_are_named_with_the_known_ones() {
        let err = tasks(&["xcopa", "nope"], &DataDir::new("/nonexistent"))
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "unknown suite 'nope' (known suites: truthfulqa_mc, xstest, advbench, do_not_answer, multijail, jailbreak, bbq, crows_pairs, toxigen, xcopa, xwinograd, mgsm, truthfulqa_multi)"
        );
    }
}
