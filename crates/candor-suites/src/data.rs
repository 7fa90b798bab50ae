//! Where the built-in suites' data comes from when no data directory holds it: the quick suites'
//! files ship inside candor, others are pulled from the Hugging Face Hub into the HF cache
//! (`candor pull SUITE`). Every file is known by the sha256 in its dataset's manifest
//! (`datasets/*.yaml`), checked whenever it comes from the program or the cache.
//!
//! Hub copies are pinned where one with the same files is known (see each manifest's `hub:`);
//! whether its bytes match the GitHub copy the sha256 came from could not be checked without
//! network access, so a Hub copy that differs is refused by its sha256, never used.

use std::path::PathBuf;

use candor_data::{DataDir, DataError, HubFile, KnownFile};

use crate::taskfile::{builtin, Manifest};

/// The manifest that lists a built-in suite's files: the catalog suite's dataset, or the task
/// file suite of that name.
pub fn manifest_of(suite: &str) -> Option<Manifest> {
    let name = crate::rust_specs()
        .into_iter()
        .find(|s| s.name == suite)
        .map(|s| (s.dataset)().name)
        .unwrap_or_else(|| suite.to_string());
    builtin::manifest(&name).map(|text| parse_builtin(&name, text))
}

fn parse_builtin(name: &str, text: &str) -> Manifest {
    Manifest::parse(&format!("datasets/{name}.yaml"), text)
        .expect("built-in manifests parse (checked by tests)")
}

/// The report's record of built-in dataset `name` (licence, flags, source from its manifest).
pub(crate) fn dataset_info(name: &str) -> candor_core::DatasetInfo {
    let text = builtin::manifest(name).expect("the built-in suites' manifests exist (tested)");
    parse_builtin(name, text).info()
}

/// Every built-in suite's name, catalog first.
fn suite_names() -> Vec<String> {
    crate::rust_specs()
        .iter()
        .map(|s| s.name.to_string())
        .chain(
            crate::taskfile::builtin_suites(&DataDir::none(), &crate::Scorers::default())
                .expect("built-in task files parse (checked by tests)")
                .into_iter()
                .map(|s| s.name),
        )
        .collect()
}

/// Every file of the built-in manifests, with the shipped copy and the Hub location it has.
pub fn known_files() -> Vec<KnownFile> {
    let suites = suite_names();
    let mut out = Vec::new();
    for name in builtin::manifest_names() {
        let Some(m) = builtin::manifest(name).map(|text| parse_builtin(name, text)) else {
            continue;
        };
        let users: Vec<String> = suites
            .iter()
            .filter(|s| manifest_of(s).is_some_and(|sm| sm.name == m.name))
            .cloned()
            .collect();
        for f in &m.files {
            out.push(KnownFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                shipped: builtin::SHIPPED
                    .iter()
                    .find(|(p, _)| *p == f.path)
                    .map(|(_, gz)| *gz),
                hub: m.hub.as_ref().map(|h| HubFile {
                    repo: h.id.clone(),
                    revision: h.revision.clone(),
                    path: h.path_of(&f.path).to_string(),
                }),
                suites: users.clone(),
            });
        }
    }
    out
}

/// `data`, also reading the built-in suites' files from the program and the HF cache.
pub fn with_builtin_data(data: &DataDir) -> DataDir {
    data.clone().with_known(known_files())
}

/// Whether a built-in suite can run now without a download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Every file is here; where from (`data directory`, `shipped`, `cached`, joined by `+`).
    Ready(String),
    /// Some files are missing and `candor pull SUITE` fetches them.
    NeedsPull,
    /// Some files are missing and only a data directory can provide them.
    NeedsDataDir,
}

/// Where a built-in suite's files would come from with `data`.
pub fn readiness(suite: &str, data: &DataDir) -> Option<Readiness> {
    let manifest = manifest_of(suite)?;
    let data = with_builtin_data(data);
    let mut origins: Vec<&str> = Vec::new();
    let mut pullable = true;
    let mut missing = false;
    for f in &manifest.files {
        match data.availability(&f.path) {
            Some(o) => {
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
            None => {
                missing = true;
                pullable &= manifest.hub.is_some();
            }
        }
    }
    Some(match (missing, pullable) {
        (false, _) => Readiness::Ready(origins.join("+")),
        (true, true) => Readiness::NeedsPull,
        (true, false) => Readiness::NeedsDataDir,
    })
}

/// Why a suite's data could not be pulled.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("'{0}' is not a built-in suite with a dataset manifest")]
    Unknown(String),
    #[error("suite {suite}: no Hub copy of dataset {dataset} is pinned; put its files in a data directory (--data-dir, $CANDOR_DATA or ../shared/datasets): {files}")]
    NoHub {
        suite: String,
        dataset: String,
        files: String,
    },
    #[error("suite {suite}: {source}")]
    Data {
        suite: String,
        #[source]
        source: DataError,
    },
}

/// Download each file of `suite` that `data` does not hold into the HF cache, checking its
/// sha256 (files already present, shipped or cached are skipped). Returns the paths fetched.
pub fn pull(suite: &str, data: &DataDir) -> Result<Vec<PathBuf>, PullError> {
    let manifest = manifest_of(suite).ok_or_else(|| PullError::Unknown(suite.into()))?;
    let data = with_builtin_data(data);
    let missing: Vec<&str> = manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| data.availability(p).is_none())
        .collect();
    if !missing.is_empty() && manifest.hub.is_none() {
        return Err(PullError::NoHub {
            suite: suite.into(),
            dataset: manifest.name,
            files: missing.join(", "),
        });
    }
    missing
        .into_iter()
        .map(|p| {
            data.pull(p).map_err(|source| PullError::Data {
                suite: suite.into(),
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_manifest_parses_and_every_suite_has_one() {
        for name in builtin::manifest_names() {
            let text = builtin::manifest(name).unwrap();
            Manifest::parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        }
        for suite in suite_names() {
            assert!(manifest_of(&suite).is_some(), "{suite}");
        }
    }

    #[test]
    fn the_quick_suites_are_ready_from_the_program_alone() {
        let none = DataDir::none().with_hub_cache(candor_data::hub::HfCache {
            dir: std::env::temp_dir().join("candor-no-cache"),
            offline: true,
        });
        for suite in ["truthfulqa_mc", "xcopa", "xstest"] {
            assert_eq!(
                readiness(suite, &none),
                Some(Readiness::Ready("shipped".into())),
                "{suite}"
            );
        }
        assert_eq!(readiness("multijail", &none), Some(Readiness::NeedsPull));
        assert_eq!(readiness("jailbreak", &none), Some(Readiness::NeedsPull));
        assert_eq!(readiness("bbq", &none), Some(Readiness::NeedsDataDir));
        let err = pull("bbq", &none).unwrap_err().to_string();
        assert!(
            err.contains("no Hub copy") && err.contains("bbq/data/Age.jsonl"),
            "{err}"
        );
        assert!(matches!(pull("nope", &none), Err(PullError::Unknown(_))));
    }

    #[test]
    fn every_shipped_file_decompresses_to_the_bytes_its_manifest_names() {
        let known = known_files();
        let shipped: Vec<&KnownFile> = known.iter().filter(|k| k.shipped.is_some()).collect();
        assert_eq!(shipped.len(), builtin::SHIPPED.len());
        let data = DataDir::none().with_known(known.clone());
        for k in shipped {
            // `read` checks the sha256 of what it decompressed.
            let (_, file) = data.read(&k.path).unwrap();
            assert_eq!(file.sha256, k.sha256);
        }
        // Only the quick suites' data ships.
        for k in &known {
            if k.shipped.is_some() {
                assert!(
                    ["truthfulqa/", "xcopa/", "xstest/"]
                        .iter()
                        .any(|p| k.path.starts_with(p)),
                    "{}",
                    k.path
                );
            }
        }
        // MultiJail's file maps to the root of its Hub repository, for both suites using it.
        let mj = known
            .iter()
            .find(|k| k.path == "multijail/MultiJail.csv")
            .unwrap();
        assert_eq!(mj.hub.as_ref().unwrap().path, "MultiJail.csv");
        assert_eq!(mj.suites, vec!["jailbreak", "multijail"]);
    }
}
