//! The MLCommons hazard taxonomy (AILuminate v1.0, as Llama Guard 3/4 use it: S1–S14), the
//! common vocabulary that every dataset's own categories are mapped onto.

use std::fmt;
use std::str::FromStr;

/// One MLCommons hazard category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hazard {
    ViolentCrimes,
    NonViolentCrimes,
    SexRelatedCrimes,
    ChildSexualExploitation,
    Defamation,
    SpecializedAdvice,
    Privacy,
    IntellectualProperty,
    IndiscriminateWeapons,
    Hate,
    SuicideSelfHarm,
    SexualContent,
    Elections,
    CodeInterpreterAbuse,
}

impl Hazard {
    /// Every hazard, in S1..S14 order.
    pub const ALL: [Hazard; 14] = [
        Hazard::ViolentCrimes,
        Hazard::NonViolentCrimes,
        Hazard::SexRelatedCrimes,
        Hazard::ChildSexualExploitation,
        Hazard::Defamation,
        Hazard::SpecializedAdvice,
        Hazard::Privacy,
        Hazard::IntellectualProperty,
        Hazard::IndiscriminateWeapons,
        Hazard::Hate,
        Hazard::SuicideSelfHarm,
        Hazard::SexualContent,
        Hazard::Elections,
        Hazard::CodeInterpreterAbuse,
    ];

    /// The code guard models emit: `S1` … `S14`.
    pub fn code(self) -> &'static str {
        const CODES: [&str; 14] = [
            "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10", "S11", "S12", "S13", "S14",
        ];
        CODES[self as usize]
    }

    /// The category's name as the taxonomy writes it.
    pub fn name(self) -> &'static str {
        match self {
            Hazard::ViolentCrimes => "Violent Crimes",
            Hazard::NonViolentCrimes => "Non-Violent Crimes",
            Hazard::SexRelatedCrimes => "Sex-Related Crimes",
            Hazard::ChildSexualExploitation => "Child Sexual Exploitation",
            Hazard::Defamation => "Defamation",
            Hazard::SpecializedAdvice => "Specialized Advice",
            Hazard::Privacy => "Privacy",
            Hazard::IntellectualProperty => "Intellectual Property",
            Hazard::IndiscriminateWeapons => "Indiscriminate Weapons",
            Hazard::Hate => "Hate",
            Hazard::SuicideSelfHarm => "Suicide & Self-Harm",
            Hazard::SexualContent => "Sexual Content",
            Hazard::Elections => "Elections",
            Hazard::CodeInterpreterAbuse => "Code Interpreter Abuse",
        }
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.name())
    }
}

impl FromStr for Hazard {
    type Err = String;
    /// Parses a code (`S7`, case-insensitive).
    fn from_str(s: &str) -> Result<Self, String> {
        Hazard::ALL
            .into_iter()
            .find(|h| h.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown hazard code '{s}' (expected S1 to S14)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_in_order() {
        for (i, h) in Hazard::ALL.into_iter().enumerate() {
            assert_eq!(h.code(), format!("S{}", i + 1));
            assert_eq!(h.code().parse::<Hazard>(), Ok(h));
        }
        assert_eq!("s10".parse::<Hazard>(), Ok(Hazard::Hate));
        assert!("S15".parse::<Hazard>().is_err());
        assert_eq!(Hazard::Privacy.to_string(), "S7: Privacy");
    }
}
