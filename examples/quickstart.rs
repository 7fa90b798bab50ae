//! Evaluate the default model on three suites and write a report, from Rust.
//!
//! `cargo run --release --example quickstart` (data: `$CANDOR_DATA` or `../shared/datasets`)

use candor::report::{self, Environment};
use candor::{CandleModel, DataDir, LoadOptions, RunConfig, TaskOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = CandleModel::load("default", &LoadOptions::default())?;
    let data = DataDir::locate(None)?;
    let config = RunConfig {
        task: TaskOptions {
            limit: Some(20),
            ..Default::default()
        },
        ..RunConfig::default()
    };
    let suites = ["truthfulqa_mc", "xcopa", "xstest"];
    let env = Environment::current("cpu", std::thread::available_parallelism()?.get());
    let (report, output) = candor::evaluate(&model, "default", &suites, &data, &config, env)?;
    report::write("quickstart-report".as_ref(), &report, &output.samples)?;
    println!("{}", report::markdown(&report));
    Ok(())
}
