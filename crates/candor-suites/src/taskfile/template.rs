//! Jinja templates of a task file, compiled once and rendered per document.
//!
//! A template that is exactly one `{{ expression }}` is evaluated as an expression, so that it
//! can yield a list (`doc_to_choice`) or a number (`doc_to_target`) as in
//! lm-evaluation-harness; any other template renders to text. Undefined variables are errors,
//! so a misspelt column never renders as an empty string.

use std::collections::{BTreeSet, HashSet};

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};

/// The templates of one task file, by key (`doc_to_text`, `doc_fields.pos` ...).
pub struct Templates {
    env: Environment<'static>,
    /// key → (expression source if the template is one expression, variables it reads).
    compiled: std::collections::BTreeMap<String, Compiled>,
}

struct Compiled {
    expression: Option<String>,
    variables: BTreeSet<String>,
}

/// A template that failed to compile or render.
#[derive(Debug)]
pub struct TemplateError {
    pub key: String,
    pub message: String,
}

fn describe(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// `{{ expr }}` and nothing else → `expr`.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%"))
        .then_some(inner.trim())
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        // Python methods that lm-evaluation-harness templates use (`.strip()`, `.split()`,
        // `dict.get` ... from minijinja-contrib, plus `list.index`, e.g. ARC's
        // `{{ choices.label.index(answerKey) }}`).
        env.set_unknown_method_callback(|state, value, method, args| {
            if method == "index" && value.kind() == minijinja::value::ValueKind::Seq {
                let (what,): (Value,) = minijinja::value::from_args(args)?;
                return value
                    .try_iter()?
                    .position(|x| x == what)
                    .map(Value::from)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("{what} is not in the list"),
                        )
                    });
            }
            minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
        });
        // Columns that hold JSON text (lists, objects) become values.
        env.add_filter("fromjson", |s: String| -> Result<Value, Error> {
            serde_json::from_str::<serde_json::Value>(&s)
                .map(Value::from_serialize)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}")))
        });
        // Character index of `needle` in `s` at or after character `start`, or -1; characters
        // (not bytes) so that the result can slice the string.
        env.add_filter("find", |s: String, needle: String, start: Option<i64>| {
            let start = start.unwrap_or(0).max(0) as usize;
            let byte_start = s.char_indices().nth(start).map_or(s.len(), |(b, _)| b);
            match s[byte_start..].find(&needle) {
                Some(b) => (start + s[byte_start..byte_start + b].chars().count()) as i64,
                None => -1,
            }
        });
        // Indices of the items equal to `value`: gold choices from 0/1 labels.
        env.add_filter("positions", |items: Vec<Value>, value: Value| {
            items
                .iter()
                .enumerate()
                .filter(|(_, v)| **v == value)
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        });
        // First character in lower case: options that continue a sentence.
        env.add_filter("lower_first", |s: String| {
            let mut chars = s.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        });
        Self {
            env,
            compiled: Default::default(),
        }
    }

    /// Compile `source` under `key`.
    pub fn add(&mut self, key: &str, source: &str) -> Result<(), TemplateError> {
        let fail = |e: Error| TemplateError {
            key: key.to_string(),
            message: describe(&e),
        };
        let globals: HashSet<String> = self.env.globals().map(|(n, _)| n.to_string()).collect();
        let (expression, variables) = match single_expression(source) {
            Some(expr) => {
                let compiled = self
                    .env
                    .compile_expression_owned(expr.to_string())
                    .map_err(fail)?;
                (Some(expr.to_string()), compiled.undeclared_variables(false))
            }
            None => {
                self.env
                    .add_template_owned(key.to_string(), source.to_string())
                    .map_err(fail)?;
                let t = self.env.get_template(key).map_err(fail)?;
                (None, t.undeclared_variables(false))
            }
        };
        let variables = variables
            .into_iter()
            .filter(|v| !globals.contains(v))
            .collect();
        self.compiled.insert(
            key.to_string(),
            Compiled {
                expression,
                variables,
            },
        );
        Ok(())
    }

    pub fn has(&self, key: &str) -> bool {
        self.compiled.contains_key(key)
    }

    /// Whether any template reads the variable `name`.
    pub fn reads(&self, name: &str) -> bool {
        self.compiled.values().any(|c| c.variables.contains(name))
    }

    /// Variables `key` reads that `ctx` lacks.
    pub fn missing(
        &self,
        key: &str,
        ctx: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        self.compiled.get(key).map_or_else(Vec::new, |c| {
            c.variables
                .iter()
                .filter(|v| !ctx.contains_key(*v))
                .cloned()
                .collect()
        })
    }

    /// The value of `key` for `ctx`: the expression's value, or the rendered text.
    pub fn value(&self, key: &str, ctx: &Value) -> Result<Value, TemplateError> {
        let fail = |e: Error| TemplateError {
            key: key.to_string(),
            message: describe(&e),
        };
        let compiled = self.compiled.get(key).ok_or_else(|| TemplateError {
            key: key.to_string(),
            message: "no such template".into(),
        })?;
        match &compiled.expression {
            Some(expr) => self
                .env
                .compile_expression_owned(expr.clone())
                .and_then(|e| e.eval(ctx))
                .map_err(fail),
            None => self
                .env
                .get_template(key)
                .and_then(|t| t.render(ctx))
                .map(Value::from)
                .map_err(fail),
        }
    }

    /// The text of `key` for `ctx` (an expression's value is converted to text).
    pub fn text(&self, key: &str, ctx: &Value) -> Result<String, TemplateError> {
        let v = self.value(key, ctx)?;
        Ok(match v.as_str() {
            Some(s) => s.to_string(),
            None => v.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_keep_their_type_and_text_renders() {
        let mut t = Templates::new();
        t.add("choices", "{{ [a, b|lower_first] }}").unwrap();
        t.add("golds", "{{ labels|positions(1) }}").unwrap();
        t.add("text", "Q: {{ a }}\nA:").unwrap();
        let ctx =
            Value::from_serialize(serde_json::json!({"a": "x", "b": "Yes", "labels": [0, 1, 1]}));
        let golds = t.value("golds", &ctx).unwrap();
        assert_eq!(golds.to_string(), "[1, 2]");
        let v = t.value("choices", &ctx).unwrap();
        assert_eq!(v.len(), Some(2));
        assert_eq!(v.get_item_by_index(1).unwrap().as_str(), Some("yes"));
        assert_eq!(t.text("text", &ctx).unwrap(), "Q: x\nA:");
    }

    #[test]
    fn python_methods_of_ported_templates_work() {
        let mut t = Templates::new();
        t.add("gold", "{{ choices.label.index(answerKey) }}")
            .unwrap();
        t.add("q", "{{ question.strip().split(' ')[0] }}").unwrap();
        let ctx = Value::from_serialize(serde_json::json!({
            "choices": {"label": ["A", "B", "C"]}, "answerKey": "C", "question": "  Why not? "
        }));
        assert_eq!(t.value("gold", &ctx).unwrap().as_i64(), Some(2));
        assert_eq!(t.text("q", &ctx).unwrap(), "Why");
        let ctx = Value::from_serialize(serde_json::json!({
            "choices": {"label": ["A"]}, "answerKey": "E", "question": ""
        }));
        assert!(t
            .value("gold", &ctx)
            .unwrap_err()
            .message
            .contains("not in the list"));
    }

    #[test]
    fn find_counts_characters_and_fromjson_parses() {
        let mut t = Templates::new();
        t.add("i", "{{ s|find('彼', 2) }}").unwrap();
        t.add("j", "{{ (s2|fromjson)[1][0] }}").unwrap();
        let ctx = Value::from_serialize(
            serde_json::json!({"s": "撃った。彼は", "s2": "[\"he\", [9, 10]]"}),
        );
        assert_eq!(t.value("i", &ctx).unwrap().as_i64(), Some(4));
        assert_eq!(t.value("j", &ctx).unwrap().as_i64(), Some(9));
    }

    #[test]
    fn syntax_errors_name_the_key_and_missing_variables_are_found() {
        let mut t = Templates::new();
        let err = t.add("doc_to_text", "{{ question ").unwrap_err();
        assert_eq!(err.key, "doc_to_text");
        assert!(err.message.contains("syntax error"), "{}", err.message);
        t.add("doc_to_target", "{{ answer }} {{ range(2)|list }}")
            .unwrap();
        let ctx = serde_json::Map::from_iter([("question".to_string(), "q".into())]);
        assert_eq!(t.missing("doc_to_target", &ctx), vec!["answer".to_string()]);
    }
}
