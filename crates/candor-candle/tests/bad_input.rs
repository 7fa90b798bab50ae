//! Bad input gets a clear error that names the problem, never a panic.

mod common;

use std::path::{Path, PathBuf};

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candor_candle::{
    hub, CandleModel, Error, HubOptions, LoadOptions, ModelFiles, ScoreJob, WeightFormat,
};
use candor_core::{
    GenerateRequest, GenerationParams, LanguageModel, LoglikelihoodRequest, ModelError, Prompt,
};
use common::{shared, smollm2_path};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("candor-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tiny_llama() -> Option<CandleModel> {
    let dir = shared()?.join("fixtures/tiny/llama");
    let opts = LoadOptions {
        weights: WeightFormat::F32,
        ..LoadOptions::default()
    };
    Some(CandleModel::load_files(&hub::local(&dir).unwrap(), &opts).unwrap())
}

fn load_err(path: &Path) -> Error {
    match CandleModel::load_files(
        &ModelFiles::Gguf(path.to_path_buf()),
        &LoadOptions::default(),
    ) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    }
}

#[test]
fn truncated_gguf_names_the_file_and_the_cut() {
    let Some(model) = smollm2_path() else { return };
    let bytes = std::fs::read(&model).unwrap();
    let dir = scratch("truncated");
    let half = dir.join("half.gguf");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let msg = load_err(&half).to_string();
    assert!(
        msg.contains("half.gguf") && msg.contains("truncated"),
        "{msg}"
    );
    let header = dir.join("header.gguf");
    std::fs::write(&header, &bytes[..4096]).unwrap();
    let msg = load_err(&header).to_string();
    assert!(
        msg.contains("header.gguf") && msg.contains("not a usable GGUF"),
        "{msg}"
    );
}

#[test]
fn unsupported_architecture_is_named() {
    let dir = scratch("arch");
    let path = dir.join("mamba.gguf");
    let t = QTensor::quantize(
        &Tensor::zeros((4, 32), candle_core::DType::F32, &Device::Cpu).unwrap(),
        GgmlDType::F32,
    )
    .unwrap();
    let arch = gguf_file::Value::String("mamba".into());
    let mut f = std::fs::File::create(&path).unwrap();
    gguf_file::write(
        &mut f,
        &[("general.architecture", &arch)],
        &[("token_embd.weight", &t)],
    )
    .unwrap();
    drop(f);
    let err = load_err(&path);
    assert!(matches!(err, Error::UnsupportedArchitecture { .. }));
    let msg = err.to_string();
    assert!(msg.contains("'mamba'") && msg.contains("llama"), "{msg}");
}

/// The tiny fixture of `arch` copied to a scratch folder with its config edited.
fn edited_fixture(arch: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Option<PathBuf> {
    let src = shared()?.join("fixtures/tiny").join(arch);
    let dir = scratch(&format!("edited-{arch}"));
    std::fs::copy(src.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let text = std::fs::read_to_string(src.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut config);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    Some(dir)
}

fn load_dir_err(dir: &Path) -> String {
    match CandleModel::load_files(&hub::local(dir).unwrap(), &LoadOptions::default()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unsupported_config_features_are_named() {
    // An unknown rope scaling type, in either transformers layout.
    let Some(dir) = edited_fixture("llama", |c| {
        c["rope_scaling"] = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
    }) else {
        return;
    };
    let err = load_dir_err(&dir);
    assert!(
        err.contains("config.json") && err.contains("rope scaling type 'yarn' is not supported"),
        "{err}"
    );
    let dir = edited_fixture("phi3", |c| {
        c["rope_scaling"] = serde_json::Value::Null;
        c["rope_parameters"] = serde_json::json!({"rope_type": "longrope", "rope_theta": 1e4});
    })
    .unwrap();
    let err = load_dir_err(&dir);
    assert!(err.contains("'longrope' is not supported"), "{err}");
    // An activation the engine does not implement.
    let dir = edited_fixture("starcoder2", |c| c["hidden_act"] = "relu2".into()).unwrap();
    let err = load_dir_err(&dir);
    assert!(err.contains("activation 'relu2' is not supported"), "{err}");
    // A missing shape key is named.
    let dir = edited_fixture("qwen2", |c| {
        c.as_object_mut().unwrap().remove("intermediate_size");
    })
    .unwrap();
    let err = load_dir_err(&dir);
    assert!(
        err.contains("missing or invalid 'intermediate_size'"),
        "{err}"
    );
    // An unknown architecture lists the supported ones.
    let dir = edited_fixture("llama", |c| c["model_type"] = "mamba".into()).unwrap();
    let err = load_dir_err(&dir);
    assert!(
        err.contains("'mamba' is not supported") && err.contains("gpt_bigcode"),
        "{err}"
    );
}

#[test]
fn text_requests_to_a_model_without_tokenizer_say_what_is_missing() {
    let Some(model) = tiny_llama() else { return };
    let err = model
        .loglikelihood(&[LoglikelihoodRequest::new("a", " b")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no tokenizer") && err.contains("tokenizer.json"),
        "{err}"
    );
    // Token ids still work.
    assert_eq!(model.token_logprobs(&[5, 6, 7]).unwrap().len(), 2);
}

#[test]
fn prompt_longer_than_the_context_is_rejected() {
    let Some(model) = tiny_llama() else { return };
    let long: Vec<u32> = (0..300).map(|i| i % 500).collect();
    let err = model
        .score(&[ScoreJob {
            ctx: long[..10].to_vec(),
            cont: long[10..].to_vec(),
        }])
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextTooLong {
                tokens: 299,
                max: 256,
                ..
            }
        ),
        "{err}"
    );
    assert!(model
        .generate_ids(&long, &GenerationParams::default(), true)
        .is_err());
    let err = model
        .score(&[ScoreJob {
            ctx: vec![1],
            cont: vec![9999],
        }])
        .unwrap_err()
        .to_string();
    assert!(err.contains("9999") && err.contains("vocabulary"), "{err}");
}

#[test]
fn empty_continuations_and_chat_without_template_are_invalid() {
    let Some(path) = smollm2_path() else { return };
    let model = CandleModel::load_files(&ModelFiles::Gguf(path), &LoadOptions::default()).unwrap();
    let err = model
        .loglikelihood(&[
            LoglikelihoodRequest::new("a", " b"),
            LoglikelihoodRequest::new("Question", ""),
        ])
        .unwrap_err();
    assert!(
        matches!(err, ModelError::InvalidRequest { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("continuation is empty"));
    let long = "word ".repeat(9000);
    let err = model
        .generate(&[GenerateRequest {
            prompt: Prompt::Text(long),
            params: GenerationParams::default(),
        }])
        .unwrap_err();
    assert!(
        matches!(err, ModelError::ContextTooLong { max: 8192, .. }),
        "{err}"
    );
}

#[test]
fn unknown_model_offline_says_how_to_provide_it() {
    let dir = scratch("offline");
    let hub = HubOptions {
        cache_dir: dir.clone(),
        offline: true,
        candor_cache: dir.join("candor"),
        model_dirs: vec![],
    };
    let err = hub::resolve("nobody/no-such-model", &hub)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nobody/no-such-model") && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
    let err = hub::resolve("./no/such/file.gguf", &hub)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such file"), "{err}");
    let err = hub::resolve("default", &hub).unwrap_err().to_string();
    assert!(err.contains("offline"), "{err}");
}

#[test]
fn hub_ids_resolve_from_the_hf_cache_layout() {
    let Some(shared) = shared() else { return };
    let cache = scratch("hfcache");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo = cache.join("models--someone--tiny-llama");
    let snap = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(shared.join("fixtures/tiny/llama").join(f), snap.join(f)).unwrap();
    }
    let hub = HubOptions {
        cache_dir: cache.clone(),
        offline: true,
        candor_cache: cache.join("c"),
        model_dirs: vec![],
    };
    for spec in [
        "someone/tiny-llama",
        &format!("someone/tiny-llama@{commit}"),
    ] {
        let files = hub::resolve(spec, &hub).unwrap();
        assert_eq!(
            files,
            ModelFiles::Safetensors {
                dir: snap.clone(),
                files: vec![snap.join("model.safetensors")]
            }
        );
    }
    let err = hub::resolve("someone/tiny-llama@v2", &hub)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'v2'"), "{err}");
    let opts = LoadOptions {
        hub,
        ..LoadOptions::default()
    };
    let model = CandleModel::load("someone/tiny-llama", &opts).unwrap();
    assert_eq!(model.info().architecture, "llama");
}

#[test]
fn default_model_is_found_in_candor_models_folders() {
    let Some(path) = smollm2_path() else { return };
    let dir = scratch("default");
    let hub = HubOptions {
        cache_dir: dir.clone(),
        offline: true,
        candor_cache: dir.join("c"),
        model_dirs: vec![dir.join("empty"), path.parent().unwrap().to_path_buf()],
    };
    assert_eq!(
        hub::resolve("default", &hub).unwrap(),
        ModelFiles::Gguf(path.clone())
    );
    assert_eq!(hub::sha256_file(&path).unwrap(), hub::DEFAULT_MODEL_SHA256);
}
