//! Running a generated program against its tests: in [`candor_sandbox`]'s namespaces by
//! default, on the host only when the user asked for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use candor_core::{Response, Scorer, ScorerError, ScorerOutput};
use candor_sandbox::{Exit, Limits, Program, Sandbox, Toolchain, Violation};

use super::rust_crates::RustCrates;

/// The languages whose programs candor can run, each with the toolchain the host must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeLanguage {
    /// `python3` (its real executable and prefix are found on the host).
    Python,
    /// `g++` (C++17).
    Cpp,
    /// `node`.
    JavaScript,
    /// A JDK: `java` and the `javac` beside it.
    Java,
    /// `rustc` and `cargo`, which builds the crates the tests import once, outside the sandbox.
    Rust,
}

/// What a compiled language's runner script exits with when the program does not compile.
const COMPILE_FAILED: i32 = 97;

/// The JVM's reservations sized to fit the sandbox's address-space limit, and a quick start.
const JVM_FLAGS: &[&str] = &[
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:CompressedClassSpaceSize=64m",
];

impl CodeLanguage {
    pub const ALL: [CodeLanguage; 5] = [
        CodeLanguage::Python,
        CodeLanguage::Cpp,
        CodeLanguage::JavaScript,
        CodeLanguage::Java,
        CodeLanguage::Rust,
    ];

    /// The name in task tags and reports.
    pub fn name(self) -> &'static str {
        match self {
            CodeLanguage::Python => "python",
            CodeLanguage::Cpp => "cpp",
            CodeLanguage::JavaScript => "javascript",
            CodeLanguage::Java => "java",
            CodeLanguage::Rust => "rust",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// A language's toolchain found on the host: the sandbox that shows it, the file a program
/// is written to, and the command that compiles and runs it in the sandbox's `/tmp` (a
/// compile failure exits with [`COMPILE_FAILED`]).
struct Runner {
    sandbox: Sandbox,
    file: &'static str,
    command: Vec<String>,
}

/// `word` quoted for `/bin/sh`.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// `compile`, then `run`, as one `/bin/sh` command line.
fn compile_then_run(compile: &[String], run: &[String]) -> Vec<String> {
    let words = |w: &[String]| w.iter().map(|w| quoted(w)).collect::<Vec<_>>().join(" ");
    let script = format!(
        "{} || exit {COMPILE_FAILED}; exec {}",
        words(compile),
        words(run)
    );
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// How a program fared against its tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The program does not parse (Python's `SyntaxError`, `IndentationError`, `TabError`,
    /// Node's `SyntaxError`) or does not compile (C++).
    SyntaxError,
    /// A test's `assert` failed.
    Assertion,
    /// Any other exception, or a non-zero exit.
    Error,
    /// Past the CPU-time or wall-clock limit.
    Timeout,
    /// Ended by a signal (a crash), or past the address-space limit.
    Killed,
    /// A forbidden system call (a mount, ptrace ...), an attempt to reach the network, to
    /// write outside `/tmp` or to open a host file outside the view, a file past the size
    /// limit, or processes left running.
    SandboxViolation,
}

impl Verdict {
    /// The label in `samples.jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::SyntaxError => "syntax_error",
            Verdict::Assertion => "assertion",
            Verdict::Error => "error",
            Verdict::Timeout => "timeout",
            Verdict::Killed => "killed",
            Verdict::SandboxViolation => "sandbox_violation",
        }
    }

    /// What a finished run of a `language` program says: the kernel's violation first, then
    /// the exit, then what the toolchain printed (Python's last traceback line; a failed
    /// compile; C++'s `assert`, Node's `assert` and `console.assert`, Java's `AssertionError`,
    /// Rust's assertion panics).
    pub fn of(language: CodeLanguage, outcome: &candor_sandbox::Outcome) -> Self {
        match outcome.violation {
            Some(Violation::Timeout | Violation::CpuTime) => return Verdict::Timeout,
            // A program may survive a refused allocation (Python's MemoryError, caught).
            Some(Violation::Memory) if outcome.exit != Exit::Code(0) => return Verdict::Killed,
            Some(
                Violation::FileSize
                | Violation::ForbiddenSyscall
                | Violation::Network
                | Violation::WriteOutside
                | Violation::ReadOutside
                | Violation::Survivors,
            ) => return Verdict::SandboxViolation,
            Some(Violation::Memory) | None => {}
        }
        let stderr = &outcome.stderr;
        match (language, outcome.exit) {
            (_, Exit::Code(COMPILE_FAILED)) if language != CodeLanguage::Python => {
                Verdict::SyntaxError
            }
            // console.assert prints and goes on.
            (CodeLanguage::JavaScript, Exit::Code(0)) if stderr.contains("Assertion failed") => {
                Verdict::Assertion
            }
            (_, Exit::Code(0)) => Verdict::Passed,
            (CodeLanguage::Cpp, Exit::Signal(_)) if stderr.contains("Assertion") => {
                Verdict::Assertion
            }
            // A failed test panics; assert! and assert_eq! say "assertion".
            (CodeLanguage::Rust, Exit::Code(_))
                if stderr.contains("panicked") && stderr.contains("assertion") =>
            {
                Verdict::Assertion
            }
            (_, Exit::Signal(_)) => Verdict::Killed,
            (CodeLanguage::Python, Exit::Code(_)) => {
                let exception = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.split(':').next().unwrap_or(l).trim())
                    .unwrap_or_default();
                match exception {
                    "SyntaxError" | "IndentationError" | "TabError" => Verdict::SyntaxError,
                    "AssertionError" => Verdict::Assertion,
                    _ => Verdict::Error,
                }
            }
            (_, Exit::Code(_)) if stderr.contains("AssertionError") => Verdict::Assertion,
            (CodeLanguage::JavaScript, Exit::Code(_)) if stderr.contains("SyntaxError") => {
                Verdict::SyntaxError
            }
            (_, Exit::Code(_)) => Verdict::Error,
        }
    }
}

/// Why programs cannot be run here.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ExecutionError {
    #[error(
        "{0}; model-written code is only run in the sandbox (pass --allow-unsandboxed-code to \
         run it on this machine under rlimits and seccomp only, which the report records)"
    )]
    NoSandbox(String),
    #[error("no {0} toolchain to run the tests with: {1}")]
    NoToolchain(&'static str, String),
    #[error("the sandbox runs, but {0} fails in it: {1}")]
    ToolchainFails(&'static str, String),
}

/// Runs test programs and labels each with its [`Verdict`] (score 1 when it passed), through
/// [`CodeExecutor::scorer`] per language. The sandbox is set up on first use, and each
/// language's toolchain is found and checked once ([`CodeExecutor::check`], which a run calls
/// for its code tasks' languages before any model time is spent).
pub struct CodeExecutor {
    sandboxed: bool,
    sandbox: OnceLock<Result<Sandbox, ExecutionError>>,
    /// Per [`CodeLanguage`], in declaration order.
    runners: [OnceLock<Result<Runner, ExecutionError>>; CodeLanguage::ALL.len()],
}

/// The CPU time each test program gets (upstream harnesses use 3 s of wall time on idle
/// machines; this leaves room for a loaded one and for compiling).
const CPU_LIMIT: Duration = Duration::from_secs(10);
const WALL_LIMIT: Duration = Duration::from_secs(20);

/// A program that does nothing, to check a toolchain.
fn empty_program(language: CodeLanguage) -> &'static str {
    match language {
        CodeLanguage::Python | CodeLanguage::JavaScript => "",
        CodeLanguage::Cpp => "int main() { return 0; }\n",
        CodeLanguage::Java => "public class Main { public static void main(String[] a) {} }\n",
        CodeLanguage::Rust => "use rand::Rng;\nuse regex::Regex;\nuse md5;\n",
    }
}

/// Where candor keeps what it builds for itself (`$CANDOR_CACHE`, else `~/.cache/candor`).
fn cache_dir() -> std::path::PathBuf {
    std::env::var_os("CANDOR_CACHE")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/candor")
        })
}

impl CodeExecutor {
    /// Programs run in the sandbox, or not at all.
    pub fn sandboxed() -> Self {
        Self::new(true)
    }

    /// Programs run on the host with rlimits, seccomp and the timeout only: the user's
    /// explicit choice (`--allow-unsandboxed-code`), recorded in the report.
    pub fn unsandboxed() -> Self {
        Self::new(false)
    }

    fn new(sandboxed: bool) -> Self {
        Self {
            sandboxed,
            sandbox: OnceLock::new(),
            runners: Default::default(),
        }
    }

    /// `namespaces` or `unisolated`, for the report.
    pub fn isolation(&self) -> &'static str {
        if self.sandboxed {
            "namespaces"
        } else {
            "unisolated"
        }
    }

    /// Set up the sandbox, find `language`'s toolchain and run an empty program with it
    /// (once): an error says why no program of that language can run.
    pub fn check(&self, language: CodeLanguage) -> Result<(), ExecutionError> {
        self.runner(language).map(|_| ())
    }

    /// Run one program (the whole file: solution and tests) and say how it fared.
    pub fn run(
        &self,
        language: CodeLanguage,
        program: &str,
    ) -> Result<(Verdict, candor_sandbox::Outcome), String> {
        let runner = self.runner(language).map_err(|e| e.to_string())?;
        execute(language, runner, program)
    }

    /// Labels `language` programs with their verdicts.
    pub fn scorer(self: &Arc<Self>, language: CodeLanguage) -> Arc<dyn Scorer> {
        Arc::new(LanguageTests {
            executor: Arc::clone(self),
            language,
            name: format!(
                "{}_tests_{}",
                language.name(),
                if self.sandboxed {
                    "sandboxed"
                } else {
                    "unsandboxed"
                }
            ),
        })
    }

    fn runner(&self, language: CodeLanguage) -> Result<&Runner, ExecutionError> {
        self.runners[language as usize]
            .get_or_init(|| {
                // The sandbox's own error first, then the toolchain's.
                let sandbox = self.sandbox()?.clone();
                let runner = toolchain(language, sandbox)
                    .map_err(|why| ExecutionError::NoToolchain(language.name(), why))?;
                let failed = |why: String| ExecutionError::ToolchainFails(language.name(), why);
                let (verdict, outcome) =
                    execute(language, &runner, empty_program(language)).map_err(failed)?;
                if verdict == Verdict::Passed {
                    Ok(runner)
                } else {
                    Err(failed(format!(
                        "{:?}, {:?}: {}",
                        outcome.exit,
                        outcome.violation,
                        outcome.stderr.trim()
                    )))
                }
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn sandbox(&self) -> Result<&Sandbox, ExecutionError> {
        let limits = Limits {
            cpu: CPU_LIMIT,
            wall: WALL_LIMIT,
            ..Limits::default()
        };
        self.sandbox
            .get_or_init(|| {
                if !self.sandboxed {
                    return Ok(Sandbox::unisolated(limits));
                }
                let sandbox = Sandbox::new(limits);
                sandbox
                    .check()
                    .map_err(|e| ExecutionError::NoSandbox(e.to_string()))?;
                Ok(sandbox)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The command that finds a toolchain: `$variable` where set (to choose one of several
/// installed), else `default` on the `PATH`.
fn command(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_string())
}

/// Find `language`'s toolchain on the host (`$CANDOR_PYTHON`, `$CANDOR_JAVA`, `$CANDOR_RUSTC`
/// choose other than `python3`, `java`, `rustc`) and show it in `sandbox`.
fn toolchain(language: CodeLanguage, sandbox: Sandbox) -> Result<Runner, String> {
    let path = |t: &Toolchain, tool: &str| t.prefix.join("bin").join(tool).display().to_string();
    Ok(match language {
        CodeLanguage::Python => {
            let python = Toolchain::python(&command("CANDOR_PYTHON", "python3"))
                .map_err(|e| e.to_string())?;
            let exe = python.executable.display().to_string();
            Runner {
                sandbox: python.show_in(sandbox),
                file: "main.py",
                command: vec![exe, "-I".into(), "-B".into(), "main.py".into()],
            }
        }
        // g++ and node are found on the sandbox's PATH, inside /usr.
        CodeLanguage::Cpp => Runner {
            sandbox,
            file: "main.cpp",
            command: compile_then_run(
                &strings(&["g++", "-std=c++17", "-o", "main", "main.cpp", "-lm"]),
                &strings(&["./main"]),
            ),
        },
        CodeLanguage::JavaScript => Runner {
            sandbox,
            file: "main.js",
            command: strings(&["/bin/sh", "-c", "exec node main.js"]),
        },
        CodeLanguage::Java => {
            let java =
                Toolchain::java(&command("CANDOR_JAVA", "java")).map_err(|e| e.to_string())?;
            let javac = [path(&java, "javac")]
                .into_iter()
                .chain(JVM_FLAGS.iter().map(|f| format!("-J{f}")))
                .chain(strings(&["-encoding", "UTF-8", "Main.java"]))
                .collect::<Vec<_>>();
            let run = [java.executable.display().to_string()]
                .into_iter()
                .chain(strings(JVM_FLAGS))
                .chain(["Main".to_string()])
                .collect::<Vec<_>>();
            Runner {
                sandbox: java.show_in(sandbox),
                file: "Main.java",
                command: compile_then_run(&javac, &run),
            }
        }
        CodeLanguage::Rust => {
            let rustc =
                Toolchain::rustc(&command("CANDOR_RUSTC", "rustc")).map_err(|e| e.to_string())?;
            let crates = RustCrates::build(&rustc, &cache_dir())?;
            let compile = [rustc.executable.display().to_string()]
                .into_iter()
                .chain(strings(&[
                    "--edition",
                    "2021",
                    "--test",
                    "-A",
                    "warnings",
                    "-o",
                    "main",
                    "main.rs",
                ]))
                .chain(crates.rustc_args())
                .collect::<Vec<_>>();
            Runner {
                sandbox: crates.show_in(rustc.show_in(sandbox)),
                file: "main.rs",
                command: compile_then_run(
                    &compile,
                    &strings(&["./main", "--test-threads=1", "--nocapture"]),
                ),
            }
        }
    })
}

fn execute(
    language: CodeLanguage,
    runner: &Runner,
    program: &str,
) -> Result<(Verdict, candor_sandbox::Outcome), String> {
    let program = Program::new(runner.command.clone()).file(runner.file, program);
    let outcome = runner.sandbox.run(&program).map_err(|e| e.to_string())?;
    Ok((Verdict::of(language, &outcome), outcome))
}

/// [`CodeExecutor::scorer`]: the executor for one language.
struct LanguageTests {
    executor: Arc<CodeExecutor>,
    language: CodeLanguage,
    name: String,
}

impl Scorer for LanguageTests {
    fn name(&self) -> &str {
        &self.name
    }

    /// `output` is the whole program; `prompt` is not read.
    fn score(
        &self,
        _prompt: &str,
        output: &str,
        _answers: &[Response],
    ) -> Result<ScorerOutput, ScorerError> {
        let (verdict, _) = self
            .executor
            .run(self.language, output)
            .map_err(ScorerError::Invalid)?;
        Ok(ScorerOutput {
            label: verdict.name().to_string(),
            score: f64::from(u8::from(verdict == Verdict::Passed)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candor_sandbox::Outcome;

    fn outcome(exit: Exit, violation: Option<Violation>, stderr: &str) -> Outcome {
        Outcome {
            exit,
            violation,
            stdout: String::new(),
            stderr: stderr.to_string(),
            truncated: false,
            wall: Duration::ZERO,
        }
    }

    #[test]
    fn verdicts_from_outcomes() {
        let code = |c, e| Verdict::of(CodeLanguage::Python, &outcome(Exit::Code(c), None, e));
        assert_eq!(code(0, ""), Verdict::Passed);
        assert_eq!(
            code(
                1,
                "Traceback ...\n  File \"main.py\", line 3\nAssertionError\n"
            ),
            Verdict::Assertion
        );
        assert_eq!(code(1, "AssertionError: 3 != 4\n\n"), Verdict::Assertion);
        assert_eq!(
            code(
                1,
                "  File \"main.py\", line 2\n    def f(:\nSyntaxError: invalid syntax\n"
            ),
            Verdict::SyntaxError
        );
        assert_eq!(
            code(1, "IndentationError: expected an indented block"),
            Verdict::SyntaxError
        );
        assert_eq!(
            code(1, "NameError: name 'x' is not defined"),
            Verdict::Error
        );
        assert_eq!(code(2, ""), Verdict::Error);
        assert_eq!(
            Verdict::of(CodeLanguage::Python, &outcome(Exit::Signal(9), None, "")),
            Verdict::Killed
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Signal(9), Some(Violation::CpuTime), "")
            ),
            Verdict::Timeout
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Signal(9), Some(Violation::Timeout), "")
            ),
            Verdict::Timeout
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Signal(31), Some(Violation::ForbiddenSyscall), "")
            ),
            Verdict::SandboxViolation
        );
        // Past the address-space limit: killed, unless the program survived the refusal.
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Code(1), Some(Violation::Memory), "MemoryError\n")
            ),
            Verdict::Killed
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Code(0), Some(Violation::Memory), "")
            ),
            Verdict::Passed
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Code(1), Some(Violation::ReadOutside), "")
            ),
            Verdict::SandboxViolation
        );
        // A passing exit with processes left behind is not a pass.
        assert_eq!(
            Verdict::of(
                CodeLanguage::Python,
                &outcome(Exit::Code(0), Some(Violation::Survivors), "")
            ),
            Verdict::SandboxViolation
        );
    }

    #[test]
    fn verdicts_of_compiled_and_node_programs() {
        let of = |l, exit, e| Verdict::of(l, &outcome(exit, None, e));
        {
            let l = CodeLanguage::Cpp;
            assert_eq!(
                of(l, Exit::Code(COMPILE_FAILED), "error: expected ';'"),
                Verdict::SyntaxError
            );
            assert_eq!(of(l, Exit::Code(0), ""), Verdict::Passed);
        }
        // Python may exit 97 itself.
        assert_eq!(
            of(CodeLanguage::Python, Exit::Code(COMPILE_FAILED), ""),
            Verdict::Error
        );
        assert_eq!(
            of(
                CodeLanguage::Cpp,
                Exit::Signal(6),
                "main: main.cpp:9: int main(): Assertion `f(1) == 2' failed.\n"
            ),
            Verdict::Assertion
        );
        assert_eq!(of(CodeLanguage::Cpp, Exit::Signal(11), ""), Verdict::Killed);
        assert_eq!(
            of(
                CodeLanguage::JavaScript,
                Exit::Code(0),
                "Assertion failed\n"
            ),
            Verdict::Assertion
        );
        assert_eq!(
            of(
                CodeLanguage::JavaScript,
                Exit::Code(1),
                "main.js:3\n  }}\n  ^\n\nSyntaxError: Unexpected token '}'\n"
            ),
            Verdict::SyntaxError
        );
        assert_eq!(
            of(
                CodeLanguage::JavaScript,
                Exit::Code(1),
                "ReferenceError: f is not defined"
            ),
            Verdict::Error
        );
        assert_eq!(
            of(
                CodeLanguage::Java,
                Exit::Code(1),
                "Exception in thread \"main\" java.lang.AssertionError\n\tat Main.main(Main.java:9)\n"
            ),
            Verdict::Assertion
        );
        assert_eq!(
            of(
                CodeLanguage::Java,
                Exit::Code(COMPILE_FAILED),
                "Main.java:4: error: ';' expected"
            ),
            Verdict::SyntaxError
        );
        assert_eq!(
            of(
                CodeLanguage::Rust,
                Exit::Code(101),
                "thread 'tests::test_f' panicked at main.rs:20:9:\nassertion `left == right` failed\n"
            ),
            Verdict::Assertion
        );
        assert_eq!(
            of(
                CodeLanguage::Rust,
                Exit::Code(101),
                "thread 'tests::test_f' panicked at main.rs:5:9:\nindex out of bounds: the len is 3 but the index is 3\n"
            ),
            Verdict::Error
        );
        assert_eq!(
            Verdict::of(
                CodeLanguage::Rust,
                &outcome(Exit::Code(1), Some(Violation::Network), "")
            ),
            Verdict::SandboxViolation
        );
        // Node's assert module throws.
        assert_eq!(
            of(
                CodeLanguage::JavaScript,
                Exit::Code(1),
                "AssertionError [ERR_ASSERTION]: false == true"
            ),
            Verdict::Assertion
        );
    }
}
