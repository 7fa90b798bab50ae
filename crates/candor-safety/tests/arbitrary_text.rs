//! Property tests: every detector takes arbitrary UTF-8 without panicking, PII spans are valid
//! char boundaries that reproduce their text, and scores stay in [0, 1].
//!
//! Inputs come from a seeded generator (reproducible, no extra dependency) that mixes random
//! code points from every plane with the material the detectors look for: digits and
//! separators, `@` and `+`, refusal and toxic phrases, combining marks, right-to-left text,
//! zero-width characters and emoji, at lengths from 0 to tens of kilobytes.

use candor_core::SplitMix64;
use candor_safety::{PiiDetector, RefusalDetector, Scorer, ToxicityDetector};

/// Fragments the detectors react to, so random strings reach their deeper paths.
const FRAGMENTS: &[&str] = &[
    "I'm sorry, but I can't",
    "However, if you're referring to",
    "It is not appropriate",
    "抱歉，我无法",
    "죄송하지만",
    "ขออภัย",
    "দুঃখিত",
    "samahani",
    "nuwun sewu",
    "عذراً، لا يمكنني",
    "@",
    "+44 ",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "123-45-6789",
    "AB 12 34 56 C",
    "12345678Z",
    "2345 6789 0124",
    "a.b@c.de",
    "(555) 123-4567",
    "f*ck",
    "you idiot",
    "1d10t",
    "stuuuupid",
    "i will kill you",
    "muslims are terrorists",
    "\u{301}",
    "\u{200f}",
    "\u{200d}",
    "\u{fe0f}",
    "🏳️‍🌈",
    "e\u{301}",
    "ﷺ",
    "\u{640}",
    "İ",
    "ẞ",
    "ǅ",
    "\r\n",
    "\t",
    "  ",
    ".",
    "!",
    "。",
    "\u{0}",
    "\u{feff}",
    "..",
    "'",
    "`",
    "’",
];

fn random_text(rng: &mut SplitMix64) -> String {
    let len = match rng.below(10) {
        0 => 0,
        1..=6 => rng.below(40),
        7 | 8 => rng.below(400),
        _ => rng.below(20_000),
    };
    let mut s = String::new();
    for _ in 0..len {
        match rng.below(4) {
            0 => s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]),
            1 => s.push(char::from(b' ' + rng.below(95) as u8)),
            2 => s.push(char::from(b'0' + rng.below(10) as u8)),
            _ => {
                // Any scalar value: surrogates are not chars, so retry until one is.
                let c = loop {
                    if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                        break c;
                    }
                };
                s.push(c);
            }
        }
    }
    s
}

#[test]
fn arbitrary_utf8_never_panics_and_spans_are_valid() {
    let mut rng = SplitMix64::new(20240607);
    let (refusal, pii, tox) = (RefusalDetector, PiiDetector, ToxicityDetector);
    let mut spans_seen = 0;
    for _ in 0..600 {
        let text = random_text(&mut rng);
        let _ = refusal.classify(&text);
        let r = refusal.label(&text);
        assert!(r.score == 0.0 || r.score == 1.0);

        let spans = pii.find(&text);
        let mut last_end = 0;
        for s in &spans {
            assert!(s.start < s.end && s.end <= text.len(), "{s:?}");
            assert!(
                text.is_char_boundary(s.start) && text.is_char_boundary(s.end),
                "{s:?}"
            );
            assert_eq!(&text[s.start..s.end], s.text);
            assert!(
                s.start >= last_end,
                "spans overlap or are out of order: {spans:?}"
            );
            last_end = s.end;
        }
        spans_seen += spans.len();
        assert_eq!(pii.label(&text).label == "pii", !spans.is_empty());

        let score = tox.score_text(&text);
        assert!((0.0..=1.0).contains(&score), "{score}");
        let out = tox.label(&text);
        assert_eq!(out.label == "toxic", out.score >= 0.5);
    }
    // The generator does reach the span code.
    assert!(spans_seen > 50, "only {spans_seen} spans in 600 texts");
}

#[test]
fn pathological_inputs() {
    let long_digits = "4".repeat(100_000);
    let long_word = "a".repeat(100_000);
    let combining = format!("a{}", "\u{301}".repeat(10_000));
    let rtl = "مرحبا بالعالم ".repeat(2_000);
    for text in [
        "",
        " ",
        "\u{0}",
        long_digits.as_str(),
        long_word.as_str(),
        combining.as_str(),
        rtl.as_str(),
        "@@@@@@@@@@",
        "+++++++++1",
        "-- -- -- --",
        "I'm sorry, but",
    ] {
        let _ = RefusalDetector.classify(text);
        for s in PiiDetector.find(text) {
            assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
        }
        assert!((0.0..=1.0).contains(&ToxicityDetector.score_text(text)));
    }
}

/// Answers every log-likelihood request with the same value; fails the other kinds.
struct Constant;

impl candor_core::LanguageModel for Constant {
    fn name(&self) -> &str {
        "constant"
    }
    fn loglikelihood(
        &self,
        requests: &[candor_core::LoglikelihoodRequest],
    ) -> Result<Vec<candor_core::Loglikelihood>, candor_core::ModelError> {
        Ok(requests
            .iter()
            .map(|r| candor_core::Loglikelihood {
                logprob: -(r.continuation.len() as f64),
                is_greedy: false,
                num_tokens: 1,
            })
            .collect())
    }
    fn loglikelihood_rolling(
        &self,
        _: &[candor_core::RollingRequest],
    ) -> Result<Vec<candor_core::RollingLoglikelihood>, candor_core::ModelError> {
        Err(candor_core::ModelError::Backend("not used".into()))
    }
    fn generate(
        &self,
        _: &[candor_core::GenerateRequest],
    ) -> Result<Vec<candor_core::Generation>, candor_core::ModelError> {
        Err(candor_core::ModelError::Backend("not used".into()))
    }
}

#[test]
fn guard_judge_takes_arbitrary_text() {
    let judge = candor_safety::GuardJudge::new(std::sync::Arc::new(Constant));
    let mut rng = SplitMix64::new(7);
    // log p(unsafe) = -6, log p(safe) = -4: P = 1 / (1 + e^2) whatever the texts are.
    let expect = 1.0 / (1.0 + 2f64.exp());
    for _ in 0..100 {
        let (prompt, response) = (random_text(&mut rng), random_text(&mut rng));
        let requests = judge.requests(&prompt, &response).unwrap();
        let answers = judge.model().unwrap().answer(&requests).unwrap();
        let out = judge.score(&prompt, &response, &answers).unwrap();
        assert!((out.score - expect).abs() < 1e-12, "{out:?}");
        assert!(judge.prompt(&prompt, &response).unwrap().contains(&prompt));
    }
}
