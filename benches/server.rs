//! Server benchmark: log-likelihood requests per second through candor-openai at concurrency
//! 1, 4, 16 and 64, against a toy server on loopback that answers at once (so the time per
//! request is the harness's own overhead plus loopback HTTP), and, with `--server SPEC`,
//! against a real one. Prints a Markdown table.
//!
//! `cargo bench --bench server [-- --requests N] [--server 'openai:<model>@<url>?tokenizer=...']`

use std::sync::Arc;
use std::time::Instant;

use candor::{LanguageModel, LoglikelihoodRequest, OpenAiModel, ServerSpec};
use candor_core::Tokenize;

#[path = "../crates/candor-openai/tests/fake/mod.rs"]
mod fake;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let requests: usize = value("--requests")
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    let toy = fake::start(0, false, true);
    let mut servers: Vec<(String, String)> =
        vec![("toy server (loopback)".into(), toy.url.clone())];
    if let Some(spec) = value("--server") {
        servers.push((spec.clone(), spec.clone()));
    }
    println!("{requests} log-likelihood requests per row (XCOPA-sized: ~12-token contexts)\n");
    println!("| server | concurrency | requests/s | ms per request | retried |");
    println!("|---|---|---|---|---|");
    let reqs: Vec<LoglikelihoodRequest> = (0..requests)
        .map(|i| {
            LoglikelihoodRequest::new(
                format!("Premise {i}: the man broke his toe because"),
                format!(" he dropped a hammer on his foot ({})", i % 7),
            )
        })
        .collect();
    for (name, target) in &servers {
        for concurrency in [1, 4, 16, 64] {
            let model: Arc<dyn LanguageModel> = if target.starts_with(candor_openai::SCHEME) {
                Arc::new(
                    candor::connect_server(&format!("{target}&concurrency={concurrency}"))
                        .expect("server"),
                )
            } else {
                let spec =
                    ServerSpec::parse(&format!("openai:toy@{target}?concurrency={concurrency}"))
                        .unwrap();
                Arc::new(
                    OpenAiModel::connect(spec, Some(Arc::new(fake::Bytes) as Arc<dyn Tokenize>))
                        .unwrap(),
                )
            };
            let started = Instant::now();
            let answers = model.loglikelihood(&reqs).expect("answers");
            let s = started.elapsed().as_secs_f64();
            assert_eq!(answers.len(), reqs.len());
            let details = model.describe().details;
            println!(
                "| {name} | {concurrency} | {:.1} | {:.3} | {} |",
                reqs.len() as f64 / s,
                1e3 * s / reqs.len() as f64,
                details["retries"].split(' ').next().unwrap_or("?"),
            );
        }
    }
}
