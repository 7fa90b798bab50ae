//! Reading benchmark data for candor.
//!
//! Every file is read through a [`DataDir`], which records its sha256 (for reproducible
//! reports) and turns every problem into an error that names the file, the line and the field:
//!
//! ```no_run
//! use candor_data::DataDir;
//!
//! let data = DataDir::locate(None)?; // --data-dir, else $CANDOR_DATA, else ../shared/datasets
//! let (rows, file) = data.jsonl("xcopa/data/sw/test.sw.jsonl")?;
//! println!("{} rows, sha256 {}", rows.len(), file.sha256);
//! let premise = rows[0].str("premise")?;
//! # Ok::<(), candor_data::DataError>(())
//! ```

pub mod hub;

use std::path::{Path, PathBuf};

use candor_core::DataFile;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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
    #[error("no data directory: pass --data-dir, set CANDOR_DATA, or put the datasets in ../shared/datasets")]
    NoDataDir,
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

/// The folder datasets are read from.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    /// Where Hub datasets are cached (from the environment unless set).
    hub: hub::HfCache,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            hub: hub::HfCache::from_env(),
        }
    }

    /// The same folder, with Hub datasets looked up in `cache` instead of the environment's.
    pub fn with_hub_cache(mut self, cache: hub::HfCache) -> Self {
        self.hub = cache;
        self
    }

    /// The files of Hub dataset `id` at `revision` (paths inside the repo), read through the
    /// HF cache and downloaded there when missing and the Hub may be used: a data directory
    /// rooted at the dataset's snapshot.
    pub fn hub_dataset(&self, id: &str, revision: &str, files: &[&str]) -> Result<Self, DataError> {
        Ok(Self {
            root: self.hub.dataset(id, revision, files)?,
            hub: self.hub.clone(),
        })
    }

    /// `explicit` (a `--data-dir` flag), else `$CANDOR_DATA`, else `../shared/datasets`.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, DataError> {
        if let Some(p) = explicit {
            return Ok(Self::new(p));
        }
        if let Some(p) = std::env::var_os("CANDOR_DATA") {
            return Ok(Self::new(p));
        }
        let shared = Path::new("../shared/datasets");
        if shared.is_dir() {
            return Ok(Self::new(shared));
        }
        Err(DataError::NoDataDir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bytes of `rel` and its identity.
    pub fn read(&self, rel: &str) -> Result<(Vec<u8>, DataFile), DataError> {
        let path = self.root.join(rel);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => DataError::Missing {
                path: path.clone(),
                hint: format!(" (data directory: {})", self.root.display()),
            },
            _ => DataError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let file = DataFile {
            path: rel.to_string(),
            sha256,
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
