//! Where a model's tensors come from (a GGUF file or safetensors checkpoints) and in which
//! representation they are kept in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::quantized::{gguf_file, GgmlDType, QMatMul, QTensor};
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Module, Shape, Tensor, D};
use candor_kernels::{DenseMatrix, Format, QuantMatrix};

use crate::{Error, Result};

/// How weights are kept in memory.
///
/// Quantized kernels quantize activations to 8 bits before each matmul, so their log-probs
/// move with rounding (see the crate docs); dequantized weights give exact f32 arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// The fastest representation that fits the memory budget: GGUF weights stay quantized
    /// where candor's SIMD kernels multiply all of them (on the CPU); otherwise f32 when the
    /// dequantized model fits, the stored (quantized) form when it does not.
    Auto,
    /// Keep GGUF tensors quantized (safetensors keep their stored dtype).
    Quantized,
    F32,
    F16,
    BF16,
}

impl FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "quantized" | "q" => Self::Quantized,
            "f32" => Self::F32,
            "f16" => Self::F16,
            "bf16" => Self::BF16,
            other => {
                return Err(format!(
                    "unknown weight format '{other}' (expected auto, quantized, f32, f16 or bf16)"
                ))
            }
        })
    }
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Quantized => "quantized",
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
        })
    }
}

/// A linear layer `y = x·Wᵀ + b`: quantized (candor's kernels or candle's) or dense.
#[derive(Clone, Debug)]
pub(crate) enum Linear {
    Kernel(Arc<QuantMatrix>, Option<Tensor>),
    Quantized(QMatMul, Option<Tensor>),
    /// f32 weights on the CPU, multiplied by candor's dense kernel.
    DenseKernel(Arc<DenseMatrix>, Option<Tensor>),
    Dense(Tensor, Option<Tensor>),
}

/// The formats candor's kernels multiply.
fn kernel_format(t: GgmlDType) -> Option<Format> {
    Some(match t {
        GgmlDType::Q4_0 => Format::Q4_0,
        GgmlDType::Q4_1 => Format::Q4_1,
        GgmlDType::Q5_0 => Format::Q5_0,
        GgmlDType::Q5_1 => Format::Q5_1,
        GgmlDType::Q8_0 => Format::Q8_0,
        GgmlDType::Q4K => Format::Q4K,
        GgmlDType::Q5K => Format::Q5K,
        GgmlDType::Q6K => Format::Q6K,
        _ => return None,
    })
}

/// Float tensors, kept dense even in a quantized store.
fn dense(t: GgmlDType) -> bool {
    matches!(t, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16)
}

/// Whether candor's SIMD kernels run here and know the format of every quantized matrix of
/// the file: then they beat dequantized f32 at decode everywhere (2-5x) and at prefill too
/// with AVX-512 VNNI (BENCHMARKS.md), and `auto` keeps the weights quantized.
fn kernels_take_all(content: &gguf_file::Content) -> bool {
    candor_kernels::kernel() != candor_kernels::Kernel::Reference
        && content.tensor_infos.values().all(|t| {
            dense(t.ggml_dtype)
                || t.shape.dims().len() != 2
                || kernel_format(t.ggml_dtype).is_some()
        })
}

/// Matrices multiplied by candor's kernels, as a candle op on f32 activations: one matrix, or
/// several over the same input with their outputs side by side.
enum KernelMatmul<'a> {
    Quantized(Vec<&'a QuantMatrix>),
    Dense(Vec<&'a DenseMatrix>),
}

impl KernelMatmul<'_> {
    /// Inputs, and outputs of all the matrices together.
    fn shape(&self) -> (usize, usize) {
        match self {
            KernelMatmul::Quantized(m) => (
                m.first().map_or(0, |m| m.cols()),
                m.iter().map(|m| m.rows()).sum(),
            ),
            KernelMatmul::Dense(m) => (
                m.first().map_or(0, |m| m.cols()),
                m.iter().map(|m| m.rows()).sum(),
            ),
        }
    }
}

impl CustomOp1 for KernelMatmul<'_> {
    fn name(&self) -> &'static str {
        "candor-kernels-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("candor's matmul takes f32 activations")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("candor's matmul takes contiguous activations")
        };
        let (cols, rows) = self.shape();
        let mut dims = layout.shape().dims().to_vec();
        match dims.last_mut() {
            Some(last) if *last == cols => *last = rows,
            _ => candle_core::bail!(
                "activations of shape {:?} for a {rows}×{cols} matrix",
                layout.shape(),
            ),
        }
        let x = &data[start..end];
        let y = match self {
            KernelMatmul::Quantized(m) => candor_kernels::matmul_stacked(m, x),
            KernelMatmul::Dense(m) => candor_kernels::dense_stacked(m, x),
        }
        .map_err(candle_core::Error::wrap)?;
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }
}

impl Linear {
    /// `x`: (..., in) → (..., out).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (y, bias) = match self {
            Linear::Kernel(w, b) => {
                let op = KernelMatmul::Quantized(vec![w]);
                (x.contiguous()?.apply_op1_no_bwd(&op)?, b)
            }
            Linear::DenseKernel(w, b) => {
                let op = KernelMatmul::Dense(vec![w]);
                (x.contiguous()?.apply_op1_no_bwd(&op)?, b)
            }
            Linear::Quantized(w, b) => (w.forward(x)?, b),
            Linear::Dense(w, b) => {
                let dims = x.dims().to_vec();
                let (rows, inner) = (x.elem_count() / dims[dims.len() - 1], dims[dims.len() - 1]);
                let y = x.reshape((rows, inner))?.matmul(&w.t()?)?;
                let mut out = dims;
                let last = out.len() - 1;
                out[last] = w.dim(0)?;
                (y.reshape(out)?, b)
            }
        };
        Ok(match bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }

    /// Several layers over one input (a layer's queries, keys and values; gate and up): where
    /// candor's kernels hold them all in one kind, one product (quantizing the input once)
    /// shares one parallel call and gives the same numbers as one by one; otherwise one by
    /// one.
    pub fn forward_all<const N: usize>(layers: [&Linear; N], x: &Tensor) -> Result<[Tensor; N]> {
        let quantized: Option<Vec<&QuantMatrix>> = layers
            .iter()
            .map(|l| match l {
                Linear::Kernel(w, _) => Some(&**w),
                _ => None,
            })
            .collect();
        let dense: Option<Vec<&DenseMatrix>> = layers
            .iter()
            .map(|l| match l {
                Linear::DenseKernel(w, _) => Some(&**w),
                _ => None,
            })
            .collect();
        let op = match (quantized, dense) {
            (Some(m), _) => KernelMatmul::Quantized(m),
            (_, Some(m)) => KernelMatmul::Dense(m),
            _ => return try_map(layers, |l| l.forward(x)),
        };
        let all = x.contiguous()?.apply_op1_no_bwd(&op)?;
        let mut at = 0;
        try_map(layers, |l| {
            let (rows, bias) = match l {
                Linear::Kernel(w, b) => (w.rows(), b),
                Linear::DenseKernel(w, b) => (w.rows(), b),
                _ => unreachable!("every layer was a kernel layer"),
            };
            let y = all.narrow(D::Minus1, at, rows)?;
            at += rows;
            Ok(match bias {
                Some(b) => y.broadcast_add(b)?,
                None => y,
            })
        })
    }
}

/// `f` over an array, stopping at the first error.
fn try_map<T, U, const N: usize>(
    items: [T; N],
    mut f: impl FnMut(T) -> Result<U>,
) -> Result<[U; N]> {
    let mut out = Vec::with_capacity(N);
    for item in items {
        out.push(f(item)?);
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("N items mapped")))
}

enum Source {
    Gguf {
        content: gguf_file::Content,
        file: Mutex<BufReader<File>>,
        names: &'static GgufNames,
    },
    Safetensors(candle_core::safetensors::MmapedSafetensors),
}

/// Tensors of one checkpoint, handed out by their Hugging Face names
/// (`model.layers.0.self_attn.q_proj.weight`); GGUF names are translated.
pub(crate) struct WeightStore {
    path: PathBuf,
    source: Source,
    device: Device,
    /// Activation dtype and dtype of dense weights.
    pub dtype: DType,
    /// Whether matmul weights stay quantized.
    pub quantized: bool,
    /// Whether candor's kernels may multiply the quantized weights whose format they know.
    own_kernels: bool,
    /// Whether some layer took them (a model of other formats only, Q2_K or Q3_K, never does).
    kernel_layers: AtomicBool,
    /// Whether candor's dense kernel multiplies f32 weights (on the CPU).
    dense_kernels: bool,
}

impl WeightStore {
    pub fn open_gguf(
        path: &Path,
        content: gguf_file::Content,
        names: &'static GgufNames,
        format: WeightFormat,
        memory_budget: u64,
        device: &Device,
        own_kernels: bool,
    ) -> Result<Self> {
        let file = File::open(path).map_err(Error::io(path))?;
        let (dtype, quantized) = match format {
            WeightFormat::Quantized => (DType::F32, true),
            WeightFormat::F32 => (DType::F32, false),
            WeightFormat::F16 => (DType::F16, false),
            WeightFormat::BF16 => (DType::BF16, false),
            WeightFormat::Auto => {
                let f32_bytes: u64 = content
                    .tensor_infos
                    .values()
                    .map(|t| 4 * t.shape.elem_count() as u64)
                    .sum();
                let kernels_win = own_kernels && device.is_cpu() && kernels_take_all(&content);
                (DType::F32, kernels_win || f32_bytes > memory_budget)
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            source: Source::Gguf {
                content,
                file: Mutex::new(BufReader::new(file)),
                names,
            },
            device: device.clone(),
            dtype,
            quantized,
            own_kernels: quantized && own_kernels && device.is_cpu(),
            kernel_layers: AtomicBool::new(false),
            dense_kernels: own_kernels && device.is_cpu() && dtype == DType::F32,
        })
    }

    pub fn open_safetensors(
        files: &[PathBuf],
        stored: DType,
        format: WeightFormat,
        memory_budget: u64,
        device: &Device,
        own_kernels: bool,
    ) -> Result<Self> {
        let path = files.first().cloned().ok_or_else(|| Error::BadConfig {
            path: PathBuf::new(),
            key: "*.safetensors".into(),
        })?;
        for f in files {
            if !f.exists() {
                return Err(Error::Io {
                    path: f.clone(),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
        }
        // SAFETY: the files are mapped read-only; candor never writes to model files, and the
        // map lives as long as the store.
        let st = unsafe { candle_core::safetensors::MmapedSafetensors::multi(files)? };
        let dtype = match format {
            WeightFormat::Quantized => stored,
            WeightFormat::F32 => DType::F32,
            WeightFormat::F16 => DType::F16,
            WeightFormat::BF16 => DType::BF16,
            WeightFormat::Auto => {
                let f32_bytes: u64 = st
                    .tensors()
                    .iter()
                    .map(|(_, v)| 4 * v.shape().iter().product::<usize>() as u64)
                    .sum();
                if f32_bytes > memory_budget {
                    stored
                } else {
                    DType::F32
                }
            }
        };
        let dtype = if dtype.is_float() { dtype } else { DType::F32 };
        Ok(Self {
            path,
            source: Source::Safetensors(st),
            device: device.clone(),
            dtype,
            quantized: false,
            own_kernels: false,
            kernel_layers: AtomicBool::new(false),
            dense_kernels: own_kernels && device.is_cpu() && dtype == DType::F32,
        })
    }

    /// Whether candor's kernels multiply at least one layer built so far.
    pub fn used_own_kernels(&self) -> bool {
        self.kernel_layers.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the tensors come from a GGUF file, whose conventions differ in places (llama.cpp
    /// permutes Llama's Q/K rows for its interleaved rotation; Gemma norms hold `1 + w`).
    pub fn is_gguf(&self) -> bool {
        matches!(self.source, Source::Gguf { .. })
    }

    pub fn contains(&self, hf_name: &str) -> bool {
        match &self.source {
            Source::Gguf { content, names, .. } => {
                content.tensor_infos.contains_key(&names.translate(hf_name))
            }
            Source::Safetensors(st) => st.get(hf_name).is_ok(),
        }
    }

    fn missing(&self, name: &str) -> Error {
        Error::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
        }
    }

    fn qtensor(&self, hf_name: &str) -> Result<QTensor> {
        let Source::Gguf {
            content,
            file,
            names,
        } = &self.source
        else {
            return Err(self.missing(hf_name));
        };
        let name = names.translate(hf_name);
        if !content.tensor_infos.contains_key(&name) {
            return Err(self.missing(&name));
        }
        let mut file = file.lock().map_err(|_| Error::BadGguf {
            path: self.path.clone(),
            reason: "reader poisoned by an earlier panic".into(),
        })?;
        content
            .tensor(&mut *file, &name, &self.device)
            .map_err(|e| Error::BadGguf {
                path: self.path.clone(),
                reason: format!("tensor '{name}': {e}"),
            })
    }

    /// A dense tensor in the store's dtype.
    pub fn dense(&self, hf_name: &str) -> Result<Tensor> {
        self.dense_as(hf_name, self.dtype)
    }

    /// A dense tensor in the given dtype (norm weights stay f32 with quantized matmuls).
    pub fn dense_as(&self, hf_name: &str, dtype: DType) -> Result<Tensor> {
        let t = match &self.source {
            Source::Gguf { .. } => self.qtensor(hf_name)?.dequantize(&self.device)?,
            Source::Safetensors(st) => st
                .load(hf_name, &self.device)
                .map_err(|_| self.missing(hf_name))?,
        };
        Ok(t.to_dtype(dtype)?)
    }

    /// A linear layer from `{prefix}.weight` and, when present, `{prefix}.bias`.
    pub fn linear(&self, prefix: &str) -> Result<Linear> {
        let weight = format!("{prefix}.weight");
        let bias_name = format!("{prefix}.bias");
        let bias = if self.contains(&bias_name) {
            Some(self.dense(&bias_name)?)
        } else {
            None
        };
        if self.quantized {
            let q = self.qtensor(&weight)?;
            if let Some(format) = kernel_format(q.dtype()).filter(|_| self.own_kernels) {
                let (rows, cols) = q.shape().dims2()?;
                let matrix =
                    QuantMatrix::from_gguf(format, rows, cols, &q.data()?).map_err(|e| {
                        Error::BadGguf {
                            path: self.path.clone(),
                            reason: format!("tensor '{weight}': {e}"),
                        }
                    })?;
                self.kernel_layers.store(true, Ordering::Relaxed);
                return Ok(Linear::Kernel(Arc::new(matrix), bias));
            }
            if !dense(q.dtype()) {
                return Ok(Linear::Quantized(QMatMul::from_qtensor(q)?, bias));
            }
        }
        let w = self.dense(&weight)?;
        if self.dense_kernels && w.dtype() == DType::F32 {
            if let Ok((rows, cols)) = w.dims2() {
                let matrix = DenseMatrix::new(&w.flatten_all()?.to_vec1::<f32>()?, rows, cols)
                    .map_err(|e| Error::Candle(candle_core::Error::wrap(e)))?;
                return Ok(Linear::DenseKernel(Arc::new(matrix), bias));
            }
        }
        Ok(Linear::Dense(w, bias))
    }

    /// Every GGUF tensor type present, with its count (for `candor info`).
    pub fn tensor_types(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        match &self.source {
            Source::Gguf { content, .. } => {
                for t in content.tensor_infos.values() {
                    *counts.entry(format!("{:?}", t.ggml_dtype)).or_default() += 1;
                }
            }
            Source::Safetensors(st) => {
                for (_, v) in st.tensors() {
                    *counts.entry(format!("{:?}", v.dtype())).or_default() += 1;
                }
            }
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Total number of parameters.
    pub fn parameter_count(&self) -> u64 {
        match &self.source {
            Source::Gguf { content, .. } => content
                .tensor_infos
                .values()
                .map(|t| t.shape.elem_count() as u64)
                .sum(),
            Source::Safetensors(st) => st
                .tensors()
                .iter()
                .map(|(_, v)| v.shape().iter().product::<usize>() as u64)
                .sum(),
        }
    }
}

/// How an architecture's Hugging Face tensor names translate into llama.cpp's GGUF names.
pub(crate) struct GgufNames {
    /// Whole-model tensors: `(hf, gguf)`.
    pub global: &'static [(&'static str, &'static str)],
    /// What precedes the layer number in Hugging Face names (`model.layers.`).
    pub layer_prefix: &'static str,
    /// Layer tensors by the name after `{layer_prefix}{i}.`, up to `.weight` / `.bias`.
    pub layer: &'static [(&'static str, &'static str)],
}

/// The Llama layout, which most architectures follow.
pub(crate) const LLAMA_NAMES: GgufNames = GgufNames {
    global: &[
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("model.norm.bias", "output_norm.bias"),
        ("lm_head.weight", "output.weight"),
    ],
    layer_prefix: "model.layers.",
    layer: &[
        ("input_layernorm", "attn_norm"),
        ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"),
        ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"),
        ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"),
    ],
};

impl GgufNames {
    /// The GGUF name of a Hugging Face tensor name (unchanged when the table has no entry).
    fn translate(&self, hf: &str) -> String {
        if let Some((_, g)) = self.global.iter().find(|(h, _)| *h == hf) {
            return g.to_string();
        }
        if let Some(rest) = hf.strip_prefix(self.layer_prefix) {
            if let Some((layer, tail)) = rest.split_once('.') {
                for (h, g) in self.layer {
                    if let Some(suffix) = tail.strip_prefix(h) {
                        if suffix.starts_with('.') {
                            return format!("blk.{layer}.{g}{suffix}");
                        }
                    }
                }
            }
        }
        hf.to_string()
    }
}

/// Check that every tensor of a GGUF file lies inside the file, so that a truncated download
/// is reported at load time with the first tensor it cuts, not as an I/O error mid-run.
pub(crate) fn check_gguf_extent(path: &Path, content: &gguf_file::Content) -> Result<()> {
    let actual = std::fs::metadata(path).map_err(Error::io(path))?.len();
    let mut worst: Option<(&String, u64)> = None;
    for (name, info) in &content.tensor_infos {
        let bytes =
            info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let end = content.tensor_data_offset + info.offset + bytes as u64;
        if end > actual && worst.is_none_or(|(_, e)| end < e) {
            worst = Some((name, end));
        }
    }
    match worst {
        Some((tensor, needed)) => Err(Error::TruncatedGguf {
            path: path.to_path_buf(),
            tensor: tensor.clone(),
            needed,
            actual,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_map_to_gguf_names() {
        let gguf_name = |n: &str| LLAMA_NAMES.translate(n);
        assert_eq!(gguf_name("model.embed_tokens.weight"), "token_embd.weight");
        assert_eq!(
            gguf_name("model.layers.12.self_attn.k_proj.weight"),
            "blk.12.attn_k.weight"
        );
        assert_eq!(
            gguf_name("model.layers.0.post_attention_layernorm.weight"),
            "blk.0.ffn_norm.weight"
        );
        assert_eq!(
            gguf_name("model.layers.3.mlp.down_proj.bias"),
            "blk.3.ffn_down.bias"
        );
        // A name that only starts like a known one is not mistaken for it.
        assert_eq!(
            gguf_name("model.layers.3.mlp.up_proj_extra.weight"),
            "model.layers.3.mlp.up_proj_extra.weight"
        );
    }

    #[test]
    fn weight_formats_parse() {
        assert_eq!("BF16".parse::<WeightFormat>(), Ok(WeightFormat::BF16));
        assert!("int4".parse::<WeightFormat>().unwrap_err().contains("int4"));
    }
}
