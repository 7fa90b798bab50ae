//! Reading benchmark data for candor.
//!
//! Every file is read through a [`DataDir`], which records its sha256 (for reproducible
//! reports) and turns every problem into an error that names the file, the line and the field:
//!
//! ```no_run
//! use candor_data::DataDir;
//!
//! let data = DataDir::locate(None)?; // --data-dir, else $CANDOR_DATA, else ../shared/datasets
//! let (rows, file) = data.jsonl("mydata/test.jsonl")?;
//! println!("{} rows, sha256 {}", rows.len(), file.sha256);
//! let premise = rows[0].str("premise")?;
//! # Ok::<(), candor_data::DataError>(())
//! ```
//!
//! A data directory may be absent: files that candor knows by content ([`KnownFile`], given with
//! [`DataDir::with_known`]) then come from the copy built into the program or from the HF cache,
//! each checked against its sha256.

pub mod hub;
mod known;
mod shared;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candor_core::DataFile;
pub use known::{HubFile, KnownFile};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
pub use shared::shared_test_data;

/// Why data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data file {path} not found{hint}")]
    Missing { path: PathBuf, hint: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {}{reason}", field.as_ref().map(|f| format!("field '{f}': ")).unwrap_or_default())]
    Malformed {
        file: String,
        line: usize,
        field: Option<String>,
        reason: String,
    },
    #[error("data directory {path} does not exist ({from})")]
    NoDataDir { path: PathBuf, from: &'static str },
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("Hub dataset {id} (revision {revision}): {reason}")]
    Hub {
        id: String,
        revision: String,
        reason: String,
    },
}

/// One record of a data file, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub file: String,
    /// 1-based line of the record in its file.
    pub line: usize,
    pub fields: Map<String, Value>,
}

impl Row {
    fn error(&self, field: &str, reason: impl Into<String>) -> DataError {
        DataError::Malformed {
            file: self.file.clone(),
            line: self.line,
            field: Some(field.to_string()),
            reason: reason.into(),
        }
    }

    pub fn get(&self, field: &str) -> Result<&Value, DataError> {
        self.fields
            .get(field)
            .ok_or_else(|| self.error(field, "missing"))
    }

    /// A text field.
    pub fn str(&self, field: &str) -> Result<&str, DataError> {
        self.get(field)?
            .as_str()
            .ok_or_else(|| self.error(field, "expected text"))
    }

    /// An integer field (a JSON number, or text holding one as CSV stores it).
    pub fn int(&self, field: &str) -> Result<i64, DataError> {
        let v = self.get(field)?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| self.error(field, format!("expected an integer, found {v}")))
    }
}

/// Where datasets are read from: a folder (when there is one), then the files candor knows by
/// content, from the program itself or the HF cache.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: Option<PathBuf>,
    /// Where Hub datasets are cached (from the environment unless set).
    hub: hub::HfCache,
    /// `$HF_ENDPOINT` or the public Hub.
    endpoint: String,
    /// By data-dir-relative path.
    known: Arc<BTreeMap<String, KnownFile>>,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: Some(root.into()),
            ..Self::none()
        }
    }

    /// No folder: only known files can be read.
    pub fn none() -> Self {
        Self {
            root: None,
            hub: hub::HfCache::from_env(),
            endpoint: hub::endpoint_from_env(),
            known: Arc::default(),
        }
    }

    /// The same folder, with Hub datasets looked up in `cache` instead of the environment's.
    pub fn with_hub_cache(mut self, cache: hub::HfCache) -> Self {
        self.hub = cache;
        self
    }

    /// The same, downloading from `endpoint` (a Hub mirror, or a test server) instead of
    /// `$HF_ENDPOINT`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into().trim_end_matches('/').to_string();
        self
    }

    /// The same, also reading `files` when the folder lacks them.
    pub fn with_known(mut self, files: impl IntoIterator<Item = KnownFile>) -> Self {
        let mut known = (*self.known).clone();
        known.extend(files.into_iter().map(|f| (f.path.clone(), f)));
        self.known = Arc::new(known);
        self
    }

    /// The files of Hub dataset `id` at `revision` (paths inside the repo), read through the
    /// HF cache and downloaded there when missing and the Hub may be used: a data directory
    /// rooted at the dataset's snapshot.
    pub fn hub_dataset(&self, id: &str, revision: &str, files: &[&str]) -> Result<Self, DataError> {
        Ok(Self {
            root: Some(self.hub.dataset(id, revision, files)?),
            hub: self.hub.clone(),
            endpoint: self.endpoint.clone(),
            known: Arc::default(),
        })
    }

    /// `explicit` (a `--data-dir` flag), else `$CANDOR_DATA`, else `../shared/datasets` when it
    /// exists, else no folder. A folder that was named but does not exist is an error.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, DataError> {
        let named = explicit
            .map(|p| (p.to_path_buf(), "--data-dir"))
            .or_else(|| std::env::var_os("CANDOR_DATA").map(|p| (p.into(), "$CANDOR_DATA")));
        if let Some((path, from)) = named {
            if !path.is_dir() {
                return Err(DataError::NoDataDir { path, from });
            }
            return Ok(Self::new(path));
        }
        let shared = Path::new("../shared/datasets");
        if shared.is_dir() {
            return Ok(Self::new(shared));
        }
        Ok(Self::none())
    }

    /// The folder, if there is one.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The HF cache this reads Hub files from.
    pub fn hub_cache(&self) -> &hub::HfCache {
        &self.hub
    }

    /// A known file, by its data-dir-relative path.
    pub fn known(&self, rel: &str) -> Option<&KnownFile> {
        self.known.get(rel)
    }

    /// Where `rel` would be read from now, without reading it: `data directory`, `shipped`,
    /// `cached`, or `None` when it is nowhere yet (a known Hub file then needs `candor pull`).
    pub fn availability(&self, rel: &str) -> Option<&'static str> {
        if self.root.as_ref().is_some_and(|r| r.join(rel).is_file()) {
            return Some("data directory");
        }
        let known = self.known.get(rel)?;
        if known.shipped.is_some() {
            return Some("shipped");
        }
        let h = known.hub.as_ref()?;
        self.hub
            .snapshot(hub::RepoKind::Dataset, &h.repo, &h.revision)
            .is_some_and(|d| d.join(&h.path).is_file())
            .then_some("cached")
    }

    /// Download the known file `rel` into the HF cache (if it is not there yet) and check its
    /// sha256: what `candor pull` does for each file of a suite.
    pub fn pull(&self, rel: &str) -> Result<PathBuf, DataError> {
        let known = self.known.get(rel).ok_or_else(|| DataError::Missing {
            path: rel.into(),
            hint: " (not a file candor knows)".into(),
        })?;
        let h = known.hub.as_ref().ok_or_else(|| DataError::Missing {
            path: rel.into(),
            hint: format!(
                ": no Hub copy is pinned for it; put it in a data directory ({})",
                self.looked_in()
            ),
        })?;
        self.hub.fetch(
            &self.endpoint,
            &h.repo,
            &h.revision,
            &h.path,
            Some(&known.sha256),
        )
    }

    fn looked_in(&self) -> String {
        match &self.root {
            Some(r) => format!("data directory: {}", r.display()),
            None => "no data directory: pass --data-dir, set CANDOR_DATA, or put the datasets in \
                     ../shared/datasets"
                .into(),
        }
    }

    /// `rel` from the program or the HF cache, checked against its sha256.
    fn read_known(&self, rel: &str, known: &KnownFile) -> Result<Option<Vec<u8>>, DataError> {
        let bytes = if let Some(gzip) = known.shipped {
            known::gunzip(rel, gzip)?
        } else if let Some(h) = &known.hub {
            // Downloaded unless HF_HUB_OFFLINE is set; offline, a miss is `None` and the error
            // says which `candor pull` fetches it.
            let path = match self.hub.fetch(
                &self.endpoint,
                &h.repo,
                &h.revision,
                &h.path,
                Some(&known.sha256),
            ) {
                Ok(path) => path,
                Err(_) if self.hub.offline => return Ok(None),
                Err(e) => return Err(self.missing(rel, Some(e.to_string()))),
            };
            std::fs::read(&path).map_err(|source| DataError::Io { path, source })?
        } else {
            return Ok(None);
        };
        let found = sha256_hex(&bytes);
        if !found.eq_ignore_ascii_case(&known.sha256) {
            return Err(DataError::Corrupt {
                path: rel.into(),
                reason: format!(
                    "sha256 {found} does not match the expected {}{}",
                    known.sha256,
                    if known.shipped.is_some() {
                        " (the copy built into candor is damaged: rebuild it)"
                    } else {
                        " (the cached copy changed: run `candor pull` again)"
                    }
                ),
            });
        }
        Ok(Some(bytes))
    }

    fn missing(&self, rel: &str, download_error: Option<String>) -> DataError {
        let path = self
            .root
            .as_ref()
            .map_or_else(|| PathBuf::from(rel), |r| r.join(rel));
        let pull = match self.known.get(rel) {
            Some(k) if k.hub.is_some() && !k.suites.is_empty() => format!(
                "; {}: run `candor pull {}`",
                download_error.unwrap_or_else(|| format!(
                    "it is not in the HF cache at {} and HF_HUB_OFFLINE is set",
                    self.hub.dir.display()
                )),
                k.suites[0]
            ),
            _ => String::new(),
        };
        DataError::Missing {
            path,
            hint: format!(" ({}){pull}", self.looked_in()),
        }
    }

    /// The bytes of `rel` and its identity: from the folder, else (for a known file) from the
    /// program or the HF cache.
    pub fn read(&self, rel: &str) -> Result<(Vec<u8>, DataFile), DataError> {
        let from_root = match &self.root {
            Some(root) => {
                let path = root.join(rel);
                match std::fs::read(&path) {
                    Ok(bytes) => Some(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(source) => return Err(DataError::Io { path, source }),
                }
            }
            None => None,
        };
        let bytes = match from_root {
            Some(bytes) => bytes,
            None => {
                let found = match self.known.get(rel) {
                    Some(k) => self.read_known(rel, k)?,
                    None => None,
                };
                found.ok_or_else(|| self.missing(rel, None))?
            }
        };
        let file = DataFile {
            path: rel.to_string(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
        };
        Ok((bytes, file))
    }

    fn text(&self, rel: &str) -> Result<(String, DataFile), DataError> {
        let (bytes, file) = self.read(rel)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            DataError::Malformed {
                file: rel.to_string(),
                line: upto.iter().filter(|&&b| b == b'\n').count() + 1,
                field: None,
                reason: "not valid UTF-8".into(),
            }
        })?;
        // A UTF-8 byte-order mark (Excel writes one) is not part of the first field's name.
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        };
        Ok((text, file))
    }

    /// A JSON document.
    pub fn json(&self, rel: &str) -> Result<(Value, DataFile), DataError> {
        let (text, file) = self.text(rel)?;
        let value = serde_json::from_str(&text).map_err(|e| DataError::Malformed {
            file: rel.to_string(),
            line: e.line(),
            field: None,
            reason: e.to_string(),
        })?;
        Ok((value, file))
    }

    /// A JSON array of objects, one row each (the row's `line` is its position in the array,
    /// from 1, and its file reads `<path> item`).
    pub fn json_rows(&self, rel: &str) -> Result<(Vec<Row>, DataFile), DataError> {
        let (value, file) = self.json(rel)?;
        let item = format!("{rel} item");
        let Value::Array(items) = value else {
            return Err(DataError::Malformed {
                file: rel.to_string(),
                line: 1,
                field: None,
                reason: "expected a JSON array of objects".into(),
            });
        };
        let rows = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(fields) => Ok(Row {
                    file: item.clone(),
                    line: i + 1,
                    fields,
                }),
                other => Err(DataError::Malformed {
                    file: item.clone(),
                    line: i + 1,
                    field: None,
                    reason: format!("expected an object, found {other}"),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, file))
    }

    /// One JSON object per non-empty line.
    pub fn jsonl(&self, rel: &str) -> Result<(Vec<Row>, DataFile), DataError> {
        let (text, file) = self.text(rel)?;
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let malformed = |reason: String| DataError::Malformed {
                file: rel.to_string(),
                line: i + 1,
                field: None,
                reason,
            };
            match serde_json::from_str::<Value>(line).map_err(|e| malformed(e.to_string()))? {
                Value::Object(fields) => rows.push(Row {
                    file: rel.to_string(),
                    line: i + 1,
                    fields,
                }),
                other => return Err(malformed(format!("expected a JSON object, found {other}"))),
            }
        }
        Ok((rows, file))
    }

    /// One text per non-empty line (trimmed), as plain prompt lists are shipped: each row has
    /// the fields `text` and `line` (its 1-based line number in the file).
    pub fn lines(&self, rel: &str) -> Result<(Vec<Row>, DataFile), DataError> {
        let (text, file) = self.text(rel)?;
        let rows = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| Row {
                file: rel.to_string(),
                line: i + 1,
                fields: Map::from_iter([
                    ("text".to_string(), Value::from(l.trim())),
                    ("line".to_string(), Value::from(i + 1)),
                ]),
            })
            .collect();
        Ok((rows, file))
    }

    /// Comma-separated values with a header row.
    pub fn csv(&self, rel: &str) -> Result<(Vec<Row>, DataFile), DataError> {
        self.delimited(rel, b',')
    }

    /// Tab-separated values with a header row.
    pub fn tsv(&self, rel: &str) -> Result<(Vec<Row>, DataFile), DataError> {
        self.delimited(rel, b'\t')
    }

    /// Tab-separated values without a header, named by `columns`.
    pub fn tsv_columns(
        &self,
        rel: &str,
        columns: &[&str],
    ) -> Result<(Vec<Row>, DataFile), DataError> {
        let (text, file) = self.text(rel)?;
        let reader = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .has_headers(false)
            .quoting(false)
            .from_reader(text.as_bytes());
        let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        Ok((records(rel, &text, reader, &header, true)?, file))
    }

    fn delimited(&self, rel: &str, delimiter: u8) -> Result<(Vec<Row>, DataFile), DataError> {
        let (text, file) = self.text(rel)?;
        // The csv reader takes an unclosed quote to run to the end of the file, silently
        // turning every later row into one field.
        if let Some((line, field)) = unterminated_quote(text.as_bytes(), delimiter) {
            let name = text
                .lines()
                .next()
                .and_then(|h| h.split(delimiter as char).nth(field))
                .filter(|_| line > 1)
                .map(|h| h.trim_matches('"').to_string());
            return Err(DataError::Malformed {
                file: rel.to_string(),
                line,
                field: name,
                reason:
                    "a quoted field opens here and is never closed (the rest of the file would \
                         be read as this one field); close the quote or double the \" inside it"
                        .into(),
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| DataError::Malformed {
                file: rel.to_string(),
                line: 1,
                field: None,
                reason: e.to_string(),
            })?
            .iter()
            .map(String::from)
            .collect();
        Ok((records(rel, &text, reader, &header, false)?, file))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The line and column (0-based) where a quoted field opens that never closes, reading as the
/// csv reader does: a quote opens a field only at its start, `""` inside is a quote.
fn unterminated_quote(text: &[u8], delimiter: u8) -> Option<(usize, usize)> {
    let (mut line, mut column) = (1, 0);
    let mut at_field_start = true;
    let mut open: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if open.is_some() {
            if b == b'"' {
                if text.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    open = None;
                }
            } else if b == b'\n' {
                line += 1;
            }
        } else if b == b'"' && at_field_start {
            open = Some((line, column));
            at_field_start = false;
        } else if b == delimiter {
            column += 1;
            at_field_start = true;
        } else if b == b'\n' {
            line += 1;
            column = 0;
            at_field_start = true;
        } else if b != b'\r' {
            at_field_start = false;
        }
        i += 1;
    }
    open
}

/// 1-based line numbers of byte offsets, counted by `\n` so that CRLF files number lines as
/// editors do (the csv crate counts `\r` and `\n` separately). Offsets must not decrease.
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_of(&mut self, byte: usize) -> usize {
        // The reader may place a record just before the line end it skipped (`\r` | `\n`).
        let mut byte = byte.min(self.text.len());
        while matches!(self.text.get(byte), Some(b'\r' | b'\n')) {
            byte += 1;
        }
        if byte > self.at {
            self.line += self.text[self.at..byte]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.at = byte;
        }
        self.line
    }
}

fn records(
    rel: &str,
    text: &str,
    mut reader: csv::Reader<&[u8]>,
    header: &[String],
    exact: bool,
) -> Result<Vec<Row>, DataError> {
    let mut lines = LineCounter {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError::Malformed {
            file: rel.to_string(),
            line: e.position().map_or(0, |p| lines.line_of(p.byte() as usize)),
            field: None,
            reason: e.to_string(),
        })?;
        let line = record
            .position()
            .map_or(0, |p| lines.line_of(p.byte() as usize));
        if exact && record.len() != header.len() {
            return Err(DataError::Malformed {
                file: rel.to_string(),
                line,
                field: None,
                reason: format!("expected {} columns, found {}", header.len(), record.len()),
            });
        }
        let fields = header
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        rows.push(Row {
            file: rel.to_string(),
            line,
            fields,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str, files: &[(&str, &str)]) -> DataDir {
        let root = std::env::temp_dir().join(format!("candor-data-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        for (f, content) in files {
            std::fs::write(root.join(f), content).unwrap();
        }
        DataDir::new(root)
    }

    #[test]
    fn readers_parse_and_hash() {
        let d = dir(
            "ok",
            &[
                ("a.csv", "id,text\n1,\"hello, world\"\n2,bye\n"),
                ("b.jsonl", "{\"x\": 1}\n\n{\"x\": 2}\n"),
                ("c.tsv", "q\ta\nwhat\t42\n"),
            ],
        );
        let (rows, file) = d.csv("a.csv").unwrap();
        assert_eq!(rows[0].str("text").unwrap(), "hello, world");
        assert_eq!(rows[1].int("id").unwrap(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 3));
        // sha256 of the exact bytes.
        assert_eq!(file.sha256.len(), 64);
        assert_eq!(file.bytes, 31);
        let (rows, _) = d.jsonl("b.jsonl").unwrap();
        assert_eq!((rows.len(), rows[1].line), (2, 3));
        assert_eq!(d.tsv("c.tsv").unwrap().0[0].int("a").unwrap(), 42);
    }

    #[test]
    fn plain_lines_are_trimmed_rows_numbered_by_their_line() {
        let d = dir("lines", &[("q.txt", "first \n\n  second\r\n")]);
        let (rows, _) = d.lines("q.txt").unwrap();
        let got: Vec<(&str, i64, usize)> = rows
            .iter()
            .map(|r| (r.str("text").unwrap(), r.int("line").unwrap(), r.line))
            .collect();
        assert_eq!(got, [("first", 1, 1), ("second", 3, 3)]);
        std::fs::write(d.root().unwrap().join("bad.txt"), [0xff, b'a']).unwrap();
        assert!(d.lines("bad.txt").is_err());
    }

    #[test]
    fn json_arrays_are_rows_in_order_and_other_json_is_an_error() {
        let d = dir(
            "array",
            &[
                ("a.json", "[{\"z\": 1, \"a\": 2}, {\"z\": 3}]"),
                ("b.json", "{\"not\": \"an array\"}"),
                ("c.json", "[{\"x\": 1}, 7]"),
            ],
        );
        let (rows, _) = d.json_rows("a.json").unwrap();
        assert_eq!((rows.len(), rows[1].line), (2, 2));
        // Keys keep the file's order.
        assert_eq!(rows[0].fields.keys().collect::<Vec<_>>(), ["z", "a"]);
        let err = d.json_rows("b.json").unwrap_err().to_string();
        assert!(
            err.contains("b.json:1") && err.contains("expected a JSON array of objects"),
            "{err}"
        );
        let err = d.json_rows("c.json").unwrap_err().to_string();
        assert!(
            err.contains("c.json item:2") && err.contains("expected an object, found 7"),
            "{err}"
        );
    }

    #[test]
    fn byte_order_marks_and_crlf_line_ends_are_handled() {
        let d = dir(
            "crlf",
            &[("a.csv", "\u{feff}id,text\r\n1,\"two\r\nlines\"\r\n2,b\r\n")],
        );
        let (rows, _) = d.csv("a.csv").unwrap();
        assert_eq!(rows[0].int("id").unwrap(), 1);
        assert_eq!(rows[0].str("text").unwrap(), "two\r\nlines");
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
    }

    #[test]
    fn an_unclosed_quote_is_an_error_not_a_swallowed_file() {
        let d = dir(
            "quote",
            &[
                ("a.csv", "id,text\n1,\"never closed\n2,bye\n3,ok\n"),
                ("b.tsv", "q\ta\n\"x\t1\n"),
                (
                    "c.csv",
                    "id,text\n1,\"say \"\"hi\"\"\"\n2,a \"quote\" inside\n",
                ),
            ],
        );
        let msg = d.csv("a.csv").unwrap_err().to_string();
        assert!(
            msg.starts_with("a.csv:2: field 'text': a quoted field opens here and is never closed"),
            "{msg}"
        );
        let msg = d.tsv("b.tsv").unwrap_err().to_string();
        assert!(msg.starts_with("b.tsv:2: field 'q':"), "{msg}");
        // Doubled quotes and quotes inside an unquoted field are fine.
        let (rows, _) = d.csv("c.csv").unwrap();
        assert_eq!(rows[0].str("text").unwrap(), "say \"hi\"");
        assert_eq!(rows[1].str("text").unwrap(), "a \"quote\" inside");
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let d = dir(
            "bad",
            &[
                ("a.csv", "id,text\n1,ok\n2,too,many\n"),
                ("b.jsonl", "{\"x\": 1}\n{\"x\": \n"),
                ("c.jsonl", "{\"x\": \"seven\"}\n"),
                ("d.json", "[1,\n2,,]"),
            ],
        );
        let msg = d.csv("a.csv").unwrap_err().to_string();
        assert!(msg.starts_with("a.csv:3:"), "{msg}");
        let msg = d.jsonl("b.jsonl").unwrap_err().to_string();
        assert!(msg.starts_with("b.jsonl:2:"), "{msg}");
        let (rows, _) = d.jsonl("c.jsonl").unwrap();
        let msg = rows[0].int("x").unwrap_err().to_string();
        assert_eq!(
            msg,
            "c.jsonl:1: field 'x': expected an integer, found \"seven\""
        );
        let msg = rows[0].str("y").unwrap_err().to_string();
        assert_eq!(msg, "c.jsonl:1: field 'y': missing");
        let msg = d.json("d.json").unwrap_err().to_string();
        assert!(msg.starts_with("d.json:2:"), "{msg}");
        let msg = d.csv("nope.csv").unwrap_err().to_string();
        assert!(
            msg.contains("nope.csv") && msg.contains("not found"),
            "{msg}"
        );
    }
}
