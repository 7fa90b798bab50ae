//! [`OpenAiModel`]: candor's requests as completions and chat completions.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use candor_core::tokens::{loglikelihood_job, rolling_jobs};
use candor_core::{
    ChatMessage, FinishReason, GenerateRequest, Generation, LanguageModel, Loglikelihood,
    LoglikelihoodRequest, ModelError, ModelRecord, Prompt, RollingLoglikelihood, RollingRequest,
    ScoreJob, Tokenize,
};
use serde_json::{json, Value};

use crate::http::{CallError, Client};
use crate::spec::{PromptForm, ServerSpec};
use crate::{check, Error};

/// Log-probs of one scored window: the continuation's, and whether each was the top token.
pub(crate) struct Scored {
    pub logprobs: Vec<f64>,
    pub greedy: bool,
}

/// Chat messages rendered with candor's chat template of the served model (`chat=local`).
pub type ChatRenderer = Arc<dyn Fn(&[ChatMessage]) -> Result<String, ModelError> + Send + Sync>;

/// A model behind one or more OpenAI-compatible servers.
pub struct OpenAiModel {
    pub(crate) spec: ServerSpec,
    pub(crate) client: Client,
    pub(crate) tokenizer: Option<Arc<dyn Tokenize>>,
    /// Whether `/v1/completions` is sent token ids (else text).
    pub(crate) ids: bool,
    pub(crate) context_length: usize,
    /// What the servers say about themselves and what the self-check found.
    pub(crate) facts: BTreeMap<String, String>,
    /// The served model's id as the server lists it (its root path where it says one).
    pub(crate) served: String,
    pub(crate) chat_template: Option<ChatRenderer>,
}

impl OpenAiModel {
    /// Connect to the spec's replicas, read what they serve, and run the self-check: a server
    /// whose prompt log-probs are wrong is refused (unless the spec says `scoring=off`).
    /// `tokenizer` is candor's tokenizer of the served model, needed for scoring.
    pub fn connect(spec: ServerSpec, tokenizer: Option<Arc<dyn Tokenize>>) -> Result<Self, Error> {
        let mut model = OpenAiModel {
            client: Client::new(&spec),
            ids: spec.prompt == PromptForm::Ids,
            context_length: spec.context_length.unwrap_or(0),
            spec,
            tokenizer,
            facts: BTreeMap::new(),
            served: String::new(),
            chat_template: None,
        };
        check::run(&mut model)?;
        Ok(model)
    }

    /// The chat template that renders chat prompts when the spec says `chat=local`.
    pub fn with_chat_template(mut self, render: ChatRenderer) -> Self {
        self.chat_template = Some(render);
        self
    }

    pub fn spec(&self) -> &ServerSpec {
        &self.spec
    }

    /// What the self-check and the servers reported, as the report records it.
    pub fn facts(&self) -> &BTreeMap<String, String> {
        &self.facts
    }

    pub(crate) fn tok(&self) -> Result<&dyn Tokenize, ModelError> {
        match (&self.tokenizer, self.spec.scoring) {
            (Some(t), true) => Ok(t.as_ref()),
            (None, true) => Err(ModelError::Backend(Error::NoTokenizer.to_string())),
            (_, false) => Err(ModelError::Backend(
                "this server spec has scoring=off: log-likelihood requests are not sent".into(),
            )),
        }
    }

    /// POST to `/completions` or `/chat/completions` of a replica.
    pub(crate) fn post(&self, path: &str, body: Value, home: usize) -> Result<Value, CallError> {
        self.client.post(path, &body, home)
    }

    /// The prompt `ids` as this server takes it: the ids, or text without the BOS the server
    /// adds itself. `text` is the prompt's own text where the request has one (exact, where
    /// decoding ids may not give it back).
    fn prompt_value(
        &self,
        tok: &dyn Tokenize,
        ids: &[u32],
        text: Option<String>,
    ) -> Result<Value, ModelError> {
        if self.ids {
            return Ok(json!(ids));
        }
        if let Some(text) = text {
            return Ok(Value::String(text));
        }
        let bos = tok.bos_prefix();
        let ids = ids.strip_prefix(bos.as_slice()).unwrap_or(ids);
        Ok(Value::String(tok.decode(ids)?))
    }

    /// The server's answer to prompt `ids` (its text where known) with `echo` and log-probs,
    /// as scoring asks for it: one greedy token after the prompt.
    pub(crate) fn echo(
        &self,
        tok: &dyn Tokenize,
        ids: &[u32],
        text: Option<String>,
        home: usize,
    ) -> Result<Value, ModelError> {
        let body = json!({
            "model": self.spec.model,
            "prompt": self.prompt_value(tok, ids, text)?,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": 1,
            "echo": true,
            "repeat_penalty": 1.0,
        });
        self.post("/completions", body, home)
            .map_err(|e| backend(home, e))
    }

    /// Score `job` from the echoed prompt log-probs.
    pub(crate) fn score(
        &self,
        tok: &dyn Tokenize,
        job: &ScoreJob,
        text: Option<String>,
        home: usize,
    ) -> Result<Scored, ModelError> {
        let all: Vec<u32> = job.ctx.iter().chain(&job.cont).copied().collect();
        let answer = self.echo(tok, &all, text, home)?;
        let echo = Echo::parse(&answer).map_err(|e| backend(home, e))?;
        echo.continuation(tok, &all, job.cont.len())
            .map_err(|e| backend(home, e))
    }

    fn generate_one(&self, index: usize, r: &GenerateRequest) -> Result<Generation, ModelError> {
        let p = &r.params;
        let mut body = json!({
            "model": self.spec.model,
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "seed": p.seed,
            "repeat_penalty": 1.0,
        });
        if p.top_k > 0 {
            body["top_k"] = json!(p.top_k);
        }
        if !p.stop.is_empty() {
            body["stop"] = json!(p.stop);
        }
        let local_chat = match (&r.prompt, self.spec.local_chat) {
            (Prompt::Chat(messages), true) => {
                let render = self.chat_template.as_ref().ok_or_else(|| {
                    ModelError::Backend(
                        "chat=local needs candor's chat template of the served model: give \
                         tokenizer= a model whose files carry one"
                            .into(),
                    )
                })?;
                Some(render(messages)?)
            }
            _ => None,
        };
        let (path, pointer) = match &r.prompt {
            Prompt::Chat(_) if local_chat.is_some() => {
                let text = local_chat.unwrap_or_default();
                body["prompt"] = match &self.tokenizer {
                    Some(tok) if self.ids => json!(tok.encode(&text)?),
                    // The server adds the BOS a rendered template may begin with.
                    Some(tok) if !tok.bos_prefix().is_empty() => {
                        let bos = tok.decode(&tok.bos_prefix())?;
                        json!(text.strip_prefix(bos.as_str()).unwrap_or(&text))
                    }
                    _ => json!(text),
                };
                ("/completions", "/choices/0/text")
            }
            Prompt::Chat(messages) => {
                body["messages"] = json!(messages
                    .iter()
                    .map(|m| json!({"role": m.role, "content": m.content}))
                    .collect::<Vec<_>>());
                ("/chat/completions", "/choices/0/message/content")
            }
            Prompt::Text(text) => {
                body["prompt"] = match (&self.tokenizer, self.ids) {
                    (Some(tok), true) => {
                        let mut ids = tok.bos_prefix();
                        ids.extend(tok.encode(text)?);
                        json!(ids)
                    }
                    _ => json!(text),
                };
                ("/completions", "/choices/0/text")
            }
        };
        if p.max_new_tokens == 0 {
            return Ok(Generation {
                text: String::new(),
                finish_reason: FinishReason::Length,
                num_tokens: 0,
            });
        }
        let answer = self
            .post(path, body, index)
            .map_err(|e| backend(index, e))?;
        let mut text = answer
            .pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ModelError::Backend(format!("request #{index}: the answer has no {pointer}"))
            })?
            .to_string();
        let mut finish = match answer
            .pointer("/choices/0/finish_reason")
            .and_then(Value::as_str)
        {
            Some("length") => FinishReason::Length,
            // vLLM names the stop string that matched; others say "stop" for EOS and stop
            // strings alike, which candor records as EOS.
            _ if answer
                .pointer("/choices/0/stop_reason")
                .is_some_and(Value::is_string) =>
            {
                FinishReason::Stop
            }
            _ => FinishReason::Eos,
        };
        // Servers that ignore `stop` are cut here, as candor's own generation would stop.
        if let Some(cut) = p.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
            text.truncate(cut);
            finish = FinishReason::Stop;
        }
        let num_tokens = answer
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        Ok(Generation {
            text,
            finish_reason: finish,
            num_tokens,
        })
    }
}

fn backend(index: usize, e: impl std::fmt::Display) -> ModelError {
    ModelError::Backend(format!("request #{index}: {e}"))
}

/// The `logprobs` of a completion with `echo`: the prompt's tokens, then what was generated.
pub(crate) struct Echo {
    pub tokens: Vec<String>,
    pub logprobs: Vec<Option<f64>>,
    /// The best log-prob at each position, where the server listed alternatives.
    pub top: Vec<Option<f64>>,
    pub prompt_tokens: Option<usize>,
}

impl Echo {
    pub fn parse(answer: &Value) -> Result<Self, String> {
        let lp = answer
            .pointer("/choices/0/logprobs")
            .filter(|v| !v.is_null())
            .ok_or("the answer has no logprobs (does the server support echo with logprobs?)")?;
        let logprobs: Vec<Option<f64>> = lp
            .get("token_logprobs")
            .and_then(Value::as_array)
            .ok_or("logprobs.token_logprobs is missing")?
            .iter()
            .map(Value::as_f64)
            .collect();
        let tokens = lp
            .get("tokens")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|t| t.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let top = lp
            .get("top_logprobs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|m| {
                        m.as_object()?
                            .values()
                            .filter_map(Value::as_f64)
                            .reduce(f64::max)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let prompt_tokens = answer
            .pointer("/usage/prompt_tokens")
            .and_then(Value::as_u64)
            .map(|n| n as usize);
        Ok(Echo {
            tokens,
            logprobs,
            top,
            prompt_tokens,
        })
    }

    /// Where the prompt `all` starts in the listing: 0, or 1 where `all` begins with a BOS
    /// that the server leaves out of its echo (llama-cpp-python does; vLLM lists it).
    pub fn offset(&self, tok: &dyn Tokenize, all: &[u32]) -> usize {
        let bos = tok.bos_prefix();
        if bos.is_empty() || !all.starts_with(&bos) {
            return 0;
        }
        let bos_text = tok.decode(&bos).unwrap_or_default();
        match self.tokens.first() {
            Some(first) if first.is_empty() || *first == bos_text => 0,
            _ => 1,
        }
    }

    /// The log-probs of the last `n` prompt tokens, checked against the prompt's length.
    pub fn continuation(
        &self,
        tok: &dyn Tokenize,
        all: &[u32],
        n: usize,
    ) -> Result<Scored, String> {
        if let Some(p) = self.prompt_tokens {
            if p != all.len() {
                return Err(format!(
                    "the server made {p} tokens of the prompt where candor's tokenizer makes {} \
                     (BOS included): the tokenizer does not match the served model's, or the \
                     server adds a BOS that candor's tokenizer does not (or the reverse)",
                    all.len()
                ));
            }
        }
        let prompt = all.len() - self.offset(tok, all);
        if self.logprobs.len() < prompt || self.logprobs.len() > prompt + 1 {
            return Err(format!(
                "the server echoed {} log-probs for a prompt of {prompt} tokens and one new token",
                self.logprobs.len()
            ));
        }
        let start = prompt
            .checked_sub(n)
            .ok_or("the continuation is longer than the prompt")?;
        let mut logprobs = Vec::with_capacity(n);
        let mut greedy = true;
        for i in start..prompt {
            let lp = self.logprobs[i].ok_or_else(|| {
                format!(
                    "the server gave no log-prob for prompt token {i} (its first scored token); \
                     candor needs every continuation token scored"
                )
            })?;
            let best = self.top.get(i).copied().flatten();
            greedy &= best.is_some_and(|b| lp >= b - 1e-6 * b.abs().max(1.0));
            logprobs.push(lp);
        }
        Ok(Scored { logprobs, greedy })
    }
}

impl LanguageModel for OpenAiModel {
    fn name(&self) -> &str {
        &self.spec.model
    }

    fn describe(&self) -> ModelRecord {
        let mut details = self.facts.clone();
        let c = &self.client;
        details.insert("concurrency".into(), c.concurrency.to_string());
        details.insert(
            "retries".into(),
            format!(
                "{} retried attempts ({} rate-limited, {} timed out)",
                c.retried.load(Ordering::Relaxed),
                c.rate_limited.load(Ordering::Relaxed),
                c.timeouts.load(Ordering::Relaxed)
            ),
        );
        details.insert(
            "replicas".into(),
            c.replicas
                .iter()
                .map(|r| {
                    format!(
                        "{} ({} requests, {} failed)",
                        r.url,
                        r.requests.load(Ordering::Relaxed),
                        r.failures.load(Ordering::Relaxed)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
        ModelRecord {
            spec: self.spec.text.clone(),
            backend: "openai".into(),
            name: self.spec.model.clone(),
            path: self.served.clone(),
            weights: "served".into(),
            context_length: self.context_length,
            device: "server".into(),
            details,
            ..ModelRecord::default()
        }
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.tokenizer.as_ref()?.encode(text).ok().map(|t| t.len())
    }

    fn loglikelihood(
        &self,
        requests: &[LoglikelihoodRequest],
    ) -> Result<Vec<Loglikelihood>, ModelError> {
        let tok = self.tok()?;
        let jobs = requests
            .iter()
            .enumerate()
            .map(|(i, r)| loglikelihood_job(tok, i, r))
            .collect::<Result<Vec<_>, _>>()?;
        for (index, job) in jobs.iter().enumerate() {
            let tokens = job.ctx.len() + job.cont.len();
            if self.context_length > 0 && tokens > self.context_length {
                return Err(ModelError::ContextTooLong {
                    index,
                    tokens,
                    max: self.context_length,
                });
            }
        }
        let scored = self.client.map(jobs.len(), |i| {
            let r = &requests[i];
            // The request's own text, with the prefix token an empty context starts from.
            let text = if tok.bos_prefix().is_empty() && r.context.trim_end().is_empty() {
                tok.decode(&jobs[i].ctx)? + &r.context + &r.continuation
            } else {
                format!("{}{}", r.context, r.continuation)
            };
            self.score(tok, &jobs[i], Some(text), i)
        })?;
        Ok(scored
            .into_iter()
            .zip(&jobs)
            .map(|(s, job)| Loglikelihood {
                logprob: s.logprobs.iter().sum(),
                is_greedy: s.greedy,
                num_tokens: job.cont.len(),
            })
            .collect())
    }

    fn loglikelihood_rolling(
        &self,
        requests: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        let tok = self.tok()?;
        if self.context_length == 0 {
            return Err(ModelError::Backend(
                "the server does not say its context length: add context_length=N to the spec"
                    .into(),
            ));
        }
        let mut windows = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            for job in rolling_jobs(tok, i, &r.text, self.context_length)? {
                windows.push((i, job));
            }
        }
        let scored = self.client.map(windows.len(), |w| {
            self.score(tok, &windows[w].1, None, windows[w].0)
        })?;
        let mut out: Vec<RollingLoglikelihood> = requests
            .iter()
            .map(|r| RollingLoglikelihood {
                logprob: 0.0,
                num_tokens: 0,
                num_bytes: r.text.len(),
            })
            .collect();
        for ((i, _), s) in windows.iter().zip(scored) {
            out[*i].logprob += s.logprobs.iter().sum::<f64>();
            out[*i].num_tokens += s.logprobs.len();
        }
        Ok(out)
    }

    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        self.client
            .map(requests.len(), |i| self.generate_one(i, &requests[i]))
    }
}
