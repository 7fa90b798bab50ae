//! The crates every HumanEval-X Rust program imports (`rand`, `regex`, `md5`): built once per
//! compiler with cargo, outside the sandbox (their code is fixed, not the model's), and shown
//! read-only inside it, where `rustc` links each program against them.

use std::path::{Path, PathBuf};
use std::process::Command;

use candor_sandbox::{Sandbox, Toolchain};

/// The versions the HumanEval-X tests were written for (`rand`'s two-argument `gen_range`).
const MANIFEST: &str = r#"[package]
name = "candor-humaneval-x-crates"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "lib.rs"

[dependencies]
rand = "=0.7.3"
regex = "=1.10.6"
md5 = "=0.7.0"
"#;
const CRATES: [&str; 3] = ["rand", "regex", "md5"];

/// The built crates: the directory of their dependencies and the `--extern` of each.
pub struct RustCrates {
    deps: PathBuf,
    externs: Vec<(&'static str, PathBuf)>,
}

impl RustCrates {
    /// Build (or find built) the crates under `cache` for `rustc`; cargo fetches them on the
    /// first build.
    pub fn build(rustc: &Toolchain, cache: &Path) -> Result<Self, String> {
        let dir = cache.join("humaneval-x-rust");
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::write(dir.join("Cargo.toml"), MANIFEST).map_err(io)?;
        std::fs::write(dir.join("lib.rs"), "").map_err(io)?;
        let out = Command::new("cargo")
            .args(["build", "--release", "--quiet", "--message-format=json"])
            .current_dir(&dir)
            .env("RUSTC", &rustc.executable)
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .output()
            .map_err(|e| format!("cannot run cargo to build rand, regex and md5: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cargo could not build rand, regex and md5 in {} (the first build fetches them \
                 from crates.io): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let mut externs = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let name = message["target"]["name"].as_str().unwrap_or_default();
            let Some(&name) = CRATES.iter().find(|&&c| c == name) else {
                continue;
            };
            let rlib = message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".rlib"));
            if let Some(rlib) = rlib {
                externs.push((name, PathBuf::from(rlib)));
            }
        }
        if externs.len() != CRATES.len() {
            return Err(format!(
                "cargo built rand, regex and md5 in {} but reported {} of their libraries",
                dir.display(),
                externs.len()
            ));
        }
        Ok(Self {
            deps: dir.join("target/release/deps"),
            externs,
        })
    }

    /// `sandbox` with the built crates in view.
    pub fn show_in(&self, sandbox: Sandbox) -> Sandbox {
        sandbox.read_only(&self.deps)
    }

    /// The `rustc` arguments that link a program against the crates.
    pub fn rustc_args(&self) -> Vec<String> {
        let mut args = vec!["-L".into(), format!("dependency={}", self.deps.display())];
        for (name, rlib) in &self.externs {
            args.extend(["--extern".into(), format!("{name}={}", rlib.display())]);
        }
        args
    }
}
