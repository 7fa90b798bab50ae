//! Every architecture with a GGUF form loads from GGUF as from safetensors. Each tiny fixture
//! is converted here the way llama.cpp's converter writes it (its tensor names and metadata
//! keys, Llama's Q/K rows permuted for the interleaved rotation, Gemma's norms stored as
//! `1 + w`), and must give the same logits as its safetensors original.

mod common;

use std::collections::HashMap;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candor_candle::{hub, CandleModel, LoadOptions, ModelFiles, WeightFormat};
use common::{read_json, shared, u32s};

/// llama.cpp's names for the layer tensors of the `model.layers.*` architectures.
const LAYER_NAMES: &[(&str, &str)] = &[
    ("input_layernorm", "attn_norm"),
    ("self_attn.q_proj", "attn_q"),
    ("self_attn.k_proj", "attn_k"),
    ("self_attn.v_proj", "attn_v"),
    ("self_attn.o_proj", "attn_output"),
    ("self_attn.qkv_proj", "attn_qkv"),
    ("self_attn.q_norm", "attn_q_norm"),
    ("self_attn.k_norm", "attn_k_norm"),
    ("mlp.gate_proj", "ffn_gate"),
    ("mlp.up_proj", "ffn_up"),
    ("mlp.gate_up_proj", "ffn_up"),
    ("mlp.down_proj", "ffn_down"),
    ("mlp.c_fc", "ffn_up"),
    ("mlp.c_proj", "ffn_down"),
    ("pre_feedforward_layernorm", "ffn_norm"),
    ("post_feedforward_layernorm", "post_ffw_norm"),
];

const BIGCODE_NAMES: &[(&str, &str)] = &[
    ("ln_1", "attn_norm"),
    ("attn.c_attn", "attn_qkv"),
    ("attn.c_proj", "attn_output"),
    ("ln_2", "ffn_norm"),
    ("mlp.c_fc", "ffn_up"),
    ("mlp.c_proj", "ffn_down"),
];

fn gguf_name(gguf_arch: &str, hf: &str) -> String {
    let global = [
        ("model.embed_tokens", "token_embd"),
        ("model.norm", "output_norm"),
        ("lm_head", "output"),
        ("transformer.wte", "token_embd"),
        ("transformer.wpe", "position_embd"),
        ("transformer.ln_f", "output_norm"),
    ];
    let (stem, kind) = hf.rsplit_once('.').unwrap();
    if let Some((_, g)) = global.iter().find(|(h, _)| *h == stem) {
        return format!("{g}.{kind}");
    }
    let (prefix, table) = if gguf_arch == "starcoder" {
        ("transformer.h.", BIGCODE_NAMES)
    } else {
        ("model.layers.", LAYER_NAMES)
    };
    let (layer, tail) = stem.strip_prefix(prefix).unwrap().split_once('.').unwrap();
    // Gemma's post-attention norm wraps the attention output; Llama's precedes the MLP.
    let gemma = gguf_arch.starts_with("gemma");
    let name = match tail {
        "post_attention_layernorm" if gemma => "post_attention_norm",
        "post_attention_layernorm" => "ffn_norm",
        t => LAYER_NAMES
            .iter()
            .chain(table)
            .find(|(h, _)| *h == t)
            .map(|(_, g)| *g)
            .unwrap_or_else(|| panic!("no GGUF name for {hf}")),
    };
    format!("blk.{layer}.{name}.{kind}")
}

/// llama.cpp's row permutation of Llama Q/K weights, from halves to interleaved pairs.
fn permute(w: &Tensor, heads: usize) -> Tensor {
    let (rows, cols) = w.dims2().unwrap();
    w.reshape((heads, 2, rows / heads / 2, cols))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((rows, cols))
        .unwrap()
}

fn convert(arch_dir: &str, gguf_arch: &str) -> Option<std::path::PathBuf> {
    let dir = shared()?.join("fixtures/tiny").join(arch_dir);
    let config = read_json(dir.join("config.json"));
    let tensors =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let u = |k: &str| config[k].as_u64().unwrap() as u32;
    let (heads, kv_heads) = if gguf_arch == "starcoder" {
        (u("n_head"), 1)
    } else {
        (u("num_attention_heads"), u("num_key_value_heads"))
    };
    let mut qtensors: Vec<(String, QTensor)> = Vec::new();
    for (name, t) in &tensors {
        let mut t = t.clone();
        if gguf_arch == "llama" && name.ends_with("q_proj.weight") {
            t = permute(&t, heads as usize);
        }
        if gguf_arch == "llama" && name.ends_with("k_proj.weight") {
            t = permute(&t, kv_heads as usize);
        }
        if gguf_arch.starts_with("gemma") && name.ends_with("norm.weight") {
            t = (t + 1.0).unwrap();
        }
        let q = QTensor::quantize(&t, GgmlDType::F32).unwrap();
        qtensors.push((gguf_name(gguf_arch, name), q));
    }
    let key = |k: &str| format!("{gguf_arch}.{k}");
    let mut md: Vec<(String, gguf_file::Value)> = vec![
        (
            "general.architecture".into(),
            gguf_file::Value::String(gguf_arch.into()),
        ),
        (key("vocab_size"), gguf_file::Value::U32(512)),
        (key("embedding_length"), gguf_file::Value::U32(64)),
        (key("feed_forward_length"), gguf_file::Value::U32(128)),
        (key("block_count"), gguf_file::Value::U32(2)),
        (key("context_length"), gguf_file::Value::U32(256)),
        (key("attention.head_count"), gguf_file::Value::U32(heads)),
        (
            key("attention.head_count_kv"),
            gguf_file::Value::U32(kv_heads),
        ),
    ];
    let f = |v: f64| gguf_file::Value::F32(v as f32);
    for (hf, gguf) in [
        ("rms_norm_eps", "attention.layer_norm_rms_epsilon"),
        ("norm_epsilon", "attention.layer_norm_epsilon"),
        ("layer_norm_epsilon", "attention.layer_norm_epsilon"),
        ("rope_theta", "rope.freq_base"),
        ("sliding_window", "attention.sliding_window"),
        ("attn_logit_softcapping", "attn_logit_softcapping"),
        ("final_logit_softcapping", "final_logit_softcapping"),
    ] {
        if let Some(v) = config[hf].as_f64() {
            let value = if hf == "sliding_window" {
                gguf_file::Value::U32(v as u32)
            } else {
                f(v)
            };
            md.push((key(gguf), value));
        }
    }
    if gguf_arch.starts_with("gemma") {
        md.push((key("attention.key_length"), gguf_file::Value::U32(16)));
        let scalar = config["query_pre_attn_scalar"].as_f64().unwrap();
        md.push((key("attention.scale"), f(1.0 / scalar.sqrt())));
        md.push((
            key("attention.sliding_window_pattern"),
            gguf_file::Value::U32(2),
        ));
    }
    let path = std::env::temp_dir().join(format!(
        "candor-gguf-{}-{arch_dir}.gguf",
        std::process::id()
    ));
    let mut file = std::fs::File::create(&path).unwrap();
    let md_refs: Vec<(&str, &gguf_file::Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = qtensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut file, &md_refs, &t_refs).unwrap();
    Some(path)
}

#[test]
fn gguf_forms_match_their_safetensors_originals() {
    let f32 = LoadOptions {
        weights: WeightFormat::F32,
        ..LoadOptions::default()
    };
    let mut checked = HashMap::new();
    for (arch_dir, gguf_arch) in [
        ("llama", "llama"),
        ("qwen2", "qwen2"),
        ("phi3", "phi3"),
        ("starcoder2", "starcoder2"),
        ("gpt_bigcode", "starcoder"),
        ("gemma2", "gemma2"),
        ("gemma3", "gemma3"),
    ] {
        let Some(path) = convert(arch_dir, gguf_arch) else {
            return;
        };
        let dir = shared().unwrap().join("fixtures/tiny").join(arch_dir);
        let original = CandleModel::load_files(&hub::local(&dir).unwrap(), &f32).unwrap();
        let gguf = CandleModel::load_files(&ModelFiles::Gguf(path.clone()), &f32)
            .unwrap_or_else(|e| panic!("{gguf_arch}: {e}"));
        assert_eq!(gguf.info().architecture, gguf_arch);
        let expected = read_json(dir.join("expected.json"));
        let ids = u32s(&expected["sequences"][0]["input_ids"]);
        let (a, b) = (original.logits(&ids).unwrap(), gguf.logits(&ids).unwrap());
        let worst = a
            .iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-4, "{gguf_arch}: GGUF logits differ by {worst}");
        checked.insert(gguf_arch, worst);
        std::fs::remove_file(path).unwrap();
    }
    assert_eq!(checked.len(), 7);
}
