//! [`CandleModel`]: loading a model (GGUF or safetensors, its tokenizer and chat template)
//! and what it says about itself. `engine.rs` scores, `generation.rs` generates, `backend.rs`
//! answers candor's requests.

use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device};
use candor_core::Prompt;

use crate::arch;
use crate::chat::{hf_chat_template, ChatTemplate};
use crate::config::{DecoderConfig, GgufConfig, HfConfig};
use crate::decoder::Decoder;
use crate::hub::{self, HubOptions, ModelFiles};
use crate::tokenizer::{gguf_chat_template, TextTokenizer};
use crate::transformer::Transformer;
use crate::weights::{check_gguf_extent, WeightFormat, WeightStore};
use crate::{Error, Result};

/// How to load and run a model.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub weights: WeightFormat,
    pub device: Device,
    /// Bytes the weights may take; `None`: half of the available memory.
    pub memory_budget: Option<u64>,
    /// Rows per forward pass when scoring.
    pub batch_size: usize,
    /// Compute a context shared by several continuations once (on by default; off only to
    /// measure what it saves).
    pub prefix_sharing: bool,
    /// Quantized matmuls through candle's kernels rather than candor's own (`candor-kernels`),
    /// to compare the two. candor's cover Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 on the CPU; other
    /// formats, and every format on a GPU, always go through candle.
    pub candle_kernels: bool,
    pub hub: HubOptions,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            weights: WeightFormat::Auto,
            device: Device::Cpu,
            memory_budget: None,
            batch_size: 16,
            prefix_sharing: true,
            candle_kernels: false,
            hub: HubOptions::from_env(),
        }
    }
}

/// What `candor info` shows about a model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub path: PathBuf,
    pub architecture: String,
    pub parameters: u64,
    /// Stored tensor types with their counts, most common first (`Q4_1 × 210`).
    pub tensor_types: Vec<(String, usize)>,
    /// How weights are held in memory: `quantized` or a dtype.
    pub weights: String,
    pub context_length: usize,
    pub vocab_size: usize,
    pub layers: usize,
    pub hidden_size: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub bos: Option<u32>,
    pub eos: Vec<u32>,
    pub add_bos: bool,
    pub chat_template: Option<String>,
}

/// A model on candle that implements [`LanguageModel`].
///
/// Log-likelihoods are computed from exact batched forward passes: rows are right-padded, so a
/// row's numbers do not depend on its neighbours (with f32 weights they agree to ~1e-5), and
/// continuations that share a context reuse its KV cache.
pub struct CandleModel {
    pub(crate) model: Box<dyn Transformer>,
    pub(crate) tokenizer: Option<TextTokenizer>,
    pub(crate) chat: Option<ChatTemplate>,
    pub(crate) info: ModelInfo,
    /// What the model was loaded from, as the user said it.
    pub(crate) spec: String,
    /// The weights file's sha256, computed when first asked for.
    pub(crate) sha256: std::sync::OnceLock<String>,
    pub(crate) device: Device,
    pub(crate) batch_size: usize,
    pub(crate) prefix_sharing: bool,
}

fn available_memory() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(8 << 30, |kb| kb * 1024)
}

impl CandleModel {
    /// Resolve `spec` (path, Hub id or `default`, see [`hub::resolve`]) and load it.
    pub fn load(spec: &str, opts: &LoadOptions) -> Result<Self> {
        let files = hub::resolve(spec, &opts.hub)?;
        let mut model = Self::load_files(&files, opts)?;
        model.spec = spec.to_string();
        Ok(model)
    }

    /// Load a model from files already on disk.
    pub fn load_files(files: &ModelFiles, opts: &LoadOptions) -> Result<Self> {
        let budget = opts.memory_budget.unwrap_or_else(|| available_memory() / 2);
        let dir = files.dir().to_path_buf();
        let tokenizer_json = dir.join("tokenizer.json");
        let (model, cfg, store_info, arch, mut tokenizer, mut template) = match files {
            ModelFiles::Gguf(path) => {
                let content = read_gguf(path)?;
                let arch = content
                    .metadata
                    .get("general.architecture")
                    .and_then(|v| v.to_string().ok())
                    .cloned()
                    .ok_or_else(|| Error::BadConfig {
                        path: path.clone(),
                        key: "general.architecture".into(),
                    })?;
                let (form, architecture) = arch::by_gguf_name(&arch)
                    .and_then(|a| Some((a.gguf.as_ref()?, a)))
                    .ok_or_else(|| Error::UnsupportedArchitecture {
                        path: path.clone(),
                        arch: arch.clone(),
                        supported: arch::supported().join(", "),
                    })?;
                let mut cfg = (form.config)(&GgufConfig {
                    path,
                    content: &content,
                    arch: &arch,
                })?;
                let tokenizer = if tokenizer_json.is_file() {
                    None
                } else if content.metadata.contains_key("tokenizer.ggml.tokens") {
                    Some(TextTokenizer::from_gguf(path, &content)?)
                } else {
                    None
                };
                let template = gguf_chat_template(&content);
                let store = WeightStore::open_gguf(
                    path,
                    content,
                    form.names,
                    opts.weights,
                    budget,
                    &opts.device,
                    !opts.candle_kernels,
                )?;
                // Built first: the label names the kernels the layers actually use.
                let model = build(architecture, &mut cfg, &store, form.interleaved_rope)?;
                let info = (
                    store.parameter_count(),
                    store.tensor_types(),
                    weights_label(&store),
                );
                (model, cfg, info, arch, tokenizer, template)
            }
            ModelFiles::Safetensors { dir, files } => {
                let config_path = dir.join("config.json");
                let text =
                    std::fs::read_to_string(&config_path).map_err(Error::io(&config_path))?;
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| Error::BadConfig {
                        path: config_path.clone(),
                        key: format!("(JSON: {e})"),
                    })?;
                let arch = json
                    .get("model_type")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| Error::BadConfig {
                        path: config_path.clone(),
                        key: "model_type".into(),
                    })?
                    .to_string();
                let architecture =
                    arch::by_hf_type(&arch).ok_or_else(|| Error::UnsupportedArchitecture {
                        path: config_path.clone(),
                        arch: arch.clone(),
                        supported: arch::supported().join(", "),
                    })?;
                let hf = HfConfig {
                    path: config_path,
                    json,
                };
                let mut cfg = (architecture.from_hf)(&hf)?;
                let json = hf.json;
                let stored = match json
                    .get("torch_dtype")
                    .or_else(|| json.get("dtype"))
                    .and_then(|v| v.as_str())
                {
                    Some("float16") => DType::F16,
                    Some("bfloat16") => DType::BF16,
                    _ => DType::F32,
                };
                let store = WeightStore::open_safetensors(
                    files,
                    stored,
                    opts.weights,
                    budget,
                    &opts.device,
                    !opts.candle_kernels,
                )?;
                let info = (
                    store.parameter_count(),
                    store.tensor_types(),
                    weights_label(&store),
                );
                let model = build(architecture, &mut cfg, &store, false)?;
                (model, cfg, info, arch, None, None)
            }
        };
        if tokenizer_json.is_file() {
            tokenizer = Some(TextTokenizer::from_file(&tokenizer_json)?);
        }
        if template.is_none() {
            template = hf_chat_template(&dir);
        }
        let chat = match (&template, &tokenizer) {
            (Some(src), Some(tok)) => Some(ChatTemplate::with_tokenizer(src, tok)?),
            _ => None,
        };
        // A GGUF file names itself; a checkpoint folder is named after the folder.
        let named = match files {
            ModelFiles::Gguf(p) => p.as_path(),
            ModelFiles::Safetensors { dir, .. } => dir.as_path(),
        };
        let name = named
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("model")
            .to_string();
        let info = ModelInfo {
            name,
            path: files.primary().to_path_buf(),
            architecture: arch,
            parameters: store_info.0,
            tensor_types: store_info.1,
            weights: store_info.2,
            context_length: cfg.max_position,
            vocab_size: cfg.vocab_size,
            layers: cfg.num_layers(),
            hidden_size: cfg.hidden_size,
            heads: cfg.num_heads,
            kv_heads: cfg.num_kv_heads,
            bos: tokenizer.as_ref().and_then(|t| t.bos),
            eos: tokenizer
                .as_ref()
                .map(|t| t.eos.clone())
                .unwrap_or_default(),
            add_bos: tokenizer.as_ref().is_some_and(|t| t.add_bos),
            chat_template: template,
        };
        Ok(Self {
            model: Box::new(model),
            tokenizer,
            chat,
            spec: info.path.display().to_string(),
            info,
            sha256: std::sync::OnceLock::new(),
            device: opts.device.clone(),
            batch_size: opts.batch_size.max(1),
            prefix_sharing: opts.prefix_sharing,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The sha256 of the weights file (read once, then remembered).
    pub fn sha256(&self) -> Result<&str> {
        if let Some(h) = self.sha256.get() {
            return Ok(h);
        }
        let h = hub::sha256_file(&self.info.path)?;
        Ok(self.sha256.get_or_init(|| h))
    }

    /// The tokenizer; an error naming the model when it has none.
    pub fn tokenizer(&self) -> Result<&TextTokenizer> {
        self.tokenizer
            .as_ref()
            .ok_or_else(|| Error::MissingTokenizer {
                path: self.info.path.clone(),
            })
    }

    /// The prompt text of `messages` under the model's chat template.
    pub fn render_chat(&self, messages: &[candor_core::ChatMessage]) -> Result<String> {
        let chat = self.chat.as_ref().ok_or_else(|| {
            Error::ChatTemplate(format!(
                "{} has no chat template (GGUF tokenizer.chat_template or tokenizer_config.json)",
                self.info.path.display()
            ))
        })?;
        chat.render(messages)
    }

    /// Token ids of a prompt: chat messages through the template (which writes its own special
    /// tokens), plain text with BOS when the model expects it.
    pub fn prompt_ids(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        let tok = self.tokenizer()?;
        Ok(match prompt {
            Prompt::Chat(messages) => tok.encode(&self.render_chat(messages)?)?,
            Prompt::Text(text) => {
                let mut ids = candor_core::Tokenize::bos_prefix(tok);
                ids.extend(tok.encode(text)?);
                ids
            }
        })
    }
}

/// Read an architecture's weights into a decoder, after checking its config.
fn build(
    architecture: &arch::Architecture,
    cfg: &mut DecoderConfig,
    store: &WeightStore,
    interleaved_rope: bool,
) -> Result<Decoder> {
    cfg.validate(store.path())?;
    let weights = (architecture.load)(cfg, store)?;
    Decoder::new(cfg.clone(), weights, interleaved_rope, store.dtype)
}

/// How weights are held, and for quantized ones which kernels multiply them (their results
/// differ in rounding, so the label is part of the model's identity in a journal).
fn weights_label(store: &WeightStore) -> String {
    if store.used_own_kernels() {
        format!("quantized ({} kernels)", candor_kernels::kernel())
    } else if store.quantized {
        "quantized".into()
    } else {
        format!("{:?}", store.dtype).to_lowercase()
    }
}

fn read_gguf(path: &Path) -> Result<gguf_file::Content> {
    let mut file = File::open(path).map_err(Error::io(path))?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| Error::BadGguf {
        path: path.to_path_buf(),
        reason: crate::error::candle_message(&e),
    })?;
    check_gguf_extent(path, &content)?;
    Ok(content)
}
