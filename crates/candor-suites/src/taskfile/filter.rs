//! Answer filters (lm-evaluation-harness's `filter_list`): pipelines that turn a generated
//! text into the prediction a metric compares.

use regex::Regex;

/// One step of an answer filter.
pub(crate) enum Step {
    /// lm-evaluation-harness's `regex`: all matches, keep `select` (negative from the end),
    /// then the first non-empty capture group of it; `fallback` when nothing matches.
    Regex {
        re: Regex,
        select: i64,
        fallback: String,
    },
    /// candor generates one answer per prompt, so this keeps it as it is.
    TakeFirst,
    RemoveWhitespace,
    Lowercase,
    Uppercase,
}

pub(crate) struct Filter {
    pub name: String,
    pub steps: Vec<Step>,
}

impl Filter {
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for step in &self.steps {
            out = match step {
                Step::Regex {
                    re,
                    select,
                    fallback,
                } => {
                    let all: Vec<regex::Captures> = re.captures_iter(&out).collect();
                    let idx = if *select < 0 {
                        all.len() as i64 + select
                    } else {
                        *select
                    };
                    match usize::try_from(idx).ok().and_then(|i| all.get(i)) {
                        Some(c) => {
                            let group = if c.len() > 1 {
                                c.iter()
                                    .skip(1)
                                    .flatten()
                                    .map(|m| m.as_str())
                                    .find(|s| !s.is_empty())
                            } else {
                                c.get(0).map(|m| m.as_str())
                            };
                            group.map_or_else(|| fallback.clone(), |s| s.trim().to_string())
                        }
                        None => fallback.clone(),
                    }
                }
                Step::TakeFirst => out,
                Step::RemoveWhitespace => out.trim_start().to_string(),
                Step::Lowercase => out.to_lowercase(),
                Step::Uppercase => out.to_uppercase(),
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_filter_selects_the_last_number_and_falls_back() {
        let f = Filter {
            name: "flexible-extract".into(),
            steps: vec![
                Step::Regex {
                    re: Regex::new(r"(-?[$0-9.,]{2,})|(-?[0-9]+)").unwrap(),
                    select: -1,
                    fallback: "[invalid]".into(),
                },
                Step::TakeFirst,
            ],
        };
        assert_eq!(f.apply("She has 3 apples, then 12."), "12.");
        assert_eq!(f.apply("7 then 5"), "5");
        assert_eq!(f.apply("no digits"), "[invalid]");
        let ws = Filter {
            name: "w".into(),
            steps: vec![Step::RemoveWhitespace, Step::Lowercase],
        };
        assert_eq!(ws.apply("  Yes "), "yes ");
    }
}
