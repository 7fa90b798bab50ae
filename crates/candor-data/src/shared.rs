//! The shared test data of candor's own tests and benchmarks (the SmolLM2 GGUF, golden fixtures,
//! the benchmark datasets): `$CANDOR_SHARED`, else `../shared` beside the repository. One place
//! decides what a missing copy means: under `CI=true` a failure, elsewhere a skip with one line.

use std::path::PathBuf;

/// The shared folder if it has `need` (`fixtures`, `datasets`, `models`); `None` (after one
/// `skipping ...` line on stderr) when it does not, so the caller returns early. Panics under
/// `CI=true`, where the data must be there.
pub fn shared_test_data(need: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")));
    if dir.join(need).is_dir() {
        return Some(dir);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    let msg = format!(
        "no shared test data at {} (set CANDOR_SHARED)",
        dir.join(need).display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}; CI=true requires it");
    }
    eprintln!("skipping {test}: {msg}");
    None
}
