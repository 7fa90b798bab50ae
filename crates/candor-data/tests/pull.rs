//! Downloads into the HF cache against a real HTTP server on 127.0.0.1 that serves a Hub-shaped
//! tree (`/datasets/{repo}/resolve/{revision}/{path}`, with `x-repo-commit`, `etag` or an LFS
//! redirect carrying `x-linked-etag`): good files land and verify, corrupted ones are rejected
//! and leave nothing behind, broken-off downloads resume (or restart when the server ignores
//! the range).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candor_data::hub::HfCache;
use candor_data::{DataDir, HubFile, KnownFile};
use sha2::{Digest, Sha256};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

#[derive(Clone, Copy, PartialEq)]
enum Serve {
    /// The file, with a plain `etag` (a small git file on the Hub).
    Plain,
    /// A redirect to `/cdn/...` with `x-linked-etag`, as the Hub serves LFS files.
    Lfs,
    /// The first response stops halfway through the body; later ones honour `Range`.
    BreakOnce,
    /// Like `BreakOnce`, but the server ignores `Range` and sends the whole file again.
    BreakOnceNoRange,
}

/// What the server was asked: (path, range header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A Hub on loopback serving `files` (repo path → bytes) for up to `max_requests` requests.
fn hub(files: BTreeMap<String, Vec<u8>>, serve: Serve, max_requests: usize) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        let mut broke = false;
        for stream in listener.incoming().take(max_requests) {
            let Ok(stream) = stream else { continue };
            let (path, range) = request(&stream);
            seen.lock().unwrap().push((path.clone(), range.clone()));
            let file = path
                .strip_prefix("/cdn/")
                .or_else(|| path.strip_prefix(&format!("/datasets/acme/qa/resolve/{COMMIT}/")))
                .or_else(|| path.strip_prefix("/datasets/acme/qa/resolve/main/"))
                .and_then(|p| files.get(p).map(|b| (p, b)));
            let Some((name, body)) = file else {
                respond(&stream, "404 Not Found", &[], b"", None);
                continue;
            };
            let etag = format!("\"{}\"", hex(&Sha256::digest(body)));
            if serve == Serve::Lfs && !path.starts_with("/cdn/") {
                let location = format!("/cdn/{name}");
                let headers = [
                    ("x-repo-commit", COMMIT),
                    ("x-linked-etag", etag.as_str()),
                    ("location", location.as_str()),
                ];
                respond(&stream, "302 Found", &headers, b"", None);
                continue;
            }
            let headers = [("x-repo-commit", COMMIT), ("etag", etag.as_str())];
            let breaks = matches!(serve, Serve::BreakOnce | Serve::BreakOnceNoRange) && !broke;
            let from = range
                .as_deref()
                .filter(|_| serve != Serve::BreakOnceNoRange)
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
            match from {
                Some(from) => {
                    let cr = format!("bytes {from}-{}/{}", body.len() - 1, body.len());
                    let mut h = headers.to_vec();
                    h.push(("content-range", cr.as_str()));
                    respond(&stream, "206 Partial Content", &h, &body[from..], None);
                }
                None if breaks => {
                    broke = true;
                    respond(&stream, "200 OK", &headers, body, Some(body.len() / 2));
                }
                None => respond(&stream, "200 OK", &headers, body, None),
            }
        }
    });
    (url, log)
}

/// The request line's path and the `Range` header.
fn request(stream: &TcpStream) -> (String, Option<String>) {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    (path, range)
}

/// An HTTP/1.1 response announcing all of `body`, of which only `cut` bytes are sent when set.
fn respond(
    mut stream: &TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    cut: Option<usize>,
) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..cut.unwrap_or(body.len())]);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn cache(name: &str) -> HfCache {
    let dir = std::env::temp_dir().join(format!("candor-pull-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    HfCache {
        dir,
        offline: false,
    }
}

/// A data file big enough to arrive in several reads.
fn content() -> Vec<u8> {
    (0..5000)
        .map(|i| format!("{i},row {i}\n"))
        .collect::<String>()
        .into_bytes()
}

fn files(path: &str, body: &[u8]) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([(path.to_string(), body.to_vec())])
}

fn repo_dir(cache: &HfCache) -> PathBuf {
    cache.dir.join("datasets--acme--qa")
}

fn leftovers(cache: &HfCache) -> Vec<String> {
    let blobs = repo_dir(cache).join("blobs");
    std::fs::read_dir(blobs)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_good_file_lands_in_the_cache_as_huggingface_hub_lays_it_out() {
    let body = content();
    for serve in [Serve::Plain, Serve::Lfs] {
        let (url, log) = hub(files("data/test.csv", &body), serve, 10);
        let c = cache(if serve == Serve::Lfs { "lfs" } else { "plain" });
        let path = c
            .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
            .unwrap();
        let snapshot = repo_dir(&c).join("snapshots").join(COMMIT);
        assert_eq!(path, snapshot.join("data/test.csv"));
        assert_eq!(std::fs::read(&path).unwrap(), body);
        // The snapshot entry is a relative link to the blob named by the etag.
        let link = std::fs::read_link(&path).unwrap();
        assert_eq!(link, Path::new("../../../blobs").join(sha(&body)));
        assert_eq!(
            std::fs::read_to_string(repo_dir(&c).join("refs/main")).unwrap(),
            COMMIT
        );
        assert_eq!(leftovers(&c), vec![sha(&body)]);
        // Cached now: found without asking the server again, by branch or by commit.
        let asked = log.lock().unwrap().len();
        let again = c
            .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
            .unwrap();
        assert_eq!(again, path);
        assert_eq!(log.lock().unwrap().len(), asked);
        assert_eq!(asked, if serve == Serve::Lfs { 2 } else { 1 });
    }
}

#[test]
fn a_corrupted_file_is_rejected_and_not_left_in_the_cache() {
    let body = content();
    let mut corrupted = body.clone();
    corrupted[100] ^= 1;
    let (url, _) = hub(files("data/test.csv", &corrupted), Serve::Plain, 10);
    let c = cache("corrupt");
    let err = c
        .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "sha256 {} does not match the expected {}",
            sha(&corrupted),
            sha(&body)
        )) && err.contains("deleted"),
        "{err}"
    );
    assert!(leftovers(&c).is_empty(), "{:?}", leftovers(&c));
    assert!(!repo_dir(&c).join("snapshots").exists());
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let body = content();
    let (url, log) = hub(files("data/test.csv", &body), Serve::BreakOnce, 10);
    let c = cache("resume");
    let path = c
        .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    // The second request asked for the rest only.
    let resumed_from: usize = log[1]
        .1
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .expect("a range request");
    assert!(resumed_from > 0 && resumed_from <= body.len() / 2);
    assert_eq!(leftovers(&c), vec![sha(&body)]);
}

#[test]
fn an_interrupted_download_restarts_cleanly_when_the_server_cannot_resume() {
    let body = content();
    let (url, log) = hub(files("data/test.csv", &body), Serve::BreakOnceNoRange, 10);
    let c = cache("restart");
    let path = c
        .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(leftovers(&c), vec![sha(&body)]);
}

#[test]
fn a_download_that_keeps_breaking_leaves_only_its_partial_blob_and_says_to_resume() {
    let body = content();
    // Every response breaks off: the server cuts each one (it honours no range).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = body.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(5) {
            let Ok(stream) = stream else { continue };
            request(&stream);
            let etag = format!("\"{}\"", sha(&served));
            let headers = [("x-repo-commit", COMMIT), ("etag", etag.as_str())];
            respond(&stream, "200 OK", &headers, &served, Some(10));
        }
    });
    let c = cache("broken");
    let err = c
        .fetch(&url, "acme/qa", "main", "data/test.csv", Some(&sha(&body)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("run the command again to resume"), "{err}");
    assert_eq!(leftovers(&c), vec![format!("{}.incomplete", sha(&body))]);
    assert!(!repo_dir(&c).join("snapshots").exists());
}

#[test]
fn a_data_directory_reads_known_files_through_the_cache_and_names_the_pull_command() {
    let body = b"id,text\n1,hello\n".to_vec();
    let (url, _) = hub(files("test.csv", &body), Serve::Plain, 10);
    let known = KnownFile {
        path: "qa/test.csv".into(),
        sha256: sha(&body),
        shipped: None,
        hub: Some(HubFile {
            repo: "acme/qa".into(),
            revision: COMMIT.into(),
            path: "test.csv".into(),
        }),
        suites: vec!["qa".into()],
    };
    // Offline with an empty cache: the error says which command fetches the file.
    let offline = HfCache {
        offline: true,
        ..cache("dir-offline")
    };
    let data = DataDir::none()
        .with_known([known.clone()])
        .with_hub_cache(offline)
        .with_endpoint(&url);
    assert_eq!(data.availability("qa/test.csv"), None);
    let err = data.csv("qa/test.csv").unwrap_err().to_string();
    assert!(
        err.contains("qa/test.csv") && err.contains("run `candor pull qa`"),
        "{err}"
    );
    // `pull` fetches it; then it reads from the cache, with its sha256.
    let c = cache("dir");
    let data = data.with_hub_cache(c.clone());
    data.pull("qa/test.csv").unwrap();
    assert_eq!(data.availability("qa/test.csv"), Some("cached"));
    let offline_again = data.with_hub_cache(HfCache { offline: true, ..c });
    let (rows, file) = offline_again.csv("qa/test.csv").unwrap();
    assert_eq!(rows[0].str("text").unwrap(), "hello");
    assert_eq!(file.sha256, sha(&body));
}
