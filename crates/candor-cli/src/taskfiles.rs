//! `--tasks`, `candor validate` and the task-file rows of `candor list`: the CLI side of
//! benchmarks written as task files (the library side is `candor::suites::taskfile`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use candor::suites::taskfile::{self, FileSuite};
use candor::suites::Scorers;
use candor::{DataDir, Prompt, Request, Task};

/// The tasks to run, and what the report lists as requested.
type Selection = (Vec<Arc<dyn Task>>, Vec<String>);

/// The suites asked for by `--suites` (built in, or in `CANDOR_TASKS` folders) plus every
/// task of the `--tasks` files and folders; the built-in default when neither is given.
pub fn select(
    suites: Option<&[String]>,
    task_paths: &[PathBuf],
    data: &DataDir,
    scorers: &Scorers,
) -> Result<Selection> {
    let names: Vec<&str> = match suites {
        Some(s) => s
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect(),
        None if task_paths.is_empty() => candor::suites::DEFAULT_SUITES.to_vec(),
        None => Vec::new(),
    };
    let mut tasks = Vec::new();
    let mut requested = Vec::new();
    for name in names {
        match candor::suites::tasks_scored_by(&[name], data, scorers) {
            Ok(t) => tasks.extend(t),
            Err(unknown) => {
                // A suite of a folder in CANDOR_TASKS.
                let user = user_suites(&env_task_paths(), data)?;
                let suite = user.into_iter().find(|s| s.name == name).ok_or(unknown)?;
                tasks.extend(suite.tasks());
            }
        }
        requested.push(name.to_string());
    }
    for path in task_paths {
        for suite in load(path, data)? {
            tasks.extend(suite.tasks());
            requested.push(format!("{} ({})", suite.name, path.display()));
        }
    }
    Ok((tasks, requested))
}

/// `CANDOR_TASKS`: task files or folders, comma-separated.
fn env_task_paths() -> Vec<PathBuf> {
    std::env::var("CANDOR_TASKS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

fn load(path: &Path, data: &DataDir) -> Result<Vec<FileSuite>> {
    taskfile::load(path, data)
        .with_context(|| format!("cannot use task file(s) {}", path.display()))
}

fn user_suites(paths: &[PathBuf], data: &DataDir) -> Result<Vec<FileSuite>> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(load(p, data)?);
    }
    Ok(out)
}

/// Rows of `candor list` for the built-in task-file suites and the user's.
pub fn list_rows(task_paths: &[PathBuf], located: &DataDir) -> Result<()> {
    let data = DataDir::new(".");
    let row = |s: &FileSuite, origin: &str| {
        let datasets = s.datasets();
        let field = |f: fn(&candor::DatasetInfo) -> String| {
            datasets.iter().map(f).collect::<Vec<_>>().join("; ")
        };
        let ready = match origin {
            "" => crate::pull::readiness_cell(&s.name, located),
            _ => "-".into(),
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
    for s in candor::suites::file_suites(&data) {
        row(&s, "");
    }
    for p in task_paths {
        for s in load(p, &data)? {
            row(&s, &format!(" ({})", p.display()));
        }
    }
    Ok(())
}

/// `candor validate`: read the task file(s), build the first `n` documents of every task,
/// and print their prompts and what the model will be asked.
pub fn validate(path: &Path, data: &DataDir, n: usize) -> Result<()> {
    let previews = taskfile::preview(path, data, n)
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
        for s in samples {
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
    let tasks: usize = previews.len();
    println!("ok: {} is valid ({tasks} task(s))", path.display());
    Ok(())
}
