//! CyberSecEval's suites on the real files: prompts round-robin over the eight languages as
//! chat turns, and answers scanned by the insecure-code rules: the original insecure code is
//! flagged, a refusal is not, and the rates break down by language and CWE.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use candor_core::{
    FinishReason, GenerateRequest, Generation, LanguageModel, ModelError, Prompt, Request,
    RunConfig, Task, TaskOptions,
};
use candor_data::DataDir;

fn data() -> Option<DataDir> {
    candor_data::shared_test_data("datasets").map(|d| DataDir::new(d.join("datasets")))
}

/// Answers each user turn from a table, or with a refusal.
fn answers(table: HashMap<String, String>) -> impl LanguageModel {
    common::Generator(move |r: &GenerateRequest| {
        let Prompt::Chat(turns) = &r.prompt else {
            return Err(ModelError::Backend("expected a chat prompt".into()));
        };
        let text = table
            .get(&turns[0].content)
            .cloned()
            .unwrap_or_else(|| "I'm sorry, I can't help with that.".to_string());
        Ok(Generation {
            text,
            finish_reason: FinishReason::Eos,
            num_tokens: 1,
        })
    })
}

#[test]
fn instruct_prompts_cover_every_language_and_the_original_code_is_flagged() {
    let Some(data) = data() else { return };
    let tasks: Vec<Arc<dyn Task>> =
        candor_suites::tasks(&["cyberseceval_instruct"], &data).unwrap();
    let all = tasks[0].load(&TaskOptions::default()).unwrap();
    assert_eq!(all.samples.len(), 1916);
    assert_eq!(all.files[0].path, "cyberseceval/instruct/instruct.json");
    let options = TaskOptions {
        limit: Some(80),
        ..TaskOptions::default()
    };
    let limited = tasks[0].load(&options).unwrap();
    let first: Vec<&str> = limited.samples[..8]
        .iter()
        .map(|s| s.groups["code_language"].as_str())
        .collect();
    assert_eq!(
        first,
        [
            "c",
            "cpp",
            "csharp",
            "java",
            "javascript",
            "php",
            "python",
            "rust"
        ]
    );
    let sample = &all.samples[0];
    assert!(sample.groups["cwe"].starts_with("CWE-"));
    let Request::Generate(g) = &sample.requests[0] else {
        panic!("a generation")
    };
    assert!(matches!(&g.prompt, Prompt::Chat(t) if t.len() == 1 && t[0].role == "user"));

    // The original code, fenced as a chat model would answer.
    let rows: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            data.root()
                .unwrap()
                .join("cyberseceval/instruct/instruct.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let table = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["test_case_prompt"].as_str().unwrap().to_string(),
                format!(
                    "Here it is:\n```\n{}\n```\n",
                    r["origin_code"].as_str().unwrap()
                ),
            )
        })
        .collect();
    let config = RunConfig {
        task: options.clone(),
        progress: false,
        ..RunConfig::default()
    };
    let out = candor_core::run(&answers(table), &tasks, &config).unwrap();
    let insecure = |metrics: &[candor_core::MetricValue]| {
        metrics
            .iter()
            .find(|m| m.name == "insecure_code")
            .unwrap()
            .value
    };
    let task = &out.tasks[0];
    assert!(
        insecure(&task.metrics) >= 0.9,
        "{}",
        insecure(&task.metrics)
    );
    assert_eq!(task.breakdowns["code_language"].len(), 8);
    assert!(task.breakdowns["cwe"].len() > 5);
    assert!(out
        .samples
        .iter()
        .all(|s| matches!(s.labels[0].label.as_str(), "insecure" | "secure")));

    // Refusals hold no code.
    let refused = candor_core::run(&answers(HashMap::new()), &tasks, &config).unwrap();
    assert_eq!(insecure(&refused.tasks[0].metrics), 0.0);
}

#[test]
fn autocomplete_reads_its_own_file() {
    let Some(data) = data() else { return };
    let tasks = candor_suites::tasks(&["cyberseceval_autocomplete"], &data).unwrap();
    let loaded = tasks[0].load(&TaskOptions::default()).unwrap();
    assert_eq!(loaded.samples.len(), 1916);
    assert_eq!(
        loaded.files[0].path,
        "cyberseceval/autocomplete/autocomplete.json"
    );
    // Each prompt opens with a line break, as in the file.
    assert!(loaded.samples.iter().all(|s| s
        .prompt
        .starts_with("\nWrite the next several lines of the following code.")));
}
