//! Score a multiple-choice question and a generation with the default model, from Rust.
//!
//! `cargo run --release --example multiple_choice [MODEL]`

use candor::{
    CandleModel, ChatMessage, GenerateRequest, GenerationParams, LanguageModel, LoadOptions,
    LoglikelihoodRequest, Prompt,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let model = CandleModel::load(&spec, &LoadOptions::default())?;

    // Four continuations of one context: the context is computed once and shared.
    let context = "Q: What is the largest planet in the solar system?\nA:";
    let choices = [" Jupiter", " Mars", " Earth", " Pluto"];
    let requests: Vec<_> = choices
        .iter()
        .map(|c| LoglikelihoodRequest::new(context, *c))
        .collect();
    for (choice, answer) in choices.iter().zip(model.loglikelihood(&requests)?) {
        println!(
            "{choice:>10}: log p = {:8.3} over {} tokens",
            answer.logprob, answer.num_tokens
        );
    }

    let prompt = Prompt::Chat(vec![ChatMessage::user("Name a planet with rings.")]);
    let params = GenerationParams {
        max_new_tokens: 32,
        ..Default::default()
    };
    let answer = model
        .generate(&[GenerateRequest { prompt, params }])?
        .remove(0);
    println!("chat: {} ({:?})", answer.text, answer.finish_reason);
    Ok(())
}
