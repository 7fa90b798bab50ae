//! A toy OpenAI-compatible server on loopback for the client's fault tests: one token per byte,
//! a fixed log-prob table, faults switched on and off while it runs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_core::{ModelError, Tokenize};
use serde_json::{json, Value};

/// `log p(t | p)`: the toy model's table.
pub fn lp(prev: u32, t: u32) -> f64 {
    -(((prev * 31 + t * 17) % 97) as f64) / 10.0 - 0.05
}

/// One token per byte, no BOS; token 0 starts a text with no context.
pub struct Bytes;

impl Tokenize for Bytes {
    fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(text.bytes().map(u32::from).collect())
    }
    fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        Ok(String::from_utf8_lossy(&ids.iter().map(|&i| i as u8).collect::<Vec<_>>()).into())
    }
    fn bos_prefix(&self) -> Vec<u32> {
        Vec::new()
    }
    fn prefix_token(&self) -> Option<u32> {
        Some(0)
    }
}

#[derive(Default)]
pub struct Faults {
    /// Answer this many requests with 429 before answering again.
    pub rate_limit: usize,
    /// Sleep this long before answering.
    pub stall: Option<Duration>,
    /// Close every connection without answering.
    pub dead: bool,
    /// Become dead after this many more completions.
    pub die_after: Option<usize>,
    /// Echo log-probs of generated tokens only (llama.cpp's llama-server).
    pub generated_only: bool,
    /// The last `Authorization` header received.
    pub authorization: Option<String>,
}

pub struct Fake {
    pub url: String,
    pub faults: Arc<Mutex<Faults>>,
    pub completions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(
            self.url
                .trim_start_matches("http://")
                .trim_end_matches("/v1"),
        );
    }
}

/// Start a server on `port` (0: any). `shifted` echoes each prompt token with the log-prob of
/// its own position (llama-cpp-python's bug without BOS); `ids` accepts token-id prompts.
pub fn start(port: u16, shifted: bool, ids: bool) -> Fake {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let faults = Arc::new(Mutex::new(Faults::default()));
    let completions = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (f, c, s) = (faults.clone(), completions.clone(), stop.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if s.load(Ordering::Relaxed) {
                break;
            }
            let Ok(stream) = stream else { continue };
            let (f, c) = (f.clone(), c.clone());
            std::thread::spawn(move || serve(stream, &f, &c, shifted, ids));
        }
    });
    Fake {
        url,
        faults,
        completions,
        stop,
    }
}

fn serve(
    mut stream: TcpStream,
    faults: &Mutex<Faults>,
    count: &AtomicUsize,
    shifted: bool,
    ids: bool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if h.to_ascii_lowercase().starts_with("authorization:") {
            faults.lock().unwrap().authorization = Some(h[14..].trim().to_string());
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (stall, status, generated_only) = {
        let mut f = faults.lock().unwrap();
        if path.contains("completions") {
            if let Some(n) = f.die_after.as_mut() {
                if *n == 0 {
                    f.dead = true;
                } else {
                    *n -= 1;
                }
            }
        }
        if f.dead {
            return;
        }
        let status = if f.rate_limit > 0 {
            f.rate_limit -= 1;
            429
        } else {
            200
        };
        (f.stall, status, f.generated_only)
    };
    if let Some(d) = stall {
        std::thread::sleep(d);
    }
    let (status, answer) = if status == 429 {
        (429, json!({"error": {"message": "slow down"}}))
    } else {
        match path.as_str() {
            "/v1/models" => (200, json!({"data": [{"id": "toy", "max_model_len": 4096}]})),
            "/v1/completions" => {
                count.fetch_add(1, Ordering::Relaxed);
                completion(&body, shifted, ids, generated_only)
            }
            "/v1/chat/completions" => (
                200,
                json!({"choices": [{"message": {"content": format!("{} messages", body["messages"].as_array().map_or(0, Vec::len))}, "finish_reason": "stop"}], "usage": {"completion_tokens": 2}}),
            ),
            _ => (404, json!({"error": {"message": "no such path"}})),
        }
    };
    let text = answer.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn completion(body: &Value, shifted: bool, ids: bool, generated_only: bool) -> (u16, Value) {
    let prompt: Vec<u32> = match &body["prompt"] {
        Value::String(s) => s.bytes().map(u32::from).collect(),
        Value::Array(a) if ids => a
            .iter()
            .filter_map(Value::as_u64)
            .map(|v| v as u32)
            .collect(),
        _ => return (422, json!({"detail": "prompt must be a string"})),
    };
    let max = body["max_tokens"].as_u64().unwrap_or(16) as usize;
    // Greedy over lowercase letters.
    let mut all = prompt.clone();
    let mut generated = Vec::new();
    for _ in 0..max {
        let prev = *all.last().unwrap_or(&0);
        let next = (b'a'..=b'z')
            .map(u32::from)
            .max_by(|&a, &b| lp(prev, a).total_cmp(&lp(prev, b)))
            .unwrap();
        generated.push(next);
        all.push(next);
    }
    let text: String = generated.iter().map(|&t| t as u8 as char).collect();
    let mut logprobs = json!(null);
    if !body["logprobs"].is_null() {
        let listed: Vec<usize> = if body["echo"].as_bool() == Some(true) && !generated_only {
            (0..all.len()).collect()
        } else {
            (prompt.len()..all.len()).collect()
        };
        let score = |i: usize| -> Option<f64> {
            match (i, shifted) {
                (0, _) => None,
                (_, true) if i < prompt.len() => Some(lp(all[i], all[i])),
                _ => Some(lp(all[i - 1], all[i])),
            }
        };
        let best = |i: usize| -> Option<f64> {
            (i > 0).then(|| {
                (b'a'..=b'z')
                    .map(|t| lp(all[i - 1], u32::from(t)))
                    .fold(f64::MIN, f64::max)
            })
        };
        logprobs = json!({
            "tokens": listed.iter().map(|&i| (all[i] as u8 as char).to_string()).collect::<Vec<_>>(),
            "token_logprobs": listed.iter().map(|&i| score(i)).collect::<Vec<_>>(),
            "top_logprobs": listed.iter().map(|&i| best(i).map(|b| json!({"x": b}))).collect::<Vec<_>>(),
        });
    }
    (
        200,
        json!({
            "choices": [{"text": text, "logprobs": logprobs, "finish_reason": "length"}],
            "usage": {"prompt_tokens": prompt.len(), "completion_tokens": generated.len()},
        }),
    )
}
