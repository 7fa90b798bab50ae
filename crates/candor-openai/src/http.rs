//! HTTP to the replicas: one JSON POST with retries (exponential backoff with jitter on 429,
//! 5xx, timeouts and broken connections), spread over replicas, and a bounded worker pool.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::spec::ServerSpec;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A replica that failed this many times in a row is skipped for [`COOLDOWN`] while another
/// replica is up.
const FAILURES_BEFORE_COOLDOWN: u64 = 2;
const COOLDOWN: Duration = Duration::from_secs(10);

/// Why one call failed after its retries.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The server refused the request itself (4xx other than 408/429): retrying cannot help.
    Rejected { status: u16, message: String },
    /// Every attempt failed with a retryable error; the last one is named.
    Unavailable { attempts: u32, last: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Rejected { status, message } => {
                write!(
                    f,
                    "the server rejected the request (HTTP {status}): {message}"
                )
            }
            CallError::Unavailable { attempts, last } => {
                write!(
                    f,
                    "no replica answered after {attempts} attempts (last: {last})"
                )
            }
        }
    }
}

/// Counts for the report, per replica and overall.
#[derive(Debug, Default)]
pub struct Replica {
    pub url: String,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
    failing_since: Mutex<Option<Instant>>,
    consecutive: AtomicU64,
}

pub struct Client {
    agent: ureq::Agent,
    pub replicas: Vec<Replica>,
    api_key: Option<String>,
    retries: u32,
    backoff: Duration,
    pub concurrency: usize,
    pub retried: AtomicU64,
    pub rate_limited: AtomicU64,
    pub timeouts: AtomicU64,
}

enum Attempt {
    Retry(String),
    Fatal(CallError),
}

impl Client {
    pub fn new(spec: &ServerSpec) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10).min(spec.timeout))
            .timeout(spec.timeout)
            .max_idle_connections_per_host(spec.concurrency.max(1))
            .build();
        Client {
            agent,
            replicas: spec
                .urls
                .iter()
                .map(|u| Replica {
                    url: u.clone(),
                    ..Replica::default()
                })
                .collect(),
            api_key: std::env::var(&spec.api_key_env)
                .ok()
                .filter(|k| !k.is_empty()),
            retries: spec.retries,
            backoff: spec.backoff,
            concurrency: spec.concurrency.max(1),
            retried: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// GET `url`, without retries (for what a server says about itself).
    pub fn get(&self, url: &str) -> Result<Value, String> {
        let mut req = self.agent.get(url);
        if let Some(key) = &self.api_key {
            req = req.set("Authorization", &format!("Bearer {key}"));
        }
        match req.call() {
            Ok(resp) => resp
                .into_json::<Value>()
                .map_err(|e| format!("{url}: not JSON: {e}")),
            Err(e) => Err(format!("{url}: {}", describe(e))),
        }
    }

    /// POST `body` to `path`; request `home` starts at replica `home % n` and moves on to the
    /// next replica after each failure.
    pub fn post(&self, path: &str, body: &Value, home: usize) -> Result<Value, CallError> {
        self.post_retrying(path, body, home, self.retries)
    }

    /// [`Client::post`] with its own number of retries (0 for a probe whose failure is an
    /// answer).
    pub fn post_retrying(
        &self,
        path: &str,
        body: &Value,
        home: usize,
        retries: u32,
    ) -> Result<Value, CallError> {
        let mut last = String::new();
        for attempt in 0..=retries {
            let index = self.pick(home + attempt as usize);
            let replica = &self.replicas[index];
            replica.requests.fetch_add(1, Ordering::Relaxed);
            match self.attempt(replica, path, body) {
                Ok(value) => {
                    replica.consecutive.store(0, Ordering::Relaxed);
                    *lock(&replica.failing_since) = None;
                    return Ok(value);
                }
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(message)) => {
                    replica.failures.fetch_add(1, Ordering::Relaxed);
                    if replica.consecutive.fetch_add(1, Ordering::Relaxed) + 1
                        >= FAILURES_BEFORE_COOLDOWN
                    {
                        lock(&replica.failing_since).get_or_insert_with(Instant::now);
                    }
                    last = format!("{}: {message}", replica.url);
                    if attempt < retries {
                        self.retried.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(self.delay(attempt));
                    }
                }
            }
        }
        Err(CallError::Unavailable {
            attempts: retries + 1,
            last,
        })
    }

    /// Run `f` on `0..n` with at most `concurrency` calls in flight; stops handing out work
    /// after the first error, and returns results in order.
    pub fn map<T: Send, E: Send>(
        &self,
        n: usize,
        f: impl Fn(usize) -> Result<T, E> + Sync,
    ) -> Result<Vec<T>, E> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let results: Mutex<Vec<Option<Result<T, E>>>> = Mutex::new((0..n).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.concurrency.min(n) {
                s.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let result = f(i);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    lock(&results)[i] = Some(result);
                });
            }
        });
        let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(n);
        let mut first_error = None;
        for r in results {
            match r {
                Some(Ok(v)) => out.push(v),
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The replica for attempt `k` of a request: replicas in turn, skipping those cooling down
    /// after repeated failures while another is up.
    fn pick(&self, k: usize) -> usize {
        let n = self.replicas.len();
        (0..n)
            .map(|step| (k + step) % n)
            .find(|&i| {
                lock(&self.replicas[i].failing_since).is_none_or(|t| t.elapsed() >= COOLDOWN)
            })
            .unwrap_or(k % n)
    }

    fn attempt(&self, replica: &Replica, path: &str, body: &Value) -> Result<Value, Attempt> {
        let url = format!("{}{path}", replica.url);
        let mut req = self.agent.post(&url);
        if let Some(key) = &self.api_key {
            req = req.set("Authorization", &format!("Bearer {key}"));
        }
        match req.send_json(body) {
            Ok(resp) => resp
                .into_json::<Value>()
                .map_err(|e| Attempt::Retry(format!("the answer is not JSON: {e}"))),
            Err(ureq::Error::Status(status, resp)) => {
                let message = error_message(resp);
                if status == 429 {
                    self.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
                if status == 408 || status == 429 || status >= 500 {
                    Err(Attempt::Retry(format!("HTTP {status}: {message}")))
                } else {
                    Err(Attempt::Fatal(CallError::Rejected { status, message }))
                }
            }
            Err(e) => {
                let message = describe(e);
                if message.contains("timed out") {
                    self.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                Err(Attempt::Retry(message))
            }
        }
    }

    /// Full jitter: a uniform draw from half to all of `backoff · 2^attempt`, capped.
    fn delay(&self, attempt: u32) -> Duration {
        let full = self
            .backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(MAX_BACKOFF);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = 0.5 + 0.5 * f64::from(nanos % 1000) / 1000.0;
        full.mul_f64(jitter)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The server's own error message (`{"error": {"message": ...}}` or `{"detail": ...}`), else
/// the start of the body.
fn error_message(resp: ureq::Response) -> String {
    let body = resp.into_string().unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("message"))
            .map(|m| match m {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    });
    let mut message = message.unwrap_or(body);
    if message.len() > 500 {
        let cut = (0..=500)
            .rev()
            .find(|&i| message.is_char_boundary(i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    message
}

fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Status(status, resp) => format!("HTTP {status}: {}", error_message(resp)),
        ureq::Error::Transport(t) => {
            let mut s = t.to_string();
            if let Some(io) = std::error::Error::source(&t) {
                let io = io.to_string();
                if !s.contains(&io) {
                    s = format!("{s}: {io}");
                }
            }
            s
        }
    }
}
