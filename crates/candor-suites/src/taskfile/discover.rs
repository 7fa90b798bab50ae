//! Finding task files: a file, a `group:` file, or a folder of them (sub-folders in turn),
//! each made into suites.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candor_core::Scorer;
use candor_data::DataDir;

use super::compile::parse_task;
use super::config::GroupConfig;
use super::error::syntax;
use super::{as_tasks, Source, TaskFileError};
use crate::Suite;

/// Whether a YAML text is a `group:` file.
fn is_group(origin: &str, text: &str) -> Result<bool, TaskFileError> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| syntax(origin, &e))?;
    Ok(v.as_mapping().is_some_and(|m| m.contains_key("group")))
}

fn read(path: &Path) -> Result<String, TaskFileError> {
    std::fs::read_to_string(path).map_err(|source| TaskFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

fn is_task_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.contains(".manifest.")
}

/// A `group:` file's suite, and the task files it names.
fn load_group(
    path: &Path,
    text: &str,
    data: &DataDir,
    harm: &Arc<dyn Scorer>,
) -> Result<(Suite, Vec<PathBuf>), TaskFileError> {
    let origin = path.display().to_string();
    let g: GroupConfig = serde_yaml_ng::from_str(text).map_err(|e| syntax(&origin, &e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let members: Vec<PathBuf> = g.task.iter().map(|rel| dir.join(rel)).collect();
    let mut tasks = Vec::new();
    for file in &members {
        let text = read(file)?;
        let src = Source {
            origin: file.display().to_string(),
            text: &text,
            dir: file.parent(),
        };
        tasks.extend(parse_task(&src, &g.group, data, harm)?);
    }
    let suite = Suite {
        summary: g.summary.unwrap_or_else(|| format!("group {}", g.group)),
        name: g.group,
        origin,
        tasks: as_tasks(tasks),
    };
    Ok((suite, members))
}

/// Suites from a task file, a `group:` file, or a folder of them.
///
/// A task file on its own is a suite named after the file; a folder's task files form a suite
/// named after the folder (or one per `group:` file in it), and sub-folders are read in turn.
/// Files named `*.manifest.yaml` are dataset manifests, not tasks.
pub fn load(path: &Path, data: &DataDir) -> Result<Vec<Suite>, TaskFileError> {
    load_scored(path, data, &crate::Scorers::default())
}

/// [`load`], with `scorers.harm` (the refusal detector, or a guard judge) labelling the
/// answers of `safety: harmful` tasks.
pub fn load_scored(
    path: &Path,
    data: &DataDir,
    scorers: &crate::Scorers,
) -> Result<Vec<Suite>, TaskFileError> {
    let harm = &scorers.harm;
    if path.is_dir() {
        let mut suites = Vec::new();
        load_dir(path, data, harm, &mut suites, &mut Vec::new())?;
        if suites.is_empty() {
            return Err(TaskFileError::NoTaskFiles {
                path: path.display().to_string(),
            });
        }
        return Ok(suites);
    }
    let text = read(path)?;
    let origin = path.display().to_string();
    if is_group(&origin, &text)? {
        return Ok(vec![load_group(path, &text, data, harm)?.0]);
    }
    let name = stem(path);
    let src = Source {
        origin: origin.clone(),
        text: &text,
        dir: path.parent(),
    };
    let tasks = parse_task(&src, &name, data, harm)?;
    Ok(vec![Suite {
        summary: tasks
            .first()
            .map_or_else(String::new, |t| t.info.description.clone()),
        name,
        origin,
        tasks: as_tasks(tasks),
    }])
}

/// The suites of a folder and its sub-folders. `grouped` holds the files that `group:` files
/// (here or in a parent folder) already claimed, so that no task runs twice.
fn load_dir(
    dir: &Path,
    data: &DataDir,
    harm: &Arc<dyn Scorer>,
    out: &mut Vec<Suite>,
    grouped: &mut Vec<PathBuf>,
) -> Result<(), TaskFileError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| TaskFileError::Io {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let same_file = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut loose: Vec<(PathBuf, String)> = Vec::new();
    for path in entries.iter().filter(|p| p.is_file() && is_task_file(p)) {
        let text = read(path)?;
        if is_group(&path.display().to_string(), &text)? {
            let (suite, members) = load_group(path, &text, data, harm)?;
            grouped.extend(members.iter().map(|m| same_file(m)));
            out.push(suite);
        } else {
            loose.push((path.clone(), text));
        }
    }
    let name = stem(dir);
    let mut tasks = Vec::new();
    for (path, text) in &loose {
        if grouped.contains(&same_file(path)) {
            continue;
        }
        let src = Source {
            origin: path.display().to_string(),
            text,
            dir: Some(dir),
        };
        tasks.extend(parse_task(&src, &name, data, harm)?);
    }
    if !tasks.is_empty() {
        out.push(Suite {
            summary: tasks[0].info.description.clone(),
            name,
            origin: dir.display().to_string(),
            tasks: as_tasks(tasks),
        });
    }
    for sub in entries.iter().filter(|p| p.is_dir()) {
        load_dir(sub, data, harm, out, grouped)?;
    }
    Ok(())
}
