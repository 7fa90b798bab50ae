//! Journals keep the answers a run has received, so that nothing is lost: the runner looks a
//! batch up before sending it and records the model's answers as each batch is answered. An
//! interrupted run replays what its journal holds and sends only the rest; a shared cache is a
//! journal that several runs read and write.
//!
//! Answers are keyed by the model's [`ModelRecord::identity`](crate::ModelRecord::identity)
//! (as `model`, a JSON string) and the exact request (as its JSON text).

use crate::Response;

/// A store of answered requests. Implementations must make [`Journal::record`] atomic: after
/// a crash a batch is either wholly recorded or not at all.
pub trait Journal: Send + Sync {
    /// The recorded answers of `model` to the requests `keys`, in order; `None` where absent.
    fn lookup(&self, model: &str, keys: &[String]) -> Result<Vec<Option<Response>>, JournalError>;

    /// Batch `batch` of `model`'s requests in this run is about to be sent (a journal may
    /// count it, to tell how much a crash cost). Default: nothing.
    fn begin(&self, _model: &str, _batch: usize) -> Result<(), JournalError> {
        Ok(())
    }

    /// Record the answers of one batch, in one transaction.
    fn record(
        &self,
        model: &str,
        batch: usize,
        answers: &[(String, Response)],
    ) -> Result<(), JournalError>;
}

/// A journal could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct JournalError(Box<dyn std::error::Error + Send + Sync>);

impl JournalError {
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}
