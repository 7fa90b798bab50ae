//! How the lexicon detector does on ToxiGen's human-written seed statements
//! (`toxigen/demonstrations/**/{hate,neutral}_*.txt`): each file's name is its label.
//!
//! These statements are mostly *implicit* hate (stereotypes without slurs or insults), which
//! is what ToxiGen was built to test and what a lexicon misses, so the floor asserted here is
//! modest and honest: better than chance at ranking (AUC), and few false alarms on the
//! neutral statements. Measured when written: AUC 0.620 (0.594 before the weak
//! generalisation cue was added; both measured on these same statements, there is no
//! held-out labelled set here), 17 % of hateful statements flagged, 2 % of neutral ones.

use std::path::PathBuf;

use candor_safety::ToxicityDetector;

fn demonstrations() -> Option<PathBuf> {
    candor_data::shared_test_data("datasets").map(|dir| dir.join("datasets/toxigen/demonstrations"))
}

/// Share of (hateful, neutral) pairs the scores order correctly, ties counting half.
fn auc(pos: &[f64], neg: &[f64]) -> f64 {
    let mut wins = 0.0;
    for p in pos {
        for n in neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn auc_is_a_hand_computed_case() {
    // Pairs: (0.9,0.1) win, (0.9,0.5) win, (0.5,0.1) win, (0.5,0.5) tie -> 3.5 / 4.
    assert_eq!(auc(&[0.9, 0.5], &[0.1, 0.5]), 0.875);
}

#[test]
fn lexicon_ranks_toxigen_statements_better_than_chance() {
    let Some(root) = demonstrations() else { return };
    let detector = ToxicityDetector;
    let (mut hate, mut neutral) = (Vec::new(), Vec::new());
    for axis in std::fs::read_dir(&root).unwrap() {
        for file in std::fs::read_dir(axis.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let scores = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| detector.score_text(l));
            match name.split('_').next() {
                Some("hate") => hate.extend(scores),
                Some("neutral") => neutral.extend(scores),
                _ => panic!("{}: neither hate_ nor neutral_", path.display()),
            }
        }
    }
    let flagged = |s: &[f64]| s.iter().filter(|&&x| x >= 0.5).count() as f64 / s.len() as f64;
    let (a, recall, false_alarms) = (auc(&hate, &neutral), flagged(&hate), flagged(&neutral));
    eprintln!(
        "ToxiGen demonstrations: {} hateful, {} neutral; AUC {a:.3}, flagged {recall:.3} of hateful, {false_alarms:.3} of neutral",
        hate.len(),
        neutral.len()
    );
    assert!(hate.len() > 300 && neutral.len() > 250);
    assert!(a >= 0.55, "AUC {a}");
    assert!(recall >= 0.10, "recall {recall}");
    assert!(false_alarms <= 0.05, "false alarms {false_alarms}");
}
