//! The tokenizer rebuilt from SmolLM2's GGUF metadata must give exactly the ids of the
//! `tokenizer.json` that transformers rebuilt from the same file, on every text we evaluate.

mod common;

use candor_candle::TextTokenizer;
use common::{read_json, shared, smollm2_path};

fn texts(shared: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let reference = read_json(shared.join("fixtures/smollm2/reference.json"));
    for t in reference["texts"].as_array().unwrap() {
        out.push(t["text"].as_str().unwrap().to_string());
    }
    out.push(
        reference["chat_greedy"]["prompt"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let mut xstest =
        csv::Reader::from_path(shared.join("datasets/xstest/xstest_prompts.csv")).unwrap();
    let headers = xstest.headers().unwrap().clone();
    let col = headers
        .iter()
        .position(|h| h == "prompt")
        .expect("prompt column");
    for row in xstest.records() {
        out.push(row.unwrap()[col].to_string());
    }
    let mc = read_json(shared.join("datasets/truthfulqa/data/mc_task.json"));
    for item in mc.as_array().unwrap() {
        let q = item["question"].as_str().unwrap();
        out.push(format!("Q: {q}\nA:"));
        for key in ["mc1_targets", "mc2_targets"] {
            for choice in item[key].as_object().unwrap().keys() {
                out.push(format!("Q: {q}\nA: {choice}"));
            }
        }
    }
    let mut tqa =
        csv::Reader::from_path(shared.join("datasets/truthfulqa/TruthfulQA.csv")).unwrap();
    let headers = tqa.headers().unwrap().clone();
    for row in tqa.records() {
        let row = row.unwrap();
        for (h, v) in headers.iter().zip(row.iter()) {
            if [
                "Question",
                "Best Answer",
                "Correct Answers",
                "Incorrect Answers",
            ]
            .contains(&h)
            {
                out.push(v.to_string());
            }
        }
    }
    out
}

#[test]
fn gguf_tokenizer_matches_transformers_on_every_evaluated_text() {
    let (Some(shared), Some(model)) = (shared(), smollm2_path()) else {
        return;
    };
    let ours = TextTokenizer::from_gguf_file(&model).unwrap();
    let theirs =
        TextTokenizer::from_file(&shared.join("fixtures/smollm2/tokenizer/tokenizer.json"))
            .unwrap();
    let texts = texts(&shared);
    assert!(texts.len() > 3000, "only {} texts", texts.len());
    for text in &texts {
        assert_eq!(
            ours.encode(text).unwrap(),
            theirs.encode(text).unwrap(),
            "{text:?}"
        );
    }
    assert_eq!(ours.bos, Some(1));
    assert_eq!(ours.eos, vec![2]);
    assert!(!ours.add_bos);
    // Round trip, special tokens included.
    let chat = "<|im_start|>user\nBonjour, ça va ? 2024 👋<|im_end|>\n";
    assert_eq!(
        ours.decode(&ours.encode(chat).unwrap(), false).unwrap(),
        chat
    );
}
