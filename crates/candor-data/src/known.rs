//! Data files candor knows by content: their sha256, and where they can come from when no data
//! directory holds them: compiled into the program (gzip), or a file of a Hub dataset at a
//! pinned revision that `candor pull` puts into the HF cache.

use std::io::Read;

/// Where a known file lives on the Hugging Face Hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubFile {
    /// Dataset repository, `owner/name`.
    pub repo: String,
    /// A commit (or a branch or tag: then the sha256 alone pins the content).
    pub revision: String,
    /// Path inside the repository.
    pub path: String,
}

/// One data file, by its path relative to a data directory.
#[derive(Clone, Debug)]
pub struct KnownFile {
    pub path: String,
    /// Of the exact bytes; checked whenever the file comes from the program or the cache.
    pub sha256: String,
    /// The gzip-compressed file, when it ships inside the program.
    pub shipped: Option<&'static [u8]>,
    pub hub: Option<HubFile>,
    /// The suites that read it (the error for a missing file names their `candor pull`).
    pub suites: Vec<String>,
}

impl KnownFile {
    /// Where a program without a data directory gets this file, for `candor list`.
    pub fn origin(&self) -> &'static str {
        match (&self.shipped, &self.hub) {
            (Some(_), _) => "shipped",
            (None, Some(_)) => "hub",
            (None, None) => "data directory only",
        }
    }
}

/// The decompressed bytes of a shipped file.
pub(crate) fn gunzip(path: &str, gzip: &[u8]) -> Result<Vec<u8>, crate::DataError> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut out)
        .map_err(|e| crate::DataError::Corrupt {
            path: path.to_string(),
            reason: format!("the copy built into candor does not decompress: {e}"),
        })?;
    Ok(out)
}
