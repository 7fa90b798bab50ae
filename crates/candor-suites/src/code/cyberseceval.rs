//! CyberSecEval's secure-code tests (Bhatt et al. 2023, Meta Purple Llama): 1,916 prompts in
//! eight languages, each built from a real insecure code site, asking the model to write code
//! (`instruct`: a description of the code) or to continue it (`autocomplete`: the code before
//! the insecure line). An answer's code (its first fenced block, else the whole answer) is
//! scanned by candor's own insecure-code rules ([`InsecureCodeDetector`]); `insecure_code` is
//! 1 when a rule of the prompt's language flags it, with breakdowns by `code_language` and by
//! the prompt's `cwe`. A refusal holds no code, so it counts as secure, as upstream.
//!
//! candor's rules are not Meta's Insecure Code Detector, so rates are comparable between
//! candor runs, not with published CyberSecEval numbers. A `--limit` takes prompts
//! round-robin over the languages.

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::names::{group, metric};
use candor_core::{
    LabelRequest, Response, Sample, Scorer, ScorerOutput, Task, TaskData, TaskError, TaskInfo,
    TaskOptions,
};
use candor_data::DataDir;
use candor_safety::{InsecureCodeDetector, CODE_LANGUAGES};
use serde_json::json;

use crate::{data_error, harmful, SuiteSpec};

const DEFAULT_MAX_NEW_TOKENS: usize = 512;

pub(crate) fn instruct_spec() -> SuiteSpec {
    SuiteSpec {
        name: "cyberseceval_instruct",
        description: "CyberSecEval instruct: code written from a description of real insecure \
                      code, in 8 languages; the share with an insecure pattern by language \
                      and CWE",
        tags: &["safety", "code", "code_security", "generation"],
        dataset: || crate::data::dataset_info("cyberseceval"),
        build: |data, _| vec![Arc::new(CyberSecEval::new(Variant::Instruct, data.clone()))],
    }
}

pub(crate) fn autocomplete_spec() -> SuiteSpec {
    SuiteSpec {
        name: "cyberseceval_autocomplete",
        description: "CyberSecEval autocomplete: real code continued from just before an \
                      insecure line, in 8 languages; the share with an insecure pattern by \
                      language and CWE",
        tags: &["safety", "code", "code_security", "generation"],
        dataset: || crate::data::dataset_info("cyberseceval"),
        build: |data, _| {
            vec![Arc::new(CyberSecEval::new(
                Variant::Autocomplete,
                data.clone(),
            ))]
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Instruct,
    Autocomplete,
}

pub(crate) struct CyberSecEval {
    variant: Variant,
    data: DataDir,
    info: TaskInfo,
    /// The rules of each language, as scorers.
    scorers: BTreeMap<&'static str, Arc<dyn Scorer>>,
}

impl CyberSecEval {
    fn new(variant: Variant, data: DataDir) -> Self {
        let spec = match variant {
            Variant::Instruct => instruct_spec(),
            Variant::Autocomplete => autocomplete_spec(),
        };
        let scorers: BTreeMap<_, _> = CODE_LANGUAGES
            .iter()
            .map(|&l| (l, InsecureCodeDetector::scorer(l)))
            .collect();
        let info = harmful::scored_by(spec.task_info(spec.name, &["en"]), scorers["c"].as_ref());
        Self {
            variant,
            data,
            info,
            scorers,
        }
    }

    fn file(&self) -> &'static str {
        match self.variant {
            Variant::Instruct => "cyberseceval/instruct/instruct.json",
            Variant::Autocomplete => "cyberseceval/autocomplete/autocomplete.json",
        }
    }
}

impl Task for CyberSecEval {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let (rows, file) = self.data.json_rows(self.file()).map_err(data_error)?;
        let mut by_language: BTreeMap<&str, Vec<Sample>> = BTreeMap::new();
        let params = candor_core::GenerationParams {
            max_new_tokens: options.max_new_tokens.unwrap_or(DEFAULT_MAX_NEW_TOKENS),
            seed: options.seed,
            ..Default::default()
        };
        for row in &rows {
            let language = row.str("language").map_err(data_error)?;
            let Some(&language) = CODE_LANGUAGES.iter().find(|&&l| l == language) else {
                return Err(TaskError::data(format!(
                    "{} line {}: unknown language {language:?} (known: {})",
                    row.file,
                    row.line,
                    CODE_LANGUAGES.join(", ")
                )));
            };
            let prompt = row.str("test_case_prompt").map_err(data_error)?;
            let cwe = row.str("cwe_identifier").map_err(data_error)?;
            by_language.entry(language).or_default().push(Sample {
                id: row.int("prompt_id").map_err(data_error)?.to_string(),
                prompt: prompt.to_string(),
                requests: vec![harmful::chat(prompt, &params)],
                groups: BTreeMap::from([
                    (group::CODE_LANGUAGE.to_string(), language.to_string()),
                    (group::CWE.to_string(), cwe.to_string()),
                ]),
                target: json!({"language": language, "cwe": cwe}),
            });
        }
        let samples = harmful::round_robin(by_language.into_values().collect())
            .into_iter()
            .take(options.limit.unwrap_or(usize::MAX))
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
        let texts = harmful::texts(&self.info.name, sample, responses)?;
        let language = sample.groups[group::CODE_LANGUAGE].as_str();
        let scorer = self
            .scorers
            .get(language)
            .ok_or_else(|| TaskError::Scoring {
                task: self.info.name.clone(),
                sample: sample.id.clone(),
                reason: format!("no rules for {language}"),
            })?;
        Ok(vec![LabelRequest::new(
            scorer,
            sample.prompt.clone(),
            texts[0],
        )])
    }

    fn score(
        &self,
        sample: &Sample,
        _responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        let out = harmful::label(labels, 0, &self.info.name, sample)?;
        Ok(BTreeMap::from([(
            metric::INSECURE_CODE.to_string(),
            out.score,
        )]))
    }
}
