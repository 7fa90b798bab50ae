//! The scoring engine: token-level jobs grouped by context, each group's context computed
//! once (and the part groups share, once for all), rows batched within a token budget, and
//! log-probs taken only at the scored positions.

use std::collections::HashMap;

use candle_core::{Tensor, D};
use candor_core::{LoglikelihoodRequest, ModelError};

use crate::model::CandleModel;
use crate::transformer::{KvCache, RowLayout, RowSpan};
use crate::Result;

pub use candor_core::ScoreJob;

/// Per-token log-probs of a [`ScoreJob`]'s continuation and whether greedy decoding yields it.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenScores {
    pub logprobs: Vec<f32>,
    pub greedy: bool,
}

impl TokenScores {
    pub fn total(&self) -> f64 {
        self.logprobs.iter().map(|&l| f64::from(l)).sum()
    }
}

/// Jobs that share a context.
struct Group<'a> {
    ctx: &'a [u32],
    members: Vec<usize>,
}

/// One row of a forward pass: `tokens` (the context's last token, then the continuation but
/// its last token) go in after the group's cached prefix; outputs are scored against `targets`.
struct Row {
    job: usize,
    group: usize,
    tokens: Vec<u32>,
    targets: Vec<u32>,
}

/// Padded tokens per forward pass, so that long rows do not blow up memory.
const TOKEN_BUDGET: usize = 8192;

impl CandleModel {
    /// Raw logits `(len, vocab)` at every position of one sequence.
    pub fn logits(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
        let tokens = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let (hidden, _) = self.model.forward(&tokens, None, None, None)?;
        let hidden = hidden.squeeze(0)?;
        Ok(self.model.logits(&hidden)?.to_vec2()?)
    }

    /// `log p(ids[i+1] | ids[..=i])` for every position after the first.
    pub fn token_logprobs(&self, ids: &[u32]) -> Result<Vec<f32>> {
        if ids.len() < 2 {
            return Ok(Vec::new());
        }
        let job = ScoreJob {
            ctx: ids[..1].to_vec(),
            cont: ids[1..].to_vec(),
        };
        Ok(self.score(&[job])?.remove(0).logprobs)
    }

    fn check_ids(&self, index: usize, ids: &[u32]) -> Result<(), ModelError> {
        let vocab = self.model.vocab_size();
        match ids.iter().find(|&&id| id as usize >= vocab) {
            Some(id) => Err(ModelError::InvalidRequest {
                index,
                reason: format!("token id {id} is outside the vocabulary of {vocab}"),
            }),
            None => Ok(()),
        }
    }

    /// Score token-level jobs in batches. Jobs with the same context form a group whose context
    /// is computed once; groups run together, each row reading its own group's cache.
    pub fn score(&self, jobs: &[ScoreJob]) -> Result<Vec<TokenScores>, ModelError> {
        let max = self.model.max_context();
        for (index, job) in jobs.iter().enumerate() {
            if job.ctx.is_empty() || job.cont.is_empty() {
                return Err(ModelError::InvalidRequest {
                    index,
                    reason: "context and continuation must each have at least one token".into(),
                });
            }
            let tokens = job.ctx.len() + job.cont.len() - 1;
            if tokens > max {
                return Err(ModelError::ContextTooLong { index, tokens, max });
            }
            self.check_ids(index, &job.ctx)?;
            self.check_ids(index, &job.cont)?;
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut by_ctx: HashMap<&[u32], usize> = HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let g = match by_ctx.get(job.ctx.as_slice()) {
                Some(&g) if self.prefix_sharing => g,
                _ => {
                    by_ctx.insert(&job.ctx, groups.len());
                    groups.push(Group {
                        ctx: &job.ctx,
                        members: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[g].members.push(i);
        }
        // Neighbouring contexts then share their longest prefixes.
        groups.sort_by(|a, b| a.ctx.cmp(b.ctx));
        let mut out: Vec<Option<TokenScores>> = vec![None; jobs.len()];
        let mut previous = None;
        let mut start = 0;
        while start < groups.len() {
            // Take groups while their rows fit in a batch and their tokens in the budget.
            let (mut end, mut rows, mut width, mut prefix) = (start, 0, 0, 0);
            while end < groups.len() {
                let g = &groups[end];
                let r = rows + g.members.len();
                let w = g
                    .members
                    .iter()
                    .map(|&i| jobs[i].cont.len())
                    .fold(width, usize::max);
                let p = prefix.max(g.ctx.len());
                if end > start
                    && (r > self.batch_size || r * w + (end - start + 1) * p > TOKEN_BUDGET)
                {
                    break;
                }
                (rows, width, prefix) = (r, w, p);
                end += 1;
            }
            self.score_groups(jobs, &groups[start..end], &mut previous, &mut out)
                .map_err(ModelError::from)?;
            start = end;
        }
        out.into_iter()
            .map(|s| s.ok_or_else(|| ModelError::Backend("a job was not scored".into())))
            .collect()
    }

    /// Score the jobs of a few groups: their contexts (minus the last token) run once, the part
    /// all of them share first, then every continuation row on top of its group's cache.
    fn score_groups(
        &self,
        jobs: &[ScoreJob],
        groups: &[Group],
        previous: &mut Option<(Vec<u32>, KvCache)>,
        out: &mut [Option<TokenScores>],
    ) -> Result<()> {
        let prefixes: Vec<&[u32]> = groups.iter().map(|g| &g.ctx[..g.ctx.len() - 1]).collect();
        let common = prefixes
            .iter()
            .map(|p| {
                p.iter()
                    .zip(prefixes[0])
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .min()
            .unwrap_or(0);
        let head = if common > 0 {
            let cache = self.prefix_cache(&prefixes[0][..common], previous.as_ref())?;
            *previous = Some((prefixes[0][..common].to_vec(), cache.clone()));
            Some(cache)
        } else {
            None
        };
        let rest = prefixes.iter().map(|p| p.len() - common).max().unwrap_or(0);
        let cache = if rest > 0 {
            let mut padded = Vec::with_capacity(groups.len() * rest);
            for p in &prefixes {
                padded.extend_from_slice(&p[common..]);
                padded.resize(padded.len() + rest - (p.len() - common), 0);
            }
            let lengths: Vec<usize> = prefixes.iter().map(|p| p.len() - common).collect();
            let tokens = Tensor::from_vec(padded, (groups.len(), rest), &self.device)?;
            Some(
                self.model
                    .forward(&tokens, Some(&lengths), head.as_ref(), None)?
                    .1,
            )
        } else {
            head
        };
        let rows: Vec<Row> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group.members.iter().map(move |&i| {
                    let cont = &jobs[i].cont;
                    let mut tokens = vec![group.ctx[group.ctx.len() - 1]];
                    tokens.extend_from_slice(&cont[..cont.len() - 1]);
                    Row {
                        job: i,
                        group: g,
                        tokens,
                        targets: cont.clone(),
                    }
                })
            })
            .collect();
        for chunk in rows.chunks(self.batch_size) {
            self.run_batch(chunk, &prefixes, cache.as_ref(), out)?;
        }
        Ok(())
    }

    /// The KV cache of `ids`, reusing the part it shares with the previous group's context
    /// (few-shot preambles repeat across questions, and sorted contexts make them neighbours).
    fn prefix_cache(&self, ids: &[u32], previous: Option<&(Vec<u32>, KvCache)>) -> Result<KvCache> {
        /// Shorter common prefixes are not worth a separate pass.
        const MIN_REUSE: usize = 16;
        let reuse = previous.and_then(|(prev, cache)| {
            let common = prev.iter().zip(ids).take_while(|(a, b)| a == b).count();
            // At least one new token must run to produce the cache of `ids`.
            let common = common.min(ids.len() - 1);
            (common >= MIN_REUSE).then_some((common, cache))
        });
        let (start, head) = match reuse {
            Some((common, cache)) => (common, Some(cache.truncate(common)?)),
            None => (0, None),
        };
        let tokens = Tensor::new(&ids[start..], &self.device)?.unsqueeze(0)?;
        Ok(self.model.forward(&tokens, None, head.as_ref(), None)?.1)
    }

    /// One forward pass over right-padded rows, each after its group's cached prefix
    /// (`cache` holds one row per group, or one row shared by all), scoring every target.
    fn run_batch(
        &self,
        rows: &[Row],
        prefixes: &[&[u32]],
        cache: Option<&KvCache>,
        out: &mut [Option<TokenScores>],
    ) -> Result<()> {
        let b = rows.len();
        let width = rows.iter().map(|r| r.tokens.len()).max().unwrap_or(0);
        let mut padded = Vec::with_capacity(b * width);
        let mut positions = Vec::new();
        let mut targets = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            padded.extend_from_slice(&row.tokens);
            padded.resize((r + 1) * width, 0);
            for (j, &t) in row.targets.iter().enumerate() {
                positions.push((r * width + j) as u32);
                targets.push(t);
            }
        }
        let lengths: Vec<usize> = rows.iter().map(|r| r.tokens.len()).collect();
        let tokens = Tensor::from_vec(padded, (b, width), &self.device)?;
        let (hidden, _) = match cache {
            None => self.model.forward(&tokens, Some(&lengths), None, None)?,
            Some(cache) => {
                let cached = cache.len();
                let per_group = cache.layers[0].kt.dim(0)? > 1;
                let cache = if per_group {
                    let idx: Vec<u32> = rows.iter().map(|r| r.group as u32).collect();
                    cache.select_rows(&Tensor::new(idx.as_slice(), &self.device)?)?
                } else {
                    cache.clone()
                };
                let spans: Vec<RowSpan> = rows
                    .iter()
                    .map(|row| RowSpan {
                        prefix: prefixes[row.group].len(),
                        padded: cached,
                    })
                    .collect();
                let layout = RowLayout::after_cache(&spans, cached, width, &self.device)?;
                self.model
                    .forward(&tokens, Some(&lengths), Some(&cache), Some(&layout))?
            }
        };
        let hidden = hidden.reshape((b * width, hidden.dim(2)?))?;
        let picked = hidden.index_select(&Tensor::new(positions.as_slice(), &self.device)?, 0)?;
        let logits = self.model.logits(&picked)?;
        let logprobs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let target_t = Tensor::new(targets.as_slice(), &self.device)?.unsqueeze(1)?;
        let chosen = logprobs
            .gather(&target_t, 1)?
            .squeeze(1)?
            .to_vec1::<f32>()?;
        let best = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let mut at = 0;
        for row in rows {
            let n = row.targets.len();
            let greedy = best[at..at + n] == row.targets[..];
            out[row.job] = Some(TokenScores {
                logprobs: chosen[at..at + n].to_vec(),
                greedy,
            });
            at += n;
        }
        Ok(())
    }

    /// Split a request the lm-evaluation-harness way (see [`candor_core::tokens`]).
    pub(crate) fn loglikelihood_job(
        &self,
        index: usize,
        r: &LoglikelihoodRequest,
    ) -> Result<ScoreJob, ModelError> {
        let tok = self.tokenizer().map_err(ModelError::from)?;
        candor_core::tokens::loglikelihood_job(tok, index, r)
    }

    /// Rolling windows over a whole text (see [`candor_core::tokens::rolling_jobs`]).
    pub(crate) fn rolling_jobs(
        &self,
        index: usize,
        text: &str,
    ) -> Result<Vec<ScoreJob>, ModelError> {
        let tok = self.tokenizer().map_err(ModelError::from)?;
        candor_core::tokens::rolling_jobs(tok, index, text, self.model.max_context())
    }
}
