//! What a backend says about the model it runs: the report's model record, and the part of it
//! that identifies the model's answers in a journal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The model a run evaluated, as `report.json` records it. Backends fill what they know;
/// fields they cannot know stay empty. Everything that can change a number is here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelRecord {
    /// What the user asked for (`default`, a path, a Hub id, a server).
    pub spec: String,
    /// Which backend answered (`candle`, `openai` ...).
    pub backend: String,
    pub name: String,
    pub path: String,
    /// sha256 of the model file (empty where the backend cannot see the weights).
    pub sha256: String,
    pub architecture: String,
    pub parameters: u64,
    /// Stored tensor types, most common first (`Q4_1 × 210, F32 × 61`).
    pub quantization: String,
    /// How weights were held in memory (`f32`, `quantized` ...).
    pub weights: String,
    pub context_length: usize,
    /// Where the model ran (`cpu`, `cuda:0`).
    pub device: String,
    /// Rows per forward pass.
    pub batch_size: usize,
    /// CPU threads of the kernels (0 where not applicable).
    pub threads: usize,
    /// What else the backend reports for the record (a server's version, its self-check,
    /// endpoints, concurrency and retries); never part of the identity.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl ModelRecord {
    /// The fields that decide what the model answers: a journal keys answers by them, so that
    /// answers of other weights, another weight format or another device are never reused.
    /// Batch size and threads move results only within the backend's stated tolerance; they
    /// are part of a run's identity (exact resume), not of the model's.
    pub fn identity(&self) -> BTreeMap<&'static str, String> {
        let mut id = BTreeMap::from([
            ("backend", self.backend.clone()),
            ("weights", self.weights.clone()),
            ("device", self.device.clone()),
        ]);
        if self.sha256.is_empty() {
            // Without the weights' hash, the name and path are the best identity there is.
            id.insert("name", self.name.clone());
            id.insert("path", self.path.clone());
        } else {
            id.insert("sha256", self.sha256.clone());
        }
        id
    }
}
