//! [`CandleModel`]: a loaded model that answers candor's requests in batches.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Tensor, D};
use candor_core::{
    FinishReason, GenerateRequest, Generation, GenerationParams, LanguageModel, Loglikelihood,
    LoglikelihoodRequest, ModelError, Prompt, RollingLoglikelihood, RollingRequest,
};

use crate::arch;
use crate::chat::{hf_chat_template, ChatTemplate};
use crate::config::{DecoderConfig, GgufConfig, HfConfig};
use crate::decoder::Decoder;
use crate::hub::{self, HubOptions, ModelFiles};
use crate::sampling::Sampler;
use crate::tokenizer::{gguf_chat_template, TextTokenizer};
use crate::transformer::{KvCache, LayerCache, RowLayout, RowSpan, Transformer};
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
    model: Box<dyn Transformer>,
    tokenizer: Option<TextTokenizer>,
    chat: Option<ChatTemplate>,
    info: ModelInfo,
    /// What the model was loaded from, as the user said it.
    spec: String,
    /// The weights file's sha256, computed when first asked for.
    sha256: std::sync::OnceLock<String>,
    device: Device,
    batch_size: usize,
    prefix_sharing: bool,
}

pub use candor_core::ScoreJob;

/// Per-token log-probs of a [`ScoreJob`]'s continuation and whether greedy decoding yields it.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenScores {
    pub logprobs: Vec<f32>,
    pub greedy: bool,
}

impl TokenScores {
    pub fn total(&self) -> f64 {
        self.logprobs.iter().map(|&l| f64::from(l)).sum()
    }
}

/// Jobs that share a context.
struct Group<'a> {
    ctx: &'a [u32],
    members: Vec<usize>,
}

/// One row of a forward pass: `tokens` (the context's last token, then the continuation but
/// its last token) go in after the group's cached prefix; outputs are scored against `targets`.
struct Row {
    job: usize,
    group: usize,
    tokens: Vec<u32>,
    targets: Vec<u32>,
}

/// Padded tokens per forward pass, so that long rows do not blow up memory.
const TOKEN_BUDGET: usize = 8192;

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

    /// Raw logits `(len, vocab)` at every position of one sequence.
    pub fn logits(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>> {
        let tokens = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let (hidden, _) = self.model.forward(&tokens, None, None)?;
        let hidden = hidden.squeeze(0)?;
        Ok(self.model.logits(&hidden)?.to_vec2()?)
    }

    /// `log p(ids[i+1] | ids[..=i])` for every position after the first.
    pub fn token_logprobs(&self, ids: &[u32]) -> Result<Vec<f32>> {
        if ids.len() < 2 {
            return Ok(Vec::new());
        }
        let job = ScoreJob {
            ctx: ids[..1].to_vec(),
            cont: ids[1..].to_vec(),
        };
        Ok(self.score(&[job])?.remove(0).logprobs)
    }

    fn check_ids(&self, index: usize, ids: &[u32]) -> Result<(), ModelError> {
        let vocab = self.model.vocab_size();
        match ids.iter().find(|&&id| id as usize >= vocab) {
            Some(id) => Err(ModelError::InvalidRequest {
                index,
                reason: format!("token id {id} is outside the vocabulary of {vocab}"),
            }),
            None => Ok(()),
        }
    }

    /// Score token-level jobs in batches. Jobs with the same context form a group whose context
    /// is computed once; groups run together, each row reading its own group's cache.
    pub fn score(&self, jobs: &[ScoreJob]) -> Result<Vec<TokenScores>, ModelError> {
        let max = self.model.max_context();
        for (index, job) in jobs.iter().enumerate() {
            if job.ctx.is_empty() || job.cont.is_empty() {
                return Err(ModelError::InvalidRequest {
                    index,
                    reason: "context and continuation must each have at least one token".into(),
                });
            }
            let tokens = job.ctx.len() + job.cont.len() - 1;
            if tokens > max {
                return Err(ModelError::ContextTooLong { index, tokens, max });
            }
            self.check_ids(index, &job.ctx)?;
            self.check_ids(index, &job.cont)?;
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut by_ctx: HashMap<&[u32], usize> = HashMap::new();
        for (i, job) in jobs.iter().enumerate() {
            let g = match by_ctx.get(job.ctx.as_slice()) {
                Some(&g) if self.prefix_sharing => g,
                _ => {
                    by_ctx.insert(&job.ctx, groups.len());
                    groups.push(Group {
                        ctx: &job.ctx,
                        members: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[g].members.push(i);
        }
        // Neighbouring contexts then share their longest prefixes.
        groups.sort_by(|a, b| a.ctx.cmp(b.ctx));
        let mut out: Vec<Option<TokenScores>> = vec![None; jobs.len()];
        let mut previous = None;
        let mut start = 0;
        while start < groups.len() {
            // Take groups while their rows fit in a batch and their tokens in the budget.
            let (mut end, mut rows, mut width, mut prefix) = (start, 0, 0, 0);
            while end < groups.len() {
                let g = &groups[end];
                let r = rows + g.members.len();
                let w = g
                    .members
                    .iter()
                    .map(|&i| jobs[i].cont.len())
                    .fold(width, usize::max);
                let p = prefix.max(g.ctx.len());
                if end > start
                    && (r > self.batch_size || r * w + (end - start + 1) * p > TOKEN_BUDGET)
                {
                    break;
                }
                (rows, width, prefix) = (r, w, p);
                end += 1;
            }
            self.score_groups(jobs, &groups[start..end], &mut previous, &mut out)
                .map_err(ModelError::from)?;
            start = end;
        }
        out.into_iter()
            .map(|s| s.ok_or_else(|| ModelError::Backend("a job was not scored".into())))
            .collect()
    }

    /// Score the jobs of a few groups: their contexts (minus the last token) run once, the part
    /// all of them share first, then every continuation row on top of its group's cache.
    fn score_groups(
        &self,
        jobs: &[ScoreJob],
        groups: &[Group],
        previous: &mut Option<(Vec<u32>, KvCache)>,
        out: &mut [Option<TokenScores>],
    ) -> Result<()> {
        let prefixes: Vec<&[u32]> = groups.iter().map(|g| &g.ctx[..g.ctx.len() - 1]).collect();
        let common = prefixes
            .iter()
            .map(|p| {
                p.iter()
                    .zip(prefixes[0])
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .min()
            .unwrap_or(0);
        let head = if common > 0 {
            let cache = self.prefix_cache(&prefixes[0][..common], previous.as_ref())?;
            *previous = Some((prefixes[0][..common].to_vec(), cache.clone()));
            Some(cache)
        } else {
            None
        };
        let rest = prefixes.iter().map(|p| p.len() - common).max().unwrap_or(0);
        let cache = if rest > 0 {
            let mut padded = Vec::with_capacity(groups.len() * rest);
            for p in &prefixes {
                padded.extend_from_slice(&p[common..]);
                padded.resize(padded.len() + rest - (p.len() - common), 0);
            }
            let tokens = Tensor::from_vec(padded, (groups.len(), rest), &self.device)?;
            Some(self.model.forward(&tokens, head.as_ref(), None)?.1)
        } else {
            head
        };
        let rows: Vec<Row> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group.members.iter().map(move |&i| {
                    let cont = &jobs[i].cont;
                    let mut tokens = vec![group.ctx[group.ctx.len() - 1]];
                    tokens.extend_from_slice(&cont[..cont.len() - 1]);
                    Row {
                        job: i,
                        group: g,
                        tokens,
                        targets: cont.clone(),
                    }
                })
            })
            .collect();
        for chunk in rows.chunks(self.batch_size) {
            self.run_batch(chunk, &prefixes, cache.as_ref(), out)?;
        }
        Ok(())
    }

    /// The KV cache of `ids`, reusing the part it shares with the previous group's context
    /// (few-shot preambles repeat across questions, and sorted contexts make them neighbours).
    fn prefix_cache(&self, ids: &[u32], previous: Option<&(Vec<u32>, KvCache)>) -> Result<KvCache> {
        /// Shorter common prefixes are not worth a separate pass.
        const MIN_REUSE: usize = 16;
        let reuse = previous.and_then(|(prev, cache)| {
            let common = prev.iter().zip(ids).take_while(|(a, b)| a == b).count();
            // At least one new token must run to produce the cache of `ids`.
            let common = common.min(ids.len() - 1);
            (common >= MIN_REUSE).then_some((common, cache))
        });
        let (start, head) = match reuse {
            Some((common, cache)) => (common, Some(cache.truncate(common)?)),
            None => (0, None),
        };
        let tokens = Tensor::new(&ids[start..], &self.device)?.unsqueeze(0)?;
        Ok(self.model.forward(&tokens, head.as_ref(), None)?.1)
    }

    /// One forward pass over right-padded rows, each after its group's cached prefix
    /// (`cache` holds one row per group, or one row shared by all), scoring every target.
    fn run_batch(
        &self,
        rows: &[Row],
        prefixes: &[&[u32]],
        cache: Option<&KvCache>,
        out: &mut [Option<TokenScores>],
    ) -> Result<()> {
        let b = rows.len();
        let width = rows.iter().map(|r| r.tokens.len()).max().unwrap_or(0);
        let mut padded = Vec::with_capacity(b * width);
        let mut positions = Vec::new();
        let mut targets = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            padded.extend_from_slice(&row.tokens);
            padded.resize((r + 1) * width, 0);
            for (j, &t) in row.targets.iter().enumerate() {
                positions.push((r * width + j) as u32);
                targets.push(t);
            }
        }
        let tokens = Tensor::from_vec(padded, (b, width), &self.device)?;
        let (hidden, _) = match cache {
            None => self.model.forward(&tokens, None, None)?,
            Some(cache) => {
                let cached = cache.len();
                let per_group = cache.layers[0].k.dim(0)? > 1;
                let cache = if per_group {
                    let idx: Vec<u32> = rows.iter().map(|r| r.group as u32).collect();
                    cache.select_rows(&Tensor::new(idx.as_slice(), &self.device)?)?
                } else {
                    cache.clone()
                };
                let spans: Vec<RowSpan> = rows
                    .iter()
                    .map(|row| RowSpan {
                        prefix: prefixes[row.group].len(),
                        padded: cached,
                    })
                    .collect();
                let layout = RowLayout::after_cache(&spans, cached, width, &self.device)?;
                self.model.forward(&tokens, Some(&cache), Some(&layout))?
            }
        };
        let hidden = hidden.reshape((b * width, hidden.dim(2)?))?;
        let picked = hidden.index_select(&Tensor::new(positions.as_slice(), &self.device)?, 0)?;
        let logits = self.model.logits(&picked)?;
        let logprobs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
        let target_t = Tensor::new(targets.as_slice(), &self.device)?.unsqueeze(1)?;
        let chosen = logprobs
            .gather(&target_t, 1)?
            .squeeze(1)?
            .to_vec1::<f32>()?;
        let best = logits.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let mut at = 0;
        for row in rows {
            let n = row.targets.len();
            let greedy = best[at..at + n] == row.targets[..];
            out[row.job] = Some(TokenScores {
                logprobs: chosen[at..at + n].to_vec(),
                greedy,
            });
            at += n;
        }
        Ok(())
    }

    /// Split a request the lm-evaluation-harness way (see [`candor_core::tokens`]).
    fn loglikelihood_job(
        &self,
        index: usize,
        r: &LoglikelihoodRequest,
    ) -> Result<ScoreJob, ModelError> {
        let tok = self.tokenizer().map_err(ModelError::from)?;
        candor_core::tokens::loglikelihood_job(tok, index, r)
    }

    /// Rolling windows over a whole text (see [`candor_core::tokens::rolling_jobs`]).
    fn rolling_jobs(&self, index: usize, text: &str) -> Result<Vec<ScoreJob>, ModelError> {
        let tok = self.tokenizer().map_err(ModelError::from)?;
        candor_core::tokens::rolling_jobs(tok, index, text, self.model.max_context())
    }

    /// Generate from prompt ids. With `stop_at_eos` false the model runs for exactly
    /// `max_new_tokens` (unless a stop string ends it), as reference fixtures do.
    pub fn generate_ids(
        &self,
        prompt: &[u32],
        params: &GenerationParams,
        stop_at_eos: bool,
    ) -> Result<(Vec<u32>, FinishReason)> {
        Ok(self
            .generate_batch(&[(prompt.to_vec(), params)], stop_at_eos)?
            .remove(0))
    }

    /// Generate for several prompts at once. Each prompt is prefilled on its own; decoding then
    /// runs all unfinished rows in one batch, with each row's cache padded to a common length and
    /// masked, and its own positions, so a row computes what it would compute alone.
    pub fn generate_batch(
        &self,
        prompts: &[(Vec<u32>, &GenerationParams)],
        stop_at_eos: bool,
    ) -> Result<Vec<(Vec<u32>, FinishReason)>> {
        let max = self.model.max_context();
        let eos: &[u32] = match (&self.tokenizer, stop_at_eos) {
            (Some(t), true) => &t.eos,
            _ => &[],
        };
        let mut out: Vec<Option<(Vec<u32>, FinishReason)>> = vec![None; prompts.len()];
        let mut live = Vec::new();
        let mut caches = Vec::new();
        let mut logits = Vec::new();
        for (row, (prompt, params)) in prompts.iter().enumerate() {
            if prompt.is_empty() {
                return Err(Error::Request(ModelError::InvalidRequest {
                    index: row,
                    reason: "the prompt has no tokens".into(),
                }));
            }
            if prompt.len() >= max {
                return Err(Error::Request(ModelError::ContextTooLong {
                    index: row,
                    tokens: prompt.len(),
                    max,
                }));
            }
            if params.max_new_tokens == 0 {
                out[row] = Some((Vec::new(), FinishReason::Length));
                continue;
            }
            let tokens = Tensor::new(prompt.as_slice(), &self.device)?.unsqueeze(0)?;
            let (hidden, cache) = self.model.forward(&tokens, None, None)?;
            let last = hidden.narrow(1, prompt.len() - 1, 1)?.squeeze(0)?;
            logits.push(self.model.logits(&last)?.squeeze(0)?.to_vec1::<f32>()?);
            caches.push(cache);
            live.push(Decoding {
                row,
                prompt_len: prompt.len(),
                new: Vec::new(),
                sampler: Sampler::new(params),
                params,
            });
        }
        let Some(mut cache) = pad_caches(&caches)? else {
            return Ok(out.into_iter().flatten().collect());
        };
        drop(caches);
        let padded_len = cache.len();
        loop {
            let mut keep = Vec::new();
            for (i, (d, l)) in live.iter_mut().zip(&logits).enumerate() {
                let next = d.sampler.sample(l);
                d.new.push(next);
                match self.finished(d, next, eos, max)? {
                    Some(reason) => out[d.row] = Some((std::mem::take(&mut d.new), reason)),
                    None => keep.push(i),
                }
            }
            if keep.is_empty() {
                break;
            }
            if keep.len() < live.len() {
                let rows: Vec<u32> = keep.iter().map(|&i| i as u32).collect();
                cache = cache.select_rows(&Tensor::new(rows.as_slice(), &self.device)?)?;
                live = live
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| keep.contains(i))
                    .map(|(_, d)| d)
                    .collect();
            }
            let b = live.len();
            let spans: Vec<RowSpan> = live
                .iter()
                .map(|d| RowSpan {
                    prefix: d.prompt_len,
                    padded: padded_len,
                })
                .collect();
            let rows = RowLayout::after_cache(&spans, cache.len(), 1, &self.device)?;
            let inputs: Vec<u32> = live.iter().map(|d| d.new[d.new.len() - 1]).collect();
            let tokens = Tensor::from_vec(inputs, (b, 1), &self.device)?;
            let (hidden, grown) = self.model.forward(&tokens, Some(&cache), Some(&rows))?;
            cache = grown;
            logits = self.model.logits(&hidden.squeeze(1)?)?.to_vec2::<f32>()?;
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Why a row stops after emitting `next`, if it does.
    fn finished(
        &self,
        d: &Decoding,
        next: u32,
        eos: &[u32],
        max: usize,
    ) -> Result<Option<FinishReason>> {
        if eos.contains(&next) {
            return Ok(Some(FinishReason::Eos));
        }
        if !d.params.stop.is_empty() {
            let text = self.tokenizer()?.decode(&d.new, true)?;
            if d.params.stop.iter().any(|s| text.contains(s.as_str())) {
                return Ok(Some(FinishReason::Stop));
            }
        }
        if d.new.len() >= d.params.max_new_tokens || d.prompt_len + d.new.len() >= max {
            return Ok(Some(FinishReason::Length));
        }
        Ok(None)
    }

    /// The text of generated ids, cut before the first stop string.
    fn generation_text(
        &self,
        ids: &[u32],
        finish: &FinishReason,
        stop: &[String],
    ) -> Result<String> {
        let mut text = self.tokenizer()?.decode(ids, true)?;
        if *finish == FinishReason::Stop {
            let cut = stop
                .iter()
                .filter_map(|s| text.find(s.as_str()))
                .min()
                .unwrap_or(text.len());
            text.truncate(cut);
        }
        Ok(text)
    }
}

/// A row being generated.
struct Decoding<'a> {
    row: usize,
    prompt_len: usize,
    new: Vec<u32>,
    sampler: Sampler,
    params: &'a GenerationParams,
}

/// Stack batch-1 caches of different lengths into one, zero-padded at the end of each row
/// (the caller masks the padding out).
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

fn pad_caches(caches: &[KvCache]) -> Result<Option<KvCache>> {
    let Some(first) = caches.first() else {
        return Ok(None);
    };
    let len = caches.iter().map(KvCache::len).max().unwrap_or(0);
    let pad = |t: &Tensor| -> Result<Tensor> {
        let (b, h, l, d) = t.dims4()?;
        if l == len {
            return Ok(t.clone());
        }
        let zeros = Tensor::zeros((b, h, len - l, d), t.dtype(), t.device())?;
        Ok(Tensor::cat(&[t, &zeros], 2)?)
    };
    let layers = (0..first.layers.len())
        .map(|i| -> Result<LayerCache> {
            let ks = caches
                .iter()
                .map(|c| pad(&c.layers[i].k))
                .collect::<Result<Vec<_>>>()?;
            let vs = caches
                .iter()
                .map(|c| pad(&c.layers[i].v))
                .collect::<Result<Vec<_>>>()?;
            Ok(LayerCache {
                k: Tensor::cat(&ks, 0)?,
                v: Tensor::cat(&vs, 0)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(KvCache { layers }))
}

/// Cover `seq[1..]` with scoring windows of at most `max` input tokens each. The first window
/// predicts from `seq[0]` (the prefix token) on; each later one predicts the next `max` tokens
/// with as much preceding text as fits. Every token is scored exactly once.
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

impl LanguageModel for CandleModel {
    fn name(&self) -> &str {
        &self.info.name
    }

    /// Everything that decides the numbers: weights (by sha256), how they are held, device,
    /// batch size and threads. An unreadable weights file leaves the sha256 empty, and the
    /// journal then keys answers by name and path.
    fn describe(&self) -> candor_core::ModelRecord {
        let i = &self.info;
        candor_core::ModelRecord {
            spec: self.spec.clone(),
            backend: "candle".into(),
            name: i.name.clone(),
            path: i.path.display().to_string(),
            sha256: self.sha256().map(str::to_string).unwrap_or_default(),
            architecture: i.architecture.clone(),
            parameters: i.parameters,
            quantization: i
                .tensor_types
                .iter()
                .map(|(t, n)| format!("{t} × {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            weights: i.weights.clone(),
            context_length: i.context_length,
            device: match self.device.location() {
                candle_core::DeviceLocation::Cpu => "cpu".into(),
                candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
                candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
            },
            batch_size: self.batch_size,
            threads: rayon::current_num_threads(),
            details: Default::default(),
        }
    }

    fn count_tokens(&self, text: &str) -> Option<usize> {
        self.tokenizer
            .as_ref()?
            .encode(text)
            .ok()
            .map(|ids| ids.len())
    }

    fn loglikelihood(
        &self,
        requests: &[LoglikelihoodRequest],
    ) -> Result<Vec<Loglikelihood>, ModelError> {
        let jobs = requests
            .iter()
            .enumerate()
            .map(|(i, r)| self.loglikelihood_job(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .score(&jobs)?
            .into_iter()
            .zip(&jobs)
            .map(|(s, job)| Loglikelihood {
                logprob: s.total(),
                is_greedy: s.greedy,
                num_tokens: job.cont.len(),
            })
            .collect())
    }

    fn loglikelihood_rolling(
        &self,
        requests: &[RollingRequest],
    ) -> Result<Vec<RollingLoglikelihood>, ModelError> {
        let mut jobs = Vec::new();
        let mut owner = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if r.text.is_empty() {
                return Err(ModelError::InvalidRequest {
                    index: i,
                    reason: "the text is empty".into(),
                });
            }
            for job in self.rolling_jobs(i, &r.text)? {
                owner.push(i);
                jobs.push(job);
            }
        }
        let scores = self.score(&jobs)?;
        let mut out: Vec<RollingLoglikelihood> = requests
            .iter()
            .map(|r| RollingLoglikelihood {
                logprob: 0.0,
                num_tokens: 0,
                num_bytes: r.text.len(),
            })
            .collect();
        for ((s, job), &i) in scores.iter().zip(&jobs).zip(&owner) {
            out[i].logprob += s.total();
            out[i].num_tokens += job.cont.len();
        }
        Ok(out)
    }

    fn generate(&self, requests: &[GenerateRequest]) -> Result<Vec<Generation>, ModelError> {
        let prompts = requests
            .iter()
            .map(|r| self.prompt_ids(&r.prompt).map(|ids| (ids, &r.params)))
            .collect::<Result<Vec<_>>>()?;
        // Rows of similar prompt length decode together, so padding stays small.
        let mut order: Vec<usize> = (0..prompts.len()).collect();
        order.sort_by_key(|&i| prompts[i].0.len());
        let mut out: Vec<Option<Generation>> = vec![None; requests.len()];
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<(Vec<u32>, &GenerationParams)> =
                chunk.iter().map(|&i| prompts[i].clone()).collect();
            let results = self.generate_batch(&batch, true).map_err(|e| match e {
                Error::Request(ModelError::ContextTooLong { index, tokens, max }) => {
                    ModelError::ContextTooLong {
                        index: chunk[index],
                        tokens,
                        max,
                    }
                }
                Error::Request(ModelError::InvalidRequest { index, reason }) => {
                    ModelError::InvalidRequest {
                        index: chunk[index],
                        reason,
                    }
                }
                other => other.into(),
            })?;
            for (&i, (ids, finish)) in chunk.iter().zip(results) {
                let text = self.generation_text(&ids, &finish, &requests[i].params.stop)?;
                out[i] = Some(Generation {
                    text,
                    finish_reason: finish,
                    num_tokens: ids.len(),
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}
