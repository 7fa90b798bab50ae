//! Helpers of the model tests; the shared test data comes from `candor_data::shared_test_data`
//! (a skip outside CI, a failure under `CI=true`).
#![allow(dead_code)]

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    candor_data::shared_test_data("fixtures")
}

pub fn read_json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn u32s(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

pub fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

pub fn smollm2_path() -> Option<PathBuf> {
    Some(shared()?.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
}
