//! The `candor` binary, driven as a user drives it.

use std::process::Command;

use common::shared;

mod common;

fn candor(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .expect("candor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn logprobs_json_matches_the_smollm2_reference() {
    let Some(shared) = shared() else { return };
    let model = shared.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let reference =
        json(&std::fs::read_to_string(shared.join("fixtures/smollm2/reference.json")).unwrap());
    let text = &reference["texts"][0];
    let file = std::env::temp_dir().join(format!("candor-cli-{}.txt", std::process::id()));
    std::fs::write(&file, text["text"].as_str().unwrap()).unwrap();
    let (ok, out, err) = candor(&[
        "logprobs",
        "--model",
        model.to_str().unwrap(),
        "--text-file",
        file.to_str().unwrap(),
        "--weights",
        "f32",
        "--json",
    ]);
    assert!(ok, "{err}");
    let doc = json(&out);
    let tokens = doc["tokens"].as_array().unwrap();
    let want = text["next_token_logprobs"].as_array().unwrap();
    assert_eq!(tokens.len(), want.len());
    for ((t, w), id) in tokens
        .iter()
        .zip(want)
        .zip(text["token_ids"].as_array().unwrap().iter().skip(1))
    {
        assert_eq!(&t["id"], id);
        assert!((t["logprob"].as_f64().unwrap() - w.as_f64().unwrap()).abs() <= 2e-3);
    }
    assert_eq!(doc["tokens"][0]["token"], text["tokens"][1]);
    assert!(
        (doc["total"].as_f64().unwrap() - text["total_loglik"].as_f64().unwrap()).abs() <= 2e-2
    );
}

#[test]
fn logprobs_and_info_on_every_tiny_architecture() {
    let Some(shared) = shared() else { return };
    for arch in [
        "llama",
        "mistral",
        "qwen2",
        "phi3",
        "starcoder2",
        "gpt_bigcode",
        "gemma2",
        "gemma3",
    ] {
        let dir = shared.join("fixtures/tiny").join(arch);
        let expected = json(&std::fs::read_to_string(dir.join("expected.json")).unwrap());
        let config = json(&std::fs::read_to_string(dir.join("config.json")).unwrap());
        for seq in expected["sequences"].as_array().unwrap() {
            let ids: Vec<String> = seq["input_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            let (ok, out, err) = candor(&[
                "logprobs",
                "--model",
                dir.to_str().unwrap(),
                "--ids",
                &ids.join(","),
                "--json",
            ]);
            assert!(ok, "{arch}: {err}");
            let doc = json(&out);
            let want = seq["next_token_logprobs"].as_array().unwrap();
            let got = doc["tokens"].as_array().unwrap();
            assert_eq!(got.len(), want.len(), "{arch}");
            for (t, w) in got.iter().zip(want) {
                let (t, w) = (t["logprob"].as_f64().unwrap(), w.as_f64().unwrap());
                assert!((t - w).abs() <= 1e-4, "{arch}: {t} vs {w}");
            }
            let total = seq["sum_logprob"].as_f64().unwrap();
            assert!(
                (doc["total"].as_f64().unwrap() - total).abs() <= 1e-3,
                "{arch}"
            );
        }

        let (ok, out, err) = candor(&["info", "--model", dir.to_str().unwrap(), "--json"]);
        assert!(ok, "{arch}: {err}");
        let info = json(&out);
        assert_eq!(info["architecture"], config["model_type"], "{arch}");
        assert_eq!(info["layers"], 2, "{arch}");
        assert_eq!(info["hidden_size"], 64, "{arch}");
        assert_eq!(info["heads"], 4, "{arch}");
        let kv = if arch == "gpt_bigcode" { 1 } else { 2 };
        assert_eq!(info["kv_heads"], kv, "{arch}");
        assert_eq!(info["vocab_size"], 512, "{arch}");
        assert_eq!(info["context_length"], 256, "{arch}");
    }
}

#[test]
fn info_and_greedy_chat_generation() {
    let Some(shared) = shared() else { return };
    let model = shared.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let model = model.to_str().unwrap();
    let (ok, out, err) = candor(&["info", "--model", model, "--json"]);
    assert!(ok, "{err}");
    let info = json(&out);
    assert_eq!(info["architecture"], "llama");
    assert_eq!(info["context_length"], 8192);
    assert_eq!(info["parameters"], 134515008);
    assert!(info["chat_template"]
        .as_str()
        .unwrap()
        .contains("<|im_start|>"));
    assert_eq!(info["tensor_types"][0], serde_json::json!(["Q4_1", 210]));

    let chat = |weights: &str| {
        let (ok, out, err) = candor(&[
            "generate",
            "--model",
            model,
            "--weights",
            weights,
            "--chat",
            "--prompt",
            "What is the capital of France?",
            "--max-new-tokens",
            "20",
        ]);
        assert!(ok, "{err}");
        (out.trim().to_string(), err)
    };
    let (text, err) = chat("f32");
    assert_eq!(text, "The capital of France is Paris.");
    assert!(err.contains("finish: Eos"), "{err}");
    // With 8-bit activations the greedy path parts from f32's at the first token, and is
    // llama.cpp's own for this file (llama-cpp-python 0.3.36, temperature 0, the same text).
    let (text, _) = chat("quantized");
    assert_eq!(text, "L'Étoile, la Marseillaise, la femme, la femme au");
}

#[test]
fn user_errors_are_reported_without_panics() {
    let (ok, _, err) = candor(&["logprobs", "--model", "/no/such/model.gguf", "--text", "x"]);
    assert!(
        !ok && err.contains("no such file") && !err.contains("panicked"),
        "{err}"
    );
    let (ok, _, err) = candor(&[
        "generate",
        "--device",
        "cuda:0",
        "--model",
        "/no/such.gguf",
        "--prompt",
        "x",
    ]);
    assert!(!ok && !err.contains("panicked"), "{err}");
    let (ok, _, err) = candor(&["info", "--weights", "int3"]);
    assert!(!ok && err.contains("int3"), "{err}");
    let (ok, _, err) = candor(&["run", "--limit", "1.5"]);
    assert!(
        !ok && err.contains("'1.5' is neither a number of documents nor a share between 0 and 1"),
        "{err}"
    );
    let (ok, _, err) = candor(&["run", "--model", "openai:m@localhost:1"]);
    assert!(
        !ok && err.contains("'localhost:1' is not an http(s) URL"),
        "{err}"
    );
}

#[test]
fn a_share_of_the_documents_sampled_with_a_seed() {
    let Some(shared) = shared() else { return };
    let out = std::env::temp_dir().join(format!("candor-cli-share-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let models = shared.join("models");
    let run = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args([
            "run",
            "--suites",
            "xcopa",
            "--limit",
            "0.02",
            "--sample-seed",
            "5",
            "--out",
        ])
        .arg(&out)
        .env("CANDOR_MODELS", &models)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("limit 0.02 of the documents (sampled with seed 5)"),
        "{stdout}"
    );
    // XCOPA has 500 test documents per language: 2 % is 10, drawn from the whole file.
    let samples = std::fs::read_to_string(out.join("samples.jsonl")).unwrap();
    let it: Vec<u64> = samples
        .lines()
        .map(json)
        .filter(|s| s["task"] == "xcopa_it")
        .map(|s| s["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(it.len(), 10, "{it:?}");
    assert!(
        it.windows(2).all(|w| w[0] < w[1]) && *it.last().unwrap() >= 10,
        "{it:?}"
    );
}
