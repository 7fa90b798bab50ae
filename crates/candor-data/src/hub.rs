//! Dataset files from the Hugging Face Hub, through the standard HF cache
//! (`datasets--owner--name/refs/<revision>` → `snapshots/<commit>/<path>` → `blobs/<etag>`), so
//! files that Python tools downloaded are found, files candor downloads are found by them, and
//! `HF_HUB_OFFLINE=1` uses the cache only.
//!
//! [`HfCache::fetch`] downloads one file as `huggingface_hub` does (`$HF_ENDPOINT/datasets/<id>/
//! resolve/<revision>/<path>`, the commit from `x-repo-commit`, the blob name from
//! `x-linked-etag`/`etag`), checks its sha256 before it enters the cache, and resumes an
//! interrupted download from its `.incomplete` blob with an HTTP range request.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
        self.download(id, revision, files)
    }

    fn download(&self, id: &str, revision: &str, files: &[&str]) -> Result<PathBuf, DataError> {
        let endpoint = endpoint_from_env();
        let mut snapshot = None;
        for file in files {
            let path = self.fetch(&endpoint, id, revision, file, None)?;
            // The file lies at `snapshots/<commit>/<file>`: its snapshot folder is the rest.
            snapshot = strip_suffix_path(&path, file);
        }
        snapshot.ok_or_else(|| DataError::Hub {
            id: id.to_string(),
            revision: revision.to_string(),
            reason: "no files to download: name them under dataset: files:".into(),
        })
    }
}

/// `$HF_ENDPOINT` without a trailing slash, else the public Hub.
pub fn endpoint_from_env() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .map_or_else(
            || "https://huggingface.co".into(),
            |e| e.trim_end_matches('/').into(),
        )
}

/// How often one [`HfCache::fetch`] call tries again after the connection broke mid-file (each
/// try resumes where the last one stopped).
const TRIES: usize = 3;
/// Redirects followed per request (the Hub sends LFS files to a CDN).
const MAX_REDIRECTS: usize = 5;

/// A download that could not finish this time; what it had written stays for the next try.
struct Interrupted(String);

/// What one download attempt gives: the file, or an error that a retry may (`Ok`) or may not
/// (`Err`) overcome.
type Attempt = Result<PathBuf, Result<Interrupted, String>>;

fn fatal(reason: String) -> Attempt {
    Err(Err(reason))
}

impl HfCache {
    /// `path` of dataset `id` at `revision`, from the cache if it is there with the sha256
    /// `expected`, else downloaded from `endpoint` (unless offline) and checked before it is
    /// put into the cache: a file whose sha256 differs is deleted, never kept.
    pub fn fetch(
        &self,
        endpoint: &str,
        id: &str,
        revision: &str,
        path: &str,
        expected: Option<&str>,
    ) -> Result<PathBuf, DataError> {
        let hub_error = |reason: String| DataError::Hub {
            id: id.to_string(),
            revision: revision.to_string(),
            reason,
        };
        if let Some(found) = self
            .snapshot(RepoKind::Dataset, id, revision)
            .map(|d| d.join(path))
        {
            if found.is_file() {
                match expected {
                    Some(sha)
                        if !sha.eq_ignore_ascii_case(&file_sha256(&found).map_err(&hub_error)?) =>
                    {
                        // A cached file that changed is replaced by a verified download.
                        std::fs::remove_file(&found).map_err(|e| {
                            hub_error(format!("cannot remove {}: {e}", found.display()))
                        })?;
                    }
                    _ => return Ok(found),
                }
            }
        }
        if self.offline {
            return Err(hub_error(format!(
                "HF_HUB_OFFLINE is set and {path} is not in the cache at {}",
                self.dir.display()
            )));
        }
        let url = format!("{endpoint}/datasets/{id}/resolve/{revision}/{path}");
        let mut last = String::new();
        for _ in 0..TRIES {
            match self.download_once(&url, id, revision, path, expected) {
                Ok(done) => return Ok(done),
                Err(Ok(Interrupted(why))) => last = why,
                Err(Err(e)) => return Err(hub_error(e)),
            }
        }
        Err(hub_error(format!(
            "{path}: {last} ({TRIES} tries; run the command again to resume)"
        )))
    }

    /// One request (plus redirects): `Err(Ok(_))` when the body broke off and a retry resumes.
    fn download_once(
        &self,
        url: &str,
        id: &str,
        revision: &str,
        path: &str,
        expected: Option<&str>,
    ) -> Attempt {
        let repo = self
            .dir
            .join(format!("datasets--{}", id.replace('/', "--")));
        let blobs = repo.join("blobs");
        std::fs::create_dir_all(&blobs)
            .map_err(|e| Err(format!("cannot create {}: {e}", blobs.display())))?;
        // Named by what the file must be, so a resumed download continues the same content.
        let key = expected.map_or_else(|| hex(&Sha256::digest(url.as_bytes())), str::to_lowercase);
        let partial = blobs.join(format!("{key}.incomplete"));
        let have = std::fs::metadata(&partial).map_or(0, |m| m.len());

        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(std::time::Duration::from_secs(15))
            .timeout_read(std::time::Duration::from_secs(60))
            .build();
        let (mut commit, mut etag) = (None, None);
        let mut at = url.to_string();
        let mut response = None;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = agent.get(&at).set("Accept-Encoding", "identity");
            if have > 0 {
                req = req.set("Range", &format!("bytes={have}-"));
            }
            if let Ok(token) = std::env::var("HF_TOKEN") {
                req = req.set("Authorization", &format!("Bearer {token}"));
            }
            let r = match req.call() {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(e) => return fatal(format!("request to {at} failed: {e}")),
            };
            commit = commit.or_else(|| r.header("x-repo-commit").map(String::from));
            etag = etag.or_else(|| {
                r.header("x-linked-etag")
                    .or_else(|| r.header("etag"))
                    .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            });
            if (300..400).contains(&r.status()) {
                let location = r
                    .header("location")
                    .ok_or_else(|| Err(format!("{at}: redirect without a location")))?;
                at = resolve_location(&at, location);
                continue;
            }
            response = Some(r);
            break;
        }
        let Some(response) = response else {
            return fatal(format!("{url}: more than {MAX_REDIRECTS} redirects"));
        };
        let status = response.status();
        let resumed = match status {
            206 => true,
            200 => false,
            416 => {
                // The partial file is not a prefix the server recognises: start again.
                let _ = std::fs::remove_file(&partial);
                return Err(Ok(Interrupted(
                    "the server refused to resume; restarting".into(),
                )));
            }
            401 | 403 => {
                return fatal(format!(
                    "{url}: HTTP {status} (gated or private: set HF_TOKEN)"
                ))
            }
            404 => return fatal(format!("{url}: HTTP 404 (no such file at this revision)")),
            _ => return fatal(format!("{url}: HTTP {status} {}", response.status_text())),
        };
        let commit = match commit {
            Some(c) => c,
            None if is_commit(revision) => revision.to_string(),
            None => return fatal(format!("{url}: the server sent no x-repo-commit header")),
        };
        let length: Option<u64> = response
            .header("content-length")
            .and_then(|l| l.parse().ok());
        let total = match (resumed, length) {
            (true, Some(n)) => Some(have + n),
            (false, n) => n,
            (true, None) => None,
        };

        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(&partial)
            .map_err(|e| Err(format!("cannot write {}: {e}", partial.display())))?;
        let mut body = response.into_reader();
        let mut buf = vec![0u8; 1 << 16];
        let mut written = if resumed { have } else { 0 };
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(Ok(Interrupted(format!(
                        "the connection broke after {written} bytes: {e}"
                    ))))
                }
            };
            file.write_all(&buf[..n])
                .map_err(|e| Err(format!("cannot write {}: {e}", partial.display())))?;
            written += n as u64;
        }
        drop(file);
        if total.is_some_and(|t| written < t) {
            return Err(Ok(Interrupted(format!(
                "the connection closed after {written} of {} bytes",
                total.unwrap_or_default()
            ))));
        }
        let found = file_sha256(&partial).map_err(Err)?;
        if let Some(sha) = expected {
            if !sha.eq_ignore_ascii_case(&found) {
                let _ = std::fs::remove_file(&partial);
                return fatal(format!(
                    "{path}: sha256 {found} does not match the expected {sha}; the download was \
                     deleted (the Hub's file at this revision is another version)"
                ));
            }
        }
        let blob_name = etag
            .filter(|e| !e.is_empty() && !e.contains('/'))
            .unwrap_or(found);
        let blob = blobs.join(&blob_name);
        std::fs::rename(&partial, &blob)
            .map_err(|e| Err(format!("cannot move {} into place: {e}", blob.display())))?;
        let target = repo.join("snapshots").join(&commit).join(path);
        link_blob(&blob, &target, path).map_err(Err)?;
        if revision != commit {
            let refs = repo.join("refs");
            std::fs::create_dir_all(&refs)
                .and_then(|_| std::fs::write(refs.join(revision), &commit))
                .map_err(|e| Err(format!("cannot record refs/{revision}: {e}")))?;
        }
        Ok(target)
    }
}

fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn file_sha256(path: &Path) -> Result<String, String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

/// An absolute URL for a `Location` header (absolute, or a path on the same server).
fn resolve_location(from: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = from.find("://").map_or(0, |i| i + 3);
    let host_end = from[scheme_end..]
        .find('/')
        .map_or(from.len(), |i| scheme_end + i);
    format!("{}{location}", &from[..host_end])
}

/// `snapshots/<commit>/<path>` pointing at its blob: a relative symlink as huggingface_hub
/// makes on Unix, a copy elsewhere.
fn link_blob(blob: &Path, target: &Path, path: &str) -> Result<(), String> {
    let parent = target.parent().unwrap_or(target);
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    if target.symlink_metadata().is_ok() {
        std::fs::remove_file(target)
            .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    }
    #[cfg(unix)]
    {
        // From snapshots/<commit>/<path>: up through the path's folders, the commit and snapshots.
        let ups = Path::new(path).components().count() + 1;
        let mut rel = PathBuf::new();
        for _ in 0..ups {
            rel.push("..");
        }
        let rel = rel.join("blobs").join(blob.file_name().unwrap_or_default());
        std::os::unix::fs::symlink(&rel, target)
            .map_err(|e| format!("cannot link {}: {e}", target.display()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        std::fs::copy(blob, target)
            .map(|_| ())
            .map_err(|e| format!("cannot copy to {}: {e}", target.display()))
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
