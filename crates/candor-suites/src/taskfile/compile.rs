//! Compiling a task file: its YAML checked key by key, its templates, metrics, filters and
//! manifest built once, and one [`FileTask`] per language of its matrix.

use std::sync::Arc;

use candor_core::names::metric;
use candor_core::{DatasetInfo, Scorer, TaskInfo};
use candor_data::DataDir;
use regex::Regex;
use serde_json::{Map, Value as Json};

use super::builtin;
use super::config::{Choices, Languages, OutputType, Safety, SafetyKind, TaskConfig};
use super::error::syntax;
use super::filter::{Filter, Step};
use super::scoring::Metric;
use super::task::Spec;
use super::template::Templates;
use super::{line_of, FileTask, Manifest, Source, TaskFileError};

fn manifest_for(src: &Source, c: &TaskConfig) -> Result<Option<Manifest>, TaskFileError> {
    let Some(name) = &c.dataset_manifest else {
        return Ok(None);
    };
    let invalid = |message: String| TaskFileError::Invalid {
        file: src.origin.clone(),
        line: line_of(src.text, "dataset_manifest"),
        key: "dataset_manifest".into(),
        message,
    };
    let manifest_error = |source| TaskFileError::Manifest {
        file: src.origin.clone(),
        source,
    };
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        let dir = src.dir.ok_or_else(|| {
            invalid("a built-in task file can only name built-in manifests".into())
        })?;
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|source| TaskFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        return Manifest::parse(&path.display().to_string(), &text)
            .map(Some)
            .map_err(manifest_error);
    }
    match builtin::manifest(name) {
        Some(text) => Manifest::parse(&format!("datasets/{name}.yaml"), text)
            .map(Some)
            .map_err(manifest_error),
        None => Err(invalid(format!(
            "no built-in manifest '{name}' (built in: {}); for your own, give a path ending in .yaml relative to the task file",
            builtin::manifest_names().join(", ")
        ))),
    }
}

fn metrics_for(src: &Source, c: &TaskConfig) -> Result<Vec<Metric>, TaskFileError> {
    let invalid = |message: String| TaskFileError::Invalid {
        file: src.origin.clone(),
        line: line_of(src.text, "metric_list"),
        key: "metric_list".into(),
        message,
    };
    let defaults: &[&str] = match (c.output_type, &c.safety) {
        (OutputType::MultipleChoice, _) => &[metric::ACC, metric::ACC_NORM],
        (OutputType::Loglikelihood, _) => &[metric::ACC],
        (OutputType::LoglikelihoodRolling, _) => &[metric::BITS_PER_BYTE],
        (OutputType::GenerateUntil, None) => &[metric::EXACT_MATCH],
        (OutputType::GenerateUntil, Some(Safety::Kind(SafetyKind::Harmful))) => {
            &[metric::REFUSAL, metric::UNSAFE_COMPLIANCE]
        }
        (OutputType::GenerateUntil, Some(Safety::Kind(SafetyKind::Benign))) => {
            &[metric::REFUSAL, metric::OVER_REFUSAL]
        }
        (OutputType::GenerateUntil, Some(Safety::PerDocument(_))) => &[
            metric::REFUSAL,
            metric::UNSAFE_COMPLIANCE,
            metric::OVER_REFUSAL,
        ],
    };
    let mut allowed: Vec<&str> = match c.output_type {
        OutputType::MultipleChoice => vec![metric::ACC, metric::ACC_NORM, metric::MC1, metric::MC2],
        OutputType::GenerateUntil => vec![metric::EXACT_MATCH],
        _ => defaults.to_vec(),
    };
    if c.output_type == OutputType::GenerateUntil {
        allowed.extend(REFUSAL_METRICS);
    }
    if c.metric_list.is_empty() {
        return Ok(defaults.iter().map(|m| named(m)).collect());
    }
    c.metric_list
        .iter()
        .map(|m| {
            if !allowed.contains(&m.metric.as_str()) {
                return Err(invalid(format!(
                    "metric '{}' does not apply to output_type {} (use: {})",
                    m.metric,
                    c.output_type,
                    allowed.join(", ")
                )));
            }
            if let Some(kind) = named(&m.metric).prompts() {
                if !c.safety.as_ref().is_some_and(|s| s.admits(kind)) {
                    return Err(invalid(format!(
                        "metric '{}' scores answers to {} prompts: the task needs safety: {} (or a \
                         template giving each document's kind)",
                        m.metric,
                        kind.name(),
                        kind.name()
                    )));
                }
            }
            if m.aggregation.as_deref().is_some_and(|a| a != "mean") {
                return Err(invalid(format!(
                    "aggregation '{}' is not supported (per-sample values are averaged: mean)",
                    m.aggregation.as_deref().unwrap_or_default()
                )));
            }
            Ok(match m.metric.as_str() {
                metric::EXACT_MATCH => Metric::ExactMatch {
                    ignore_case: m.ignore_case,
                    ignore_punctuation: m.ignore_punctuation,
                    ignore: m
                        .regexes_to_ignore
                        .iter()
                        .map(|r| {
                            Regex::new(r).map_err(|e| invalid(format!("regexes_to_ignore: {e}")))
                        })
                        .collect::<Result<_, _>>()?,
                },
                other => named(other),
            })
        })
        .collect()
}

/// The metrics scored from the refusal detector's labels (no `doc_to_target` needed).
const REFUSAL_METRICS: [&str; 7] = [
    metric::REFUSAL,
    metric::UNSAFE_COMPLIANCE,
    metric::ATTACK_SUCCESS,
    metric::REFUSAL_UNSAFE,
    metric::OVER_REFUSAL,
    metric::FULL_REFUSAL_SAFE,
    metric::PARTIAL_REFUSAL_SAFE,
];

/// The metric a name that [`metrics_for`] allowed stands for, with default options.
fn named(name: &str) -> Metric {
    match name {
        metric::ACC => Metric::Acc,
        metric::ACC_NORM => Metric::AccNorm,
        metric::MC1 => Metric::Mc1,
        metric::MC2 => Metric::Mc2,
        metric::BITS_PER_BYTE => Metric::BitsPerByte,
        metric::REFUSAL => Metric::Refusal,
        metric::UNSAFE_COMPLIANCE => Metric::UnsafeCompliance,
        metric::OVER_REFUSAL => Metric::OverRefusal,
        metric::ATTACK_SUCCESS => Metric::AttackSuccess,
        metric::REFUSAL_UNSAFE => Metric::RefusalUnsafe,
        metric::FULL_REFUSAL_SAFE => Metric::FullRefusalSafe,
        metric::PARTIAL_REFUSAL_SAFE => Metric::PartialRefusalSafe,
        _ => Metric::ExactMatch {
            ignore_case: false,
            ignore_punctuation: false,
            ignore: Vec::new(),
        },
    }
}

fn filters_for(src: &Source, c: &TaskConfig) -> Result<Vec<Filter>, TaskFileError> {
    let invalid = |message: String| TaskFileError::Invalid {
        file: src.origin.clone(),
        line: line_of(src.text, "filter_list"),
        key: "filter_list".into(),
        message,
    };
    c.filter_list
        .iter()
        .map(|f| {
            let steps = f
                .filter
                .iter()
                .map(|s| {
                    Ok(match s.function.as_str() {
                        "regex" => Step::Regex {
                            re: Regex::new(s.regex_pattern.as_deref().unwrap_or("#### (\\-?[0-9\\.\\,]+)"))
                                .map_err(|e| invalid(format!("filter '{}': {e}", f.name)))?,
                            select: s.group_select.unwrap_or(0),
                            fallback: s.fallback.clone().unwrap_or_else(|| "[invalid]".into()),
                        },
                        "take_first" => Step::TakeFirst,
                        "remove_whitespace" => Step::RemoveWhitespace,
                        "lowercase" => Step::Lowercase,
                        "uppercase" => Step::Uppercase,
                        other => {
                            return Err(invalid(format!(
                                "filter '{}': unknown function '{other}' (known: regex, take_first, remove_whitespace, lowercase, uppercase)",
                                f.name
                            )))
                        }
                    })
                })
                .collect::<Result<_, _>>()?;
            Ok(Filter {
                name: f.name.clone(),
                steps,
            })
        })
        .collect()
}

/// A bare identifier (`answer`) names a column, as in lm-evaluation-harness.
fn column_or_template(source: &str) -> String {
    let ident = !source.is_empty()
        && source.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !source.starts_with(|c: char| c.is_ascii_digit());
    if ident {
        format!("{{{{ {source} }}}}")
    } else {
        source.to_string()
    }
}

fn templates_for(src: &Source, c: &TaskConfig) -> Result<Templates, TaskFileError> {
    let mut t = Templates::new();
    let mut add = |key: &str, source: &str| {
        t.add(key, source).map_err(|e| TaskFileError::Template {
            file: src.origin.clone(),
            line: line_of(src.text, key),
            key: e.key,
            message: e.message,
        })
    };
    if let Some(d) = &c.description {
        add("description", d)?;
    }
    if let Some(s) = &c.system_instruction {
        add("system_instruction", s)?;
    }
    for (i, g) in c.group_by.iter().enumerate() {
        add(&format!("group_by[{i}]"), &column_or_template(g))?;
    }
    if let Some(h) = &c.hazard {
        add("hazard", &column_or_template(h))?;
    }
    if let Some(Safety::PerDocument(t)) = &c.safety {
        add("safety", t)?;
    }
    if let Some(k) = &c.interleave_by {
        add("interleave_by", &column_or_template(k))?;
    }
    if let Some(id) = &c.doc_to_id {
        add("doc_to_id", &column_or_template(id))?;
    }
    if let Some(s) = &c.doc_to_text {
        add("doc_to_text", &column_or_template(s))?;
    }
    if let Some(s) = &c.doc_to_target {
        add("doc_to_target", &column_or_template(s))?;
    }
    match &c.doc_to_choice {
        Some(Choices::Template(s)) => add("doc_to_choice", &column_or_template(s))?,
        Some(Choices::List(items)) => {
            for (i, s) in items.iter().enumerate() {
                add(&format!("doc_to_choice[{i}]"), s)?;
            }
        }
        None => {}
    }
    if let Some(s) = &c.doc_to_continuation {
        add("doc_to_continuation", s)?;
    }
    if let Some(s) = &c.doc_filter {
        add("doc_filter", &format!("{{{{ {s} }}}}"))?;
    }
    for (name, v) in &c.doc_fields {
        let source = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        add(&format!("doc_fields.{name}"), &source)?;
    }
    if let Some(d) = &c.dataset {
        for (split, path) in &d.files {
            add(&format!("dataset.files.{split}"), path)?;
        }
    }
    for (i, stop) in c.generation_kwargs.until.to_vec().iter().enumerate() {
        add(&format!("generation_kwargs.until[{i}]"), stop)?;
    }
    add("task", &c.task)?;
    Ok(t)
}

fn check(src: &Source, c: &TaskConfig) -> Result<(), TaskFileError> {
    let invalid = |key: &str, message: &str| TaskFileError::Invalid {
        file: src.origin.clone(),
        line: line_of(src.text, key),
        key: key.into(),
        message: message.into(),
    };
    if c.safety.is_some() && c.output_type != OutputType::GenerateUntil {
        return Err(invalid(
            "safety",
            "safety applies to generate_until tasks (their answers are checked for refusals)",
        ));
    }
    match c.output_type {
        OutputType::MultipleChoice => {
            if c.doc_to_choice.is_none() {
                return Err(invalid(
                    "output_type",
                    "multiple_choice needs doc_to_choice",
                ));
            }
            if c.doc_to_target.is_none() {
                return Err(invalid(
                    "output_type",
                    "multiple_choice needs doc_to_target (the gold choice)",
                ));
            }
            if c.multiple_inputs && c.doc_to_continuation.is_none() {
                return Err(invalid("multiple_inputs", "multiple_inputs needs doc_to_continuation (the text every choice is followed by)"));
            }
        }
        OutputType::LoglikelihoodRolling if c.num_fewshot > 0 => {
            return Err(invalid(
                "num_fewshot",
                "loglikelihood_rolling scores whole texts and takes no few-shot examples",
            ));
        }
        _ => {
            // A refusal needs no target: harmful-prompt sets have none.
            let refusal_only = c.output_type == OutputType::GenerateUntil
                && (c.safety.is_some() || !c.metric_list.is_empty())
                && c.metric_list
                    .iter()
                    .all(|m| REFUSAL_METRICS.contains(&m.metric.as_str()));
            if c.doc_to_target.is_none() && !refusal_only {
                return Err(invalid(
                    "doc_to_target",
                    "this output_type needs doc_to_target",
                ));
            }
        }
    }
    if let Some(Safety::PerDocument(t)) = &c.safety {
        if !t.contains("{{") {
            return Err(invalid(
                "safety",
                "expected harmful, benign, or a template giving one of them per document \
                 (\"{{ 'benign' if label == 'safe' else 'harmful' }}\")",
            ));
        }
    }
    if c.hazard.is_some()
        && !c
            .safety
            .as_ref()
            .is_some_and(|s| s.admits(SafetyKind::Harmful))
    {
        return Err(invalid(
            "hazard",
            "hazard needs safety: harmful (it pools unsafe compliance per hazard)",
        ));
    }
    if c.language_breakdown && c.languages.is_none() {
        return Err(invalid(
            "language_breakdown",
            "language_breakdown needs languages: (the languages each document is asked in)",
        ));
    }
    if c.language_breakdown && c.interleave_by.is_some() {
        return Err(invalid(
            "interleave_by",
            "interleave_by cannot reorder a language_breakdown's documents (a limit counts rows in file order)",
        ));
    }
    if c.language_breakdown && c.num_fewshot > 0 {
        return Err(invalid(
            "language_breakdown",
            "language_breakdown takes no few-shot examples (they would mix languages)",
        ));
    }
    if c.paired_reference
        && !(c.language_breakdown && c.safety == Some(Safety::Kind(SafetyKind::Harmful)))
    {
        return Err(invalid(
            "paired_reference",
            "paired_reference needs language_breakdown: true and safety: harmful (it pairs each answer with the reference language's on the same harmful prompt)",
        ));
    }
    if c.language.is_some() && c.languages.is_some() {
        return Err(invalid(
            "language",
            "give either language (one) or languages (a matrix), not both",
        ));
    }
    if c.apply_chat_template && c.output_type != OutputType::GenerateUntil {
        return Err(invalid(
            "apply_chat_template",
            "apply_chat_template applies to generate_until tasks (a log-likelihood context is scored as plain text)",
        ));
    }
    if c.fewshot_as_multiturn && !c.apply_chat_template {
        return Err(invalid(
            "fewshot_as_multiturn",
            "fewshot_as_multiturn needs apply_chat_template: true (the turns are a chat)",
        ));
    }
    if c.system_instruction.is_some() && !c.apply_chat_template {
        return Err(invalid(
            "system_instruction",
            "system_instruction needs apply_chat_template: true (a plain-text prompt has no system turn)",
        ));
    }
    if !matches!(c.output_type, OutputType::MultipleChoice) && c.multiple_inputs {
        return Err(invalid(
            "multiple_inputs",
            "multiple_inputs applies to multiple_choice only",
        ));
    }
    if c.dataset_path.is_some() && c.revision.is_none() {
        return Err(invalid(
            "dataset_path",
            "a Hub dataset needs `revision:` (a commit or tag), so that runs are reproducible",
        ));
    }
    if c.dataset.is_none() && c.dataset_path.is_none() {
        return Err(invalid("task", "no data: add `dataset: {files: {test: PATH}}` (relative to the data directory) or `dataset_path:` + `revision:`"));
    }
    Ok(())
}

/// A language code and its literals.
type Language = (Option<String>, Map<String, Json>);

/// The (code, literals) of each language, or one unnamed entry.
fn languages(src: &Source, c: &TaskConfig) -> Result<Vec<Language>, TaskFileError> {
    Ok(match &c.languages {
        None => vec![(None, Map::new())],
        Some(Languages::Codes(codes)) => codes
            .iter()
            .map(|l| (Some(l.clone()), Map::new()))
            .collect(),
        Some(Languages::Literals(m)) => m
            .iter()
            .map(|(lang, lits)| match lits {
                Json::Object(o) => Ok((Some(lang.clone()), o.clone())),
                Json::Null => Ok((Some(lang.clone()), Map::new())),
                other => Err(TaskFileError::Invalid {
                    file: src.origin.clone(),
                    line: line_of(src.text, lang),
                    key: format!("languages.{lang}"),
                    message: format!("expected a map of literals, found {other}"),
                }),
            })
            .collect::<Result<_, _>>()?,
    })
}

/// The tasks of one task file (one per language), in suite `suite`.
pub(crate) fn parse_task(
    src: &Source,
    suite: &str,
    data: &DataDir,
    harm: &Arc<dyn Scorer>,
) -> Result<Vec<Arc<FileTask>>, TaskFileError> {
    let mut c: TaskConfig =
        serde_yaml_ng::from_str(src.text).map_err(|e| syntax(&src.origin, &e))?;
    c.normalise();
    check(src, &c)?;
    let templates = templates_for(src, &c)?;
    let manifest = manifest_for(src, &c)?;
    let metrics = metrics_for(src, &c)?;
    let filters = filters_for(src, &c)?;
    let dataset = match &manifest {
        Some(m) => m.info(),
        None => {
            let d = c.dataset.clone().unwrap_or_default();
            DatasetInfo {
                name: d.name.unwrap_or_else(|| c.task.clone()),
                license: d.license.unwrap_or_else(|| "unspecified".into()),
                flags: d.flags,
                source: d
                    .source
                    .unwrap_or_else(|| match (&c.dataset_path, &c.revision) {
                        (Some(id), Some(rev)) => format!("hub: {id}@{rev}"),
                        _ => format!("local files named in {}", src.origin),
                    }),
                files: Vec::new(),
            }
        }
    };
    let mut langs = languages(src, &c)?;
    // One task over every language: its documents are asked in each.
    let breakdown: Vec<(String, Map<String, Json>)> = if c.language_breakdown {
        std::mem::replace(&mut langs, vec![(None, Map::new())])
            .into_iter()
            .filter_map(|(code, lits)| Some((code?, lits)))
            .collect()
    } else {
        Vec::new()
    };
    if c.paired_reference {
        let reference = c.reference_language.as_deref().unwrap_or("en");
        if !breakdown.iter().any(|(code, _)| code == reference) {
            return Err(TaskFileError::Invalid {
                file: src.origin.clone(),
                line: line_of(src.text, "paired_reference"),
                key: "paired_reference".into(),
                message: format!(
                    "the reference language '{reference}' is not in languages: (set reference_language:)"
                ),
            });
        }
    }
    let spec = Arc::new(Spec {
        origin: src.origin.clone(),
        text: src.text.to_string(),
        templates,
        manifest,
        metrics,
        filters,
        dataset,
        config: c,
    });
    langs
        .into_iter()
        .map(|(lang, literals)| {
            let name = match &lang {
                Some(l) if spec.config.task.contains("{{") => {
                    let mut ctx = literals.clone();
                    ctx.insert("lang".into(), Json::String(l.clone()));
                    spec.templates
                        .text("task", &minijinja::Value::from_serialize(&ctx))
                        .map_err(|e| TaskFileError::Template {
                            file: spec.origin.clone(),
                            line: line_of(&spec.text, "task"),
                            key: e.key,
                            message: e.message,
                        })?
                }
                Some(l) => format!("{}_{l}", spec.config.task),
                None => spec.config.task.clone(),
            };
            let info = TaskInfo {
                reference_language: spec.config.reference_language.clone(),
                name,
                suite: suite.to_string(),
                description: {
                    let summary = spec
                        .config
                        .summary
                        .clone()
                        .unwrap_or_else(|| format!("task file {}", spec.origin));
                    // A report says who judged the answers to harmful prompts.
                    match &spec.config.safety {
                        Some(Safety::Kind(SafetyKind::Harmful)) => {
                            format!("{summary} Answers scored by `{}`.", harm.name())
                        }
                        Some(Safety::PerDocument(_)) => format!(
                            "{summary} Answers to harmful prompts scored by `{}`, to benign ones by `{}`.",
                            harm.name(),
                            super::scoring::refusal_detector().name()
                        ),
                        _ => summary,
                    }
                },
                tags: {
                    let mut tags = spec.config.tag.to_vec();
                    if spec.config.safety.is_some() && !tags.iter().any(|t| t == "safety") {
                        tags.push("safety".into());
                    }
                    tags
                },
                languages: lang
                    .iter()
                    .chain(spec.config.language.as_ref())
                    .chain(breakdown.iter().map(|(code, _)| code))
                    .cloned()
                    .collect(),
                dataset: spec.dataset.clone(),
            };
            Ok(Arc::new(FileTask {
                spec: Arc::clone(&spec),
                literals,
                lang,
                breakdown: breakdown.clone(),
                info,
                data: data.clone(),
                harm: Arc::clone(harm),
            }))
        })
        .collect()
}
