//! Few-shot examples of a task file: which documents each prompt gets, drawn per document
//! (as lm-evaluation-harness) or the split's first `k`, never the document itself.

use candor_core::{DataFile, SplitMix64};

use super::config::{OutputType, Sampler};
use super::task::{Doc, FileTask};
use super::TaskFileError;

/// Each document's examples, as (text, answer); `Shared` when every document has the same.
pub(super) enum Shots {
    Shared(Vec<(String, String)>),
    PerDoc(Vec<Vec<(String, String)>>),
}

impl FileTask {
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
    pub(super) fn shots(
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
}
