//! Code-execution benchmark: what running a test program costs, per HumanEval problem (its
//! reference solution and tests), run directly by the interpreter behind `python3`, under
//! `CodeExecutor::unsandboxed` (rlimits, seccomp, timeout) and in the sandbox (namespaces as
//! well), one program at a time; then the sandbox with two programs at once, as a run on two
//! threads labels them. Prints a Markdown table.
//!
//! `cargo bench --bench code [-- --limit N]` (data: `$CANDOR_DATA`, else `../shared/datasets`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use candor::suites::code::{program, CodeExecutor, CodeLanguage, Verdict};
use candor::{DataDir, TaskOptions};

fn main() {
    let shared = std::env::var_os("CANDOR_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let data = std::env::var_os("CANDOR_DATA")
        .map(DataDir::new)
        .unwrap_or_else(|| DataDir::new(shared.join("datasets")));
    let args: Vec<String> = std::env::args().collect();
    let limit = args
        .iter()
        .position(|a| a == "--limit")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok());
    let tasks = candor::suites::tasks(&["humaneval"], &data).expect("humaneval data");
    let loaded = tasks[0]
        .load(&TaskOptions {
            limit,
            ..TaskOptions::default()
        })
        .expect("humaneval loads");
    let programs: Vec<String> = loaded
        .samples
        .iter()
        .map(|s| program(&s.target, s.target["solution"].as_str().unwrap_or_default()))
        .collect();
    let n = programs.len();
    println!("HumanEval reference solutions with their tests, {n} programs\n");
    println!("| how | programs/s | mean wall per program | passed |\n|---|---|---|---|");
    let row = |how: &str, wall: Duration, passed: usize| {
        println!(
            "| {how} | {:.1} | {:.1} ms | {passed}/{n} |",
            n as f64 / wall.as_secs_f64(),
            wall.as_secs_f64() * 1e3 / n as f64
        );
    };

    // The real interpreter, as the executors start it (pyenv's `python3` is a shell script).
    let python = candor_sandbox::Toolchain::python("python3")
        .expect("python3")
        .executable;
    let dir = std::env::temp_dir().join(format!("candor-code-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let started = Instant::now();
    let mut passed = 0;
    for p in &programs {
        let file = dir.join("main.py");
        std::fs::write(&file, p).expect("write program");
        let ok = Command::new(&python)
            .args(["-I", "-B"])
            .arg(&file)
            .output()
            .is_ok_and(|o| o.status.success());
        passed += usize::from(ok);
    }
    row("python directly", started.elapsed(), passed);
    let _ = std::fs::remove_dir_all(&dir);

    for (how, executor) in [
        (
            "unsandboxed (rlimits, seccomp)",
            CodeExecutor::unsandboxed(),
        ),
        ("sandboxed (namespaces too)", CodeExecutor::sandboxed()),
    ] {
        executor
            .check(CodeLanguage::Python)
            .expect("programs can run");
        let started = Instant::now();
        let passed = programs
            .iter()
            .filter(|p| {
                matches!(
                    executor.run(CodeLanguage::Python, p),
                    Ok((Verdict::Passed, _))
                )
            })
            .count();
        row(how, started.elapsed(), passed);
    }

    let executor = CodeExecutor::sandboxed();
    let started = Instant::now();
    let half = programs.len().div_ceil(2).max(1);
    let passed: usize = std::thread::scope(|s| {
        let workers: Vec<_> = programs
            .chunks(half)
            .map(|chunk| {
                let executor = &executor;
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter(|p| {
                            matches!(
                                executor.run(CodeLanguage::Python, p),
                                Ok((Verdict::Passed, _))
                            )
                        })
                        .count()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    row("sandboxed, 2 at once", started.elapsed(), passed);
}
