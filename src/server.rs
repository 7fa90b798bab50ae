//! Models behind OpenAI-compatible servers: [`connect_server`] joins candor-openai's client to
//! candor-candle's tokenizers, which the client needs and may not know itself.

use std::sync::Arc;

pub use candor_openai::{OpenAiModel, PromptForm, ServerSpec};

use crate::{HubOptions, TextTokenizer};

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
    let tokenizer = match &spec.tokenizer {
        Some(t) => Some(
            Arc::new(
                TextTokenizer::for_spec(t, &HubOptions::from_env()).map_err(|source| {
                    ServerError::Tokenizer {
                        spec: t.clone(),
                        source,
                    }
                })?,
            ) as Arc<dyn candor_core::Tokenize>,
        ),
        None => None,
    };
    Ok(OpenAiModel::connect(spec, tokenizer)?)
}
