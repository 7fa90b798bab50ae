//! Evaluate the default model on the quick suites and write a report, from Rust.
//!
//! `cargo run --release --example quickstart` (the quick suites' data ships with candor;
//! `$CANDOR_DATA` or `../shared/datasets` are read first when present)

use std::sync::Arc;

use candor::{CandleModel, Evaluation, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Arc::new(CandleModel::load("default", &LoadOptions::default())?);
    let result = Evaluation::new(model)
        .suites(["truthfulqa_mc", "xcopa", "xstest"])
        .limit(20)
        .progress(true)
        .output("quickstart-report") // journal while it runs; then report.json, samples.jsonl, report.md, report.html
        .run()?;
    println!("{}", candor::report::markdown(&result.report));
    Ok(())
}
