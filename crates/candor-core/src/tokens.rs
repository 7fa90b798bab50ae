//! How requests become token ids: the lm-evaluation-harness splitting rule, in one place for
//! every backend that scores tokens (in-process, or through a server that is sent ids).

use crate::{LoglikelihoodRequest, ModelError};

/// A model's tokenizer, as far as scoring needs it.
pub trait Tokenize: Send + Sync {
    /// Token ids of `text`, without BOS/EOS; special tokens written in the text are recognised.
    fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError>;
    /// Text of `ids`, special tokens kept.
    fn decode(&self, ids: &[u32]) -> Result<String, ModelError>;
    /// What the model expects in front of every text: BOS where its tokenizer adds it.
    fn bos_prefix(&self) -> Vec<u32>;
    /// The token a text with no context of its own starts from: BOS, else EOS.
    fn prefix_token(&self) -> Option<u32>;
}

/// Token ids to score: `cont` after `ctx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreJob {
    pub ctx: Vec<u32>,
    pub cont: Vec<u32>,
}

/// Split request `index` the lm-evaluation-harness way (see [`LoglikelihoodRequest`]): the
/// context's trailing whitespace moves to the continuation, both are encoded together, and the
/// continuation is what follows the context's own tokens. BOS comes first where the tokenizer
/// adds it; an empty context starts from [`Tokenize::prefix_token`].
pub fn loglikelihood_job(
    tok: &dyn Tokenize,
    index: usize,
    r: &LoglikelihoodRequest,
) -> Result<ScoreJob, ModelError> {
    let invalid = |reason: &str| ModelError::InvalidRequest {
        index,
        reason: reason.into(),
    };
    if r.continuation.is_empty() {
        return Err(invalid("the continuation is empty"));
    }
    let split = r.context.trim_end().len();
    let context = &r.context[..split];
    let whole = tok.encode(&format!("{}{}", r.context, r.continuation))?;
    let ctx_len = if context.is_empty() {
        0
    } else {
        tok.encode(context)?.len()
    };
    let ctx_len = ctx_len.min(whole.len());
    let mut ctx = tok.bos_prefix();
    ctx.extend_from_slice(&whole[..ctx_len]);
    if ctx.is_empty() {
        ctx.extend(tok.prefix_token());
    }
    if ctx.is_empty() {
        return Err(invalid(
            "the context is empty and the model has no BOS/EOS token to start from",
        ));
    }
    let cont = whole[ctx_len..].to_vec();
    if cont.is_empty() {
        return Err(invalid("the continuation has no tokens of its own"));
    }
    Ok(ScoreJob { ctx, cont })
}

/// Windows that cover a whole text (lm-evaluation-harness's rolling windows) for a model whose
/// context holds `max` tokens: the first starts after the prefix token, each later one predicts
/// the next `max` tokens with as much preceding text as fits. An empty text is an invalid
/// request.
pub fn rolling_jobs(
    tok: &dyn Tokenize,
    index: usize,
    text: &str,
    max: usize,
) -> Result<Vec<ScoreJob>, ModelError> {
    if text.is_empty() {
        return Err(ModelError::InvalidRequest {
            index,
            reason: "the text is empty".into(),
        });
    }
    let prefix = tok
        .prefix_token()
        .ok_or_else(|| ModelError::InvalidRequest {
            index,
            reason: "the model has no BOS/EOS token to start a rolling window".into(),
        })?;
    let mut seq = vec![prefix];
    seq.extend(tok.encode(text)?);
    Ok(rolling_windows(&seq, max))
}

fn rolling_windows(seq: &[u32], max: usize) -> Vec<ScoreJob> {
    let n = seq.len().saturating_sub(1);
    let mut jobs = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + max).min(n);
        let first = end.saturating_sub(max);
        jobs.push(ScoreJob {
            ctx: seq[first..=start].to_vec(),
            cont: seq[start + 1..=end].to_vec(),
        });
        start = end;
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per byte; BOS 1000 in front of every text when `add_bos`.
    struct Bytes {
        add_bos: bool,
    }

    impl Tokenize for Bytes {
        fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
            Ok(text.bytes().map(u32::from).collect())
        }
        fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
            Ok(ids.iter().map(|&i| i as u8 as char).collect())
        }
        fn bos_prefix(&self) -> Vec<u32> {
            if self.add_bos {
                vec![1000]
            } else {
                Vec::new()
            }
        }
        fn prefix_token(&self) -> Option<u32> {
            Some(1000)
        }
    }

    #[test]
    fn trailing_whitespace_of_the_context_moves_to_the_continuation() {
        let tok = Bytes { add_bos: false };
        let job = loglikelihood_job(&tok, 0, &LoglikelihoodRequest::new("ab ", "c")).unwrap();
        assert_eq!(job.ctx, [97, 98]);
        assert_eq!(job.cont, [32, 99]);
        let bos = Bytes { add_bos: true };
        let job = loglikelihood_job(&bos, 0, &LoglikelihoodRequest::new("", "c")).unwrap();
        assert_eq!((job.ctx, job.cont), (vec![1000], vec![99]));
        let err = loglikelihood_job(&tok, 3, &LoglikelihoodRequest::new("a", "")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request #3: the continuation is empty"
        );
    }

    #[test]
    fn rolling_windows_score_every_token_once_within_the_context() {
        let seq: Vec<u32> = (100..111).collect(); // prefix + 10 tokens
        let jobs = rolling_windows(&seq, 4);
        let scored: Vec<u32> = jobs.iter().flat_map(|j| j.cont.clone()).collect();
        assert_eq!(scored, seq[1..]);
        for j in &jobs {
            assert!(j.ctx.len() + j.cont.len() - 1 <= 4);
        }
        assert_eq!(jobs[0].ctx, vec![100]);
        // Later windows carry as much preceding text as fits: [104..=107] predicts 105..=108.
        assert_eq!(jobs[1].ctx, vec![104]);
        assert_eq!(jobs[1].cont, vec![105, 106, 107, 108]);
        assert_eq!(jobs[2].ctx, vec![106, 107, 108]);
        assert_eq!(jobs[2].cont, vec![109, 110]);
        assert_eq!(rolling_windows(&seq, 100).len(), 1);
    }
}
