//! A task built from a task file: the compiled [`Spec`], its documents (data files, manifest
//! fields, `doc_filter`, `doc_fields`, templates), and the [`Task`] it is to the runner.
//! `requests.rs` turns documents into samples, `fewshot.rs` picks their examples and
//! `scoring.rs` scores their answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::{
    DataFile, DatasetInfo, LabelRequest, Response, Sample, Scorer, ScorerOutput, Task, TaskData,
    TaskError, TaskInfo, TaskOptions,
};
use candor_data::{DataDir, DataError, Row};
use minijinja::Value;
use serde_json::{Map, Value as Json};

use super::config::{Choices, Format, TaskConfig};
use super::filter::Filter;
use super::manifest::Manifest;
use super::scoring::Metric;
use super::template::{TemplateError, Templates};
use super::{line_of, TaskFileError};
use crate::harmful;

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
    /// Position of its row among the split's rows that `doc_filter` kept (a row gives one
    /// document per language of a `language_breakdown`).
    pub index: usize,
    /// Its language, with `language_breakdown`.
    pub lang: Option<String>,
}

/// A task defined by a task file (one language of it).
pub struct FileTask {
    pub(crate) spec: Arc<Spec>,
    pub(crate) literals: Map<String, Json>,
    pub(crate) lang: Option<String>,
    /// With `language_breakdown`: every language's (code, literals); each document is asked
    /// in all of them.
    pub(crate) breakdown: Vec<(String, Map<String, Json>)>,
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

pub(super) fn value_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The ISO 639-3 code whatlang uses for a language code of a task file.
pub(super) fn whatlang_lang(code: &str) -> Option<whatlang::Lang> {
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
    pub(super) fn base_ctx(&self) -> Map<String, Json> {
        let mut ctx = self.literals.clone();
        if let Some(lang) = &self.lang {
            ctx.insert("lang".into(), Json::String(lang.clone()));
        }
        ctx
    }

    pub(super) fn key_error(&self, key: &str, message: String) -> TaskFileError {
        TaskFileError::Invalid {
            file: self.spec.origin.clone(),
            line: line_of(&self.spec.text, key),
            key: key.to_string(),
            message,
        }
    }

    pub(super) fn data_error(&self, source: DataError) -> TaskFileError {
        TaskFileError::Data {
            file: self.spec.origin.clone(),
            source,
        }
    }

    /// `key` for `doc`, checking first that every variable it reads exists.
    pub(super) fn eval(&self, key: &str, doc: &Doc) -> Result<Value, TaskFileError> {
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

    pub(super) fn text(&self, key: &str, doc: &Doc) -> Result<String, TaskFileError> {
        if !self.spec.templates.has(key) {
            return Ok(String::new());
        }
        Ok(value_text(&self.eval(key, doc)?))
    }

    pub(super) fn render_error(&self, key: &str, doc: &Doc, message: String) -> TaskFileError {
        TaskFileError::Render {
            file: self.spec.origin.clone(),
            key: key.to_string(),
            data_file: doc.file.clone(),
            row: doc.row,
            message,
        }
    }

    pub(super) fn choices(&self, doc: &Doc) -> Result<Vec<String>, TaskFileError> {
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
    pub(super) fn golds(&self, doc: &Doc, choices: &[String]) -> Result<Vec<usize>, TaskFileError> {
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
                Some(id) => format!("name the file of split '{split}' inside {id}'s repo under dataset: files: {split}: PATH (json, jsonl, csv, tsv or txt)"),
                None => format!("no file for split '{split}': add it under dataset: files: {split}: PATH"),
            };
            return Err(self.key_error("dataset", hint));
        }
        let lit = Doc {
            ctx: self.base_ctx(),
            file: spec.origin.clone(),
            row: 0,
            index: 0,
            lang: None,
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
                        format!("cannot tell the format of {rel}: set dataset: format: (jsonl, json, csv, tsv, lines)"),
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
                let index = docs.last().map_or(0, |d: &Doc| d.index + 1);
                if self.breakdown.is_empty() {
                    docs.extend(self.doc(row, &rel, index, None)?);
                    continue;
                }
                for (code, literals) in &self.breakdown {
                    docs.extend(self.doc(row.clone(), &rel, index, Some((code, literals)))?);
                }
            }
        }
        Ok((docs, files))
    }

    /// Data-dir-relative files of a path or glob.
    pub(super) fn expand(
        &self,
        data: &DataDir,
        pattern: &str,
    ) -> Result<Vec<String>, TaskFileError> {
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

    pub(super) fn read(
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
            (Format::Lines, _) => d.lines(rel),
        };
        r.map_err(|e| self.data_error(e))
    }

    /// Row `index` of data file `rel` as a document (in `language`, with its literals, for a
    /// `language_breakdown`), or `None` when `doc_filter` drops it.
    pub(super) fn doc(
        &self,
        row: Row,
        rel: &str,
        index: usize,
        language: Option<(&String, &Map<String, Json>)>,
    ) -> Result<Option<Doc>, TaskFileError> {
        let mut ctx = row.fields;
        // The row as one map, so a template can pick a column by name (`doc[lang]`; copied
        // only for a task that reads it), and which file it came from, for sets split into
        // one file per category.
        if self.spec.templates.reads("doc") && !ctx.contains_key("doc") {
            ctx.insert("doc".into(), Json::Object(ctx.clone()));
        }
        ctx.entry("source_file")
            .or_insert_with(|| Json::String(rel.to_string()));
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
        if let Some((code, literals)) = language {
            ctx.extend(literals.clone());
            ctx.insert("lang".into(), Json::String(code.clone()));
        }
        let mut doc = Doc {
            ctx,
            file: row.file,
            row: row.line,
            index,
            lang: language.map(|(code, _)| code.clone()),
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
        harmful::labels(
            self.labeller(sample),
            &self.info.name,
            sample,
            responses,
            sample.target["reference"].as_str(),
        )
    }

    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        self.score_sample(sample, responses, labels)
    }
}
