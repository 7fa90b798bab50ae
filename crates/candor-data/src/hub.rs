//! Dataset files from the Hugging Face Hub, through the standard HF cache
//! (`datasets--owner--name/refs/<revision>` → `snapshots/<commit>/<path>`), so files that Python
//! tools downloaded are found, and `HF_HUB_OFFLINE=1` uses the cache only.

use std::path::{Path, PathBuf};

use crate::DataError;

/// The kind of Hub repository, which names its folder in the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

/// Where the HF cache is and whether the network may be used, as `huggingface_hub` reads them.
#[derive(Clone, Debug)]
pub struct HfCache {
    /// `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    pub dir: PathBuf,
    /// `HF_HUB_OFFLINE` is set to a true value.
    pub offline: bool,
}

impl HfCache {
    pub fn from_env() -> Self {
        let dir = std::env::var_os("HF_HUB_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".cache/huggingface/hub")
            });
        let offline = std::env::var("HF_HUB_OFFLINE")
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
        Self { dir, offline }
    }

    /// The cached snapshot folder of a repo revision (a commit, or a branch or tag whose
    /// commit the cache recorded), if it is there.
    pub fn snapshot(&self, kind: RepoKind, id: &str, revision: &str) -> Option<PathBuf> {
        let prefix = match kind {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        };
        let repo = self
            .dir
            .join(format!("{prefix}--{}", id.replace('/', "--")));
        let is_commit = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
        let commit = if is_commit {
            revision.to_string()
        } else {
            std::fs::read_to_string(repo.join("refs").join(revision))
                .ok()?
                .trim()
                .to_string()
        };
        let dir = repo.join("snapshots").join(commit);
        dir.is_dir().then_some(dir)
    }

    /// The snapshot folder of dataset `id` at `revision` holding every one of `files` (paths
    /// inside the repo): from the cache, else downloaded into it unless offline.
    pub fn dataset(&self, id: &str, revision: &str, files: &[&str]) -> Result<PathBuf, DataError> {
        if let Some(dir) = self.snapshot(RepoKind::Dataset, id, revision) {
            if files.iter().all(|f| dir.join(f).is_file()) {
                return Ok(dir);
            }
        }
        let hub_error = |reason: String| DataError::Hub {
            id: id.to_string(),
            revision: revision.to_string(),
            reason,
        };
        if self.offline {
            return Err(hub_error(format!(
                "HF_HUB_OFFLINE is set and {} is not in the cache at {}; download it where the Hub \
                 is reachable (`huggingface-cli download --repo-type dataset {id} --revision \
                 {revision} {}`) and copy the cache, or put the files in the data directory",
                files.join(", "),
                self.dir.display(),
                files.join(" "),
            )));
        }
        self.download(id, revision, files).map_err(hub_error)
    }

    fn download(&self, id: &str, revision: &str, files: &[&str]) -> Result<PathBuf, String> {
        use hf_hub::{api::sync::ApiBuilder, Repo, RepoType};
        let api = ApiBuilder::new()
            .with_cache_dir(self.dir.clone())
            .with_progress(true)
            .build()
            .map_err(|e| e.to_string())?;
        let repo = api.repo(Repo::with_revision(
            id.into(),
            RepoType::Dataset,
            revision.into(),
        ));
        let mut snapshot = None;
        for file in files {
            let path = repo
                .get(file)
                .map_err(|e| format!("download of {file} failed: {e}"))?;
            // The file lies at `snapshots/<commit>/<file>`: its snapshot folder is the rest.
            snapshot =
                Some(strip_suffix_path(&path, file).ok_or_else(|| {
                    format!("the cache put {file} at unexpected {}", path.display())
                })?);
        }
        snapshot.ok_or_else(|| "no files to download: name them under dataset: files:".into())
    }
}

/// `path` without its trailing components `suffix` (`a/b/c`, `b/c` → `a`).
fn strip_suffix_path(path: &Path, suffix: &str) -> Option<PathBuf> {
    let mut dir = path.to_path_buf();
    for _ in Path::new(suffix).components() {
        dir = dir.parent()?.to_path_buf();
    }
    Some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(name: &str) -> HfCache {
        let dir = std::env::temp_dir().join(format!("candor-hf-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = dir.join("datasets--acme--qa/snapshots").join(commit);
        std::fs::create_dir_all(snap.join("data")).unwrap();
        std::fs::write(snap.join("data/test.jsonl"), "{\"q\": \"1+1\"}\n").unwrap();
        std::fs::create_dir_all(dir.join("datasets--acme--qa/refs")).unwrap();
        std::fs::write(dir.join("datasets--acme--qa/refs/v1.0"), commit).unwrap();
        HfCache { dir, offline: true }
    }

    #[test]
    fn cached_revisions_resolve_by_ref_or_commit() {
        let c = cache("hit");
        let by_ref = c.dataset("acme/qa", "v1.0", &["data/test.jsonl"]).unwrap();
        assert!(by_ref.join("data/test.jsonl").is_file());
        let by_commit = c
            .dataset("acme/qa", "0123456789abcdef0123456789abcdef01234567", &[])
            .unwrap();
        assert_eq!(by_ref, by_commit);
    }

    #[test]
    fn offline_misses_say_what_to_download() {
        let c = cache("miss");
        let err = c
            .dataset("acme/qa", "v1.0", &["data/train.jsonl"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HF_HUB_OFFLINE")
                && err.contains("acme/qa")
                && err.contains("--revision v1.0 data/train.jsonl"),
            "{err}"
        );
        assert!(c.dataset("acme/qa", "main", &[]).is_err());
    }

    #[test]
    fn suffixes_come_off_paths() {
        let p = Path::new("/c/snapshots/abc/data/test.jsonl");
        assert_eq!(
            strip_suffix_path(p, "data/test.jsonl").unwrap(),
            Path::new("/c/snapshots/abc")
        );
    }
}
