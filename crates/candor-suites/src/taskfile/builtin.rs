//! The task files, dataset manifests and the quick suites' data that candor ships, compiled into
//! the binary so that an installed `candor` finds them wherever it runs. The sources live in the
//! repository's `tasks/` and `datasets/` folders (`datasets/shipped/`: gzip files, with the
//! licences; `NOTICE` lists them).

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
    (
        "advbench/advbench.yaml",
        include_str!("../../../../tasks/advbench/advbench.yaml"),
    ),
    (
        "do_not_answer/do_not_answer.yaml",
        include_str!("../../../../tasks/do_not_answer/do_not_answer.yaml"),
    ),
    (
        "multijail/multijail.yaml",
        include_str!("../../../../tasks/multijail/multijail.yaml"),
    ),
    (
        "xstest/xstest.yaml",
        include_str!("../../../../tasks/xstest/xstest.yaml"),
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
    (
        "truthfulqa",
        include_str!("../../../../datasets/truthfulqa.yaml"),
    ),
    ("xstest", include_str!("../../../../datasets/xstest.yaml")),
    (
        "multijail",
        include_str!("../../../../datasets/multijail.yaml"),
    ),
    (
        "advbench",
        include_str!("../../../../datasets/advbench.yaml"),
    ),
    (
        "do_not_answer",
        include_str!("../../../../datasets/do_not_answer.yaml"),
    ),
    ("bbq", include_str!("../../../../datasets/bbq.yaml")),
    (
        "humaneval",
        include_str!("../../../../datasets/humaneval.yaml"),
    ),
    ("mbpp", include_str!("../../../../datasets/mbpp.yaml")),
    (
        "humaneval_x",
        include_str!("../../../../datasets/humaneval_x.yaml"),
    ),
    (
        "cyberseceval",
        include_str!("../../../../datasets/cyberseceval.yaml"),
    ),
    (
        "crows_pairs",
        include_str!("../../../../datasets/crows_pairs.yaml"),
    ),
    ("toxigen", include_str!("../../../../datasets/toxigen.yaml")),
];

/// `datasets/shipped/<path>.gz` for a data-dir-relative path, compiled in.
macro_rules! shipped {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../../../../datasets/shipped/", $path, ".gz")))),*]
    };
}

/// (data-dir path, gzip bytes) of the data that ships: the quick suites' (truthfulqa_mc, xcopa,
/// xstest), about 550 kB compressed. Their sha256 are in the manifests.
pub(crate) const SHIPPED: &[(&str, &[u8])] = shipped![
    "truthfulqa/data/mc_task.json",
    "xstest/xstest_prompts.csv",
    "xcopa/data/et/test.et.jsonl",
    "xcopa/data/et/val.et.jsonl",
    "xcopa/data/ht/test.ht.jsonl",
    "xcopa/data/ht/val.ht.jsonl",
    "xcopa/data/id/test.id.jsonl",
    "xcopa/data/id/val.id.jsonl",
    "xcopa/data/it/test.it.jsonl",
    "xcopa/data/it/val.it.jsonl",
    "xcopa/data/qu/test.qu.jsonl",
    "xcopa/data/qu/val.qu.jsonl",
    "xcopa/data/sw/test.sw.jsonl",
    "xcopa/data/sw/val.sw.jsonl",
    "xcopa/data/ta/test.ta.jsonl",
    "xcopa/data/ta/val.ta.jsonl",
    "xcopa/data/th/test.th.jsonl",
    "xcopa/data/th/val.th.jsonl",
    "xcopa/data/tr/test.tr.jsonl",
    "xcopa/data/tr/val.tr.jsonl",
    "xcopa/data/vi/test.vi.jsonl",
    "xcopa/data/vi/val.vi.jsonl",
    "xcopa/data/zh/test.zh.jsonl",
    "xcopa/data/zh/val.zh.jsonl",
];

pub(crate) fn manifest(name: &str) -> Option<&'static str> {
    MANIFESTS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

pub(crate) fn manifest_names() -> Vec<&'static str> {
    MANIFESTS.iter().map(|(n, _)| *n).collect()
}

/// The suites written as task files that candor ships, reading from `data`; `scorers.harm`
/// labels the answers of their harmful prompts.
pub fn builtin_suites(
    data: &DataDir,
    scorers: &crate::Scorers,
) -> Result<Vec<Suite>, TaskFileError> {
    let mut suites: Vec<Suite> = Vec::new();
    for (path, text) in TASK_FILES {
        let suite = path.split('/').next().unwrap_or(path);
        let src = Source {
            origin: format!("tasks/{path}"),
            text,
            dir: None,
        };
        let tasks = parse_task(&src, suite, data, &scorers.harm)?;
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
