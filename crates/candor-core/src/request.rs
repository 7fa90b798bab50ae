use serde::{Deserialize, Serialize};

/// Score `continuation` after `context`.
///
/// Tokenization follows lm-evaluation-harness: whitespace at the end of the context is moved to
/// the start of the continuation, context and continuation are tokenized together, and the
/// continuation's tokens are those after the context's own tokens. This keeps a leading space
/// inside the continuation's first token, as BPE vocabularies expect.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoglikelihoodRequest {
    pub context: String,
    pub continuation: String,
}

impl LoglikelihoodRequest {
    pub fn new(context: impl Into<String>, continuation: impl Into<String>) -> Self {
        Self {
            context: context.into(),
            continuation: continuation.into(),
        }
    }
}

/// The answer to a [`LoglikelihoodRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loglikelihood {
    /// Sum of the natural-log probabilities of the continuation's tokens.
    pub logprob: f64,
    /// Whether greedy decoding from the context would produce exactly the continuation.
    pub is_greedy: bool,
    /// How many tokens the continuation has.
    pub num_tokens: usize,
}

/// Score a whole text, for perplexity and bits per byte.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RollingRequest {
    pub text: String,
}

impl RollingRequest {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }
}

/// The answer to a [`RollingRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollingLoglikelihood {
    /// Sum of the log-probabilities of every token of the text.
    pub logprob: f64,
    pub num_tokens: usize,
    /// UTF-8 bytes of the text, for bits per byte.
    pub num_bytes: usize,
}

/// One turn of a chat.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
}

/// What a model is asked to continue: raw text, or chat messages that the model renders with
/// its own chat template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    Text(String),
    Chat(Vec<ChatMessage>),
}

/// How to generate. The default is greedy decoding of up to 256 tokens that stops at EOS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    pub max_new_tokens: usize,
    /// 0 means greedy decoding.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens (0 keeps all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `p` (1.0 keeps all).
    pub top_p: f64,
    /// Seed of the sampler; the same seed gives the same text.
    pub seed: u64,
    /// Stop as soon as the text contains one of these; the stop string is not returned.
    pub stop: Vec<String>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

/// Generate text for a prompt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    pub params: GenerationParams,
}

/// Why generation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model produced an end-of-sequence token.
    Eos,
    /// The text reached one of the stop strings.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

/// The answer to a [`GenerateRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    pub finish_reason: FinishReason,
    /// Tokens generated, including a final EOS token.
    pub num_tokens: usize,
}

/// Any of the three request kinds, for runners that gather mixed work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Loglikelihood(LoglikelihoodRequest),
    Rolling(RollingRequest),
    Generate(GenerateRequest),
}

/// The answer to a [`Request`], of the matching kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Loglikelihood(Loglikelihood),
    Rolling(RollingLoglikelihood),
    Generate(Generation),
}
