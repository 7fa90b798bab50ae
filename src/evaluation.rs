//! [`Evaluation`]: one builder for everything `candor run` does, over any
//! [`LanguageModel`].

use std::path::PathBuf;
use std::sync::Arc;

use candor_core::runner::plan;
use candor_core::{
    Journal, LanguageModel, RunConfig, RunError, RunOutput, ScoredSample, Task, TaskOptions,
};
use candor_data::{DataDir, DataError};
use candor_journal::SqliteJournal;
use candor_report::{Environment, Report, ReportError};
use candor_suites::code::{
    CodeExecutor, CodeLanguage, ExecutionError, EXECUTES_CODE, OPTIONAL_TOOLCHAIN,
};
use candor_suites::{Scorers, SelectError, Suite};

/// The seed of a run that names none, the CLI's as well (lm-evaluation-harness's default).
pub const DEFAULT_SEED: u64 = 1234;

/// The journal's file in a run's output folder.
pub const JOURNAL_FILE: &str = "journal.sqlite";
/// The cache's file in a `--cache` folder.
pub const CACHE_FILE: &str = "answers.sqlite";

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Journal(#[from] candor_journal::Error),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("nothing to evaluate: no suites, task files or tasks were given")]
    Empty,
    #[error("cannot run the code tasks' tests: {0}")]
    Execution(#[from] ExecutionError),
}

/// An evaluation of one model: suites, task files and tasks of your own, scored, journaled
/// and reported.
///
/// ```no_run
/// use std::sync::Arc;
/// use candor::{CandleModel, Evaluation, LoadOptions};
///
/// let model = Arc::new(CandleModel::load("default", &LoadOptions::default())?);
/// let result = Evaluation::new(model)
///     .suites(["xcopa", "truthfulqa_mc"])
///     .limit(20)
///     .output("results") // journal.sqlite while running, then report.json, samples.jsonl ...
///     .run()?;
/// println!("{}", candor::report::markdown(&result.report));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With [`Evaluation::output`] the run keeps a journal in that folder: every answered batch is
/// recorded as it arrives, and running the same evaluation into the same folder again resumes
/// it (a journal of another model, configuration or data is refused). [`Evaluation::cache`]
/// shares answers across runs and suites on the same model.
pub struct Evaluation {
    model: Arc<dyn LanguageModel>,
    suites: Vec<String>,
    task_paths: Vec<PathBuf>,
    own_tasks: Vec<Arc<dyn Task>>,
    scorers: Option<Scorers>,
    judge: Option<Arc<dyn LanguageModel>>,
    /// Runs the code tasks' programs (whatever scorers judge the rest).
    code: Arc<CodeExecutor>,
    data: Option<DataDir>,
    options: TaskOptions,
    requests_per_call: usize,
    progress: bool,
    output: Option<PathBuf>,
    cache: Option<PathBuf>,
}

/// What an evaluation produced.
pub struct Evaluated {
    pub report: Report,
    pub samples: Vec<ScoredSample>,
    /// Per-task and per-suite results with timings (also inside `report`).
    pub output: RunOutput,
}

impl Evaluated {
    /// Write `report.json`, `samples.jsonl` and `report.md` into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> Result<(), ReportError> {
        candor_report::write(dir, &self.report, &self.samples)
    }
}

impl Evaluation {
    pub fn new(model: Arc<dyn LanguageModel>) -> Self {
        Self {
            model,
            suites: Vec::new(),
            task_paths: Vec::new(),
            own_tasks: Vec::new(),
            scorers: None,
            judge: None,
            code: Arc::new(CodeExecutor::sandboxed()),
            data: None,
            options: TaskOptions {
                seed: DEFAULT_SEED,
                ..TaskOptions::default()
            },
            requests_per_call: RunConfig::default().requests_per_call,
            progress: false,
            output: None,
            cache: None,
        }
    }

    /// Suites by name: built in (`candor list`) or in the `CANDOR_TASKS` folders.
    pub fn suites<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.suites.extend(names.into_iter().map(Into::into));
        self
    }

    /// Every suite of a task file or folder of task files.
    pub fn task_files(mut self, path: impl Into<PathBuf>) -> Self {
        self.task_paths.push(path.into());
        self
    }

    /// Tasks of your own (see `examples/custom_task.rs`).
    pub fn tasks(mut self, tasks: impl IntoIterator<Item = Arc<dyn Task>>) -> Self {
        self.own_tasks.extend(tasks);
        self
    }

    /// What labels the safety suites' generated answers (default: the local detectors).
    pub fn scorers(mut self, scorers: Scorers) -> Self {
        self.code = scorers.code.clone();
        self.scorers = Some(scorers);
        self
    }

    /// A guard model (Llama Guard 3) that judges the safety suites' answers: its requests are
    /// batched and journaled like the evaluated model's.
    pub fn judge(mut self, judge: Arc<dyn LanguageModel>) -> Self {
        self.judge = Some(judge);
        self
    }

    /// Where the datasets are (default: [`DataDir::locate`]).
    pub fn data_dir(mut self, data: DataDir) -> Self {
        self.data = Some(data);
        self
    }

    /// Evaluate at most `n` documents per task.
    pub fn limit(mut self, n: usize) -> Self {
        self.options.limit = Some(n);
        self
    }

    /// Evaluate this share of each task's documents (rounded up).
    pub fn limit_fraction(mut self, share: f64) -> Self {
        self.options.limit_fraction = Some(share);
        self
    }

    /// Draw the evaluated documents at random with `seed` instead of taking the first ones.
    pub fn sample_seed(mut self, seed: u64) -> Self {
        self.options.sample_seed = Some(seed);
        self
    }

    /// Seed of few-shot draws and sampling.
    pub fn seed(mut self, seed: u64) -> Self {
        self.options.seed = seed;
        self
    }

    /// Few-shot examples per prompt, for tasks that support them.
    pub fn num_fewshot(mut self, k: usize) -> Self {
        self.options.num_fewshot = Some(k);
        self
    }

    /// Tokens generation tasks may produce.
    pub fn max_new_tokens(mut self, n: usize) -> Self {
        self.options.max_new_tokens = Some(n);
        self
    }

    /// Generations per prompt for tasks that sample (code tasks' pass@k; greedy when 1).
    pub fn samples(mut self, n: usize) -> Self {
        self.options.samples = Some(n);
        self
    }

    /// Run code tasks' programs on this machine under rlimits and seccomp only, without the
    /// sandbox's namespaces (for kernels without unprivileged user namespaces). The report
    /// records it (`code_execution: unisolated`).
    pub fn allow_unsandboxed_code(mut self, allow: bool) -> Self {
        if allow {
            self.code = Arc::new(CodeExecutor::unsandboxed());
        }
        self
    }

    /// All task options at once.
    pub fn options(mut self, options: TaskOptions) -> Self {
        self.options = options;
        self
    }

    /// Requests per model call, which is also what one journal transaction holds.
    pub fn requests_per_call(mut self, n: usize) -> Self {
        self.requests_per_call = n.max(1);
        self
    }

    /// Show progress on stderr (a bar on a terminal, log lines otherwise).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Keep the run's journal in `dir` and write the reports there when it ends.
    pub fn output(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = Some(dir.into());
        self
    }

    /// Share answers with other runs on the same model through the cache in `dir`.
    pub fn cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = Some(dir.into());
        self
    }

    /// The suites this evaluation will run, without running them (fails on an unknown suite
    /// name or a bad task file, before any model time is spent).
    pub fn selected(&self) -> Result<Vec<Suite>, EvaluateError> {
        let data = match &self.data {
            Some(d) => d.clone(),
            None => DataDir::locate(None)?,
        };
        if self.suites.is_empty() && self.task_paths.is_empty() && !self.own_tasks.is_empty() {
            // Only tasks of the caller's own: no default suites.
            return Ok(Vec::new());
        }
        Ok(candor_suites::select(
            &self.suites,
            &self.task_paths,
            &data,
            &self.active_scorers(),
        )?)
    }

    fn active_scorers(&self) -> Scorers {
        let scorers = match (&self.scorers, &self.judge) {
            (Some(s), _) => s.clone(),
            (None, Some(judge)) => {
                Scorers::judged_by(Arc::new(candor_safety::GuardJudge::new(Arc::clone(judge))))
            }
            (None, None) => Scorers::default(),
        };
        Scorers {
            code: Arc::clone(&self.code),
            ..scorers
        }
    }

    /// Run it: load every task, replay what the journal and cache hold, send the rest to the
    /// models in batches, score, and assemble the report (written to [`Evaluation::output`]
    /// if set).
    pub fn run(self) -> Result<Evaluated, EvaluateError> {
        if let Some(dir) = &self.output {
            candor_report::ensure_writable(dir)?;
        }
        let suites = self.selected()?;
        let mut tasks: Vec<Arc<dyn Task>> = suites.iter().flat_map(|s| s.tasks.clone()).collect();
        tasks.extend(self.own_tasks.iter().cloned());
        if tasks.is_empty() {
            return Err(EvaluateError::Empty);
        }
        // Model-written code runs only where the sandbox works (or the user said otherwise):
        // known before any model time is spent. A task whose language is optional (one of
        // HumanEval-X's) is left out where the host lacks that toolchain, and says so.
        let mut missing = Vec::new();
        for task in tasks
            .iter()
            .filter(|t| t.info().tags.iter().any(|tag| tag == EXECUTES_CODE))
        {
            let tags = &task.info().tags;
            for language in tags.iter().filter_map(|t| CodeLanguage::from_name(t)) {
                match self.code.check(language) {
                    Ok(()) => {}
                    Err(e @ ExecutionError::NoToolchain(..))
                        if tags.iter().any(|t| t == OPTIONAL_TOOLCHAIN) =>
                    {
                        eprintln!("note: {} is left out: {e}", task.info().name);
                        missing.push(task.info().name.clone());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        tasks.retain(|t| !missing.contains(&t.info().name));
        if tasks.is_empty() {
            return Err(EvaluateError::Empty);
        }
        let code_tasks: Vec<&Arc<dyn Task>> = tasks
            .iter()
            .filter(|t| t.info().tags.iter().any(|tag| tag == EXECUTES_CODE))
            .collect();
        let executes_code = !code_tasks.is_empty();
        let mut requested: Vec<String> = suites
            .iter()
            .map(|s| match s.origin.as_str() {
                "built-in" => s.name.clone(),
                origin => format!("{} ({origin})", s.name),
            })
            .collect();
        requested.extend(
            self.own_tasks
                .iter()
                .map(|t| format!("{} (library task)", t.info().name)),
        );
        let config = RunConfig {
            task: self.options.clone(),
            requests_per_call: self.requests_per_call,
            progress: self.progress,
        };
        let plan = plan(&tasks, &config.task)?;
        let record = self.model.describe();

        let journal = match &self.output {
            Some(dir) => {
                let identity = self.identity(&record, &config, &requested, &plan);
                Some(SqliteJournal::open_run(&dir.join(JOURNAL_FILE), &identity)?)
            }
            None => None,
        };
        let cache = match &self.cache {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
                    path: dir.clone(),
                    source,
                })?;
                Some(SqliteJournal::open_cache(&dir.join(CACHE_FILE))?)
            }
            None => None,
        };
        let journals: Vec<&dyn Journal> = journal
            .iter()
            .chain(cache.iter())
            .map(|j| j as &dyn Journal)
            .collect();
        let mut output = plan.run(self.model.as_ref(), &config, &journals)?;
        if let Some(j) = &journal {
            output.timings.resumes = j.stats()?.attempts.saturating_sub(1);
        }

        // Described again: a backend's counts (a server's retries) are known only now.
        let record = self.model.describe();
        let environment = Environment::current(&record.device, record.threads);
        let mut report = Report::new(record, requested, config, environment, &output);
        report.multilingual.fertility = fertility(self.model.as_ref(), &output);
        if executes_code {
            report.code_execution = Some(self.code.isolation().to_string());
        }
        let evaluated = Evaluated {
            report,
            samples: output.samples.clone(),
            output,
        };
        if let Some(dir) = &self.output {
            evaluated.write(dir)?;
        }
        Ok(evaluated)
    }

    /// Everything that decides this run's answers and samples; a journal of another identity
    /// is not this run's. Paths and the model's spec are left out: the same weights found
    /// elsewhere are the same model.
    fn identity(
        &self,
        record: &candor_core::ModelRecord,
        config: &RunConfig,
        requested: &[String],
        plan: &candor_core::runner::Plan,
    ) -> serde_json::Value {
        let scorers = self.active_scorers();
        let judge = self.judge.as_ref().map(|j| j.describe().identity());
        serde_json::json!({
            "harness": env!("CARGO_PKG_VERSION"),
            "model": {
                "identity": record.identity(),
                "batch_size": record.batch_size,
                "threads": record.threads,
            },
            "judge": judge,
            "scorers": {"harm": scorers.harm.name(), "toxicity": scorers.toxicity.name(), "code": scorers.code.isolation()},
            "options": config.task,
            "requests_per_call": config.requests_per_call,
            "suites": requested,
            "data": plan.data_files(),
        })
    }
}

/// Tokens per word and per byte of each language's prompts, with the model's tokenizer (a
/// sample's `language` group, else its task's only language). A diagnostic: empty for a model
/// that cannot count tokens, rather than failing a finished run.
fn fertility(
    model: &dyn LanguageModel,
    output: &RunOutput,
) -> Vec<candor_report::multilingual::Fertility> {
    let languages: std::collections::HashMap<&str, &str> = output
        .tasks
        .iter()
        .filter(|t| t.info.languages.len() == 1)
        .map(|t| (t.info.name.as_str(), t.info.languages[0].as_str()))
        .collect();
    let texts = output.samples.iter().filter_map(|s| {
        let lang = s
            .sample
            .groups
            .get("language")
            .map(String::as_str)
            .or_else(|| languages.get(s.task.as_str()).copied())?;
        Some((lang, s.sample.prompt.as_str()))
    });
    candor_report::multilingual::fertility(texts, |t| model.count_tokens(t).ok_or(()))
        .unwrap_or_default()
}
