//! What the sandbox costs per program: `python3 -c pass` and `/bin/true` run directly and in
//! the sandbox, one after the other, with the mean wall time of each.
//!
//! `cargo run --release -p candor-sandbox --example overhead [-- RUNS]`

use std::process::Command;
use std::time::{Duration, Instant};

use candor_sandbox::{Limits, Program, Sandbox, Toolchain};

fn mean(runs: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    started.elapsed() / runs
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50);
    let toolchain = Toolchain::python("python3")?;
    let sandbox = toolchain.show_in(Sandbox::new(Limits::default()));
    let python = toolchain.executable.display().to_string();
    println!("| program | direct | sandboxed | overhead |\n|---|---|---|---|");
    for command in [vec!["/bin/true"], vec![python.as_str(), "-I", "-c", "pass"]] {
        let direct = mean(runs, || {
            Command::new(command[0])
                .args(&command[1..])
                .status()
                .map(|_| ())
                .unwrap_or(());
        });
        let program = Program::new(command.iter().copied());
        let mut failed = None;
        let sandboxed = mean(runs, || {
            if let Err(e) = sandbox.run(&program) {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| `{}` | {:.2} ms | {:.2} ms | {:+.2} ms |",
            command.join(" "),
            ms(direct),
            ms(sandboxed),
            ms(sandboxed) - ms(direct)
        );
    }
    Ok(())
}
