//! Detectors that label generated text, behind candor's [`Scorer`] interface. Each is a pure
//! function of its input (the judge, of its input and its model), so results are reproducible.
//!
//! * [`RefusalDetector`]: full refusal / partial refusal / compliance, a learned model
//!   ([`RefusalModel`]) over refusal cue families in sixteen languages and character n-grams;
//! * [`PiiDetector`]: e-mail addresses, phone numbers, payment cards, IBANs and national id
//!   numbers, with byte spans, each validated by its check digits or issuing rules;
//! * [`ToxicityDetector`]: multilingual word lists and rules that run locally (its limits
//!   are documented in [`toxicity`]);
//! * [`GuardJudge`]: a Llama Guard 3-format judge over any [`candor_core::LanguageModel`],
//!   scoring `P(unsafe)` from the first answer token over the MLCommons [`Hazard`]s.
//!
//! ```
//! use candor_safety::{PiiDetector, PiiKind, Refusal, RefusalDetector, ToxicityDetector};
//!
//! let detector = RefusalDetector::default();
//! assert_eq!(detector.classify("I'm sorry, but I can't help with that."), Refusal::Full);
//! assert_eq!(detector.classify("Use `kill -9 <pid>` to stop it."), Refusal::None);
//!
//! let spans = PiiDetector.find("Write to ana@example.org.");
//! assert_eq!((spans[0].kind, spans[0].text.as_str()), (PiiKind::Email, "ana@example.org"));
//!
//! assert!(ToxicityDetector.score_text("I will kill you, you idiot") > 0.5);
//! ```

mod hazard;
pub mod insecure_code;
mod judge;
mod pii;
mod refusal;
mod refusal_model;
pub mod toxicity;

pub use candor_core::{Scorer, ScorerError, ScorerOutput};
pub use hazard::Hazard;
pub use insecure_code::{answer_code, InsecureCodeDetector, InsecureFinding, CODE_LANGUAGES};
pub use judge::{guard_name, ChatRenderer, GuardJudge, GuardVerdict, JudgeError};
pub use pii::{PiiDetector, PiiKind, PiiSpan};
pub use refusal::{Refusal, RefusalDetector};
pub use refusal_model::{ModelError, RefusalModel, TrainConfig};
pub use toxicity::{ToxicCategory, ToxicHit, ToxicityDetector, TOXICITY_THRESHOLD};
