//! Evaluate the default model on the quick suites and write a report, from Rust.
//!
//! `cargo run --release --example quickstart` (data: `$CANDOR_DATA` or `../shared/datasets`)

use std::sync::Arc;

use candor::{CandleModel, Evaluation, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Arc::new(CandleModel::load("default", &LoadOptions::default())?);
    let result = Evaluation::new(model)
        .suites(["truthfulqa_mc", "xcopa", "xstest"])
        .limit(20)
        .progress(true)
        .output("quickstart-report") // journal while it runs; report.json, samples.jsonl, report.md
        .run()?;
    println!("{}", candor::report::markdown(&result.report));
    Ok(())
}
