//! Text ↔ token ids: a `tokenizer.json`, or a tokenizer rebuilt from the vocabulary that a GGUF
//! file embeds (the way llama.cpp and transformers read it).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::{json, Value as Json};

use candor_core::ModelError;

use crate::{Error, Result};

/// GGUF token types (llama.cpp's `llama_token_type`).
const TOKEN_NORMAL: i32 = 1;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_USER_DEFINED: i32 = 4;

/// GPT-2's pre-tokenizer regex keeps working through `ByteLevel(use_regex)`; these are the
/// patterns of the vocabularies that replaced it.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A tokenizer plus the special ids an evaluation needs.
pub struct TextTokenizer {
    inner: tokenizers::Tokenizer,
    /// Beginning-of-sequence token, if the model has one.
    pub bos: Option<u32>,
    /// Tokens that end a generation (EOS, end-of-turn).
    pub eos: Vec<u32>,
    /// Whether the model expects BOS in front of every text.
    pub add_bos: bool,
}

impl TextTokenizer {
    /// Load `tokenizer.json`. Special ids come from `tokenizer_config.json`,
    /// `generation_config.json` and `config.json` beside it, where present.
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let read = |name: &str| -> Option<Json> {
            let text = std::fs::read_to_string(dir.join(name)).ok()?;
            serde_json::from_str(&text).ok()
        };
        let tok_config = read("tokenizer_config.json");
        let token_id = |field: &str| -> Option<u32> {
            let v = tok_config.as_ref()?.get(field)?;
            let text = v.as_str().or_else(|| v.get("content")?.as_str())?;
            inner.token_to_id(text)
        };
        let ids = |v: Option<&Json>| -> Vec<u32> {
            match v {
                Some(Json::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
                Some(Json::Array(a)) => a
                    .iter()
                    .filter_map(|n| n.as_u64())
                    .map(|n| n as u32)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let gen_config = read("generation_config.json");
        let model_config = read("config.json");
        let mut eos: Vec<u32> = token_id("eos_token").into_iter().collect();
        for cfg in [&gen_config, &model_config].into_iter().flatten() {
            eos.extend(ids(cfg.get("eos_token_id")));
        }
        eos.sort_unstable();
        eos.dedup();
        let bos = token_id("bos_token").or_else(|| {
            [&gen_config, &model_config]
                .into_iter()
                .flatten()
                .find_map(|c| ids(c.get("bos_token_id")).first().copied())
        });
        // tokenizer.json's post-processor is the authority on whether BOS is prepended.
        let add_bos = match (bos, inner.encode("a", true)) {
            (Some(b), Ok(enc)) => enc.get_ids().first() == Some(&b),
            _ => false,
        };
        Ok(Self {
            inner,
            bos,
            eos,
            add_bos,
        })
    }

    /// Rebuild the tokenizer from GGUF metadata: byte-level BPE from `tokens` + `merges`
    /// (`tokenizer.ggml.model = gpt2`), or SentencePiece-style BPE from `tokens` + `scores`
    /// (`llama`).
    pub fn from_gguf(path: &Path, content: &Content) -> Result<Self> {
        let md = &content.metadata;
        let bad = |key: &str| Error::BadConfig {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        let strings = |key: &str| -> Result<Vec<String>> {
            md.get(key)
                .and_then(|v| v.to_vec().ok())
                .ok_or_else(|| bad(key))?
                .iter()
                .map(|v| v.to_string().cloned().map_err(|_| bad(key)))
                .collect()
        };
        let id = |key: &str| md.get(key).and_then(|v| v.to_u32().ok());
        let model = md
            .get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .ok_or_else(|| Error::MissingTokenizer {
                path: path.to_path_buf(),
            })?
            .clone();
        let tokens = strings("tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|_| bad("tokenizer.ggml.token_type"))?
                .iter()
                .map(|t| t.to_i32().map_err(|_| bad("tokenizer.ggml.token_type")))
                .collect::<Result<_>>()?,
            None => vec![TOKEN_NORMAL; tokens.len()],
        };
        let added: Vec<Json> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (_, t))| matches!(**t, TOKEN_CONTROL | TOKEN_USER_DEFINED))
            .map(|(i, (tok, t))| {
                json!({"id": i, "content": tok, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": *t == TOKEN_CONTROL})
            })
            .collect();
        let vocab: serde_json::Map<String, Json> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), json!(i)))
            .collect();
        let bos = id("tokenizer.ggml.bos_token_id");
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(model == "llama")
            && bos.is_some();
        let spec = match model.as_str() {
            "gpt2" => {
                let merges = strings("tokenizer.ggml.merges")?;
                let merges: Vec<Json> = merges
                    .iter()
                    .map(|m| {
                        let (a, b) = m.split_once(' ').unwrap_or((m, ""));
                        json!([a, b])
                    })
                    .collect();
                let pre = md
                    .get("tokenizer.ggml.pre")
                    .and_then(|v| v.to_string().ok())
                    .map_or("default", String::as_str);
                let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false,
                                        "trim_offsets": true, "use_regex": true});
                let split = |p: &str| json!({"type": "Sequence", "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": false},
                    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]});
                let pre_tokenizer = match pre {
                    "default" | "gpt-2" | "gpt2" | "smollm" => byte_level,
                    // StarCoder's vocabularies split every digit off before the GPT-2 regex.
                    "starcoder" | "refact" => json!({"type": "Sequence", "pretokenizers": [
                        {"type": "Digits", "individual_digits": true}, byte_level]}),
                    "llama3" | "llama-v3" | "llama-bpe" | "dbrx" | "smaug-bpe" => split(LLAMA3_PATTERN),
                    "qwen2" | "deepseek-r1-qwen" => split(QWEN2_PATTERN),
                    other => {
                        return Err(Error::Tokenizer(format!(
                            "{}: GGUF pre-tokenizer '{other}' is not supported (supported: default, gpt-2, smollm, starcoder, refact, llama3, llama-bpe, dbrx, smaug-bpe, qwen2); add the model's tokenizer.json beside it",
                            path.display()
                        )))
                    }
                };
                json!({
                    "normalizer": null,
                    "pre_tokenizer": pre_tokenizer,
                    "decoder": {"type": "ByteLevel", "add_prefix_space": true,
                                "trim_offsets": true, "use_regex": true},
                    "model": {"type": "BPE", "dropout": null, "unk_token": null,
                              "continuing_subword_prefix": null, "end_of_word_suffix": null,
                              "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                              "vocab": vocab, "merges": merges},
                })
            }
            "llama" => {
                let scores: Vec<f32> = md
                    .get("tokenizer.ggml.scores")
                    .and_then(|v| v.to_vec().ok())
                    .ok_or_else(|| bad("tokenizer.ggml.scores"))?
                    .iter()
                    .map(|v| v.to_f32().map_err(|_| bad("tokenizer.ggml.scores")))
                    .collect::<Result<_>>()?;
                let merges = merges_from_scores(&tokens, &scores, &types);
                let add_space = md
                    .get("tokenizer.ggml.add_space_prefix")
                    .and_then(|v| v.to_bool().ok())
                    .unwrap_or(true);
                let mut normalizers = Vec::new();
                if add_space {
                    normalizers.push(json!({"type": "Prepend", "prepend": "▁"}));
                }
                normalizers.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
                let mut decoders = vec![
                    json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
                    json!({"type": "ByteFallback"}),
                    json!({"type": "Fuse"}),
                ];
                if add_space {
                    decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
                }
                let unk = id("tokenizer.ggml.unknown_token_id")
                    .and_then(|i| tokens.get(i as usize).cloned());
                json!({
                    "normalizer": {"type": "Sequence", "normalizers": normalizers},
                    "pre_tokenizer": null,
                    "decoder": {"type": "Sequence", "decoders": decoders},
                    "model": {"type": "BPE", "dropout": null, "unk_token": unk,
                              "continuing_subword_prefix": null, "end_of_word_suffix": null,
                              "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                              "vocab": vocab, "merges": merges},
                })
            }
            other => {
                return Err(Error::Tokenizer(format!(
                    "{}: GGUF tokenizer model '{other}' is not supported (supported: gpt2, llama); add a tokenizer.json",
                    path.display()
                )))
            }
        };
        let mut spec = spec;
        spec["version"] = json!("1.0");
        spec["truncation"] = Json::Null;
        spec["padding"] = Json::Null;
        spec["added_tokens"] = Json::Array(added);
        spec["post_processor"] = Json::Null;
        let inner = tokenizers::Tokenizer::from_str(&spec.to_string())
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        let mut eos: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
            .iter()
            .filter_map(|k| id(k))
            .collect();
        eos.dedup();
        Ok(Self {
            inner,
            bos,
            eos,
            add_bos,
        })
    }

    /// The tokenizer embedded in a GGUF file.
    pub fn from_gguf_file(path: &Path) -> Result<Self> {
        let mut file = std::fs::File::open(path).map_err(Error::io(path))?;
        let content = Content::read(&mut file).map_err(|e| Error::BadGguf {
            path: path.to_path_buf(),
            reason: crate::error::candle_message(&e),
        })?;
        Self::from_gguf(path, &content)
    }

    /// Token ids of `text`, without BOS/EOS; special tokens written in the text are
    /// recognised.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`; special tokens are kept when `skip_special` is false.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The vocabulary string of one token (`Ġthe`), for per-token reports.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }
}

/// A model's tokenizer and chat template without its weights: for backends that run the model
/// elsewhere (a server) but split and render prompts as candor does.
pub struct TextFiles {
    pub tokenizer: TextTokenizer,
    pub chat: Option<crate::chat::ChatTemplate>,
}

impl TextFiles {
    /// Those of a model spec: a `tokenizer.json` file, or anything [`crate::hub::resolve`]
    /// takes (the folder's `tokenizer.json`, else the vocabulary its GGUF file embeds; the
    /// template from the GGUF file, `chat_template.jinja` or `tokenizer_config.json`).
    pub fn for_spec(spec: &str, hub: &crate::HubOptions) -> Result<Self> {
        let path = Path::new(spec);
        let (json, gguf) = if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            (path.to_path_buf(), None)
        } else {
            let files = crate::hub::resolve(spec, hub)?;
            let gguf = match &files {
                crate::ModelFiles::Gguf(p) => Some(p.clone()),
                crate::ModelFiles::Safetensors { .. } => None,
            };
            (files.dir().join("tokenizer.json"), gguf)
        };
        let dir = json.parent().unwrap_or(Path::new("."));
        let content = match &gguf {
            Some(p) => {
                let mut file = std::fs::File::open(p).map_err(Error::io(p))?;
                Some(Content::read(&mut file).map_err(|e| Error::BadGguf {
                    path: p.clone(),
                    reason: crate::error::candle_message(&e),
                })?)
            }
            None => None,
        };
        let tokenizer = match (&gguf, &content) {
            (Some(p), Some(c)) if !json.is_file() => TextTokenizer::from_gguf(p, c)?,
            _ if json.is_file() => TextTokenizer::from_file(&json)?,
            _ => {
                return Err(Error::MissingTokenizer {
                    path: dir.to_path_buf(),
                })
            }
        };
        let source = content
            .as_ref()
            .and_then(gguf_chat_template)
            .or_else(|| crate::chat::hf_chat_template(dir));
        let chat = match source {
            Some(src) => Some(crate::chat::ChatTemplate::with_tokenizer(&src, &tokenizer)?),
            None => None,
        };
        Ok(TextFiles { tokenizer, chat })
    }
}

impl candor_core::Tokenize for TextTokenizer {
    fn encode(&self, text: &str) -> std::result::Result<Vec<u32>, ModelError> {
        Ok(TextTokenizer::encode(self, text)?)
    }

    fn decode(&self, ids: &[u32]) -> std::result::Result<String, ModelError> {
        Ok(TextTokenizer::decode(self, ids, false)?)
    }

    fn bos_prefix(&self) -> Vec<u32> {
        match self.bos {
            Some(bos) if self.add_bos => vec![bos],
            _ => Vec::new(),
        }
    }

    fn prefix_token(&self) -> Option<u32> {
        self.bos.or_else(|| self.eos.first().copied())
    }
}

/// BPE merges of a SentencePiece vocabulary: every split of a token into two tokens of the
/// vocabulary is a merge, ranked by the score of the merged token (highest first), as
/// transformers derives them when it converts a SentencePiece model.
fn merges_from_scores(tokens: &[String], scores: &[f32], types: &[i32]) -> Vec<Json> {
    let index: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| types.get(*i) == Some(&TOKEN_NORMAL))
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges: Vec<(f32, usize, usize, &str, &str)> = Vec::new();
    for (merged, &i) in &index {
        let score = scores.get(i).copied().unwrap_or(0.0);
        for (split, _) in merged.char_indices().skip(1) {
            let (l, r) = merged.split_at(split);
            if let (Some(&li), Some(&ri)) = (index.get(l), index.get(r)) {
                merges.push((score, li, ri, l, r));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    merges
        .into_iter()
        .map(|(_, _, _, l, r)| json!([l, r]))
        .collect()
}

/// The chat template a GGUF file carries, if any.
pub(crate) fn gguf_chat_template(content: &Content) -> Option<String> {
    match content.metadata.get("tokenizer.chat_template") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentencepiece_merges_follow_scores() {
        let tokens: Vec<String> = ["<unk>", "▁", "a", "b", "ab", "▁ab", "▁a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let scores = [0.0, -1.0, -2.0, -3.0, -0.5, -0.1, -0.7];
        let types = [2, 1, 1, 1, 1, 1, 1];
        let merges = merges_from_scores(&tokens, &scores, &types);
        let pairs: Vec<String> = merges
            .iter()
            .map(|m| format!("{} {}", m[0].as_str().unwrap(), m[1].as_str().unwrap()))
            .collect();
        // "▁ab" (-0.1) splits as ▁+ab and ▁a+b; then "ab" (-0.5); then "▁a" (-0.7).
        assert_eq!(pairs, ["▁ ab", "▁a b", "a b", "▁ a"]);
    }

    /// A byte-level BPE vocabulary in GGUF form with the given pre-tokenizer name.
    fn gpt2_gguf(pre: &str) -> Content {
        use candle_core::quantized::gguf_file::{self, Value};
        let strings =
            |v: &[&str]| Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect());
        let md = [
            ("tokenizer.ggml.model", Value::String("gpt2".into())),
            ("tokenizer.ggml.pre", Value::String(pre.into())),
            (
                "tokenizer.ggml.tokens",
                strings(&["a", "1", "2", "12", "Ġ", "Ġa"]),
            ),
            ("tokenizer.ggml.merges", strings(&["1 2", "Ġ a"])),
        ];
        let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
        let mut bytes = std::io::Cursor::new(Vec::new());
        gguf_file::write(&mut bytes, &refs, &[]).unwrap();
        bytes.set_position(0);
        Content::read(&mut bytes).unwrap()
    }

    #[test]
    fn gguf_pre_tokenizers_follow_their_family() {
        let path = Path::new("toy.gguf");
        let gpt2 = TextTokenizer::from_gguf(path, &gpt2_gguf("gpt-2")).unwrap();
        assert_eq!(gpt2.encode("a12 a").unwrap(), [0, 3, 5]);
        // StarCoder splits digits one by one, so "12" never merges.
        let starcoder = TextTokenizer::from_gguf(path, &gpt2_gguf("starcoder")).unwrap();
        assert_eq!(starcoder.encode("a12 a").unwrap(), [0, 1, 2, 5]);
        let err = TextTokenizer::from_gguf(path, &gpt2_gguf("tekken"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("pre-tokenizer 'tekken' is not supported"),
            "{err}"
        );
    }
}
