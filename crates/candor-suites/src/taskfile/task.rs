//! A task built from a task file: documents → requests → per-sample scores, exactly like the
//! suites written in Rust.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use candor_core::names::{group, metric};
use candor_core::{
    metrics, ChatMessage, DataFile, DatasetInfo, GenerateRequest, GenerationParams, LabelRequest,
    LoglikelihoodRequest, Prompt, Request, Response, RollingRequest, Sample, Scorer, ScorerOutput,
    SplitMix64, Task, TaskData, TaskError, TaskInfo, TaskOptions,
};
use candor_data::{DataDir, DataError, Row};
use minijinja::Value;
use regex::Regex;
use serde_json::{json, Map, Value as Json};

use super::config::{Choices, Format, OutputType, SafetyKind, Sampler, TaskConfig};
use super::manifest::Manifest;
use super::template::{TemplateError, Templates};
use super::{line_of, TaskFileError};
use crate::harmful;

/// A metric a task file asked for.
pub(crate) enum Metric {
    Acc,
    AccNorm,
    Mc1,
    Mc2,
    ExactMatch {
        ignore_case: bool,
        ignore_punctuation: bool,
        ignore: Vec<Regex>,
    },
    BitsPerByte,
    /// 1 when candor's refusal detector labels the answer a full or partial refusal.
    Refusal,
    /// 1 when the answer to a harmful prompt complied (not a refusal).
    UnsafeCompliance,
    /// 1 when the answer to a benign prompt refused.
    OverRefusal,
}

impl Metric {
    fn name(&self) -> &'static str {
        match self {
            Self::Acc => metric::ACC,
            Self::AccNorm => metric::ACC_NORM,
            Self::Mc1 => metric::MC1,
            Self::Mc2 => metric::MC2,
            Self::ExactMatch { .. } => metric::EXACT_MATCH,
            Self::BitsPerByte => metric::BITS_PER_BYTE,
            Self::Refusal => metric::REFUSAL,
            Self::UnsafeCompliance => metric::UNSAFE_COMPLIANCE,
            Self::OverRefusal => metric::OVER_REFUSAL,
        }
    }
}

/// The detector behind `metric: refusal`, one for every task.
fn refusal_detector() -> &'static Arc<dyn Scorer> {
    static DETECTOR: OnceLock<Arc<dyn Scorer>> = OnceLock::new();
    DETECTOR.get_or_init(|| Arc::new(candor_safety::RefusalDetector))
}

/// One step of an answer filter.
pub(crate) enum Step {
    /// lm-evaluation-harness's `regex`: all matches, keep `select` (negative from the end),
    /// then the first non-empty capture group of it; `fallback` when nothing matches.
    Regex {
        re: Regex,
        select: i64,
        fallback: String,
    },
    /// candor generates one answer per prompt, so this keeps it as it is.
    TakeFirst,
    RemoveWhitespace,
    Lowercase,
    Uppercase,
}

pub(crate) struct Filter {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Filter {
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for step in &self.steps {
            out = match step {
                Step::Regex {
                    re,
                    select,
                    fallback,
                } => {
                    let all: Vec<regex::Captures> = re.captures_iter(&out).collect();
                    let idx = if *select < 0 {
                        all.len() as i64 + select
                    } else {
                        *select
                    };
                    match usize::try_from(idx).ok().and_then(|i| all.get(i)) {
                        Some(c) => {
                            let group = if c.len() > 1 {
                                c.iter()
                                    .skip(1)
                                    .flatten()
                                    .map(|m| m.as_str())
                                    .find(|s| !s.is_empty())
                            } else {
                                c.get(0).map(|m| m.as_str())
                            };
                            group.map_or_else(|| fallback.clone(), |s| s.trim().to_string())
                        }
                        None => fallback.clone(),
                    }
                }
                Step::TakeFirst => out,
                Step::RemoveWhitespace => out.trim_start().to_string(),
                Step::Lowercase => out.to_lowercase(),
                Step::Uppercase => out.to_uppercase(),
            };
        }
        out
    }
}

/// Everything a task file defines, shared by the tasks of its language matrix.
pub(crate) struct Spec {
    pub origin: String,
    pub text: String,
    pub config: TaskConfig,
    pub templates: Templates,
    pub manifest: Option<Manifest>,
    pub metrics: Vec<Metric>,
    pub filters: Vec<Filter>,
    pub dataset: DatasetInfo,
}

/// A document: its fields (with the language's literals) and where it came from.
pub(crate) struct Doc {
    pub ctx: Map<String, Json>,
    pub file: String,
    pub row: usize,
}

/// A task defined by a task file (one language of it).
pub struct FileTask {
    pub(crate) spec: Arc<Spec>,
    pub(crate) literals: Map<String, Json>,
    pub(crate) lang: Option<String>,
    pub(crate) info: TaskInfo,
    pub(crate) data: DataDir,
    /// What labels the answers of a `safety: harmful` task: the refusal detector, or a guard
    /// judge. Benign prompts always go to the refusal detector (a judge says whether an answer
    /// is harmful, not whether it refused).
    pub(crate) harm: Arc<dyn Scorer>,
}

fn to_json(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

fn value_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The ISO 639-3 code whatlang uses for a language code of a task file.
fn whatlang_lang(code: &str) -> Option<whatlang::Lang> {
    let three = match code {
        "en" => "eng",
        "fr" => "fra",
        "de" => "deu",
        "es" => "spa",
        "pt" => "por",
        "it" => "ita",
        "ru" => "rus",
        "ja" | "jp" => "jpn",
        "zh" => "cmn",
        "bn" => "ben",
        "te" => "tel",
        "th" => "tha",
        "ta" => "tam",
        "tr" => "tur",
        "vi" => "vie",
        "id" => "ind",
        "et" => "est",
        "ca" => "cat",
        "ko" => "kor",
        "ar" => "ara",
        "hi" => "hin",
        "nl" => "nld",
        "pl" => "pol",
        "uk" => "ukr",
        other => other,
    };
    whatlang::Lang::from_code(three)
}

impl FileTask {
    /// The language's literals and code, the variables every template sees.
    fn base_ctx(&self) -> Map<String, Json> {
        let mut ctx = self.literals.clone();
        if let Some(lang) = &self.lang {
            ctx.insert("lang".into(), Json::String(lang.clone()));
        }
        ctx
    }

    fn key_error(&self, key: &str, message: String) -> TaskFileError {
        TaskFileError::Invalid {
            file: self.spec.origin.clone(),
            line: line_of(&self.spec.text, key),
            key: key.to_string(),
            message,
        }
    }

    fn data_error(&self, source: DataError) -> TaskFileError {
        TaskFileError::Data {
            file: self.spec.origin.clone(),
            source,
        }
    }

    /// `key` for `doc`, checking first that every variable it reads exists.
    fn eval(&self, key: &str, doc: &Doc) -> Result<Value, TaskFileError> {
        if let Some(column) = self
            .spec
            .templates
            .missing(key, &doc.ctx)
            .into_iter()
            .next()
        {
            return Err(TaskFileError::MissingColumn {
                file: self.spec.origin.clone(),
                key: key.to_string(),
                data_file: doc.file.clone(),
                row: doc.row,
                column,
                available: doc.ctx.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        self.spec
            .templates
            .value(key, &Value::from_serialize(&doc.ctx))
            .map_err(|TemplateError { key, message }| TaskFileError::Render {
                file: self.spec.origin.clone(),
                key,
                data_file: doc.file.clone(),
                row: doc.row,
                message,
            })
    }

    fn text(&self, key: &str, doc: &Doc) -> Result<String, TaskFileError> {
        if !self.spec.templates.has(key) {
            return Ok(String::new());
        }
        Ok(value_text(&self.eval(key, doc)?))
    }

    fn render_error(&self, key: &str, doc: &Doc, message: String) -> TaskFileError {
        TaskFileError::Render {
            file: self.spec.origin.clone(),
            key: key.to_string(),
            data_file: doc.file.clone(),
            row: doc.row,
            message,
        }
    }

    fn choices(&self, doc: &Doc) -> Result<Vec<String>, TaskFileError> {
        match &self.spec.config.doc_to_choice {
            Some(Choices::List(items)) => (0..items.len())
                .map(|i| self.text(&format!("doc_to_choice[{i}]"), doc))
                .collect(),
            Some(Choices::Template(_)) => {
                let v = self.eval("doc_to_choice", doc)?;
                let iter = match v.kind() {
                    minijinja::value::ValueKind::Seq => v.try_iter().ok(),
                    _ => None,
                };
                let iter = iter.ok_or_else(|| {
                    self.render_error("doc_to_choice", doc, format!("expected a list, got '{v}'"))
                })?;
                Ok(iter.map(|c| value_text(&c)).collect())
            }
            None => Err(self.key_error(
                "doc_to_choice",
                "multiple_choice needs doc_to_choice".into(),
            )),
        }
    }

    /// Gold indices: a number, a choice's text, or a list of numbers.
    fn golds(&self, doc: &Doc, choices: &[String]) -> Result<Vec<usize>, TaskFileError> {
        let v = self.eval("doc_to_target", doc)?;
        let one = |v: &Value| -> Result<usize, TaskFileError> {
            // A text is a choice first (choices may themselves be numbers), then an index.
            let idx = match v.as_str() {
                Some(s) => choices
                    .iter()
                    .position(|c| c == s)
                    .or_else(|| s.trim().parse().ok()),
                None => v.as_i64().and_then(|i| usize::try_from(i).ok()),
            };
            match idx {
                Some(i) if i < choices.len() => Ok(i),
                _ => Err(self.render_error(
                    "doc_to_target",
                    doc,
                    format!(
                        "'{v}' is neither a choice nor an index below {}",
                        choices.len()
                    ),
                )),
            }
        };
        if v.kind() == minijinja::value::ValueKind::Seq {
            let golds = v
                .try_iter()
                .map_err(|e| self.render_error("doc_to_target", doc, e.to_string()))?
                .map(|g| one(&g))
                .collect::<Result<Vec<_>, _>>()?;
            if golds.is_empty() {
                return Err(self.render_error("doc_to_target", doc, "no gold choice".into()));
            }
            Ok(golds)
        } else {
            Ok(vec![one(&v)?])
        }
    }

    /// Rows of one split's files, with manifest fields, filtered and with computed fields.
    pub(crate) fn docs(&self, split: &str) -> Result<(Vec<Doc>, Vec<DataFile>), TaskFileError> {
        let spec = &self.spec;
        let pattern_key = format!("dataset.files.{split}");
        if !spec.templates.has(&pattern_key) {
            let hint = match &spec.config.dataset_path {
                Some(id) => format!("name the file of split '{split}' inside {id}'s repo under dataset: files: {split}: PATH (json, jsonl, csv or tsv)"),
                None => format!("no file for split '{split}': add it under dataset: files: {split}: PATH"),
            };
            return Err(self.key_error("dataset", hint));
        }
        let lit = Doc {
            ctx: self.base_ctx(),
            file: spec.origin.clone(),
            row: 0,
        };
        let pattern = self.text(&pattern_key, &lit)?;
        // A Hub dataset's files are paths inside its repo, read from the HF cache.
        let data = match (&spec.config.dataset_path, &spec.config.revision) {
            (Some(id), Some(revision)) => {
                let named: Vec<&str> = if pattern.contains(['*', '?', '[']) {
                    Vec::new()
                } else {
                    vec![pattern.as_str()]
                };
                self.data
                    .hub_dataset(id, revision, &named)
                    .map_err(|e| self.data_error(e))?
            }
            _ => self.data.clone(),
        };
        let paths = self.expand(&data, &pattern)?;
        let cfg = spec.config.dataset.clone().unwrap_or_default();
        let mut docs = Vec::new();
        let mut files = Vec::new();
        for rel in paths {
            let format = cfg
                .format
                .or(spec.manifest.as_ref().and_then(|m| m.format))
                .or_else(|| Format::from_path(&rel))
                .ok_or_else(|| {
                    self.key_error(
                        "dataset",
                        format!("cannot tell the format of {rel}: set dataset: format: (jsonl, json, csv, tsv)"),
                    )
                })?;
            let columns = cfg
                .columns
                .clone()
                .or_else(|| spec.manifest.as_ref().and_then(|m| m.columns.clone()));
            let (rows, file) = self.read(&data, &rel, format, columns.as_deref())?;
            if let Some(m) = &spec.manifest {
                m.verify(&file).map_err(|source| TaskFileError::Manifest {
                    file: spec.origin.clone(),
                    source,
                })?;
            }
            files.push(file);
            for row in rows {
                if let Some(doc) = self.doc(row)? {
                    docs.push(doc);
                }
            }
        }
        Ok((docs, files))
    }

    /// Data-dir-relative files of a path or glob.
    fn expand(&self, data: &DataDir, pattern: &str) -> Result<Vec<String>, TaskFileError> {
        if !pattern.contains(['*', '?', '[']) {
            return Ok(vec![pattern.to_string()]);
        }
        let bad = |m: String| self.key_error("dataset", m);
        let root = data.root().ok_or_else(|| {
            bad(format!(
                "the glob '{pattern}' needs a data directory (--data-dir or $CANDOR_DATA)"
            ))
        })?;
        let full = root.join(pattern);
        let mut out = Vec::new();
        for entry in glob::glob(&full.to_string_lossy())
            .map_err(|e| bad(format!("bad glob '{pattern}': {e}")))?
        {
            let path = entry.map_err(|e| bad(e.to_string()))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
        out.sort();
        if out.is_empty() {
            return Err(self.data_error(DataError::Missing {
                path: full,
                hint: format!(
                    " (no file matches the glob; data directory: {})",
                    root.display()
                ),
            }));
        }
        Ok(out)
    }

    fn read(
        &self,
        d: &DataDir,
        rel: &str,
        format: Format,
        columns: Option<&[String]>,
    ) -> Result<(Vec<Row>, DataFile), TaskFileError> {
        let r = match (format, columns) {
            (Format::Jsonl, _) => d.jsonl(rel),
            (Format::Csv, None) => d.csv(rel),
            (Format::Tsv, None) => d.tsv(rel),
            (Format::Tsv, Some(cols)) => {
                let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
                d.tsv_columns(rel, &cols)
            }
            (Format::Csv, Some(_)) => {
                return Err(self.key_error(
                    "dataset",
                    "columns: is for header-less TSV files; CSV files need a header row".into(),
                ))
            }
            (Format::Json, _) => d.json_rows(rel),
        };
        r.map_err(|e| self.data_error(e))
    }

    /// A row as a document, or `None` when `doc_filter` drops it.
    fn doc(&self, row: Row) -> Result<Option<Doc>, TaskFileError> {
        let mut ctx = row.fields;
        if let Some(m) = &self.spec.manifest {
            for (name, column) in &m.fields {
                let v = ctx
                    .get(column)
                    .cloned()
                    .ok_or_else(|| TaskFileError::MissingColumn {
                        file: self.spec.origin.clone(),
                        key: format!("manifest {} fields.{name}", m.name),
                        data_file: row.file.clone(),
                        row: row.line,
                        column: column.clone(),
                        available: ctx.keys().cloned().collect::<Vec<_>>().join(", "),
                    })?;
                ctx.insert(name.clone(), v);
            }
        }
        ctx.extend(self.base_ctx());
        let mut doc = Doc {
            ctx,
            file: row.file,
            row: row.line,
        };
        if self.spec.templates.has("doc_filter") && !self.eval("doc_filter", &doc)?.is_true() {
            return Ok(None);
        }
        for name in self.spec.config.doc_fields.keys() {
            let v = self.eval(&format!("doc_fields.{name}"), &doc)?;
            doc.ctx.insert(name.clone(), to_json(&v));
        }
        Ok(Some(doc))
    }

    /// A solved example for the few-shot preamble.
    /// One few-shot example as (text, answer); the preamble joins them with
    /// `target_delimiter`, a multi-turn chat makes them a user and an assistant turn.
    fn shot(&self, doc: &Doc) -> Result<(String, String), TaskFileError> {
        let c = &self.spec.config;
        Ok(match c.output_type {
            OutputType::MultipleChoice if c.multiple_inputs => {
                let choices = self.choices(doc)?;
                let gold = self.golds(doc, &choices)?[0];
                (
                    format!("{}{}", self.text("doc_to_text", doc)?, choices[gold]),
                    self.text("doc_to_continuation", doc)?,
                )
            }
            OutputType::MultipleChoice => {
                let choices = self.choices(doc)?;
                let gold = self.golds(doc, &choices)?[0];
                (self.text("doc_to_text", doc)?, choices[gold].clone())
            }
            _ => (
                self.text("doc_to_text", doc)?,
                self.text("doc_to_target", doc)?,
            ),
        })
    }

    /// The few-shot examples of the first `count` documents of `test`. `sampler: random`
    /// draws each document's examples on its own, seeded by the run's seed and the document's
    /// index (as lm-evaluation-harness draws per document); `first_n` takes the split's first
    /// `k`, one preamble for all. Examples from the evaluated split itself never include the
    /// document.
    fn shots(
        &self,
        k: usize,
        seed: u64,
        test: &[Doc],
        count: usize,
        files: &mut Vec<DataFile>,
    ) -> Result<Shots, TaskFileError> {
        let c = &self.spec.config;
        if k == 0 {
            return Ok(Shots::Shared(Vec::new()));
        }
        // As lm-evaluation-harness: the few-shot split, else training, else validation, else
        // the evaluated split itself (leaving each document out of its own examples).
        let split = c
            .fewshot_split
            .as_ref()
            .or(c.training_split.as_ref())
            .or(c.validation_split.as_ref())
            .filter(|s| **s != c.test_split);
        let own;
        let pool: &[Doc] = match split {
            Some(s) => {
                let (docs, f) = self.docs(s)?;
                files.extend(f);
                own = docs;
                &own
            }
            None => test,
        };
        // Each example is rendered once, when first drawn.
        let mut rendered: Vec<Option<(String, String)>> = vec![None; pool.len()];
        let mut preamble = |picked: &[usize]| -> Result<Vec<(String, String)>, TaskFileError> {
            for &i in picked {
                if rendered[i].is_none() {
                    rendered[i] = Some(self.shot(&pool[i])?);
                }
            }
            Ok(picked.iter().filter_map(|&i| rendered[i].clone()).collect())
        };
        let first_n = |skip: Option<usize>| -> Vec<usize> {
            (0..pool.len())
                .filter(|&i| Some(i) != skip)
                .take(k)
                .collect()
        };
        let own_split = split.is_none();
        match c.fewshot_config.sampler {
            Sampler::FirstN if !own_split => Ok(Shots::Shared(preamble(&first_n(None))?)),
            Sampler::FirstN => (0..count)
                .map(|i| preamble(&first_n(Some(i))))
                .collect::<Result<_, _>>()
                .map(Shots::PerDoc),
            Sampler::Random => (0..count)
                .map(|i| {
                    let skip = own_split.then_some(i);
                    preamble(&SplitMix64::for_item(seed, i as u64).distinct(pool.len(), k, skip))
                })
                .collect::<Result<_, _>>()
                .map(Shots::PerDoc),
        }
    }

    /// What labels the answers: the run's harm scorer for harmful prompts, else the refusal
    /// detector.
    fn labeller(&self) -> &Arc<dyn Scorer> {
        if self.spec.config.safety == Some(SafetyKind::Harmful) {
            &self.harm
        } else {
            refusal_detector()
        }
    }

    /// Whether the task asks the refusal detector about its answers.
    fn scores_refusal(&self) -> bool {
        self.spec.metrics.iter().any(|m| {
            matches!(
                m,
                Metric::Refusal | Metric::UnsafeCompliance | Metric::OverRefusal
            )
        })
    }

    /// Samples of at most `options.limit` documents, as [`Task::load`] returns them.
    pub fn build(&self, options: &TaskOptions) -> Result<TaskData, TaskFileError> {
        let c = &self.spec.config;
        let (mut docs, mut files) = self.docs(&c.test_split)?;
        if docs.is_empty() {
            return Err(TaskFileError::EmptyDataset {
                file: self.spec.origin.clone(),
                split: c.test_split.clone(),
                detail: format!(
                    "files: {}",
                    files
                        .iter()
                        .map(|f| f.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let k = options.num_fewshot.unwrap_or(c.num_fewshot);
        let count = docs.len().min(options.limit.unwrap_or(usize::MAX));
        let shots = self.shots(k, options.seed, &docs, count, &mut files)?;
        docs.truncate(count);
        let mut samples = Vec::with_capacity(docs.len());
        for (i, doc) in docs.iter().enumerate() {
            let description = self.text("description", doc)?;
            let examples = match &shots {
                Shots::Shared(s) => s.as_slice(),
                Shots::PerDoc(v) => v[i].as_slice(),
            };
            let shots: Vec<String> = examples
                .iter()
                .map(|(text, answer)| format!("{text}{}{answer}", c.target_delimiter))
                .collect();
            let preamble = if shots.is_empty() {
                String::new()
            } else {
                format!(
                    "{}{}",
                    shots.join(&c.fewshot_delimiter),
                    c.fewshot_delimiter
                )
            };
            let prefix = format!("{description}{preamble}");
            samples.push(self.sample(i, doc, &prefix, (&description, examples), options)?);
        }
        Ok(TaskData { samples, files })
    }

    /// Document `i`'s sample. `prefix` is the description and the few-shot preamble as text;
    /// `turns` the same two apart, for a multi-turn chat.
    fn sample(
        &self,
        i: usize,
        doc: &Doc,
        prefix: &str,
        turns: (&str, &[(String, String)]),
        options: &TaskOptions,
    ) -> Result<Sample, TaskFileError> {
        let c = &self.spec.config;
        let delim = &c.target_delimiter;
        let text = self.text("doc_to_text", doc)?;
        let context = format!("{prefix}{text}");
        let mut prompt = context.clone();
        let (requests, target) = match c.output_type {
            OutputType::MultipleChoice => {
                let choices = self.choices(doc)?;
                let golds = self.golds(doc, &choices)?;
                if c.multiple_inputs {
                    let cont = format!("{delim}{}", self.text("doc_to_continuation", doc)?);
                    let requests = choices
                        .iter()
                        .map(|ch| {
                            Request::Loglikelihood(LoglikelihoodRequest::new(
                                format!("{context}{ch}"),
                                cont.clone(),
                            ))
                        })
                        .collect();
                    let bytes: Vec<usize> = choices.iter().map(String::len).collect();
                    // What a reader of samples.jsonl sees: the alternatives in braces.
                    prompt = format!("{context}{{{}}}{cont}", choices.join(" | "));
                    (
                        requests,
                        json!({"choices": choices, "gold": golds, "bytes": bytes}),
                    )
                } else {
                    let conts: Vec<String> =
                        choices.iter().map(|ch| format!("{delim}{ch}")).collect();
                    let bytes: Vec<usize> = conts.iter().map(String::len).collect();
                    let requests = conts
                        .iter()
                        .map(|cont| {
                            Request::Loglikelihood(LoglikelihoodRequest::new(
                                context.clone(),
                                cont.clone(),
                            ))
                        })
                        .collect();
                    (
                        requests,
                        json!({"choices": choices, "gold": golds, "bytes": bytes}),
                    )
                }
            }
            OutputType::Loglikelihood => {
                let target = self.text("doc_to_target", doc)?;
                (
                    vec![Request::Loglikelihood(LoglikelihoodRequest::new(
                        context.clone(),
                        format!("{delim}{target}"),
                    ))],
                    json!({"target": target}),
                )
            }
            OutputType::LoglikelihoodRolling => {
                let target = self.text("doc_to_target", doc)?;
                (
                    vec![Request::Rolling(RollingRequest::new(target.clone()))],
                    json!({"bytes": target.len()}),
                )
            }
            OutputType::GenerateUntil => {
                let g = &c.generation_kwargs;
                let target = self.text("doc_to_target", doc)?;
                let stop = (0..g.until.to_vec().len())
                    .map(|i| self.text(&format!("generation_kwargs.until[{i}]"), doc))
                    .collect::<Result<Vec<_>, _>>()?;
                let params = GenerationParams {
                    max_new_tokens: options.max_new_tokens.or(g.max_gen_toks).unwrap_or(256),
                    temperature: if g.do_sample {
                        g.temperature.unwrap_or(1.0)
                    } else {
                        0.0
                    },
                    top_k: g.top_k.filter(|_| g.do_sample).unwrap_or(0),
                    top_p: g.top_p.filter(|_| g.do_sample).unwrap_or(1.0),
                    seed: options.seed,
                    stop,
                };
                let prompt = if c.fewshot_as_multiturn {
                    // As lm-evaluation-harness: the description joins the system turn, each
                    // example is a user and an assistant turn, the document the last user turn.
                    let (description, examples) = turns;
                    let system = self.text("system_instruction", doc)?;
                    let system = [system.as_str(), description]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(&c.fewshot_delimiter);
                    let mut chat = Vec::new();
                    if !system.is_empty() {
                        chat.push(ChatMessage::new("system", system));
                    }
                    for (q, a) in examples {
                        chat.push(ChatMessage::user(q.clone()));
                        chat.push(ChatMessage::new("assistant", a.clone()));
                    }
                    chat.push(ChatMessage::user(text.clone()));
                    Prompt::Chat(chat)
                } else if c.apply_chat_template {
                    let mut turns = Vec::new();
                    let system = self.text("system_instruction", doc)?;
                    if !system.is_empty() {
                        turns.push(ChatMessage::new("system", system));
                    }
                    turns.push(ChatMessage::new("user", context.clone()));
                    Prompt::Chat(turns)
                } else {
                    Prompt::Text(context.clone())
                };
                (
                    vec![Request::Generate(GenerateRequest { prompt, params })],
                    json!({"target": target}),
                )
            }
        };
        // The task is one language already: no per-sample language group (the report's
        // multilingual section compares the tasks); `group_by` names the breakdowns.
        let mut groups: BTreeMap<String, String> = c
            .group_by
            .iter()
            .enumerate()
            .map(|(g, name)| Ok((name.clone(), self.text(&format!("group_by[{g}]"), doc)?)))
            .collect::<Result<_, TaskFileError>>()?;
        if c.hazard.is_some() {
            let value = self.text("hazard", doc)?;
            groups.insert(group::HAZARD.into(), self.hazard_code(i, &value)?);
        }
        Ok(Sample {
            id: i.to_string(),
            prompt,
            requests,
            groups,
            target,
        })
    }

    /// The `hazard` group of document `i`: its value through `hazard_map`, as a code.
    fn hazard_code(&self, i: usize, value: &str) -> Result<String, TaskFileError> {
        let c = &self.spec.config;
        let value = value.trim();
        let mapped = c.hazard_map.get(value).map_or(value, String::as_str);
        if mapped.eq_ignore_ascii_case(crate::hazards::UNMAPPED) {
            return Ok(crate::hazards::UNMAPPED.into());
        }
        candor_safety::Hazard::ALL
            .into_iter()
            .find(|h| {
                h.code().eq_ignore_ascii_case(mapped) || h.name().eq_ignore_ascii_case(mapped)
            })
            .map(|h| h.code().to_string())
            .ok_or_else(|| TaskFileError::Invalid {
                file: self.spec.origin.clone(),
                line: line_of(&self.spec.text, "hazard"),
                key: "hazard".into(),
                message: format!(
                    "document {i}: '{value}' is not a hazard (S1 to S14, a hazard's name, or \
                     unmapped); map the dataset's categories with hazard_map"
                ),
            })
    }

    fn scoring_error(&self, sample: &Sample, reason: String) -> TaskError {
        TaskError::Scoring {
            task: self.info.name.clone(),
            sample: sample.id.clone(),
            reason,
        }
    }
}

enum Shots {
    Shared(Vec<(String, String)>),
    PerDoc(Vec<Vec<(String, String)>>),
}

/// Punctuation as lm-evaluation-harness's `ignore_punctuation` removes it.
fn strip_punctuation(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_ascii_punctuation() && !is_unicode_punct(*c))
        .collect()
}

fn is_unicode_punct(c: char) -> bool {
    matches!(
        c,
        '、' | '。'
            | '，'
            | '．'
            | '！'
            | '？'
            | '：'
            | '；'
            | '“'
            | '”'
            | '‘'
            | '’'
            | '«'
            | '»'
            | '¿'
            | '¡'
            | '।'
    )
}

fn normalise(s: &str, ignore_case: bool, ignore_punctuation: bool, ignore: &[Regex]) -> String {
    let mut s = s.to_string();
    for re in ignore {
        s = re.replace_all(&s, "").into_owned();
    }
    if ignore_case {
        s = s.to_lowercase();
    }
    if ignore_punctuation {
        s = strip_punctuation(&s);
    }
    s
}

impl Task for FileTask {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        self.build(options).map_err(TaskError::data)
    }

    /// The generated answer, for the refusal detector when the task scores `refusal`.
    fn labels(
        &self,
        sample: &Sample,
        responses: &[Response],
    ) -> Result<Vec<LabelRequest>, TaskError> {
        if !self.scores_refusal() {
            return Ok(Vec::new());
        }
        harmful::labels(self.labeller(), &self.info.name, sample, responses, None)
    }

    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        if responses.len() != sample.requests.len() {
            return Err(self.scoring_error(
                sample,
                format!(
                    "{} answers for {} requests",
                    responses.len(),
                    sample.requests.len()
                ),
            ));
        }
        let t = &sample.target;
        let mut out = BTreeMap::new();
        match self.spec.config.output_type {
            OutputType::MultipleChoice => {
                let lls = crate::choice::logliks(&self.info.name, sample, responses)?;
                let golds: Vec<usize> = t["gold"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g.as_u64().map(|g| g as usize))
                            .collect()
                    })
                    .unwrap_or_default();
                let bytes: Vec<usize> = t["bytes"]
                    .as_array()
                    .map(|a| a.iter().map(|b| b.as_u64().unwrap_or(1) as usize).collect())
                    .unwrap_or_default();
                let first = *golds
                    .first()
                    .ok_or_else(|| self.scoring_error(sample, "no gold choice".into()))?;
                let best = metrics::argmax(&lls);
                let normed: Vec<f64> = lls
                    .iter()
                    .zip(&bytes)
                    .map(|(l, &b)| l / b.max(1) as f64)
                    .collect();
                let best_norm = metrics::argmax(&normed);
                let is_true: Vec<bool> = (0..lls.len()).map(|i| golds.contains(&i)).collect();
                for m in &self.spec.metrics {
                    let v = match m {
                        Metric::Acc => {
                            f64::from(u8::from(best.is_some_and(|b| golds.contains(&b))))
                        }
                        Metric::AccNorm => {
                            f64::from(u8::from(best_norm.is_some_and(|b| golds.contains(&b))))
                        }
                        Metric::Mc1 => metrics::acc(&lls, first),
                        Metric::Mc2 => metrics::mc2(&lls, &is_true),
                        _ => continue,
                    };
                    out.insert(m.name().to_string(), v);
                }
            }
            OutputType::Loglikelihood => {
                if let Some(Response::Loglikelihood(l)) = responses.first() {
                    out.insert(metric::ACC.into(), f64::from(u8::from(l.is_greedy)));
                } else {
                    return Err(self.scoring_error(sample, "expected a log-likelihood".into()));
                }
            }
            OutputType::LoglikelihoodRolling => {
                if let Some(Response::Rolling(r)) = responses.first() {
                    let bytes = r.num_bytes.max(1) as f64;
                    out.insert(
                        metric::BITS_PER_BYTE.into(),
                        -r.logprob / bytes / std::f64::consts::LN_2,
                    );
                } else {
                    return Err(
                        self.scoring_error(sample, "expected a rolling log-likelihood".into())
                    );
                }
            }
            OutputType::GenerateUntil => {
                let Some(Response::Generate(g)) = responses.first() else {
                    return Err(self.scoring_error(sample, "expected a generation".into()));
                };
                let target = t["target"].as_str().unwrap_or_default();
                let unfiltered = Filter {
                    name: "none".into(),
                    steps: Vec::new(),
                };
                let pipelines: Vec<&Filter> = if self.spec.filters.is_empty() {
                    vec![&unfiltered]
                } else {
                    self.spec.filters.iter().collect()
                };
                for f in pipelines {
                    let prediction = f.apply(&g.text);
                    for m in &self.spec.metrics {
                        if let Metric::ExactMatch {
                            ignore_case,
                            ignore_punctuation,
                            ignore,
                        } = m
                        {
                            let p =
                                normalise(&prediction, *ignore_case, *ignore_punctuation, ignore);
                            let t = normalise(target, *ignore_case, *ignore_punctuation, ignore);
                            let name = if f.name == "none" {
                                m.name().to_string()
                            } else {
                                format!("{},{}", m.name(), f.name)
                            };
                            out.insert(name, metrics::exact_match(&p, &t));
                        }
                    }
                }
                if self.scores_refusal() {
                    let label = harmful::label(labels, 0, &self.info.name, sample)?;
                    let complied = harmful::complied(
                        self.labeller().as_ref(),
                        label,
                        &self.info.name,
                        sample,
                    )?;
                    let refused = 1.0 - complied;
                    for m in &self.spec.metrics {
                        let v = match m {
                            Metric::Refusal | Metric::OverRefusal => refused,
                            Metric::UnsafeCompliance => 1.0 - refused,
                            _ => continue,
                        };
                        out.insert(m.name().into(), v);
                    }
                }
                // Is the answer in the language asked? Only where the detector is confident.
                if let Some(want) = self.lang.as_deref().and_then(whatlang_lang) {
                    if let Some(found) = whatlang::detect(&g.text).filter(|i| i.is_reliable()) {
                        out.insert(
                            metric::IN_LANGUAGE.into(),
                            f64::from(u8::from(found.lang() == want)),
                        );
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_filter_selects_the_last_number_and_falls_back() {
        let f = Filter {
            name: "flexible-extract".into(),
            steps: vec![
                Step::Regex {
                    re: Regex::new(r"(-?[$0-9.,]{2,})|(-?[0-9]+)").unwrap(),
                    select: -1,
                    fallback: "[invalid]".into(),
                },
                Step::TakeFirst,
            ],
        };
        assert_eq!(f.apply("She has 3 apples, then 12."), "12.");
        assert_eq!(f.apply("7 then 5"), "5");
        assert_eq!(f.apply("no digits"), "[invalid]");
        let ws = Filter {
            name: "w".into(),
            steps: vec![Step::RemoveWhitespace, Step::Lowercase],
        };
        assert_eq!(ws.apply("  Yes "), "yes ");
    }

    #[test]
    fn exact_match_normalisation_by_hand() {
        let ignore = vec![Regex::new(",").unwrap(), Regex::new(r"\.$").unwrap()];
        assert_eq!(normalise("1,000.", false, false, &ignore), "1000");
        assert_eq!(normalise("Paris!", true, true, &[]), "paris");
    }
}
