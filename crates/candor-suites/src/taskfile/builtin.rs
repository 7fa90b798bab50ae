//! The task files and dataset manifests candor ships, compiled into the binary so that an
//! installed `candor` finds them wherever it runs. The sources live in the repository's
//! `tasks/` and `datasets/` folders.

use candor_data::DataDir;

use super::{as_tasks, parse_task, Source, TaskFileError};
use crate::Suite;

/// (suite/file, text) of every built-in task file; the suite is the folder.
const TASK_FILES: &[(&str, &str)] = &[
    (
        "xcopa/xcopa.yaml",
        include_str!("../../../../tasks/xcopa/xcopa.yaml"),
    ),
    (
        "xwinograd/xwinograd.yaml",
        include_str!("../../../../tasks/xwinograd/xwinograd.yaml"),
    ),
    (
        "mgsm/mgsm_direct.yaml",
        include_str!("../../../../tasks/mgsm/mgsm_direct.yaml"),
    ),
    (
        "truthfulqa_multi/mc1.yaml",
        include_str!("../../../../tasks/truthfulqa_multi/mc1.yaml"),
    ),
    (
        "truthfulqa_multi/mc2.yaml",
        include_str!("../../../../tasks/truthfulqa_multi/mc2.yaml"),
    ),
];

/// (name, text) of every built-in dataset manifest.
const MANIFESTS: &[(&str, &str)] = &[
    ("xcopa", include_str!("../../../../datasets/xcopa.yaml")),
    (
        "xwinograd",
        include_str!("../../../../datasets/xwinograd.yaml"),
    ),
    ("mgsm", include_str!("../../../../datasets/mgsm.yaml")),
    (
        "truthfulqa_multi",
        include_str!("../../../../datasets/truthfulqa_multi.yaml"),
    ),
];

pub(crate) fn manifest(name: &str) -> Option<&'static str> {
    MANIFESTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub(crate) fn manifest_names() -> Vec<&'static str> {
    MANIFESTS.iter().map(|(n, _)| *n).collect()
}

/// The suites written as task files that candor ships, reading from `data`.
pub fn builtin_suites(data: &DataDir) -> Result<Vec<Suite>, TaskFileError> {
    let mut suites: Vec<Suite> = Vec::new();
    for (path, text) in TASK_FILES {
        let suite = path.split('/').next().unwrap_or(path);
        let src = Source {
            origin: format!("tasks/{path}"),
            text,
            dir: None,
        };
        let tasks = parse_task(&src, suite, data)?;
        match suites.iter_mut().find(|s| s.name == suite) {
            Some(s) => s.tasks.extend(as_tasks(tasks)),
            None => suites.push(Suite {
                name: suite.to_string(),
                summary: tasks
                    .first()
                    .map_or_else(String::new, |t| t.info.description.clone()),
                origin: "built-in".into(),
                tasks: as_tasks(tasks),
            }),
        }
    }
    Ok(suites)
}
