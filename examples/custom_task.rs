//! A task written in Rust, for what a task file cannot express: here, cross-lingual
//! consistency. Each XCOPA item is asked twice, in Swahili and in its English translation
//! (XCOPA's `data-gmt`), and the task scores not only accuracy in each language but whether
//! the model picks the same alternative in both: a metric over two documents' answers, which
//! a task file (one document, one set of requests) has no way to say.
//!
//! `cargo run --release --example custom_task` (data: `$CANDOR_DATA` or `../shared/datasets`)

use std::collections::BTreeMap;
use std::sync::Arc;

use candor::{
    CandleModel, DataDir, DatasetInfo, Evaluation, LoadOptions, LoglikelihoodRequest, Request,
    Response, Sample, ScorerOutput, Task, TaskData, TaskError, TaskInfo, TaskOptions,
};

struct Consistency {
    data: DataDir,
    lang: &'static str,
    /// The language's "because" and "therefore", as XCOPA joins premise and alternative.
    connectives: (&'static str, &'static str),
    info: TaskInfo,
}

/// Premise + connective, and the two alternatives as continuations.
fn prompt(
    row: &candor::Row,
    (because, therefore): (&str, &str),
) -> Result<(String, [String; 2]), TaskError> {
    let field = |f: &str| row.str(f).map_err(TaskError::data);
    let premise = field("premise")?.trim().trim_end_matches('.');
    let connective = if field("question")? == "cause" {
        because
    } else {
        therefore
    };
    let lower = |s: &str| {
        let mut c = s.chars();
        c.next()
            .map_or(String::new(), |f| f.to_lowercase().chain(c).collect())
    };
    Ok((
        format!("{premise} {connective}"),
        [
            format!(" {}", lower(field("choice1")?)),
            format!(" {}", lower(field("choice2")?)),
        ],
    ))
}

impl Task for Consistency {
    fn info(&self) -> &TaskInfo {
        &self.info
    }

    fn load(&self, options: &TaskOptions) -> Result<TaskData, TaskError> {
        let lang = self.lang;
        let read = |dir: &str| {
            self.data
                .jsonl(&format!("xcopa/{dir}/{lang}/test.{lang}.jsonl"))
                .map_err(TaskError::data)
        };
        let (native, f1) = read("data")?;
        let (english, f2) = read("data-gmt")?;
        let mut samples = Vec::new();
        for (n, e) in native
            .iter()
            .zip(&english)
            .take(options.limit.unwrap_or(usize::MAX))
        {
            let (ctx_n, alts_n) = prompt(n, self.connectives)?;
            let (ctx_e, alts_e) = prompt(e, ("because", "therefore"))?;
            let mut requests = Vec::new();
            for (ctx, alts) in [(&ctx_n, &alts_n), (&ctx_e, &alts_e)] {
                for alt in alts {
                    requests.push(Request::Loglikelihood(LoglikelihoodRequest::new(
                        ctx.as_str(),
                        alt.as_str(),
                    )));
                }
            }
            samples.push(Sample {
                id: n.line.to_string(),
                prompt: format!("{ctx_n} | {ctx_e}"),
                requests,
                groups: BTreeMap::new(),
                target: serde_json::json!({"gold": n.int("label").map_err(TaskError::data)?}),
            });
        }
        Ok(TaskData {
            samples,
            files: vec![f1, f2],
        })
    }

    fn score(
        &self,
        sample: &Sample,
        responses: &[Response],
        _labels: &[ScorerOutput],
    ) -> Result<BTreeMap<String, f64>, TaskError> {
        let lls: Vec<f64> = responses
            .iter()
            .filter_map(|r| match r {
                Response::Loglikelihood(l) => Some(l.logprob),
                _ => None,
            })
            .collect();
        if lls.len() != 4 {
            return Err(TaskError::Scoring {
                task: self.info.name.clone(),
                sample: sample.id.clone(),
                reason: format!("expected 4 log-likelihoods, got {}", lls.len()),
            });
        }
        let gold = sample.target["gold"].as_u64().unwrap_or(0) as usize;
        let pick = |a: f64, b: f64| usize::from(b > a);
        let (native, english) = (pick(lls[0], lls[1]), pick(lls[2], lls[3]));
        let flag = |b: bool| f64::from(u8::from(b));
        Ok(BTreeMap::from([
            ("acc_native".into(), flag(native == gold)),
            ("acc_english".into(), flag(english == gold)),
            ("consistent".into(), flag(native == english)),
        ]))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = DataDir::locate(None)?;
    let task = Consistency {
        data,
        lang: "sw",
        connectives: ("kwa sababu", "kwa hiyo"),
        info: TaskInfo {
            reference_language: None,
            name: "xcopa_consistency_sw".into(),
            suite: "xcopa_consistency".into(),
            description:
                "Does the model choose the same XCOPA alternative in Swahili and in English?".into(),
            tags: vec!["multilingual".into(), "consistency".into()],
            languages: vec!["sw".into(), "en".into()],
            dataset: DatasetInfo {
                name: "xcopa".into(),
                license: "CC-BY-4.0".into(),
                flags: Vec::new(),
                source: "https://github.com/cambridgeltl/xcopa".into(),
                files: Vec::new(),
            },
        },
    };
    let model = Arc::new(CandleModel::load("default", &LoadOptions::default())?);
    let result = Evaluation::new(model)
        .tasks([Arc::new(task) as Arc<dyn Task>])
        .limit(20)
        .run()?;
    println!("{}", candor::report::markdown(&result.report));
    Ok(())
}
