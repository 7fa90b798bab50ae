use std::path::PathBuf;

/// Why a model could not be found, loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable GGUF file: {reason}")]
    BadGguf { path: PathBuf, reason: String },
    #[error("{path} is truncated: tensor '{tensor}' ends at byte {needed} but the file has {actual} bytes (was the download interrupted?)")]
    TruncatedGguf {
        path: PathBuf,
        tensor: String,
        needed: u64,
        actual: u64,
    },
    #[error("{path}: architecture '{arch}' is not supported (supported: {supported})")]
    UnsupportedArchitecture {
        path: PathBuf,
        arch: String,
        supported: String,
    },
    #[error("{path}: {feature} is not supported")]
    UnsupportedFeature { path: PathBuf, feature: String },
    #[error("{path}: missing or invalid '{key}'")]
    BadConfig { path: PathBuf, key: String },
    #[error("{path}: tensor '{name}' is missing")]
    MissingTensor { path: PathBuf, name: String },
    #[error("no tokenizer for {path}: add a tokenizer.json beside the weights, use a GGUF file (it embeds its vocabulary), or pass token ids instead of text")]
    MissingTokenizer { path: PathBuf },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    ChatTemplate(String),
    #[error("model '{id}' not found: {hint}")]
    ModelNotFound { id: String, hint: String },
    #[error("sha256 of {path} is {actual}, expected {expected}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("device '{0}': {1}")]
    Device(String, String),
    #[error(transparent)]
    Request(#[from] candor_core::ModelError),
    #[error("{}", candle_message(.0))]
    Candle(#[from] candle_core::Error),
}

/// A candle error's message without the backtrace candle appends when `RUST_BACKTRACE` is set:
/// its frames are candle's internals, not part of what went wrong (the CLI prints a backtrace
/// of its own when asked).
pub(crate) fn candle_message(e: &candle_core::Error) -> String {
    use candle_core::Error as E;
    match e {
        E::WithBacktrace { inner, .. } => candle_message(inner),
        E::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        E::WithPath { inner, path } => format!("{}: {}", path.display(), candle_message(inner)),
        other => other.to_string(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for candor_core::ModelError {
    fn from(e: Error) -> Self {
        match e {
            Error::Request(inner) => inner,
            other => candor_core::ModelError::Backend(other.to_string()),
        }
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
