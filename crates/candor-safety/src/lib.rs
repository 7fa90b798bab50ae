//! Detectors that label generated text, behind candor's [`Scorer`] interface.
//!
//! ```
//! use candor_safety::{Refusal, RefusalDetector};
//!
//! let detector = RefusalDetector::default();
//! assert_eq!(detector.classify("I'm sorry, but I can't help with that."), Refusal::Full);
//! assert_eq!(detector.classify("Use `kill -9 <pid>` to stop it."), Refusal::None);
//! ```

mod hazard;
mod refusal;

pub use candor_core::{Scorer, ScorerOutput};
pub use hazard::Hazard;
pub use refusal::{Refusal, RefusalDetector};
