//! Where the shared test data lives: `$CANDOR_SHARED`, else `../shared` beside the checkout.
//! Missing data fails the test when `CI=true`, and skips it (with a message) elsewhere.

use std::path::PathBuf;

pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    if dir.join("fixtures").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "shared data missing at {}",
        dir.display()
    );
    eprintln!("skipping: no shared data at {}", dir.display());
    None
}
