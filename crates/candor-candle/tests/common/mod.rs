//! Where the shared test data lives: `$CANDOR_SHARED`, else `../shared` beside the checkout.
//! Missing data fails the test when `CI=true`, and skips it (with a message) elsewhere.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("fixtures").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "shared test data not found at {} (set CANDOR_SHARED); CI must have it",
            dir.display()
        );
    }
    eprintln!("skipping: shared test data not found at {}", dir.display());
    None
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
