//! The one form of a server model spec:
//! `openai:<served model>@<url>[,<url>...][?key=value&...]`.

use std::time::Duration;

use crate::Error;

/// The prefix that marks a model spec as a server.
pub const SCHEME: &str = "openai:";

/// How prompts reach `/v1/completions`: as token ids (exact), or as text the server tokenizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptForm {
    /// Token ids where the server accepts them (tried in the self-check), else text.
    Auto,
    Ids,
    Text,
}

/// A parsed `openai:` spec.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    /// The spec as written (it holds no secret: the API key is read from the environment).
    pub text: String,
    /// The model name the server serves (`/v1/models`).
    pub model: String,
    /// Base URLs of the replicas, each ending before `/completions` (`http://host:8000/v1`).
    pub urls: Vec<String>,
    /// The tokenizer candor splits requests with (a tokenizer.json, a GGUF file, a model
    /// folder or a Hub id); needed for log-likelihoods.
    pub tokenizer: Option<String>,
    /// Requests in flight at once, over all replicas.
    pub concurrency: usize,
    /// Limit of one HTTP request.
    pub timeout: Duration,
    /// Attempts after the first before a request fails.
    pub retries: u32,
    /// First backoff delay; it doubles per attempt (with jitter), up to 30 s.
    pub backoff: Duration,
    /// The environment variable that holds the API key (never written anywhere).
    pub api_key_env: String,
    pub prompt: PromptForm,
    /// The model's context in tokens, where the server does not say (rolling windows need it).
    pub context_length: Option<usize>,
    /// Render chat prompts with candor's chat template and send them to `/completions`,
    /// rather than to `/chat/completions` with the server's template.
    pub local_chat: bool,
    /// Score through the server (log-likelihoods); `false` allows generation only, for servers
    /// whose prompt log-probs are missing or wrong.
    pub scoring: bool,
}

impl ServerSpec {
    /// Whether `spec` names a server rather than a model file.
    pub fn is_server(spec: &str) -> bool {
        spec.starts_with(SCHEME)
    }

    pub fn parse(spec: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Spec {
            spec: spec.to_string(),
            reason,
        };
        let rest = spec
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(format!("a server spec starts with '{SCHEME}'")))?;
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (model, urls) = main
            .split_once('@')
            .ok_or_else(|| bad("expected <served model>@<url>".into()))?;
        if model.is_empty() {
            return Err(bad("the served model name is empty".into()));
        }
        let urls: Vec<String> = urls
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .collect();
        for url in &urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!("'{url}' is not an http(s) URL")));
            }
        }
        let mut out = ServerSpec {
            text: spec.to_string(),
            model: model.to_string(),
            urls,
            tokenizer: None,
            concurrency: 8,
            timeout: Duration::from_secs(300),
            retries: 6,
            backoff: Duration::from_millis(500),
            api_key_env: "OPENAI_API_KEY".into(),
            prompt: PromptForm::Auto,
            context_length: None,
            local_chat: false,
            scoring: true,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("'{pair}' is not key=value")))?;
            let number = |what: &str| -> Result<u64, Error> {
                value
                    .parse::<u64>()
                    .map_err(|_| bad(format!("{key}={value}: {what} must be a whole number")))
            };
            match key {
                "tokenizer" => out.tokenizer = Some(value.to_string()),
                "concurrency" => out.concurrency = number("concurrency")?.max(1) as usize,
                "timeout" => {
                    out.timeout = Duration::from_secs_f64(
                        seconds(value)
                            .ok_or_else(|| bad(format!("timeout={value}: seconds expected")))?,
                    )
                }
                "retries" => out.retries = number("retries")? as u32,
                "backoff_ms" => out.backoff = Duration::from_millis(number("backoff_ms")?),
                "api_key_env" => out.api_key_env = value.to_string(),
                "context_length" => out.context_length = Some(number("context_length")? as usize),
                "prompt" => {
                    out.prompt = match value {
                        "auto" => PromptForm::Auto,
                        "ids" => PromptForm::Ids,
                        "text" => PromptForm::Text,
                        _ => return Err(bad(format!("prompt={value}: use auto, ids or text"))),
                    }
                }
                "chat" => {
                    out.local_chat = match value {
                        "server" => false,
                        "local" => true,
                        _ => return Err(bad(format!("chat={value}: use server or local"))),
                    }
                }
                "scoring" => {
                    out.scoring = match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(bad(format!("scoring={value}: use on or off"))),
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "unknown key '{key}' (tokenizer, concurrency, timeout, retries, \
                         backoff_ms, api_key_env, context_length, prompt, chat, scoring)"
                    )))
                }
            }
        }
        Ok(out)
    }
}

fn seconds(value: &str) -> Option<f64> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && s.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_model_replicas_and_options() {
        let spec = ServerSpec::parse(
            "openai:meta-llama/Llama-2-7b-hf@http://a:8000/v1/,https://b/v1?tokenizer=meta-llama/Llama-2-7b-hf&concurrency=32&timeout=2.5&prompt=text&chat=local&scoring=off",
        )
        .unwrap();
        assert_eq!(spec.model, "meta-llama/Llama-2-7b-hf");
        assert_eq!(spec.urls, ["http://a:8000/v1", "https://b/v1"]);
        assert_eq!(spec.tokenizer.as_deref(), Some("meta-llama/Llama-2-7b-hf"));
        assert_eq!(spec.concurrency, 32);
        assert_eq!(spec.timeout, Duration::from_millis(2500));
        assert_eq!(spec.prompt, PromptForm::Text);
        assert!(!spec.scoring && spec.local_chat);
        assert!(ServerSpec::is_server("openai:m@http://x"));
        assert!(!ServerSpec::is_server("model.gguf"));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| ServerSpec::parse(s).unwrap_err().to_string();
        assert!(err("openai:http://x").contains("expected <served model>@<url>"));
        assert!(err("openai:m@x:8000").contains("'x:8000' is not an http(s) URL"));
        assert!(err("openai:m@http://x?colour=red").contains("unknown key 'colour'"));
        assert!(err("openai:m@http://x?retries=many").contains("retries=many"));
    }
}
