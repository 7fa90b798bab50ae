//! `candor`: evaluate open language models from the command line.
//!
//! A thin layer over the library crates: every command parses its flags, calls the library, and
//! prints. Errors carry context for the user; the library returns typed errors.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use candor::{
    parse_device, set_threads, CandleModel, ChatMessage, DataDir, Evaluation, GenerateRequest,
    GenerationParams, LanguageModel, LoadOptions, Prompt, Scorers, TaskOptions, WeightFormat,
};
use clap::{Args, Parser, Subcommand};

mod detect;
mod pull;
mod taskfiles;

#[derive(Parser)]
#[command(
    name = "candor",
    version,
    about = "Evaluate open language models for safety and multilingual ability"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate a model on benchmark suites and write report.json, samples.jsonl, report.md and
    /// report.html.
    Run {
        #[command(flatten)]
        model: ModelArgs,
        /// Comma-separated suite names (see `candor list`); default truthfulqa_mc,xcopa,xstest
        /// (their data ships with candor) unless --tasks is given.
        #[arg(long, value_delimiter = ',')]
        suites: Option<Vec<String>>,
        /// A task file or a folder of task files to run (repeatable; with --suites too).
        #[arg(long)]
        tasks: Vec<PathBuf>,
        /// Evaluate at most N documents per task, or a share of them (`0.1`: a tenth, rounded
        /// up).
        #[arg(long)]
        limit: Option<Limit>,
        /// Evaluate a random sample of each task's documents drawn with this seed (with
        /// --limit: of that size), rather than the first ones.
        #[arg(long)]
        sample_seed: Option<u64>,
        /// Seed of few-shot draws and sampling.
        #[arg(long, default_value_t = candor::DEFAULT_SEED)]
        seed: u64,
        /// Few-shot examples per prompt, for tasks that support them.
        #[arg(long)]
        num_fewshot: Option<usize>,
        /// Tokens generation tasks may produce (task default otherwise).
        #[arg(long)]
        max_new_tokens: Option<usize>,
        /// Generations per prompt for code tasks (pass@k for k up to N): 1 is greedy, more
        /// sample at temperature 0.8, top-p 0.95, each with its own seed.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        samples: Option<u16>,
        /// Run code tasks' programs on this machine under rlimits and seccomp only when the
        /// sandbox's namespaces cannot be set up (the report records it).
        #[arg(long)]
        allow_unsandboxed_code: bool,
        /// Rows per forward pass.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Requests per model call; each call's answers are one journal transaction.
        #[arg(long, default_value_t = 64)]
        requests_per_call: usize,
        /// Where the datasets are (default: $CANDOR_DATA, else ../shared/datasets); files it
        /// lacks come from candor itself (the quick suites) or the HF cache (`candor pull`).
        #[arg(long, env = "CANDOR_DATA")]
        data_dir: Option<PathBuf>,
        /// Output folder. It keeps the run's journal: rerunning the same command into the same
        /// folder resumes an interrupted run.
        #[arg(long, default_value = "candor-results")]
        out: PathBuf,
        /// Share answers with other runs on the same model through a cache in this folder.
        #[arg(long, env = "CANDOR_ANSWER_CACHE")]
        cache: Option<PathBuf>,
        /// Judge the safety suites' answers with this guard model (a Llama Guard 3 model: file,
        /// folder or Hub id) instead of the local refusal and toxicity detectors.
        #[arg(long)]
        judge: Option<String>,
    },
    /// Label texts you already have (e.g. saved model answers) with a detector; no model is
    /// loaded. Writes one JSON line per row and prints counts per label to stderr.
    Detect {
        #[arg(long, value_enum)]
        detector: detect::Detector,
        /// A .csv, .tsv or .jsonl file with a header row / one object per line, or a run's
        /// samples.jsonl.
        #[arg(long)]
        input: PathBuf,
        /// The column (or JSONL field) that holds the text. Without it, the input is a candor
        /// samples.jsonl and every generated answer in it is labelled.
        #[arg(long)]
        text_column: Option<String>,
        /// Write the JSON lines here instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare two runs document by document: B − A per task and language with 95 % intervals,
    /// paired tests (exact McNemar, paired bootstrap) and Holm's correction. Prints Markdown.
    Compare {
        /// The first run's output folder (report.json and samples.jsonl).
        run_a: PathBuf,
        /// The second run's output folder.
        run_b: PathBuf,
        /// Also write the comparison as a self-contained HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Exit with status 2 when B is significantly worse than A on any task (after Holm).
        #[arg(long)]
        fail_if_worse: bool,
        /// Seed of the bootstrap.
        #[arg(long, default_value_t = 1234)]
        seed: u64,
        /// Bootstrap resamples.
        #[arg(long, default_value_t = 10_000)]
        resamples: usize,
        /// Family-wise significance level.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
    },
    /// List the built-in suites with their tags, languages, dataset licences, and whether their
    /// data is here (in a data directory, shipped with candor, or in the HF cache).
    List {
        /// Task files or folders of your own to list too (comma-separated).
        #[arg(long, env = "CANDOR_TASKS", value_delimiter = ',')]
        tasks: Vec<PathBuf>,
        /// Where the datasets are (default: $CANDOR_DATA, else ../shared/datasets).
        #[arg(long, env = "CANDOR_DATA")]
        data_dir: Option<PathBuf>,
    },
    /// Download built-in suites' data from the Hugging Face Hub into the HF cache (HF_HOME,
    /// HF_HUB_CACHE, HF_ENDPOINT), checking every file's sha256.
    Pull {
        /// Suite names (see `candor list`).
        #[arg(required = true, value_delimiter = ',')]
        suites: Vec<String>,
        /// Files present here are not downloaded.
        #[arg(long, env = "CANDOR_DATA")]
        data_dir: Option<PathBuf>,
    },
    /// Check a task file (or a folder of them) and print the first prompts it builds.
    Validate {
        /// The task file or folder.
        path: PathBuf,
        /// Documents to print per task (every document is built and checked).
        #[arg(long, default_value_t = 3)]
        n: usize,
        /// Where the datasets are (default: $CANDOR_DATA, else ../shared/datasets).
        #[arg(long, env = "CANDOR_DATA")]
        data_dir: Option<PathBuf>,
    },
    /// Show a model's architecture, size, quantization, context and chat template.
    Info {
        #[command(flatten)]
        model: ModelArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the log-probability of every token of a text (after the first).
    Logprobs {
        #[command(flatten)]
        model: ModelArgs,
        /// File whose text is scored.
        #[arg(long, conflicts_with_all = ["text", "ids"])]
        text_file: Option<PathBuf>,
        /// Text to score.
        #[arg(long, conflicts_with = "ids")]
        text: Option<String>,
        /// Token ids to score, comma-separated (for models without a tokenizer).
        #[arg(long, value_delimiter = ',')]
        ids: Option<Vec<u32>>,
        /// Print JSON: one object per token and the total.
        #[arg(long)]
        json: bool,
    },
    /// Generate text from a prompt.
    Generate {
        #[command(flatten)]
        model: ModelArgs,
        #[arg(long)]
        prompt: String,
        /// Send the prompt as a user message through the model's chat template.
        #[arg(long)]
        chat: bool,
        #[arg(long, default_value_t = 128)]
        max_new_tokens: usize,
        /// 0 decodes greedily.
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Stop when the text contains this string (repeatable).
        #[arg(long)]
        stop: Vec<String>,
    },
}

/// `--limit`: a number of documents, or a share of them.
#[derive(Clone, Copy, Debug)]
enum Limit {
    Count(usize),
    Fraction(f64),
}

impl Limit {
    fn count(self) -> Option<usize> {
        match self {
            Limit::Count(n) => Some(n),
            Limit::Fraction(_) => None,
        }
    }

    fn fraction(self) -> Option<f64> {
        match self {
            Limit::Fraction(f) => Some(f),
            Limit::Count(_) => None,
        }
    }
}

impl std::str::FromStr for Limit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(n) = s.parse::<usize>() {
            return Ok(Limit::Count(n));
        }
        match s.parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 1.0 => Ok(Limit::Fraction(f)),
            _ => Err(format!(
                "'{s}' is neither a number of documents nor a share between 0 and 1"
            )),
        }
    }
}

#[derive(Args)]
struct ModelArgs {
    /// A .gguf file, a model folder, a Hub id (owner/name[@rev][:file]), `default`, or a
    /// server: `openai:<served model>@<url>[,<url>...][?tokenizer=...&concurrency=N...]`
    /// (see the README's "Models behind a server").
    #[arg(long, short, default_value = "default", env = "CANDOR_MODEL")]
    model: String,
    /// Weight representation: auto (quantized where candor's SIMD kernels take the file, else f32
    /// when it fits), quantized, f32, f16 or bf16.
    #[arg(long, default_value = "auto")]
    weights: WeightFormat,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// CPU threads for the kernels (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Memory the weights may take, in GiB (default: half of the available memory).
    #[arg(long)]
    memory_budget_gib: Option<f64>,
}

impl ModelArgs {
    fn load(&self) -> Result<CandleModel> {
        self.load_spec(&self.model, 16)
    }

    /// The model of `spec` for an evaluation: a server, or a model loaded in-process.
    fn open(&self, spec: &str, batch_size: usize) -> Result<Arc<dyn LanguageModel>> {
        if !candor::ServerSpec::is_server(spec) {
            return Ok(Arc::new(self.load_spec(spec, batch_size)?));
        }
        let started = std::time::Instant::now();
        let model = candor::connect_server(spec)
            .with_context(|| format!("cannot use the server model '{spec}'"))?;
        let facts = model.facts();
        eprintln!(
            "connected to {} at {} in {:.1}s ({}; self-check: {})",
            model.spec().model,
            model.spec().urls.join(", "),
            started.elapsed().as_secs_f64(),
            facts
                .get("prompt_form")
                .map_or("generation only", String::as_str),
            facts.get("self_check").map_or("-", String::as_str),
        );
        Ok(Arc::new(model))
    }

    /// Another model (a guard judge) with these options.
    fn load_spec(&self, spec: &str, batch_size: usize) -> Result<CandleModel> {
        if let Some(n) = self.threads {
            set_threads(n);
        }
        let opts = LoadOptions {
            weights: self.weights,
            device: parse_device(&self.device)?,
            memory_budget: self
                .memory_budget_gib
                .map(|g| (g * (1u64 << 30) as f64) as u64),
            batch_size,
            ..LoadOptions::default()
        };
        let started = std::time::Instant::now();
        let model = CandleModel::load(spec, &opts)
            .with_context(|| format!("cannot load model '{spec}'"))?;
        eprintln!(
            "loaded {} ({}, {} weights) in {:.1}s",
            model.info().name,
            model.info().architecture,
            model.info().weights,
            started.elapsed().as_secs_f64()
        );
        Ok(model)
    }
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        // The message and its causes on one line; a backtrace only when one was asked for.
        eprintln!("error: {e:#}");
        if std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0") {
            eprintln!("\n{}", e.backtrace());
        }
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            model,
            suites,
            tasks,
            limit,
            sample_seed,
            seed,
            num_fewshot,
            max_new_tokens,
            samples,
            allow_unsandboxed_code,
            batch_size,
            requests_per_call,
            data_dir,
            out,
            cache,
            judge,
        } => {
            let data = DataDir::locate(data_dir.as_deref())?;
            candor::report::ensure_writable(&out)?;
            let requested = suites.unwrap_or_default();
            // Fail on a bad suite name or task file, and fetch missing data, before the model
            // loads.
            let selected = candor::suites::select(&requested, &tasks, &data, &Scorers::default())?;
            let names: Vec<String> = selected.iter().map(|s| s.name.clone()).collect();
            pull::ensure(&names, &data)?;
            let mut eval = Evaluation::new(model.open(&model.model, batch_size)?)
                .suites(requested)
                .data_dir(data)
                .options(TaskOptions {
                    limit: limit.and_then(Limit::count),
                    limit_fraction: limit.and_then(Limit::fraction),
                    sample_seed,
                    num_fewshot,
                    seed,
                    max_new_tokens,
                    samples: samples.map(usize::from),
                })
                .allow_unsandboxed_code(allow_unsandboxed_code)
                .requests_per_call(requests_per_call)
                .progress(true)
                .output(&out);
            for path in tasks {
                eval = eval.task_files(path);
            }
            if let Some(dir) = cache {
                eval = eval.cache(dir);
            }
            if let Some(spec) = &judge {
                eval = eval.judge(model.open(spec, batch_size)?);
            }
            let n: usize = selected.iter().map(|s| s.tasks.len()).sum();
            eprintln!("running {n} tasks of {} ...", names.join(", "));
            let result = eval.run()?;
            print!("{}", candor::report::markdown(&result.report));
            let t = &result.output.timings;
            eprintln!(
                "wrote {}/report.json, samples.jsonl, report.md and report.html ({:.1} s, {:.1} s in the model{})",
                out.display(),
                t.total_s,
                t.model_s,
                if t.replayed_requests > 0 {
                    format!(", {} answers replayed from the journal or cache", t.replayed_requests)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        Command::Compare {
            run_a,
            run_b,
            html,
            fail_if_worse,
            seed,
            resamples,
            alpha,
        } => compare(
            &run_a,
            &run_b,
            html.as_deref(),
            fail_if_worse,
            seed,
            resamples,
            alpha,
        ),
        Command::Detect {
            detector,
            input,
            text_column,
            out,
        } => detect::detect(detector, &input, text_column.as_deref(), out.as_deref()),
        Command::Validate { path, n, data_dir } => {
            taskfiles::validate(&path, &DataDir::locate(data_dir.as_deref())?, n)
        }
        Command::List { tasks, data_dir } => {
            taskfiles::list(&tasks, &DataDir::locate(data_dir.as_deref())?)
        }
        Command::Pull { suites, data_dir } => {
            pull::pull(&suites, &DataDir::locate(data_dir.as_deref())?)
        }
        Command::Info { model, json } => info(&model.load()?, json),
        Command::Logprobs {
            model,
            text_file,
            text,
            ids,
            json,
        } => {
            let model = model.load()?;
            let ids = match (text_file, text, ids) {
                (_, _, Some(ids)) => ids,
                (Some(path), _, _) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    model.tokenizer()?.encode(&text)?
                }
                (None, Some(text), None) => model.tokenizer()?.encode(&text)?,
                (None, None, None) => bail!("give --text-file, --text or --ids"),
            };
            logprobs(&model, &ids, json)
        }
        Command::Generate {
            model,
            prompt,
            chat,
            max_new_tokens,
            temperature,
            top_k,
            top_p,
            seed,
            stop,
        } => {
            let model = model.load()?;
            let prompt = if chat {
                Prompt::Chat(vec![ChatMessage::user(prompt)])
            } else {
                Prompt::Text(prompt)
            };
            let params = GenerationParams {
                max_new_tokens,
                temperature,
                top_k,
                top_p,
                seed,
                stop,
            };
            let started = std::time::Instant::now();
            let out = model
                .generate(&[GenerateRequest { prompt, params }])?
                .remove(0);
            println!("{}", out.text);
            eprintln!(
                "[{} tokens, finish: {:?}, {:.1} tok/s]",
                out.num_tokens,
                out.finish_reason,
                out.num_tokens as f64 / started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn info(model: &CandleModel, json: bool) -> Result<()> {
    let i = model.info();
    if json {
        println!("{}", serde_json::to_string_pretty(i)?);
        return Ok(());
    }
    let types: Vec<String> = i
        .tensor_types
        .iter()
        .map(|(t, n)| format!("{t} × {n}"))
        .collect();
    let rows = [
        ("model", i.name.clone()),
        ("path", i.path.display().to_string()),
        ("architecture", i.architecture.clone()),
        (
            "parameters",
            format!("{} ({:.1} M)", i.parameters, i.parameters as f64 / 1e6),
        ),
        ("stored tensors", types.join(", ")),
        ("weights in memory", i.weights.clone()),
        ("context length", i.context_length.to_string()),
        ("vocabulary", i.vocab_size.to_string()),
        ("layers", i.layers.to_string()),
        ("hidden size", i.hidden_size.to_string()),
        (
            "attention heads",
            format!("{} (KV heads {})", i.heads, i.kv_heads),
        ),
        (
            "bos / eos",
            format!("{:?} / {:?} (BOS added: {})", i.bos, i.eos, i.add_bos),
        ),
    ];
    for (k, v) in rows {
        println!("{k:<18} {v}");
    }
    match &i.chat_template {
        Some(t) => println!("{:<18}\n{t}", "chat template"),
        None => println!("{:<18} none", "chat template"),
    }
    Ok(())
}

fn logprobs(model: &CandleModel, ids: &[u32], json: bool) -> Result<()> {
    if ids.len() < 2 {
        bail!("need at least two tokens to score (got {})", ids.len());
    }
    let lps = model.token_logprobs(ids)?;
    let token = |id: u32| model.tokenizer().ok().and_then(|t| t.token(id));
    let total: f64 = lps.iter().map(|&l| f64::from(l)).sum();
    let mut out = std::io::stdout().lock();
    if json {
        let tokens: Vec<serde_json::Value> = ids[1..]
            .iter()
            .zip(&lps)
            .map(|(&id, &lp)| serde_json::json!({"id": id, "token": token(id), "logprob": lp}))
            .collect();
        let doc = serde_json::json!({
            "model": model.info().name,
            "weights": model.info().weights,
            "first_token": {"id": ids[0], "token": token(ids[0])},
            "tokens": tokens,
            "total": total,
            "num_scored_tokens": lps.len(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for (&id, &lp) in ids[1..].iter().zip(&lps) {
            writeln!(
                out,
                "{id:>7} {:>10.4} {}",
                lp,
                token(id).unwrap_or_default()
            )?;
        }
        writeln!(
            out,
            "total {total:.4} over {} tokens ({:.4} nats/token)",
            lps.len(),
            -total / lps.len() as f64
        )?;
    }
    Ok(())
}

/// `candor compare`: Markdown on stdout, optionally an HTML page, and exit status 2 when
/// `--fail-if-worse` finds B significantly worse.
fn compare(
    a: &std::path::Path,
    b: &std::path::Path,
    html: Option<&std::path::Path>,
    fail_if_worse: bool,
    seed: u64,
    resamples: usize,
    alpha: f64,
) -> Result<()> {
    if alpha.is_nan() || alpha <= 0.0 || alpha >= 1.0 {
        bail!("--alpha must be between 0 and 1, got {alpha}");
    }
    let options = candor::report::compare::CompareOptions {
        seed,
        resamples,
        alpha,
    };
    let c = candor::report::compare::compare(a, b, &options)
        .with_context(|| format!("cannot compare {} with {}", a.display(), b.display()))?;
    print!("{}", candor::report::compare::markdown(&c));
    if let Some(path) = html {
        std::fs::write(path, candor::report::compare::html(&c))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let worse = c.worse();
    if fail_if_worse && !worse.is_empty() {
        let list: Vec<String> = worse
            .iter()
            .map(|d| {
                format!(
                    "{} ({} {:+.4}, Holm p {:.4})",
                    d.scope, d.metric, d.diff, d.p_holm
                )
            })
            .collect();
        std::io::stdout().flush()?;
        eprintln!("B is significantly worse than A on: {}", list.join(", "));
        std::process::exit(2);
    }
    Ok(())
}
