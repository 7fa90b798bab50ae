//! `candor pull`, the readiness column of `candor list`, and the check that a run's suites have
//! their data before a model loads: the CLI side of `candor::suites::data`.

use anyhow::{bail, Result};
use candor::suites::data::{self, Readiness};
use candor::DataDir;

/// `candor pull SUITE...`: fetch each suite's missing files into the HF cache, sha256-checked.
pub fn pull(suites: &[String], data: &DataDir) -> Result<()> {
    for suite in suites {
        let fetched = data::pull(suite, data)?;
        match fetched.len() {
            0 => eprintln!("{suite}: ready ({})", ready_from(suite, data)),
            n => eprintln!(
                "{suite}: {n} file(s) downloaded and verified into {}",
                data.hub_cache().dir.display()
            ),
        }
    }
    Ok(())
}

fn ready_from(suite: &str, data: &DataDir) -> String {
    match data::readiness(suite, data) {
        Some(Readiness::Ready(from)) => from,
        _ => "not ready".into(),
    }
}

/// The `candor list` column: whether a built-in suite runs offline now, or what it needs.
pub fn readiness_cell(suite: &str, data: &DataDir) -> String {
    match data::readiness(suite, data) {
        Some(Readiness::Ready(from)) => format!("ready ({from})"),
        Some(Readiness::NeedsPull) => format!("`candor pull {suite}`"),
        Some(Readiness::NeedsDataDir) => "needs --data-dir".into(),
        None => "-".into(),
    }
}

/// Before the model loads: every built-in suite of the run has its data, else it is pulled
/// (when the Hub may be used) or the error names the command that provides it.
pub fn ensure(suites: &[String], data: &DataDir) -> Result<()> {
    for suite in suites {
        match data::readiness(suite, data) {
            None | Some(Readiness::Ready(_)) => {}
            Some(Readiness::NeedsPull) if data.hub_cache().offline => bail!(
                "suite {suite}: its data is not here and HF_HUB_OFFLINE is set: run `candor pull \
                 {suite}` where the Hub is reachable (or pass --data-dir)"
            ),
            Some(Readiness::NeedsPull) => {
                eprintln!("{suite}: fetching its data from the Hub (`candor pull {suite}`) ...");
                data::pull(suite, data)?;
            }
            Some(Readiness::NeedsDataDir) => {
                // The error lists the missing files and where to put them.
                data::pull(suite, data)?;
            }
        }
    }
    Ok(())
}
