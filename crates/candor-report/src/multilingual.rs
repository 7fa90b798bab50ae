//! Multilingual diagnostics: each multilingual suite's scores per language with the gap to
//! its reference language (English unless the suite's tasks name another), and how many tokens the model's tokenizer spends per word and per byte of each
//! language (its "fertility": a language that costs more tokens gets less context and, on
//! small models, usually lower scores).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use candor_core::TaskResult;
use serde::{Deserialize, Serialize};

/// One metric of one language of a suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LanguageScore {
    pub suite: String,
    pub task: String,
    pub metric: String,
    pub language: String,
    pub value: f64,
    pub stderr: Option<f64>,
    pub n: usize,
    /// The language the gap is measured against (`en` unless the task file says
    /// `reference_language:`).
    pub reference_language: String,
    /// `value` minus the reference language's value of the same metric (none where the suite
    /// has no task in that language).
    pub gap_to_reference: Option<f64>,
}

/// Tokens per word and per byte of one language, over the prompts evaluated in the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fertility {
    pub language: String,
    pub texts: usize,
    /// Whitespace-separated words (few for languages written without spaces: zh, ja, th).
    pub words: usize,
    /// UTF-8 bytes.
    pub bytes: usize,
    pub tokens: usize,
    pub tokens_per_word: f64,
    pub tokens_per_byte: f64,
}

/// The multilingual part of `report.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MultilingualSummary {
    pub languages: Vec<LanguageScore>,
    /// Filled by whoever holds the model's tokenizer (`candor::Evaluation`); empty otherwise.
    pub fertility: Vec<Fertility>,
}

/// Per-language scores of the suites whose tasks each cover one language, two languages or
/// more per suite.
pub fn summarize(tasks: &[TaskResult]) -> MultilingualSummary {
    let mut langs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.info.languages.len() == 1) {
        langs
            .entry(t.info.suite.as_str())
            .or_default()
            .insert(t.info.languages[0].as_str());
    }
    // The reference is matched by suite, task (its name without the language) and metric, so
    // two task files of one suite that share a metric name keep their own baselines.
    let reference: BTreeMap<(&str, &str, &str), f64> = tasks
        .iter()
        .filter(|t| t.info.languages.len() == 1 && t.info.languages[0] == t.info.reference())
        .flat_map(|t| {
            t.metrics.iter().map(move |m| {
                (
                    (t.info.suite.as_str(), task_base(t), m.name.as_str()),
                    m.value,
                )
            })
        })
        .collect();
    let mut languages = Vec::new();
    for t in tasks {
        let suite = t.info.suite.as_str();
        if t.info.languages.len() != 1 || langs.get(suite).is_none_or(|l| l.len() < 2) {
            continue;
        }
        for m in &t.metrics {
            languages.push(LanguageScore {
                suite: suite.to_string(),
                task: t.info.name.clone(),
                metric: m.name.clone(),
                language: t.info.languages[0].clone(),
                value: m.value,
                stderr: m.stderr,
                n: m.n,
                reference_language: t.info.reference().to_string(),
                gap_to_reference: reference
                    .get(&(suite, task_base(t), m.name.as_str()))
                    .map(|r| m.value - r),
            });
        }
    }
    MultilingualSummary {
        languages,
        fertility: Vec::new(),
    }
}

/// A one-language task's name without its `_<language>` suffix (`xwinograd_ru` → `xwinograd`).
fn task_base(t: &TaskResult) -> &str {
    let name = t.info.name.as_str();
    match t.info.languages.first() {
        Some(lang) => name
            .strip_suffix(lang.as_str())
            .and_then(|n| n.strip_suffix('_'))
            .unwrap_or(name),
        None => name,
    }
}

/// Fertility per language from `(language, text)` pairs and a token counter.
pub fn fertility<'a, E>(
    texts: impl IntoIterator<Item = (&'a str, &'a str)>,
    mut count_tokens: impl FnMut(&str) -> Result<usize, E>,
) -> Result<Vec<Fertility>, E> {
    let mut by_lang: BTreeMap<&str, (usize, usize, usize, usize)> = BTreeMap::new();
    for (lang, text) in texts {
        let tokens = count_tokens(text)?;
        let e = by_lang.entry(lang).or_default();
        e.0 += 1;
        e.1 += text.split_whitespace().count();
        e.2 += text.len();
        e.3 += tokens;
    }
    Ok(by_lang
        .into_iter()
        .map(|(lang, (texts, words, bytes, tokens))| Fertility {
            language: lang.to_string(),
            texts,
            words,
            bytes,
            tokens,
            tokens_per_word: tokens as f64 / words.max(1) as f64,
            tokens_per_byte: tokens as f64 / bytes.max(1) as f64,
        })
        .collect())
}

/// The Markdown section (empty when there is nothing multilingual in the run).
pub fn markdown(m: &MultilingualSummary) -> String {
    let mut s = String::new();
    if m.languages.is_empty() && m.fertility.is_empty() {
        return s;
    }
    let _ = writeln!(s, "\n## Multilingual\n");
    if !m.languages.is_empty() {
        let _ = writeln!(
            s,
            "### Scores by language (gap to the suite's reference language, English unless the suite names another)\n\n| suite | metric | language | value ± stderr | n | gap | to |\n|---|---|---|---|---|---|---|"
        );
        for l in &m.languages {
            let value = match l.stderr {
                Some(se) => format!("{:.4} ± {:.4}", l.value, se),
                None => format!("{:.4}", l.value),
            };
            let gap = l
                .gap_to_reference
                .map_or("–".to_string(), |g| format!("{g:+.4}"));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {value} | {} | {gap} | {} |",
                l.suite, l.metric, l.language, l.n, l.reference_language
            );
        }
    }
    if !m.fertility.is_empty() {
        let _ = writeln!(
            s,
            "\n### Tokenizer fertility (over the prompts of this run; words are whitespace-separated)\n\n| language | prompts | words | bytes | tokens | tokens/word | tokens/byte |\n|---|---|---|---|---|---|---|"
        );
        for f in &m.fertility {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} |",
                f.language,
                f.texts,
                f.words,
                f.bytes,
                f.tokens,
                f.tokens_per_word,
                f.tokens_per_byte
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use candor_core::{DatasetInfo, MetricValue, TaskInfo};

    fn task(suite: &str, lang: &str, acc: f64) -> TaskResult {
        TaskResult {
            info: TaskInfo {
                reference_language: None,
                name: format!("{suite}_{lang}"),
                suite: suite.into(),
                description: String::new(),
                tags: Vec::new(),
                languages: vec![lang.into()],
                dataset: DatasetInfo {
                    name: suite.into(),
                    license: "MIT".into(),
                    flags: Vec::new(),
                    source: String::new(),
                    files: Vec::new(),
                },
            },
            metrics: vec![MetricValue {
                name: "acc".into(),
                value: acc,
                stderr: Some(0.05),
                n: 50,
            }],
            breakdowns: Default::default(),
            num_samples: 50,
            num_errors: 0,
            files: Vec::new(),
        }
    }

    #[test]
    fn gaps_to_the_reference_language_by_hand() {
        let tasks = [
            task("xw", "en", 0.8),
            task("xw", "fr", 0.6),
            task("xc", "sw", 0.5),
            task("xc", "it", 0.7),
            task("solo", "en", 0.9),
        ];
        let m = summarize(&tasks);
        // The single-language suite is left out; xc has no English, so no gap.
        assert_eq!(m.languages.len(), 4);
        let fr = m.languages.iter().find(|l| l.language == "fr").unwrap();
        assert!((fr.gap_to_reference.unwrap() + 0.2).abs() < 1e-12);
        assert_eq!(m.languages[0].gap_to_reference, Some(0.0));
        assert!(m
            .languages
            .iter()
            .filter(|l| l.suite == "xc")
            .all(|l| l.gap_to_reference.is_none()));
        assert!(markdown(&m).contains("| xw | acc | fr | 0.6000 ± 0.0500 | 50 | -0.2000 | en |"));
        // A suite that names its reference language is measured against it.
        let mut tasks = tasks.to_vec();
        for t in tasks.iter_mut().filter(|t| t.info.suite == "xc") {
            t.info.reference_language = Some("it".into());
        }
        let sw = summarize(&tasks)
            .languages
            .into_iter()
            .find(|l| l.language == "sw")
            .unwrap();
        assert_eq!(sw.reference_language, "it");
        assert!((sw.gap_to_reference.unwrap() + 0.2).abs() < 1e-12);
    }

    #[test]
    fn fertility_by_hand() {
        // Tokens = bytes / 2 for this counter: "ab cd" → 2 tokens over 2 words, 5 bytes.
        let f = fertility(
            [("en", "ab cd"), ("en", "efg"), ("zh", "你好")],
            |t: &str| Ok::<_, ()>(t.len() / 2),
        )
        .unwrap();
        assert_eq!(f[0].language, "en");
        assert_eq!(
            (f[0].texts, f[0].words, f[0].bytes, f[0].tokens),
            (2, 3, 8, 3)
        );
        assert!((f[0].tokens_per_word - 1.0).abs() < 1e-12);
        assert!((f[0].tokens_per_byte - 0.375).abs() < 1e-12);
        assert_eq!((f[1].words, f[1].bytes, f[1].tokens), (1, 6, 3));
    }
}
