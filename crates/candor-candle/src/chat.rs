//! Chat prompts rendered with the model's own Jinja chat template, as transformers'
//! `apply_chat_template(..., add_generation_prompt=True)` renders them.

use std::path::Path;

use candor_core::ChatMessage;
use minijinja::{context, Environment, Error as JinjaError, ErrorKind};

use crate::{Error, Result};

/// The chat template of a Hugging Face folder: `chat_template.jinja`, else the
/// `chat_template` field of `tokenizer_config.json`.
pub(crate) fn hf_chat_template(dir: &Path) -> Option<String> {
    if let Ok(t) = std::fs::read_to_string(dir.join("chat_template.jinja")) {
        return Some(t);
    }
    let text = std::fs::read_to_string(dir.join("tokenizer_config.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    match json.get("chat_template")? {
        serde_json::Value::String(s) => Some(s.clone()),
        // A list of named templates: take the default one.
        serde_json::Value::Array(list) => list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template")?.as_str().map(String::from)),
        _ => None,
    }
}

/// A compiled chat template plus the special-token strings templates refer to.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = Environment::new();
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, JinjaError> {
                Err(JinjaError::new(ErrorKind::InvalidOperation, msg))
            },
        );
        // Llama 3.1+ templates print today's date; transformers passes the same function.
        env.add_function(
            "strftime_now",
            |format: String| -> std::result::Result<String, JinjaError> {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                strftime(&format, secs).map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e))
            },
        );
        // HF templates strip a leading newline of blocks the way Jinja2 with
        // trim_blocks/lstrip_blocks does.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| Error::ChatTemplate(e.to_string()))?;
        Ok(Self {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// `source` with the special-token strings of `tok`.
    pub fn with_tokenizer(source: &str, tok: &crate::TextTokenizer) -> Result<Self> {
        let name = |id: Option<u32>| id.and_then(|i| tok.token(i)).unwrap_or_default();
        Self::new(source, &name(tok.bos), &name(tok.eos.first().copied()))
    }

    /// Render `messages` followed by the prompt of the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| Error::ChatTemplate(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => true,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| Error::ChatTemplate(e.to_string()))
    }
}

/// Format a UTC time given in seconds since 1970 with the `strftime` directives chat templates
/// use (`%Y %m %d %e %b %B %H %M %S %%`).
fn strftime(format: &str, unix_secs: u64) -> std::result::Result<String, String> {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let (year, month, day) = civil_date(unix_secs / 86_400);
    let secs = unix_secs % 86_400;
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('e') => out.push_str(&format!("{day:>2}")),
            Some('b') => out.push_str(&MONTHS[month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[month as usize - 1]),
            Some('H') => out.push_str(&format!("{:02}", secs / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs % 60)),
            Some('%') => out.push('%'),
            other => {
                return Err(format!(
                    "strftime_now: directive '%{}' is not supported",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(out)
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01.
fn civil_date(days: u64) -> (i64, u32, u32) {
    // Count from 0000-03-01 in 400-year eras, so that leap days fall at the end of a year.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are helpful<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_renders_with_default_system_and_generation_prompt() {
        let t = ChatTemplate::new(CHATML, "<s>", "</s>").unwrap();
        let out = t.render(&[ChatMessage::user("Hi")]).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are helpful<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}{{ bos_token }}{{ messages[0]['content'].strip() | upper }}";
        let t = ChatTemplate::new(src, "<s>", "</s>").unwrap();
        assert_eq!(t.render(&[ChatMessage::user("  hi ")]).unwrap(), "<s>HI");
        let err = t
            .render(&[ChatMessage::new("system", "x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no system"), "{err}");
    }

    #[test]
    fn dates_format_like_strftime() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        // 2024-02-29 is day 19782; 2000-03-01 is day 11017.
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(11_017), (2000, 3, 1));
        let t = 19_782 * 86_400 + 13 * 3600 + 5 * 60 + 9;
        assert_eq!(strftime("%d %b %Y", t).unwrap(), "29 Feb 2024");
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S %B %%", t).unwrap(),
            "2024-02-29 13:05:09 February %"
        );
        assert!(strftime("%j", t).unwrap_err().contains("'%j'"));
    }

    /// Templates in the style of each family's own, using the Jinja features theirs use.
    #[test]
    fn family_templates_render_their_formats() {
        let user = [ChatMessage::user("Hi there")];
        let gemma = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}{% else %}{% set first = '' %}{% set loop_messages = messages %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate') }}{% endif %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\n' + (first if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";
        let t = ChatTemplate::new(gemma, "<bos>", "<eos>").unwrap();
        assert_eq!(
            t.render(&user).unwrap(),
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"
        );
        let err = t
            .render(&[ChatMessage::user("a"), ChatMessage::user("b")])
            .unwrap_err();
        assert!(err.to_string().contains("roles must alternate"));

        let phi3 = "{% for message in messages %}{% if message.role == 'system' %}{{ '<|system|>\n' + message.content + '<|end|>\n' }}{% elif message.role == 'user' %}{{ '<|user|>\n' + message.content + '<|end|>\n' }}{% else %}{{ '<|assistant|>\n' + message.content + '<|end|>\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";
        let t = ChatTemplate::new(phi3, "<s>", "<|endoftext|>").unwrap();
        assert_eq!(
            t.render(&user).unwrap(),
            "<|user|>\nHi there<|end|>\n<|assistant|>\n"
        );

        let mistral = "{%- set ns = namespace(system='') %}{%- for m in messages %}{%- if m['role'] == 'system' %}{%- set ns.system = m['content'] %}{%- endif %}{%- endfor %}{{- bos_token }}{%- for m in messages | rejectattr('role', 'equalto', 'system') %}{%- if m['role'] == 'user' %}{%- if loop.last and ns.system %}{{- '[INST] ' + ns.system + '\n\n' + m['content'] + '[/INST]' }}{%- else %}{{- '[INST] ' + m['content'] + '[/INST]' }}{%- endif %}{%- else %}{{- ' ' + m['content'] + eos_token }}{%- endif %}{%- endfor %}";
        let t = ChatTemplate::new(mistral, "<s>", "</s>").unwrap();
        let msgs = [
            ChatMessage::new("system", "Be brief."),
            ChatMessage::user("Hi"),
        ];
        assert_eq!(t.render(&msgs).unwrap(), "<s>[INST] Be brief.\n\nHi[/INST]");

        let llama3 = "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = strftime_now('%d %b %Y') %}{%- endif %}{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}{{- 'Today Date: ' + date_string + '\n\n' }}{{- '<|eot_id|>' }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}";
        let t = ChatTemplate::new(llama3, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let out = t.render(&user).unwrap();
        assert!(out.starts_with(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday Date: "
        ));
        assert!(out.ends_with("<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));

        let qwen = "{%- if tools %}{{- '<|im_start|>system\n' + (tools | tojson) + '<|im_end|>\n' }}{%- elif messages[0].role != 'system' %}{{- '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}";
        let t = ChatTemplate::new(qwen, "", "<|im_end|>").unwrap();
        assert_eq!(
            t.render(&user).unwrap(),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
    }
}
