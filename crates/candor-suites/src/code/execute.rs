//! Running a generated program against its tests: in [`candor_sandbox`]'s namespaces by
//! default, on the host only when the user asked for it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use candor_core::{Response, Scorer, ScorerError, ScorerOutput};
use candor_sandbox::{Exit, Limits, Program, Sandbox, Toolchain, Violation};

/// The languages whose programs candor can run, each with the toolchain the host must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeLanguage {
    /// `python3` (its real executable and prefix are found on the host).
    Python,
    /// `g++` (C++17).
    Cpp,
    /// `node`.
    JavaScript,
}

/// What a compiled language's runner script exits with when the program does not compile.
const COMPILE_FAILED: i32 = 97;

impl CodeLanguage {
    pub const ALL: [CodeLanguage; 3] = [
        CodeLanguage::Python,
        CodeLanguage::Cpp,
        CodeLanguage::JavaScript,
    ];

    /// The name in task tags and reports.
    pub fn name(self) -> &'static str {
        match self {
            CodeLanguage::Python => "python",
            CodeLanguage::Cpp => "cpp",
            CodeLanguage::JavaScript => "javascript",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The file the program is written to, and the command that compiles and runs it in the
    /// sandbox's `/tmp` (a compile failure exits with [`COMPILE_FAILED`]). `python` is the
    /// interpreter's real path; the other toolchains are found on the sandbox's `PATH`.
    fn command(self, python: &str) -> (&'static str, Vec<String>) {
        let sh = |script: String| vec!["/bin/sh".to_string(), "-c".to_string(), script];
        match self {
            CodeLanguage::Python => (
                "main.py",
                vec![
                    python.to_string(),
                    "-I".into(),
                    "-B".into(),
                    "main.py".into(),
                ],
            ),
            CodeLanguage::Cpp => (
                "main.cpp",
                sh(format!(
                    "g++ -std=c++17 -o main main.cpp -lm || exit {COMPILE_FAILED}; exec ./main"
                )),
            ),
            CodeLanguage::JavaScript => ("main.js", sh("exec node main.js".to_string())),
        }
    }
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

    /// What a finished run of a `language` program says: the kernel's violation first, then
    /// the exit, then what the toolchain printed (Python's last traceback line; a failed
    /// compile; C++'s `assert` and Node's `assert` and `console.assert` messages).
    pub fn of(language: CodeLanguage, outcome: &candor_sandbox::Outcome) -> Self {
        match outcome.violation {
            Some(Violation::Timeout | Violation::CpuTime) => return Verdict::Timeout,
            Some(Violation::FileSize | Violation::ForbiddenSyscall | Violation::Survivors) => {
                return Verdict::SandboxViolation
            }
            None => {}
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
    #[error("no Python to run the tests with: {0}")]
    NoPython(String),
    #[error("the sandbox runs, but {0} fails in it: {1}")]
    ToolchainFails(&'static str, String),
}

/// Runs test programs and labels each with its [`Verdict`] (score 1 when it passed), through
/// [`CodeExecutor::scorer`] per language. The sandbox is set up on first use, and each
/// language's toolchain is checked once ([`CodeExecutor::check`], which a run calls for its
/// code tasks' languages before any model time is spent).
pub struct CodeExecutor {
    sandboxed: bool,
    runner: OnceLock<Result<Runner, ExecutionError>>,
    /// Per [`CodeLanguage`], in declaration order.
    checked: [OnceLock<Result<(), ExecutionError>>; CodeLanguage::ALL.len()],
}

struct Runner {
    sandbox: Sandbox,
    python: String,
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
            runner: OnceLock::new(),
            checked: Default::default(),
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

    /// Set up the sandbox and run an empty `language` program in it (once): an error says
    /// why no program of that language can run.
    pub fn check(&self, language: CodeLanguage) -> Result<(), ExecutionError> {
        self.checked[language as usize]
            .get_or_init(|| {
                // The sandbox's own error first, then the toolchain's.
                self.runner()?;
                let failed = |why: String| ExecutionError::ToolchainFails(language.name(), why);
                let (verdict, outcome) = self
                    .execute(language, empty_program(language))
                    .map_err(failed)?;
                if verdict == Verdict::Passed {
                    Ok(())
                } else {
                    Err(failed(format!(
                        "{:?}, {:?}: {}",
                        outcome.exit,
                        outcome.violation,
                        outcome.stderr.trim()
                    )))
                }
            })
            .clone()
    }

    /// Run one program (the whole file: solution and tests) and say how it fared.
    pub fn run(
        &self,
        language: CodeLanguage,
        program: &str,
    ) -> Result<(Verdict, candor_sandbox::Outcome), String> {
        self.check(language).map_err(|e| e.to_string())?;
        self.execute(language, program)
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

    fn execute(
        &self,
        language: CodeLanguage,
        program: &str,
    ) -> Result<(Verdict, candor_sandbox::Outcome), String> {
        let runner = self.runner().map_err(|e| e.to_string())?;
        let (file, command) = language.command(&runner.python);
        let program = Program::new(command).file(file, program);
        let outcome = runner.sandbox.run(&program).map_err(|e| e.to_string())?;
        Ok((Verdict::of(language, &outcome), outcome))
    }

    fn runner(&self) -> Result<&Runner, ExecutionError> {
        let sandboxed = self.sandboxed;
        let limits = Limits {
            cpu: CPU_LIMIT,
            wall: WALL_LIMIT,
            ..Limits::default()
        };
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
