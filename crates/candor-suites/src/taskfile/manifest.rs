//! Dataset manifests: where a dataset's files are, their sha256, the licence and its terms,
//! and how columns map to the names templates use. One small YAML file per dataset, in the
//! repository's `datasets/` folder (built in) or next to a user's task file.

use std::collections::BTreeMap;

use candor_core::{DataFile, DatasetInfo};
use serde::Deserialize;

use super::config::Format;

/// Terms a licence can carry that a user must know about.
pub const KNOWN_FLAGS: &[&str] = &[
    "non-commercial",
    "share-alike",
    "harmful-content",
    "no-derivatives",
];

/// A file of the dataset and its expected content.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Relative to the data directory.
    pub path: String,
    pub sha256: String,
}

/// Where the dataset lives on the Hugging Face Hub, for `candor pull`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubRef {
    pub id: String,
    /// A commit; the files' sha256 pin the content in any case.
    pub revision: String,
    /// The data-dir folder that the repository's root holds (`multijail` for
    /// `multijail/MultiJail.csv` ← `MultiJail.csv`); none: the same paths.
    pub root: Option<String>,
}

impl HubRef {
    /// The path in the repository of data-dir path `path`.
    pub fn path_of<'a>(&self, path: &'a str) -> &'a str {
        self.root
            .as_deref()
            .and_then(|r| path.strip_prefix(r))
            .map_or(path, |p| p.trim_start_matches('/'))
    }
}

/// `datasets/<name>.yaml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// Upstream repository or paper, with the commit the files came from.
    pub source: String,
    pub hub: Option<HubRef>,
    /// SPDX identifier.
    pub license: String,
    #[serde(default)]
    pub flags: Vec<String>,
    pub format: Option<Format>,
    /// Column names of header-less TSV files.
    pub columns: Option<Vec<String>>,
    /// Template name → column in the files (added to every document).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    pub files: Vec<ManifestFile>,
}

/// A manifest that cannot be used, or a file that does not match it.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest {manifest}:{line}: {message}")]
    Parse {
        manifest: String,
        line: usize,
        message: String,
    },
    #[error("manifest {manifest}: unknown flag '{flag}' (known: {})", KNOWN_FLAGS.join(", "))]
    Flag { manifest: String, flag: String },
    #[error("manifest {manifest}: file {path} is not listed; add it with its sha256")]
    Unlisted { manifest: String, path: String },
    #[error("{path}: sha256 {found} does not match {expected} in manifest {manifest}: the file changed or is another version; fetch the version the manifest names ({source_ref})")]
    Mismatch {
        manifest: String,
        path: String,
        expected: String,
        found: String,
        source_ref: String,
    },
}

impl Manifest {
    /// Parse a manifest; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self, ManifestError> {
        let m: Manifest = serde_yaml_ng::from_str(text).map_err(|e| ManifestError::Parse {
            manifest: origin.to_string(),
            line: e.location().map_or(0, |l| l.line()),
            message: super::strip_location(&e.to_string()),
        })?;
        if let Some(flag) = m.flags.iter().find(|f| !KNOWN_FLAGS.contains(&f.as_str())) {
            return Err(ManifestError::Flag {
                manifest: origin.to_string(),
                flag: flag.clone(),
            });
        }
        Ok(m)
    }

    /// Check a file read for a task against the manifest.
    pub fn verify(&self, file: &DataFile) -> Result<(), ManifestError> {
        let entry = self
            .files
            .iter()
            .find(|f| f.path == file.path)
            .ok_or_else(|| ManifestError::Unlisted {
                manifest: self.name.clone(),
                path: file.path.clone(),
            })?;
        if !entry.sha256.eq_ignore_ascii_case(&file.sha256) {
            return Err(ManifestError::Mismatch {
                manifest: self.name.clone(),
                path: file.path.clone(),
                expected: entry.sha256.clone(),
                found: file.sha256.clone(),
                source_ref: self.source.clone(),
            });
        }
        Ok(())
    }

    /// The dataset's record for reports.
    pub fn info(&self) -> DatasetInfo {
        let source = match &self.hub {
            Some(h) => format!("{} (hub: {}@{})", self.source, h.id, h.revision),
            None => self.source.clone(),
        };
        DatasetInfo {
            name: self.name.clone(),
            license: self.license.clone(),
            flags: self.flags.clone(),
            source,
            files: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: demo\nsource: https://example.org/demo@abc\nlicense: CC-BY-SA-4.0\nflags: [share-alike]\nfiles:\n  - path: demo/test.jsonl\n    sha256: 00ff\n";

    fn file(sha: &str) -> DataFile {
        DataFile {
            path: "demo/test.jsonl".into(),
            sha256: sha.into(),
            bytes: 1,
        }
    }

    #[test]
    fn verifies_hashes_and_lists_terms() {
        let m = Manifest::parse("demo.yaml", TEXT).unwrap();
        assert!(m.verify(&file("00FF")).is_ok());
        let err = m.verify(&file("1234")).unwrap_err().to_string();
        assert!(
            err.starts_with("demo/test.jsonl: sha256 1234 does not match 00ff in manifest demo"),
            "{err}"
        );
        let other = DataFile {
            path: "demo/x.jsonl".into(),
            ..file("00ff")
        };
        assert!(matches!(
            m.verify(&other),
            Err(ManifestError::Unlisted { .. })
        ));
        assert_eq!(m.info().flags, vec!["share-alike"]);
    }

    #[test]
    fn unknown_keys_and_flags_are_errors() {
        let err = Manifest::parse("d.yaml", &format!("{TEXT}licence: MIT\n")).unwrap_err();
        assert!(matches!(err, ManifestError::Parse { line: 8, .. }), "{err}");
        assert!(err.to_string().contains("unknown field `licence`"), "{err}");
        let err =
            Manifest::parse("d.yaml", &TEXT.replace("share-alike", "sharealike")).unwrap_err();
        assert!(matches!(err, ManifestError::Flag { .. }), "{err}");
    }
}
