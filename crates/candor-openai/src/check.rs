//! The self-check a server passes before candor trusts it: it serves the model, decodes
//! greedily at temperature 0, and its echoed prompt log-probs equal the log-probs it reports
//! for the same tokens while generating them (a server that scores each prompt token with the
//! logits of its own position, or that scores the first token from nothing, fails).

use candor_core::tokens::loglikelihood_job;
use candor_core::{LoglikelihoodRequest, Tokenize};
use serde_json::{json, Value};

use crate::model::{Echo, OpenAiModel};
use crate::spec::PromptForm;
use crate::Error;

/// Prompts whose greedy continuations are checked; a probe whose continuation does not
/// tokenize back to the generated tokens is skipped.
const PROBES: [&str; 3] = [
    "The capital of France is",
    "Water freezes at a temperature of",
    "One, two, three, four,",
];
const PROBE_TOKENS: usize = 4;
/// Generated and echoed log-probs of one token may differ by this much (batching, caches).
const TOLERANCE: f64 = 0.1;

const SHIFT_ADVICE: &str = "Use an endpoint whose prompt log-probs are right (vLLM or SGLang \
    /v1/completions with echo), serve a model whose tokenizer adds BOS (llama-cpp-python's echo is \
    right only then), or add scoring=off to the spec to run generation-only suites";

const NO_PROMPT_LOGPROBS: &str = "llama.cpp's llama-server and TGI's OpenAI routes report \
    log-probs of generated tokens only: serve the model with vLLM or SGLang for scoring, or add \
    scoring=off to the spec to run generation-only suites";

pub(crate) fn run(model: &mut OpenAiModel) -> Result<(), Error> {
    for replica in 0..model.client.replicas.len() {
        served_model(model, replica)?;
    }
    model.facts.insert(
        "endpoints".into(),
        format!(
            "loglikelihood, rolling: {}; generate: /chat/completions for chat prompts, \
             /completions for text",
            if model.spec.scoring {
                "/completions with echo and logprobs"
            } else {
                "off (scoring=off)"
            }
        ),
    );
    if !model.spec.scoring {
        model
            .facts
            .insert("self_check".into(), "skipped: scoring=off".into());
        return Ok(());
    }
    let tok = model.tokenizer.clone().ok_or(Error::NoTokenizer)?;
    if model.spec.prompt == PromptForm::Auto {
        model.ids = accepts_ids(model, tok.as_ref())?;
    }
    model.facts.insert(
        "prompt_form".into(),
        if model.ids {
            "token ids"
        } else {
            "text (the server tokenizes)"
        }
        .into(),
    );
    // Every replica is probed: one that serves another model or build fails on its own.
    let mut checked = Vec::new();
    for replica in 0..model.client.replicas.len() {
        for probe in PROBES {
            if let Some(diff) = greedy_probe(model, tok.as_ref(), probe, replica)? {
                checked.push(diff);
            }
        }
    }
    let Some(worst) = checked.iter().copied().reduce(f64::max) else {
        return Err(Error::SelfCheck {
            problem: "no probe's greedy continuation tokenized back to the generated tokens, so \
                      prompt log-probs could not be checked"
                .into(),
            advice: "Check that tokenizer= names the served model's tokenizer".into(),
        });
    };
    model.facts.insert(
        "self_check".into(),
        format!(
            "passed: {} greedy probes of {PROBE_TOKENS} tokens over {} replica(s), echoed vs \
             generated log-probs differ by at most {worst:.4} nats; first prompt token unscored",
            checked.len(),
            model.client.replicas.len()
        ),
    );
    Ok(())
}

/// The server is up and lists the model; record its id and version, and its context length
/// where it says one.
fn served_model(model: &mut OpenAiModel, replica: usize) -> Result<(), Error> {
    let url = model.client.replicas[replica].url.clone();
    let list = model
        .client
        .get(&format!("{url}/models"))
        .map_err(Error::Unreachable)?;
    let entries = list
        .get("data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted = &model.spec.model;
    let entry = entries
        .iter()
        .find(|e| e.get("id").and_then(Value::as_str) == Some(wanted.as_str()));
    let Some(entry) = entry else {
        if entries.is_empty() {
            return Ok(());
        }
        let available = entries
            .iter()
            .filter_map(|e| e.get("id").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::UnknownModel {
            url,
            model: wanted.clone(),
            available,
        });
    };
    if model.served.is_empty() {
        model.served = entry
            .get("root")
            .and_then(Value::as_str)
            .unwrap_or(wanted)
            .to_string();
    }
    if model.context_length == 0 {
        let n = entry
            .get("max_model_len")
            .or_else(|| entry.pointer("/meta/n_ctx_train"))
            .and_then(Value::as_u64);
        model.context_length = n.unwrap_or(0) as usize;
    }
    if let Some(owner) = entry.get("owned_by").and_then(Value::as_str) {
        model.facts.insert("owned_by".into(), owner.to_string());
    }
    if !model.facts.contains_key("server_version") {
        // vLLM and SGLang answer /version, TGI /info, llama.cpp /props; the API root is the
        // base URL without its /v1.
        let root = url.strip_suffix("/v1").unwrap_or(&url);
        for path in ["/version", "/info", "/props"] {
            let Ok(v) = model.client.get(&format!("{root}{path}")) else {
                continue;
            };
            let version = v
                .get("version")
                .or_else(|| v.get("build_info"))
                .and_then(Value::as_str);
            if let Some(version) = version {
                model
                    .facts
                    .insert("server_version".into(), format!("{version} ({path})"));
                break;
            }
        }
    }
    Ok(())
}

/// Whether `/completions` takes a prompt of token ids (vLLM, SGLang, llama.cpp do;
/// llama-cpp-python does not).
fn accepts_ids(model: &OpenAiModel, tok: &dyn Tokenize) -> Result<bool, Error> {
    let mut ids = tok.bos_prefix();
    ids.extend(tok.encode(PROBES[0]).map_err(self_check)?);
    let body = json!({
        "model": model.spec.model, "prompt": ids, "max_tokens": 1, "temperature": 0.0,
    });
    // One attempt: llama-cpp-python answers token ids with a 500, which is an answer here.
    if let Ok(answer) = model.client.post_retrying("/completions", &body, 0, 0) {
        return Ok(answer.pointer("/choices/0/text").is_some());
    }
    let body = json!({
        "model": model.spec.model, "prompt": PROBES[0], "max_tokens": 1, "temperature": 0.0,
    });
    model
        .post("/completions", body, 0)
        .map(|_| false)
        .map_err(|e| Error::Unreachable(e.to_string()))
}

/// Generate a few greedy tokens with their log-probs, then score the same tokens as a prompt
/// continuation: the two must agree. `None` when the continuation does not tokenize back.
fn greedy_probe(
    model: &OpenAiModel,
    tok: &dyn Tokenize,
    probe: &str,
    replica: usize,
) -> Result<Option<f64>, Error> {
    let body = json!({
        "model": model.spec.model, "prompt": probe, "max_tokens": PROBE_TOKENS,
        "temperature": 0.0, "logprobs": 1, "repeat_penalty": 1.0, "seed": 0,
    });
    let answer = model
        .post("/completions", body, replica)
        .map_err(|e| Error::Unreachable(e.to_string()))?;
    let generated = Echo::parse(&answer).map_err(|problem| Error::SelfCheck {
        problem: format!("a completion with logprobs=1 came back without them ({problem})"),
        advice: "Use a server that returns log-probs on /v1/completions".into(),
    })?;
    let text = answer
        .pointer("/choices/0/text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for (i, (lp, best)) in generated.logprobs.iter().zip(&generated.top).enumerate() {
        if let (Some(lp), Some(best)) = (lp, best) {
            if *lp < best - 1e-4 {
                return Err(Error::SelfCheck {
                    problem: format!(
                        "at temperature 0 the server chose token {i} of '{probe}' with log-prob \
                         {lp:.4} over one with {best:.4}: it does not decode greedily"
                    ),
                    advice: "Turn off the server's default penalties or sampling (repeat, \
                             presence, frequency penalties; a default temperature)"
                        .into(),
                });
            }
        }
    }
    if text.is_empty() || generated.logprobs.len() != PROBE_TOKENS {
        return Ok(None);
    }
    let job = loglikelihood_job(tok, 0, &LoglikelihoodRequest::new(probe, text.clone()))
        .map_err(self_check)?;
    if job.cont.len() != PROBE_TOKENS {
        return Ok(None);
    }
    let all: Vec<u32> = job.ctx.iter().chain(&job.cont).copied().collect();
    let echoed = echo(model, tok, &all, format!("{probe}{text}"), replica)?;
    if echoed.logprobs.len() + 1 < all.len() {
        return Err(Error::SelfCheck {
            problem: format!(
                "with echo=true the server returned {} log-probs for a prompt of {} tokens: it \
                 does not score prompts",
                echoed.logprobs.len(),
                all.len()
            ),
            advice: NO_PROMPT_LOGPROBS.into(),
        });
    }
    if echoed.logprobs.first().is_some_and(Option::is_some) && echoed.offset(tok, &all) == 0 {
        return Err(Error::SelfCheck {
            problem: "the first prompt token, which has nothing before it, came back with a \
                      log-prob: the server's prompt log-probs are shifted"
                .into(),
            advice: SHIFT_ADVICE.into(),
        });
    }
    let scored = echoed
        .continuation(tok, &all, PROBE_TOKENS)
        .map_err(|problem| Error::SelfCheck {
            problem,
            advice: "Check that tokenizer= names the served model's tokenizer".into(),
        })?;
    let mut worst = 0.0f64;
    for (i, (echo_lp, gen_lp)) in scored.logprobs.iter().zip(&generated.logprobs).enumerate() {
        let gen_lp = gen_lp.unwrap_or(f64::NAN);
        let diff = (echo_lp - gen_lp).abs();
        if diff.is_nan() || diff > TOLERANCE {
            let token = generated.tokens.get(i).cloned().unwrap_or_default();
            return Err(Error::SelfCheck {
                problem: format!(
                    "token {token:?} after '{probe}' has log-prob {gen_lp:.4} when the server \
                     generates it but {echo_lp:.4} when it scores it as part of the prompt \
                     (echo): its prompt log-probs are wrong, typically shifted by one token"
                ),
                advice: SHIFT_ADVICE.into(),
            });
        }
        worst = worst.max(diff);
    }
    Ok(Some(worst))
}

/// The echo of a prompt, sent the way scoring sends it.
fn echo(
    model: &OpenAiModel,
    tok: &dyn Tokenize,
    all: &[u32],
    text: String,
    replica: usize,
) -> Result<Echo, Error> {
    let answer = model
        .echo(tok, all, Some(text), replica)
        .map_err(|e| Error::Unreachable(e.to_string()))?;
    Echo::parse(&answer).map_err(|problem| Error::SelfCheck {
        problem: format!("echo=true with logprobs gave no prompt log-probs ({problem})"),
        advice: NO_PROMPT_LOGPROBS.into(),
    })
}

fn self_check(e: candor_core::ModelError) -> Error {
    Error::SelfCheck {
        problem: format!("candor's tokenizer failed on a probe: {e}"),
        advice: "Check tokenizer=".into(),
    }
}
