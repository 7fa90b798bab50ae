//! Finding a toolchain on the host, so that a sandbox can show it read-only.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Sandbox, SandboxError};

/// A toolchain found on the host: the real executable (not a shim script such as pyenv's or
/// rustup's), the prefix its libraries live under, and the directories outside the prefix
/// that its files link to (Debian's JDK keeps its configuration in `/etc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toolchain {
    pub executable: PathBuf,
    pub prefix: PathBuf,
    pub linked: Vec<PathBuf>,
}

/// `command args...`'s standard output and error, or why it did not run.
fn ask(command: &str, args: &[&str]) -> Result<(String, String), SandboxError> {
    let out = Command::new(command)
        .args(args)
        .output()
        .map_err(|source| unavailable(command, source))?;
    if !out.status.success() {
        return Err(unavailable(
            command,
            std::io::Error::other(format!(
                "`{command} {}` failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        ));
    }
    Ok((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn unavailable(command: &str, source: std::io::Error) -> SandboxError {
    SandboxError::Exec {
        program: command.to_string(),
        source,
    }
}

/// `path` made absolute and free of links, or an error naming `command`.
fn real(command: &str, path: &Path) -> Result<PathBuf, SandboxError> {
    std::fs::canonicalize(path).map_err(|e| {
        unavailable(
            command,
            std::io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        )
    })
}

impl Toolchain {
    /// The Python that `command` (`python3`, or a path) starts, asked for its own executable
    /// and `sys.base_prefix` (a virtual environment's packages are not shown, only the base).
    pub fn python(command: &str) -> Result<Self, SandboxError> {
        let (out, _) = ask(
            command,
            &[
                "-I",
                "-c",
                "import sys; print(sys.executable); print(sys.base_prefix)",
            ],
        )?;
        let mut lines = out.lines();
        let mut next = |what: &str| match lines.next().filter(|l| !l.is_empty()) {
            Some(line) => real(command, Path::new(line)),
            None => Err(unavailable(
                command,
                std::io::Error::other(format!("it printed no {what}")),
            )),
        };
        let executable = next("executable")?;
        let prefix = next("prefix")?;
        Ok(Self {
            executable,
            prefix,
            linked: Vec::new(),
        })
    }

    /// The JDK that `command` (`java`) belongs to, from its `java.home`; `javac` must be there.
    pub fn java(command: &str) -> Result<Self, SandboxError> {
        let (_, settings) = ask(command, &["-XshowSettings:properties", "-version"])?;
        let home = settings
            .lines()
            .find_map(|l| l.trim().strip_prefix("java.home = "))
            .ok_or_else(|| {
                unavailable(
                    command,
                    std::io::Error::other("its settings name no java.home"),
                )
            })?;
        let prefix = real(command, Path::new(home))?;
        real(command, &prefix.join("bin/javac"))?; // a JRE alone cannot compile
        Ok(Self {
            executable: real(command, &prefix.join("bin/java"))?,
            linked: links_out_of(&prefix),
            prefix,
        })
    }

    /// The compiler that `command` (`rustc`, often rustup's proxy) runs, from its sysroot.
    pub fn rustc(command: &str) -> Result<Self, SandboxError> {
        let (out, _) = ask(command, &["--print", "sysroot"])?;
        let prefix = real(command, Path::new(out.trim()))?;
        Ok(Self {
            executable: real(command, &prefix.join("bin/rustc"))?,
            prefix,
            linked: Vec::new(),
        })
    }

    /// `sandbox` with this toolchain's prefix, and what it links to, in view.
    pub fn show_in(&self, sandbox: Sandbox) -> Sandbox {
        self.linked
            .iter()
            .fold(sandbox.read_only(&self.prefix), |s, dir| s.read_only(dir))
    }
}

/// The directories outside `prefix` (and outside `/usr`, which every sandbox shows) that the
/// symbolic links under it point into, without those nested in another.
fn links_out_of(prefix: &Path) -> Vec<PathBuf> {
    let mut dirs = std::collections::BTreeSet::new();
    let mut pending = vec![prefix.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_symlink() => {
                    let Ok(target) = std::fs::canonicalize(&path) else {
                        continue;
                    };
                    let dir = if target.is_dir() {
                        target
                    } else {
                        target.parent().map(Path::to_path_buf).unwrap_or(target)
                    };
                    if !dir.starts_with(prefix) && !dir.starts_with("/usr") {
                        dirs.insert(dir);
                    }
                }
                Ok(t) if t.is_dir() => pending.push(path),
                _ => {}
            }
        }
    }
    let mut kept: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        // Sorted, so a directory comes before those inside it.
        if !kept.iter().any(|k| dir.starts_with(k)) {
            kept.push(dir);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_out_of_a_prefix_are_collapsed_to_their_outer_directories() {
        let root = std::env::temp_dir().join(format!("candor-links-{}", std::process::id()));
        let prefix = root.join("jdk");
        let etc = root.join("etc/jdk");
        std::fs::create_dir_all(prefix.join("conf/security")).unwrap();
        std::fs::create_dir_all(etc.join("security")).unwrap();
        std::fs::create_dir_all(root.join("certs")).unwrap();
        for (file, link) in [
            ("etc/jdk/net.properties", "jdk/conf/net.properties"),
            (
                "etc/jdk/security/java.security",
                "jdk/conf/security/java.security",
            ),
            ("certs/cacerts", "jdk/cacerts"),
            ("jdk/conf/own", "jdk/inside"),
        ] {
            std::fs::write(root.join(file), "x").unwrap();
            std::os::unix::fs::symlink(root.join(file), root.join(link)).unwrap();
        }
        let canonical = |p: &str| std::fs::canonicalize(root.join(p)).unwrap();
        let want = vec![canonical("certs"), canonical("etc/jdk")];
        let found = links_out_of(&canonical("jdk"));
        std::fs::remove_dir_all(&root).unwrap();
        // etc/jdk/security lies inside etc/jdk; the link inside the prefix is not listed.
        assert_eq!(found, want);
    }
}
