//! A task file's documents as samples: the prompt (text or chat), the requests of its output
//! type, the target, and the breakdown groups.

use std::collections::BTreeMap;

use candor_core::names::group;
use candor_core::{
    ChatMessage, GenerateRequest, GenerationParams, LoglikelihoodRequest, Prompt, Request,
    RollingRequest, Sample, TaskData, TaskOptions,
};
use serde_json::json;

use super::config::{OutputType, Safety, SafetyKind};
use super::fewshot::Shots;
use super::task::{value_text, Doc, FileTask};
use super::TaskFileError;

impl FileTask {
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
        if self.spec.templates.has("interleave_by") {
            docs = self.interleave(docs)?;
        }
        let k = options.num_fewshot.unwrap_or(c.num_fewshot);
        if k > 0 && !self.breakdown.is_empty() {
            return Err(self.key_error(
                "language_breakdown",
                "language_breakdown takes no few-shot examples (they would mix languages)".into(),
            ));
        }
        // A limit counts rows: with a language breakdown, each gives a document per language.
        let limit = options.limit.unwrap_or(usize::MAX);
        let count = if self.breakdown.is_empty() {
            docs.len().min(limit)
        } else {
            docs.iter().take_while(|d| d.index < limit).count()
        };
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
        if c.paired_reference {
            self.pair_with_reference(&mut samples, &docs);
        }
        let mut seen = BTreeMap::new();
        for (s, doc) in samples.iter().zip(&docs) {
            if let Some(first) = seen.insert(s.id.as_str(), doc) {
                return Err(self.render_error(
                    "doc_to_id",
                    doc,
                    format!(
                        "id '{}' is also the id of {} row {} (ids must be unique)",
                        s.id, first.file, first.row
                    ),
                ));
            }
        }
        Ok(TaskData { samples, files })
    }

    /// Each sample in a language other than the reference also asks the reference language's
    /// request of the same row (the runner answers identical requests once).
    fn pair_with_reference(&self, samples: &mut [Sample], docs: &[Doc]) {
        let reference = self.info.reference();
        let by_row: BTreeMap<usize, (Request, String)> = samples
            .iter()
            .zip(docs)
            .filter(|(_, d)| d.lang.as_deref() == Some(reference))
            .filter_map(|(s, d)| Some((d.index, (s.requests.first()?.clone(), s.prompt.clone()))))
            .collect();
        for (s, d) in samples.iter_mut().zip(docs) {
            if d.lang.as_deref() == Some(reference) {
                continue;
            }
            if let Some((request, prompt)) = by_row.get(&d.index) {
                s.requests.push(request.clone());
                s.target["reference"] = prompt.clone().into();
            }
        }
    }

    /// `docs` in round-robin order over their `interleave_by` values, in order of first
    /// appearance (documents of one value keep their order).
    fn interleave(&self, docs: Vec<Doc>) -> Result<Vec<Doc>, TaskFileError> {
        let mut groups: Vec<(String, Vec<Doc>)> = Vec::new();
        for doc in docs {
            let key = self.text("interleave_by", &doc)?;
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(doc),
                None => groups.push((key, vec![doc])),
            }
        }
        Ok(crate::harmful::round_robin(
            groups.into_iter().map(|(_, g)| g).collect(),
        ))
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
        // `group_by` names the breakdowns; a document whose value is empty has no group of
        // that breakdown. A task of one language has no per-sample language group (the
        // report's multilingual section compares the tasks); a language breakdown's has.
        let mut groups = BTreeMap::new();
        for (g, name) in c.group_by.iter().enumerate() {
            let value = self.text(&format!("group_by[{g}]"), doc)?;
            if !value.is_empty() {
                groups.insert(name.clone(), value);
            }
        }
        if let Some(lang) = &doc.lang {
            groups.insert(group::LANGUAGE.into(), lang.clone());
        }
        let mut target = target;
        if let Some(safety) = &c.safety {
            let kind = match safety {
                Safety::Kind(k) => *k,
                Safety::PerDocument(_) => match self.text("safety", doc)?.trim() {
                    "harmful" => SafetyKind::Harmful,
                    "benign" => SafetyKind::Benign,
                    other => {
                        return Err(self.render_error(
                            "safety",
                            doc,
                            format!("expected harmful or benign, got '{other}'"),
                        ))
                    }
                },
            };
            target["safety"] = kind.name().into();
            // A benign prompt has no hazard; it only sounds like one.
            if kind == SafetyKind::Harmful && c.hazard.is_some() {
                groups.insert(group::HAZARD.into(), self.hazard(doc)?);
            }
        }
        let id = if self.spec.templates.has("doc_to_id") {
            self.text("doc_to_id", doc)?
        } else if let Some(lang) = &doc.lang {
            format!("{}:{lang}", doc.index)
        } else {
            i.to_string()
        };
        Ok(Sample {
            id,
            prompt,
            requests,
            groups,
            target,
        })
    }

    /// The `hazard` group of `doc`. A list (a document with several categories) takes the
    /// first entry that maps to a hazard, `unmapped` when none does; every entry must be known.
    fn hazard(&self, doc: &Doc) -> Result<String, TaskFileError> {
        let v = self.eval("hazard", doc)?;
        if v.kind() != minijinja::value::ValueKind::Seq {
            return self.hazard_code(doc, &value_text(&v));
        }
        let mut first = None;
        for entry in v
            .try_iter()
            .map_err(|e| self.render_error("hazard", doc, e.to_string()))?
        {
            let code = self.hazard_code(doc, &value_text(&entry))?;
            if first.is_none() && code != crate::hazards::UNMAPPED {
                first = Some(code);
            }
        }
        Ok(first.unwrap_or_else(|| crate::hazards::UNMAPPED.into()))
    }

    /// One value of `doc` through `hazard_map`, as a code.
    fn hazard_code(&self, doc: &Doc, value: &str) -> Result<String, TaskFileError> {
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
            .ok_or_else(|| {
                self.render_error(
                    "hazard",
                    doc,
                    format!(
                        "'{value}' is not a hazard (S1 to S14, a hazard's name, or unmapped); \
                         map the dataset's categories with hazard_map"
                    ),
                )
            })
    }
}
