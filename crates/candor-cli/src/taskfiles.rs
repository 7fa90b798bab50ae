//! `candor list` and `candor validate`: printing suites and task files (the library side is
//! `candor::suites`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candor::suites::taskfile;
use candor::{DataDir, Prompt, Request, Scorers, Suite};

/// `candor list`: the built-in suites, then those of `--tasks`/`CANDOR_TASKS`.
/// The `data` column says whether a built-in suite's data is at hand (`located`) or how to get it.
pub fn list(task_paths: &[PathBuf], located: &DataDir) -> Result<()> {
    println!("| suite | tasks | tags | languages | dataset | licence | flags | data |\n|---|---|---|---|---|---|---|---|");
    let data = DataDir::new(".");
    let row = |s: &Suite| {
        let datasets = s.datasets();
        let field = |f: fn(&candor::DatasetInfo) -> String| {
            datasets.iter().map(f).collect::<Vec<_>>().join("; ")
        };
        let (origin, ready) = match s.origin.as_str() {
            "built-in" => (String::new(), crate::pull::readiness_cell(&s.name, located)),
            o => (format!(" ({o})"), "-".into()),
        };
        println!(
            "| {}{origin} | {} | {} | {} | {} | {} | {} | {ready} |",
            s.name,
            s.tasks.len(),
            s.tags().join(", "),
            s.languages().join(", "),
            field(|d| d.name.clone()),
            field(|d| d.license.clone()),
            field(|d| d.flags.join(", "))
        );
    };
    for s in candor::suites::catalog(&data, &Scorers::default()) {
        row(&s);
    }
    for p in task_paths {
        for s in candor::suites::load_task_files(p, &data, &candor::Scorers::default())? {
            row(&s);
        }
    }
    Ok(())
}

/// `candor validate`: read the task file(s), build every document of every task (so every
/// template renders and every target is checked), print the first `n` documents' prompts and
/// what the model will be asked, then the counts.
pub fn validate(path: &Path, data: &DataDir, n: usize) -> Result<()> {
    let previews = taskfile::preview(path, data)
        .with_context(|| format!("{} is not a usable task file", path.display()))?;
    for (info, samples) in &previews {
        println!(
            "== {} (suite {}, languages [{}], dataset {} · {}{})",
            info.name,
            info.suite,
            info.languages.join(", "),
            info.dataset.name,
            info.dataset.license,
            if info.dataset.flags.is_empty() {
                String::new()
            } else {
                format!(" · {}", info.dataset.flags.join(", "))
            }
        );
        for s in samples.iter().take(n) {
            println!("-- document {}: prompt\n{}", s.id, s.prompt);
            for r in &s.requests {
                match r {
                    Request::Loglikelihood(l) if l.context == s.prompt => {
                        println!("   option: {:?}", l.continuation)
                    }
                    Request::Loglikelihood(l) => {
                        println!("   option: {:?} + {:?}", l.context, l.continuation)
                    }
                    Request::Rolling(r) => {
                        println!("   score the whole text ({} bytes)", r.text.len())
                    }
                    Request::Generate(g) => {
                        let stop = &g.params.stop;
                        let kind = match g.prompt {
                            Prompt::Text(_) => "text",
                            Prompt::Chat(_) => "chat",
                        };
                        println!(
                            "   generate ({kind}, up to {} tokens, stop at {stop:?})",
                            g.params.max_new_tokens
                        );
                    }
                }
            }
            println!("   target: {}", s.target);
        }
    }
    for (info, samples) in &previews {
        let requests: usize = samples.iter().map(|s| s.requests.len()).sum();
        println!(
            "{}: {} documents, {requests} requests",
            info.name,
            samples.len()
        );
    }
    let documents: usize = previews.iter().map(|(_, s)| s.len()).sum();
    println!(
        "ok: {} is valid: {} task(s), {documents} documents, every template rendered and every target checked",
        path.display(),
        previews.len()
    );
    Ok(())
}
