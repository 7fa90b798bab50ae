//! Finding an interpreter on the host, so that a sandbox can show it read-only.

use std::path::PathBuf;
use std::process::Command;

use crate::{Sandbox, SandboxError};

/// An interpreter found on the host: the real executable (not a shim script such as pyenv's)
/// and the prefix its standard library lives under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toolchain {
    pub executable: PathBuf,
    pub prefix: PathBuf,
}

impl Toolchain {
    /// The Python that `command` (`python3`, or a path) starts, asked for its own executable
    /// and `sys.base_prefix` (a virtual environment's packages are not shown, only the base).
    pub fn python(command: &str) -> Result<Self, SandboxError> {
        let unavailable = |source: std::io::Error| SandboxError::Exec {
            program: command.to_string(),
            source,
        };
        let out = Command::new(command)
            .args([
                "-I",
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix)",
            ])
            .output()
            .map_err(unavailable)?;
        if !out.status.success() {
            return Err(unavailable(std::io::Error::other(format!(
                "asking it for its prefix failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let mut next = |what: &str| {
            let line = lines.next().unwrap_or_default();
            if line.is_empty() {
                return Err(unavailable(std::io::Error::other(format!(
                    "it printed no {what}"
                ))));
            }
            std::fs::canonicalize(line).map_err(unavailable)
        };
        let executable = next("executable")?;
        let prefix = next("prefix")?;
        Ok(Self { executable, prefix })
    }

    /// `sandbox` with this toolchain's prefix in view.
    pub fn show_in(&self, sandbox: Sandbox) -> Sandbox {
        sandbox.read_only(&self.prefix)
    }
}
