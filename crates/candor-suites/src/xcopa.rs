//! XCOPA: causal commonsense in 11 languages. The premise (without its final full stop) is
//! joined to each alternative by the language's own word for "because" (cause questions) or
//! "therefore" (effect questions), as in lm-evaluation-harness.

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::names::metric;
use candor_core::{
    Response, Sample, ScorerOutput, SplitMix64, Task, TaskData, TaskError, TaskInfo, TaskOptions,
};
use candor_data::{DataDir, Row};
use serde_json::json;

use crate::{choice, data_error, dataset, SuiteSpec};

/// (language, "because", "therefore").
pub const CONNECTIVES: &[(&str, &str, &str)] = &[
    ("et", "sest", "seetõttu"),
    ("ht", "poukisa", "donk sa"),
    ("id", "karena", "maka"),
    ("it", "perché", "quindi"),
    ("qu", "imataq", "chaymi"),
    ("sw", "kwa sababu", "kwa hiyo"),
    ("ta", "காரணமாக", "எனவே"),
    ("th", "เพราะ", "ดังนั้น"),
    ("tr", "çünkü", "bu yüzden"),
    ("vi", "bởi vì", "vì vậy"),
    ("zh", "因为", "所以"),
];

pub fn spec() -> SuiteSpec {
    SuiteSpec {
        name: "xcopa",
        description: "XCOPA: choose the more plausible cause or effect, in 11 languages",
        tags: &["multilingual", "reasoning", "multiple_choice"],
        dataset: || {
            dataset(
                "xcopa",
                "CC-BY-4.0",
                "https://github.com/cambridgeltl/xcopa",
                &[],
            )
        },
        build: |data, _| {
            CONNECTIVES
                .iter()
                .map(|&(lang, because, therefore)| {
                    Arc::new(Xcopa::new(data.clone(), lang, because, therefore)) as Arc<dyn Task>
                })
                .collect()
        },
    }
}

pub struct Xcopa {
    data: DataDir,
    lang: &'static str,
    because: &'static str,
    therefore: &'static str,
    info: TaskInfo,
}

impl Xcopa {
    pub fn new(
        data: DataDir,
        lang: &'static str,
        because: &'static str,
        therefore: &'static str,
    ) -> Self {
        Self {
            data,
            lang,
            because,
            therefore,
            info: spec().task_info(&format!("xcopa_{lang}"), &[lang]),
        }
    }

    /// (context, [continuation 1, continuation 2], gold index) of one row.
    fn prompt(&self, row: &Row) -> Result<(String, Vec<String>, usize), TaskError> {
        let premise = row.str("premise").map_err(data_error)?.trim();
        let connective = match row.str("question").map_err(data_error)? {
            "cause" => self.because,
            "effect" => self.therefore,
            other => {
                return Err(TaskError::data(format!(
                    "{}:{}: field 'question': expected cause or effect, found '{other}'",
                    row.file, row.line
                )))
            }
        };
        let mut chars = premise.chars();
        chars.next_back();
        let context = format!("{} {connective}", chars.as_str());
        let choices = ["choice1", "choice2"]
            .iter()
            .map(|f| {
                Ok(format!(
                    " {}",
                    lowercase_first(row.str(f).map_err(data_error)?)
                ))
            })
            .collect::<Result<Vec<_>, TaskError>>()?;
        let gold = row.int("label").map_err(data_error)?;
        if !(0..=1).contains(&gold) {
            return Err(TaskError::data(format!(
                "{}:{}: field 'label': expected 0 or 1, found {gold}",
                row.file, row.line
            )));
        }
        Ok((context, choices, gold as usize))
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Task for Xcopa {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let lang = self.lang;
        let (rows, test) = self
            .data
            .jsonl(&format!("xcopa/data/{lang}/test.{lang}.jsonl"))
            .map_err(data_error)?;
        let mut files = vec![test];
        // Few-shot examples come from the validation split, drawn for each document with the
        // run's seed (as lm-evaluation-harness draws them per document).
        let k = options.num_fewshot.unwrap_or(0);
        let mut shots: Vec<String> = Vec::new();
        let val = if k > 0 {
            let (val, file) = self
                .data
                .jsonl(&format!("xcopa/data/{lang}/val.{lang}.jsonl"))
                .map_err(data_error)?;
            files.push(file);
            for row in &val {
                let (context, choices, gold) = self.prompt(row)?;
                shots.push(format!("{context}{}\n\n", choices[gold]));
            }
            val.len()
        } else {
            0
        };
        let mut samples = Vec::new();
        for (i, row) in rows
            .iter()
            .take(options.limit.unwrap_or(usize::MAX))
            .enumerate()
        {
            let (context, choices, gold) = self.prompt(row)?;
            let drawn = SplitMix64::for_item(options.seed, i as u64).distinct(val, k, None);
            let shots: String = drawn.iter().map(|&j| shots[j].as_str()).collect();
            let context = format!("{shots}{context}");
            samples.push(Sample {
                id: row
                    .int("idx")
                    .map(|i| i.to_string())
                    .unwrap_or_else(|_| row.line.to_string()),
                prompt: context.clone(),
                requests: choice::requests(&context, &choices),
                groups: BTreeMap::new(),
                target: json!({"gold": gold, "choices": choices}),
            });
        }
        Ok(TaskData { samples, files })
    }

    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
        _labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        let lls = choice::logliks(&self.info.name, sample, responses)?;
        let gold = sample.target["gold"].as_u64().unwrap_or(0) as usize;
        let bytes: Vec<usize> = sample.target["choices"]
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().map_or(1, str::len)).collect())
            .unwrap_or_default();
        Ok(BTreeMap::from([
            (
                metric::ACC.to_string(),
                candor_core::metrics::acc(&lls, gold),
            ),
            (
                "acc_norm".to_string(),
                candor_core::metrics::acc_norm(&lls, &bytes, gold),
            ),
        ]))
    }
}

#[cfg(test)]
mod twin {

    use super::*;

    fn data() -> Option<DataDir> {
        candor_data::shared_test_data("datasets").map(|d| DataDir::new(d.join("datasets")))
    }

    /// The task file `tasks/xcopa/xcopa.yaml` and this Rust task give the same requests, in
    /// every language, zero-shot and few-shot.
    #[test]
    fn a_task_written_as_a_file_and_in_rust_give_identical_requests() {
        let Some(data) = data() else { return };
        let file_tasks = crate::tasks(&["xcopa"], &data).unwrap();
        assert_eq!(file_tasks.len(), CONNECTIVES.len());
        for (file_task, &(lang, because, therefore)) in file_tasks.iter().zip(CONNECTIVES) {
            let rust_task = Xcopa::new(data.clone(), lang, because, therefore);
            assert_eq!(file_task.info().name, rust_task.info().name);
            assert_eq!(file_task.info().languages, rust_task.info().languages);
            for (num_fewshot, seed) in [(None, 1234), (Some(3), 1234), (Some(5), 7)] {
                let options = TaskOptions {
                    limit: Some(100),
                    num_fewshot,
                    seed,
                    ..TaskOptions::default()
                };
                let from_file = file_task.load(&options).unwrap();
                let from_rust = rust_task.load(&options).unwrap();
                assert_eq!(from_file.samples.len(), 100);
                for (a, b) in from_file.samples.iter().zip(&from_rust.samples) {
                    assert_eq!(a.requests, b.requests, "{lang} {num_fewshot:?}");
                }
                assert_eq!(from_file.files, from_rust.files);
            }
        }
    }
}
