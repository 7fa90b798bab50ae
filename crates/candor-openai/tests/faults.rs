//! The client against a toy server on loopback: scores equal the toy model's, a shifted echo
//! is refused, and 429s, stalls and a dead replica are survived or reported, each within a
//! bounded number of requests and seconds.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_core::{LanguageModel, LoglikelihoodRequest, Tokenize};
use candor_openai::{Error, OpenAiModel, ServerSpec};

mod fake;
use fake::{lp, Bytes};

fn connect(urls: &str, options: &str) -> Result<OpenAiModel, Error> {
    let spec = ServerSpec::parse(&format!("openai:toy@{urls}?backoff_ms=20{options}")).unwrap();
    OpenAiModel::connect(spec, Some(Arc::new(Bytes) as Arc<dyn Tokenize>))
}

/// The toy model's log-likelihood of `cont` after `ctx`, by hand.
fn expected(ctx: &str, cont: &str) -> f64 {
    let ids: Vec<u32> = format!("{ctx}{cont}").bytes().map(u32::from).collect();
    let n = ctx.len();
    (n..ids.len()).map(|i| lp(ids[i - 1], ids[i])).sum()
}

fn requests(n: usize) -> Vec<LoglikelihoodRequest> {
    (0..n)
        .map(|i| LoglikelihoodRequest::new(format!("Question {i}:"), format!(" answer {}", i % 3)))
        .collect()
}

#[test]
fn scores_are_the_servers_echo_of_candors_split_as_ids_or_text() {
    for ids in [true, false] {
        let server = fake::start(0, false, ids);
        let model = connect(&server.url, "").unwrap();
        let form = &model.facts()["prompt_form"];
        assert_eq!(form.starts_with("token ids"), ids, "{form}");
        assert!(
            model.facts()["self_check"].starts_with("passed"),
            "{:?}",
            model.facts()
        );
        let reqs = requests(12);
        let got = model.loglikelihood(&reqs).unwrap();
        for (r, g) in reqs.iter().zip(&got) {
            assert!((g.logprob - expected(&r.context, &r.continuation)).abs() < 1e-9);
            assert_eq!(g.num_tokens, r.continuation.len());
        }
        // An empty context starts from the prefix token (0), as in-process.
        let g = model
            .loglikelihood(&[LoglikelihoodRequest::new("", "ab")])
            .unwrap();
        let want = lp(0, 97) + lp(97, 98);
        assert!(
            (g[0].logprob - want).abs() < 1e-9,
            "{} vs {want}",
            g[0].logprob
        );
    }
}

#[test]
fn rolling_windows_and_generation_go_through_the_server() {
    let server = fake::start(0, false, true);
    // The spec's context length wins over the server's (4096): 150 bytes take three windows.
    let model = connect(&server.url, "&context_length=64").unwrap();
    let text: String = (0..150)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect();
    let got = model
        .loglikelihood_rolling(&[candor_core::RollingRequest::new(text.clone())])
        .unwrap();
    let ids: Vec<u32> = std::iter::once(0)
        .chain(text.bytes().map(u32::from))
        .collect();
    let want: f64 = (1..ids.len()).map(|i| lp(ids[i - 1], ids[i])).sum();
    assert_eq!(got[0].num_tokens, 150);
    // Later windows see less than the whole past, which the toy model ignores anyway.
    assert!(
        (got[0].logprob - want).abs() < 1e-9,
        "{} vs {want}",
        got[0].logprob
    );
    let long = LoglikelihoodRequest::new("x".repeat(70), " y");
    let err = model.loglikelihood(&[long]).unwrap_err().to_string();
    assert_eq!(
        err,
        "request #0 needs 72 tokens but the model's context holds 64 tokens"
    );
    let chat = candor_core::GenerateRequest {
        prompt: candor_core::Prompt::Chat(vec![candor_core::ChatMessage::user("hi")]),
        params: candor_core::GenerationParams {
            max_new_tokens: 4,
            stop: vec!["messages".into()],
            ..Default::default()
        },
    };
    let g = model.generate(&[chat]).unwrap();
    // The toy answers "1 messages"; candor cuts at the stop string the server ignored.
    assert_eq!(g[0].text, "1 ");
    assert_eq!(g[0].finish_reason, candor_core::FinishReason::Stop);
}

#[test]
fn a_shifted_echo_is_refused_with_what_to_change() {
    let server = fake::start(0, true, false);
    let err = connect(&server.url, "").err().expect("refused").to_string();
    assert!(
        err.contains("prompt log-probs are wrong, typically shifted"),
        "{err}"
    );
    assert!(err.contains("scoring=off"), "{err}");
    // Generation-only use stays possible, and says so.
    let model = connect(&server.url, "&scoring=off").unwrap();
    let err = model.loglikelihood(&requests(1)).unwrap_err().to_string();
    assert!(err.contains("scoring=off"), "{err}");
}

#[test]
fn a_server_without_prompt_log_probs_is_refused() {
    let server = fake::start(0, false, true);
    server.faults.lock().unwrap().generated_only = true;
    let err = connect(&server.url, "").err().expect("refused").to_string();
    assert!(err.contains("it does not score prompts"), "{err}");
    assert!(err.contains("llama-server"), "{err}");
}

#[test]
fn rate_limits_are_retried_with_growing_backoff() {
    let server = fake::start(0, false, true);
    let model = connect(&server.url, "&concurrency=1").unwrap();
    server.faults.lock().unwrap().rate_limit = 3;
    let started = Instant::now();
    model.loglikelihood(&requests(1)).unwrap();
    // Delays of at least 10, 20 and 40 ms (half of 20 · 2^k, the jitter's floor).
    assert!(
        started.elapsed() >= Duration::from_millis(70),
        "{:?}",
        started.elapsed()
    );
    let retries = &model.describe().details["retries"];
    assert!(
        retries.starts_with("3 retried attempts (3 rate-limited"),
        "{retries}"
    );
}

#[test]
fn a_stalled_server_times_out_and_the_call_fails_in_bounded_time() {
    let server = fake::start(0, false, true);
    let model = connect(&server.url, "&timeout=0.3&retries=1").unwrap();
    server.faults.lock().unwrap().stall = Some(Duration::from_secs(3));
    let started = Instant::now();
    let err = model.loglikelihood(&requests(1)).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.contains("no replica answered after 2 attempts"),
        "{err}"
    );
    let retries = &model.describe().details["retries"];
    assert!(retries.contains("2 timed out"), "{retries}");
}

#[test]
fn a_dead_replica_is_skipped_and_reported() {
    let server = fake::start(0, false, true);
    let dead = fake::start(0, false, true);
    let dead_url = dead.url.clone();
    let model = connect(&format!("{},{}", server.url, dead_url), "&concurrency=4").unwrap();
    dead.faults.lock().unwrap().dead = true;
    let before = server.completions.load(Ordering::Relaxed);
    let reqs = requests(40);
    let got = model.loglikelihood(&reqs).unwrap();
    assert_eq!(got.len(), 40);
    assert!(server.completions.load(Ordering::Relaxed) - before >= 40);
    let replicas = &model.describe().details["replicas"];
    assert!(replicas.contains(&format!("{dead_url} (")), "{replicas}");
    let failed: u64 = replicas
        .split(&format!("{dead_url} ("))
        .nth(1)
        .and_then(|s| s.split(" requests, ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    // The dead replica costs a few attempts, then cools down: far fewer than 20.
    assert!((1..20).contains(&failed), "{replicas}");
}

#[test]
fn the_api_key_is_sent_and_never_recorded() {
    let server = fake::start(0, false, true);
    std::env::set_var("CANDOR_FAULTS_TEST_KEY", "sk-secret-123");
    let model = connect(&server.url, "&api_key_env=CANDOR_FAULTS_TEST_KEY").unwrap();
    model.loglikelihood(&requests(2)).unwrap();
    let sent = server.faults.lock().unwrap().authorization.clone();
    assert_eq!(sent.as_deref(), Some("Bearer sk-secret-123"));
    let record = serde_json::to_string(&model.describe()).unwrap();
    assert!(!record.contains("sk-secret"), "{record}");
}

#[test]
fn an_unknown_model_or_a_closed_port_is_a_clear_error() {
    let server = fake::start(0, false, true);
    let spec = ServerSpec::parse(&format!("openai:llama@{}", server.url)).unwrap();
    let err = OpenAiModel::connect(spec, None).err().unwrap().to_string();
    assert!(
        err.contains("does not serve 'llama' (it lists: toy)"),
        "{err}"
    );
    let spec = ServerSpec::parse("openai:toy@http://127.0.0.1:9/v1").unwrap();
    let err = OpenAiModel::connect(spec, None).err().unwrap().to_string();
    assert!(
        err.starts_with("cannot reach the server: http://127.0.0.1:9/v1/models"),
        "{err}"
    );
    let spec = ServerSpec::parse(&format!("openai:toy@{}", server.url)).unwrap();
    let err = OpenAiModel::connect(spec, None).err().unwrap().to_string();
    assert!(err.contains("add tokenizer="), "{err}");
}
