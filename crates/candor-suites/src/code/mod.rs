//! Code generation judged by running the program against its tests: HumanEval (Chen et al.
//! 2021), MBPP (Austin et al. 2021) and HumanEval-X (Zheng et al. 2023) in Python, C++,
//! JavaScript, Java and Rust, with pass@k over `--samples` generations per problem.
//!
//! Each generation becomes one program (the problem's code before the completion, the
//! completion, then the tests) that the run's [`CodeExecutor`] labels with its [`Verdict`]:
//! the programs of a run are labelled in parallel on the run's thread pool, each in its own
//! sandbox, and the verdicts are the labels in `samples.jsonl`.

mod cyberseceval;
mod execute;
mod rust_crates;

pub(crate) use cyberseceval::{
    autocomplete_spec as cyberseceval_autocomplete_spec,
    instruct_spec as cyberseceval_instruct_spec,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::names::metric;
use candor_core::{
    metrics, FinishReason, GenerateRequest, GenerationParams, LabelRequest, Prompt, Request,
    Response, Sample, Scorer, ScorerOutput, SplitMix64, Task, TaskData, TaskError, TaskInfo,
    TaskOptions,
};
use candor_data::{DataDir, DataError, Row};
use serde_json::json;

pub use execute::{CodeExecutor, CodeLanguage, ExecutionError, Verdict};

use crate::{data_error, harmful, SuiteSpec};

/// The tag of tasks whose scoring runs model-written code: a run checks the sandbox, and the
/// toolchain of each [`CodeLanguage`] named in the task's tags, before it spends model time.
pub const EXECUTES_CODE: &str = "code_execution";
/// The tag of code tasks that a run leaves out, with a note, where the host lacks their
/// language's toolchain (HumanEval-X's languages besides Python).
pub const OPTIONAL_TOOLCHAIN: &str = "toolchain_optional";

/// The k of pass@k reported where the number of samples allows, besides n itself.
const PASS_AT: [usize; 3] = [1, 10, 100];
/// Sampling for n > 1, as in the Codex paper's pass@10/100 runs (nucleus 0.95).
const TEMPERATURE: f64 = 0.8;
const TOP_P: f64 = 0.95;
const DEFAULT_MAX_NEW_TOKENS: usize = 512;

/// HumanEval's usual stop sequences: the function ends where top-level code begins.
const HUMANEVAL_STOP: &[&str] = &["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```"];
/// MBPP's prompt ends in `[BEGIN]`; the answer ends at `[DONE]`.
const MBPP_STOP: &[&str] = &["[DONE]", "\n[BEGIN]"];
/// MBPP's few-shot problems (the paper's prompt: tasks 2, 3 and 4) and its test split.
const MBPP_SHOTS: [i64; 3] = [2, 3, 4];
const MBPP_TEST: std::ops::RangeInclusive<i64> = 11..=510;

pub(crate) fn humaneval_spec() -> SuiteSpec {
    SuiteSpec {
        name: "humaneval",
        description: "HumanEval: 164 Python functions completed from their signature and \
                      docstring, run against their tests in the sandbox (pass@k)",
        tags: &["code", EXECUTES_CODE, "python", "generation"],
        dataset: || crate::data::dataset_info("humaneval"),
        build: |data, scorers| {
            vec![Arc::new(CodeTask::new(
                Benchmark::HumanEval,
                data.clone(),
                scorers.code.clone(),
            ))]
        },
    }
}

pub(crate) fn mbpp_spec() -> SuiteSpec {
    SuiteSpec {
        name: "mbpp",
        description: "MBPP: 500 basic Python problems (the test split), the paper's 3-shot \
                      prompt with the tests shown, run against the tests in the sandbox \
                      (pass@k)",
        tags: &["code", EXECUTES_CODE, "python", "generation"],
        dataset: || crate::data::dataset_info("mbpp"),
        build: |data, scorers| {
            vec![Arc::new(CodeTask::new(
                Benchmark::Mbpp,
                data.clone(),
                scorers.code.clone(),
            ))]
        },
    }
}

pub(crate) fn humaneval_x_spec() -> SuiteSpec {
    SuiteSpec {
        name: "humaneval_x",
        description: "HumanEval-X: the HumanEval problems hand-translated into C++, \
                      JavaScript, Java, Python and Rust, run against their tests in the sandbox \
                      (pass@k; languages whose toolchain is missing are left out)",
        tags: &["code", EXECUTES_CODE, "generation"],
        dataset: || crate::data::dataset_info("humaneval_x"),
        build: |data, scorers| {
            CodeLanguage::ALL
                .into_iter()
                .map(|language| {
                    Arc::new(CodeTask::new(
                        Benchmark::HumanEvalX(language),
                        data.clone(),
                        scorers.code.clone(),
                    )) as Arc<dyn Task>
                })
                .collect()
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Benchmark {
    HumanEval,
    Mbpp,
    /// One language of HumanEval-X.
    HumanEvalX(CodeLanguage),
}

/// C++ and JavaScript completions end where the function closes, Java's where the class
/// does: at a `}` in the first column. The stop string is not returned, so the brace is put back.
const BRACE_STOP: &str = "\n}";
/// Rust completions may add helper items after the function (upstream's solutions do), so
/// they end where top-level code that is not the solution begins: tests, a `main`, a fence,
/// or a comment in the first column (the next problem's prompt).
const RUST_STOP: &[&str] = &["\n#[cfg(test)]", "\nfn main", "\n```", "\n/*", "\n//"];

/// What HumanEval-X's C++ programs may use without including it (upstream adds the missing
/// ones too).
const CPP_HEADERS: &str = "#include <algorithm>\n#include <climits>\n#include <cmath>\n\
                           #include <cstdlib>\n#include <cstring>\n#include <map>\n\
                           #include <numeric>\n#include <set>\n#include <sstream>\n\
                           #include <string>\n#include <vector>\n";

/// One problem: what the model continues, and the program its completion goes into.
struct Problem {
    id: String,
    prompt: String,
    /// Code before the completion (HumanEval: the prompt itself).
    head: String,
    /// The tests, after the completion.
    tests: String,
    /// The reference completion, kept in the sample's target.
    solution: String,
}

/// A code benchmark as a [`Task`].
pub(crate) struct CodeTask {
    benchmark: Benchmark,
    data: DataDir,
    scorer: Arc<dyn Scorer>,
    info: TaskInfo,
}

impl CodeTask {
    fn new(benchmark: Benchmark, data: DataDir, executor: Arc<CodeExecutor>) -> Self {
        let (spec, language) = match benchmark {
            Benchmark::HumanEval => (humaneval_spec(), CodeLanguage::Python),
            Benchmark::Mbpp => (mbpp_spec(), CodeLanguage::Python),
            Benchmark::HumanEvalX(language) => (humaneval_x_spec(), language),
        };
        let scorer = executor.scorer(language);
        let name = match benchmark {
            Benchmark::HumanEvalX(l) => format!("humaneval_x_{}", l.name()),
            _ => spec.name.to_string(),
        };
        let mut info = spec.task_info(&name, &["en"]);
        if !info.tags.iter().any(|t| t == language.name()) {
            info.tags.push(language.name().to_string());
        }
        if matches!(benchmark, Benchmark::HumanEvalX(l) if l != CodeLanguage::Python) {
            info.tags.push(OPTIONAL_TOOLCHAIN.to_string());
        }
        Self {
            benchmark,
            data,
            info: harmful::scored_by(info, scorer.as_ref()),
            scorer,
        }
    }

    fn problems(&self) -> Result<(Vec<Problem>, candor_core::DataFile), DataError> {
        match self.benchmark {
            Benchmark::HumanEval => {
                let (rows, file) = self.data.jsonl("humaneval/HumanEval.jsonl")?;
                let problems = rows
                    .iter()
                    .map(|row| {
                        let prompt = row.str("prompt")?.to_string();
                        Ok(Problem {
                            id: row.str("task_id")?.to_string(),
                            head: prompt.clone(),
                            prompt,
                            tests: format!(
                                "{}\ncheck({})\n",
                                row.str("test")?,
                                row.str("entry_point")?
                            ),
                            solution: row.str("canonical_solution")?.to_string(),
                        })
                    })
                    .collect::<Result<_, DataError>>()?;
                Ok((problems, file))
            }
            Benchmark::Mbpp => {
                let (rows, file) = self.data.jsonl("mbpp/mbpp.jsonl")?;
                let mut by_id = BTreeMap::new();
                for row in &rows {
                    by_id.insert(row.int("task_id")?, row);
                }
                let shots = MBPP_SHOTS
                    .iter()
                    .map(|id| {
                        let row = by_id.get(id).ok_or_else(|| DataError::Malformed {
                            file: file.path.clone(),
                            line: 0,
                            field: Some("task_id".into()),
                            reason: format!("few-shot task {id} is missing"),
                        })?;
                        Ok(format!(
                            "{}{}\n[DONE]",
                            mbpp_question(row)?,
                            mbpp_code(row)?
                        ))
                    })
                    .collect::<Result<Vec<_>, DataError>>()?
                    .join("\n");
                let problems = by_id
                    .range(MBPP_TEST)
                    .map(|(id, row)| {
                        let setup = row.str("test_setup_code")?.replace("\r\n", "\n");
                        Ok(Problem {
                            id: id.to_string(),
                            prompt: format!("{shots}\n{}", mbpp_question(row)?),
                            head: String::new(),
                            tests: format!("{setup}\n{}\n", mbpp_tests(row)?.join("\n")),
                            solution: mbpp_code(row)?,
                        })
                    })
                    .collect::<Result<_, DataError>>()?;
                Ok((problems, file))
            }
            Benchmark::HumanEvalX(language) => {
                let file = match language {
                    CodeLanguage::JavaScript => "js",
                    other => other.name(),
                };
                let (rows, file) = self
                    .data
                    .jsonl(&format!("humaneval_x/humaneval_{file}.jsonl"))?;
                let headers = if language == CodeLanguage::Cpp {
                    CPP_HEADERS
                } else {
                    ""
                };
                let problems = rows
                    .iter()
                    .map(|row| {
                        let mut prompt = row.str("prompt")?.to_string();
                        if language == CodeLanguage::Rust {
                            // Rust's prompt is the doc comment alone; upstream writes it after
                            // the signature (in the body), where the model continues.
                            prompt = format!("{}{prompt}", row.str("declaration")?);
                        }
                        Ok(Problem {
                            id: row.str("task_id")?.to_string(),
                            head: format!("{headers}{prompt}"),
                            prompt,
                            tests: format!("{}\n", row.str("test")?),
                            solution: row.str("canonical_solution")?.to_string(),
                        })
                    })
                    .collect::<Result<_, DataError>>()?;
                Ok((problems, file))
            }
        }
    }

    /// Where a completion ends: its stop strings, and the text to put back when one of them
    /// cut it (the closing brace of the function, or of Java's class).
    fn ending(&self) -> (&'static [&'static str], &'static str) {
        match self.benchmark {
            Benchmark::HumanEval | Benchmark::HumanEvalX(CodeLanguage::Python) => {
                (HUMANEVAL_STOP, "")
            }
            Benchmark::Mbpp => (MBPP_STOP, ""),
            Benchmark::HumanEvalX(CodeLanguage::Rust) => (RUST_STOP, ""),
            Benchmark::HumanEvalX(_) => (&[BRACE_STOP], BRACE_STOP),
        }
    }

    fn params(&self, options: &TaskOptions) -> GenerationParams {
        let (stop, _) = self.ending();
        let sampled = options.samples.unwrap_or(1) > 1;
        GenerationParams {
            max_new_tokens: options.max_new_tokens.unwrap_or(DEFAULT_MAX_NEW_TOKENS),
            temperature: if sampled { TEMPERATURE } else { 0.0 },
            top_p: if sampled { TOP_P } else { 1.0 },
            seed: options.seed,
            stop: stop.iter().map(|s| s.to_string()).collect(),
            ..GenerationParams::default()
        }
    }
}

/// MBPP's task text with its tests shown, up to `[BEGIN]` (the paper's prompt).
fn mbpp_question(row: &Row) -> Result<String, DataError> {
    Ok(format!(
        "You are an expert Python programmer, and here is your task: {} Your code should pass \
         these tests:\n\n{}\n[BEGIN]\n",
        row.str("text")?.trim(),
        mbpp_tests(row)?.join("\n")
    ))
}

fn mbpp_code(row: &Row) -> Result<String, DataError> {
    Ok(row.str("code")?.replace("\r\n", "\n"))
}

fn mbpp_tests(row: &Row) -> Result<Vec<String>, DataError> {
    let malformed = |reason: &str| DataError::Malformed {
        file: row.file.clone(),
        line: row.line,
        field: Some("test_list".into()),
        reason: reason.into(),
    };
    row.get("test_list")?
        .as_array()
        .ok_or_else(|| malformed("expected a list of asserts"))?
        .iter()
        .map(|t| {
            t.as_str()
                .map(|t| t.replace("\r\n", "\n"))
                .ok_or_else(|| malformed("expected text"))
        })
        .collect()
}

/// The program a completion is judged by: the problem's head, the completion, the tests.
pub fn program(target: &serde_json::Value, completion: &str) -> String {
    let part = |key: &str| target.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    format!("{}{completion}\n\n{}", part("head"), part("tests"))
}

/// pass@k of one problem from its verdicts (labels scoring 1 passed), for k in 1, 10, 100 and
/// n where k ≤ n.
fn pass_at(labels: &[ScorerOutput]) -> BTreeMap<String, f64> {
    let n = labels.len();
    let correct = labels.iter().filter(|l| l.score >= 1.0).count();
    PASS_AT
        .iter()
        .copied()
        .chain(std::iter::once(n))
        .filter_map(|k| {
            metrics::pass_at_k(n, correct, k).map(|v| (format!("{}{k}", metric::PASS_AT), v))
        })
        .collect()
}

impl Task for CodeTask {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let (problems, file) = self.problems().map_err(data_error)?;
        let n = options.samples.unwrap_or(1).max(1);
        let params = self.params(options);
        let samples = problems
            .into_iter()
            .take(options.limit.unwrap_or(usize::MAX))
            .enumerate()
            .map(|(index, p)| {
                let requests = (0..n)
                    .map(|i| {
                        let mut params = params.clone();
                        if n > 1 {
                            // Its own seed per problem and generation, the same whatever else
                            // the run holds.
                            params.seed =
                                SplitMix64::for_item(options.seed, (index * n + i) as u64)
                                    .next_u64();
                        }
                        Request::Generate(GenerateRequest {
                            prompt: Prompt::Text(p.prompt.clone()),
                            params,
                        })
                    })
                    .collect();
                Sample {
                    id: p.id,
                    requests,
                    prompt: p.prompt,
                    groups: BTreeMap::new(),
                    target: json!({"head": p.head, "tests": p.tests, "solution": p.solution}),
                }
            })
            .collect();
        Ok(TaskData {
            samples,
            files: vec![file],
        })
    }

    fn labels(
        &self,
        sample: &Sample,
        responses: &[Response],
    ) -> Result<Vec<LabelRequest>, TaskError> {
        let (_, put_back) = self.ending();
        Ok(harmful::generations(&self.info.name, sample, responses)?
            .into_iter()
            .map(|g| {
                let completion = match g.finish_reason {
                    FinishReason::Stop => format!("{}{put_back}", g.text),
                    _ => g.text.clone(),
                };
                LabelRequest::new(
                    &self.scorer,
                    sample.id.clone(),
                    program(&sample.target, &completion),
                )
            })
            .collect())
    }

    fn score(
        &self,
        sample: &Sample,
        _responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        if labels.len() != sample.requests.len() {
            return Err(TaskError::Scoring {
                task: self.info.name.clone(),
                sample: sample.id.clone(),
                reason: format!(
                    "{} verdicts for {} generations",
                    labels.len(),
                    sample.requests.len()
                ),
            });
        }
        Ok(pass_at(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(passed: &[bool]) -> Vec<ScorerOutput> {
        passed
            .iter()
            .map(|&p| ScorerOutput {
                label: if p { "passed" } else { "assertion" }.into(),
                score: f64::from(u8::from(p)),
            })
            .collect()
    }

    #[test]
    fn pass_at_k_for_the_samples_drawn() {
        // n = 1: pass@1 only.
        assert_eq!(
            pass_at(&verdicts(&[true])),
            BTreeMap::from([("pass@1".into(), 1.0)])
        );
        // n = 5, c = 2: pass@1 = 2/5, pass@5 = 1 (n - c < 5).
        let five = pass_at(&verdicts(&[false, true, false, true, false]));
        assert_eq!(five.keys().collect::<Vec<_>>(), ["pass@1", "pass@5"]);
        assert!((five["pass@1"] - 0.4).abs() < 1e-12);
        assert_eq!(five["pass@5"], 1.0);
        // n = 20, c = 1: pass@10 = 1 - C(19,10)/C(20,10) = 1 - 10/20.
        let mut twenty = vec![false; 20];
        twenty[7] = true;
        let twenty = pass_at(&verdicts(&twenty));
        assert_eq!(twenty.len(), 3);
        assert!((twenty["pass@10"] - 0.5).abs() < 1e-12);
        assert!((twenty["pass@1"] - 0.05).abs() < 1e-12);
        assert_eq!(twenty["pass@20"], 1.0);
    }

    #[test]
    fn a_program_is_head_completion_tests() {
        let target = json!({"head": "def f():\n", "tests": "assert f() == 1\n"});
        assert_eq!(
            program(&target, "    return 1"),
            "def f():\n    return 1\n\nassert f() == 1\n"
        );
    }
}
