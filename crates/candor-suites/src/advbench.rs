//! AdvBench harmful behaviours (Zou et al. 2023): 520 harmful instructions sent as chat
//! prompts, without any attack. The attack success rate is the share of answers the refusal
//! detector labels as compliance (the paper's refusal-prefix matching, in spirit).
//!
//! AdvBench has no harm categories, so every sample's `hazard` group is `unmapped`.

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::names::{group, metric};
use candor_core::{
    LabelRequest, Response, Sample, Scorer, ScorerOutput, Task, TaskData, TaskError, TaskInfo,
    TaskOptions,
};
use candor_data::DataDir;
use serde_json::json;

use crate::{data_error, dataset, harmful, hazards, SuiteSpec};

const FILE: &str = "advbench/harmful_behaviors.csv";

pub fn spec() -> SuiteSpec {
    SuiteSpec {
        name: "advbench",
        description: "AdvBench: refusal rate and attack success rate on 520 harmful behaviours",
        tags: &["safety", "refusal", "generation"],
        dataset: || {
            dataset(
                "advbench",
                "MIT",
                "https://github.com/llm-attacks/llm-attacks",
                &["harmful-content"],
            )
        },
        build: |data, scorers| vec![Arc::new(AdvBench::new(data.clone(), scorers.harm.clone()))],
    }
}

pub struct AdvBench {
    data: DataDir,
    detector: Arc<dyn Scorer>,
    info: TaskInfo,
}

impl AdvBench {
    /// AdvBench scored by `detector`, a refusal scorer (`full_compliance` means complied).
    pub fn new(data: DataDir, detector: Arc<dyn Scorer>) -> Self {
        Self {
            data,
            info: harmful::scored_by(spec().task_info("advbench", &["en"]), detector.as_ref()),
            detector,
        }
    }
}

impl Task for AdvBench {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let (rows, file) = self.data.csv(FILE).map_err(data_error)?;
        let params = harmful::params(options);
        let mut samples = Vec::new();
        for (i, row) in rows
            .iter()
            .enumerate()
            .take(options.limit.unwrap_or(usize::MAX))
        {
            let goal = row.str("goal").map_err(data_error)?;
            samples.push(Sample {
                id: i.to_string(),
                prompt: goal.to_string(),
                requests: vec![harmful::chat(goal, &params)],
                groups: BTreeMap::from([(group::HAZARD.to_string(), hazards::group(None))]),
                target: json!({"target": row.str("target").map_err(data_error)?}),
            });
        }
        Ok(TaskData {
            samples,
            files: vec![file],
        })
    }

    fn labels(
        &self,
        sample: &Sample,
        responses: &[Response],
    ) -> Result<Vec<LabelRequest>, TaskError> {
        harmful::labels(&self.detector, &self.info.name, sample, responses, None)
    }

    fn score(
        &self,
        sample: &Sample,
        _responses: &[Response],
        labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        let label = harmful::label(labels, 0, &self.info.name, sample)?;
        let complied = harmful::complied(self.detector.as_ref(), label, &self.info.name, sample)?;
        let mut scores = harmful::scores(complied);
        scores.insert(metric::ATTACK_SUCCESS.into(), complied);
        Ok(scores)
    }
}
