//! Running a generated program against its tests: in [`candor_sandbox`]'s namespaces by
//! default, on the host only when the user asked for it.

use std::sync::OnceLock;
use std::time::Duration;

use candor_core::{Response, Scorer, ScorerError, ScorerOutput};
use candor_sandbox::{Exit, Limits, Program, Sandbox, Toolchain, Violation};

/// How a program fared against its tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The program does not parse (`SyntaxError`, `IndentationError`, `TabError`).
    SyntaxError,
    /// A test's `assert` failed.
    Assertion,
    /// Any other exception, or a non-zero exit.
    Error,
    /// Past the CPU-time or wall-clock limit.
    Timeout,
    /// Ended by a signal (a crash, or the address-space limit).
    Killed,
    /// A forbidden system call (a network socket, a mount ...), a file past the size limit, or
    /// processes left running.
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

    /// What a finished run says: the kernel's violation first, then the exit, then Python's
    /// last traceback line.
    pub fn of(outcome: &candor_sandbox::Outcome) -> Self {
        match outcome.violation {
            Some(Violation::Timeout | Violation::CpuTime) => return Verdict::Timeout,
            Some(Violation::FileSize | Violation::ForbiddenSyscall | Violation::Survivors) => {
                return Verdict::SandboxViolation
            }
            None => {}
        }
        match outcome.exit {
            Exit::Code(0) => Verdict::Passed,
            Exit::Signal(_) => Verdict::Killed,
            Exit::Code(_) => {
                let exception = outcome
                    .stderr
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
    #[error("no Python to run the tests with: {0}")]
    NoPython(String),
    #[error("the sandbox runs, but Python fails in it: {0}")]
    PythonFails(String),
}

/// Runs Python test programs and labels each with its [`Verdict`] (score 1 when it passed).
/// The sandbox and the interpreter are set up on first use and checked by
/// [`CodeExecutor::check`], which a run calls before any model time is spent.
pub struct CodeExecutor {
    sandboxed: bool,
    limits: Limits,
    runner: OnceLock<Result<Runner, ExecutionError>>,
}

struct Runner {
    sandbox: Sandbox,
    python: String,
}

/// The CPU time each test program gets (upstream harnesses use 3 s of wall time on idle
/// machines; this leaves room for a loaded one).
const CPU_LIMIT: Duration = Duration::from_secs(10);
const WALL_LIMIT: Duration = Duration::from_secs(20);

impl Default for CodeExecutor {
    fn default() -> Self {
        Self::sandboxed()
    }
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
            limits: Limits {
                cpu: CPU_LIMIT,
                wall: WALL_LIMIT,
                ..Limits::default()
            },
            runner: OnceLock::new(),
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

    /// Set up the sandbox and run `python -c pass` in it: an error says why no program can
    /// run.
    pub fn check(&self) -> Result<(), ExecutionError> {
        let runner = self.runner()?;
        let outcome = runner
            .sandbox
            .run(&Program::new([runner.python.as_str(), "-I", "-c", "pass"]))
            .map_err(|e| ExecutionError::PythonFails(e.to_string()))?;
        if outcome.success() {
            Ok(())
        } else {
            Err(ExecutionError::PythonFails(format!(
                "{:?}, {:?}: {}",
                outcome.exit,
                outcome.violation,
                outcome.stderr.trim()
            )))
        }
    }

    /// Run one Python program (the whole file: solution and tests) and say how it fared.
    pub fn run(&self, program: &str) -> Result<(Verdict, candor_sandbox::Outcome), String> {
        let runner = self.runner().map_err(|e| e.to_string())?;
        let program =
            Program::new([runner.python.as_str(), "-I", "-B", "main.py"]).file("main.py", program);
        let outcome = runner.sandbox.run(&program).map_err(|e| e.to_string())?;
        Ok((Verdict::of(&outcome), outcome))
    }

    fn runner(&self) -> Result<&Runner, ExecutionError> {
        let sandboxed = self.sandboxed;
        let limits = self.limits.clone();
        let made = self.runner.get_or_init(|| {
            let python = Toolchain::python("python3")
                .map_err(|e| ExecutionError::NoPython(e.to_string()))?;
            let sandbox = if sandboxed {
                let sandbox = python.show_in(Sandbox::new(limits));
                sandbox
                    .check()
                    .map_err(|e| ExecutionError::NoSandbox(e.to_string()))?;
                sandbox
            } else {
                Sandbox::unisolated(limits)
            };
            Ok(Runner {
                sandbox,
                python: python.executable.display().to_string(),
            })
        });
        made.as_ref().map_err(Clone::clone)
    }
}

impl Scorer for CodeExecutor {
    fn name(&self) -> &str {
        if self.sandboxed {
            "python_tests_sandboxed"
        } else {
            "python_tests_unsandboxed"
        }
    }

    /// `output` is the whole program; `prompt` is not read.
    fn score(
        &self,
        _prompt: &str,
        output: &str,
        _answers: &[Response],
    ) -> Result<ScorerOutput, ScorerError> {
        let (verdict, _) = self.run(output).map_err(ScorerError::Invalid)?;
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
        let code = |c, e| Verdict::of(&outcome(Exit::Code(c), None, e));
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
            Verdict::of(&outcome(Exit::Signal(9), None, "")),
            Verdict::Killed
        );
        assert_eq!(
            Verdict::of(&outcome(Exit::Signal(9), Some(Violation::CpuTime), "")),
            Verdict::Timeout
        );
        assert_eq!(
            Verdict::of(&outcome(Exit::Signal(9), Some(Violation::Timeout), "")),
            Verdict::Timeout
        );
        assert_eq!(
            Verdict::of(&outcome(
                Exit::Signal(31),
                Some(Violation::ForbiddenSyscall),
                ""
            )),
            Verdict::SandboxViolation
        );
        // A passing exit with processes left behind is not a pass.
        assert_eq!(
            Verdict::of(&outcome(Exit::Code(0), Some(Violation::Survivors), "")),
            Verdict::SandboxViolation
        );
    }
}
