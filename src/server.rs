//! Models behind OpenAI-compatible servers: [`connect_server`] joins candor-openai's client to
//! candor-candle's tokenizers, which the client needs and may not know itself.

use std::sync::Arc;

pub use candor_openai::{OpenAiModel, PromptForm, ServerSpec};

use candor_candle::TextFiles;
use candor_core::{ChatMessage, ModelError, Tokenize};

use crate::HubOptions;

/// Why a server model could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Server(#[from] candor_openai::Error),
    #[error("cannot load the tokenizer '{spec}': {source}")]
    Tokenizer {
        spec: String,
        source: candor_candle::Error,
    },
}

/// Connect to the server an `openai:<model>@<url>[,<url>...][?key=value...]` spec names (see
/// [`ServerSpec`]), with the tokenizer its `tokenizer=` names, and run the server's self-check.
pub fn connect_server(spec: &str) -> Result<OpenAiModel, ServerError> {
    let spec = ServerSpec::parse(spec)?;
    let files = match &spec.tokenizer {
        Some(t) => Some(
            TextFiles::for_spec(t, &HubOptions::from_env()).map_err(|source| {
                ServerError::Tokenizer {
                    spec: t.clone(),
                    source,
                }
            })?,
        ),
        None => None,
    };
    let (tokenizer, chat) = match files {
        Some(f) => (Some(Arc::new(f.tokenizer) as Arc<dyn Tokenize>), f.chat),
        None => (None, None),
    };
    let model = OpenAiModel::connect(spec, tokenizer)?;
    Ok(match chat {
        Some(template) => model.with_chat_template(Arc::new(move |messages: &[ChatMessage]| {
            template
                .render(messages)
                .map_err(|e| ModelError::Backend(e.to_string()))
        })),
        None => model,
    })
}
