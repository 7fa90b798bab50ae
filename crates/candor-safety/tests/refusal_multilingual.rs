//! The shipped multilingual refusal set (`data/refusal_multilingual.jsonl`): its provenance
//! holds (every row is a translation of a human-labelled XSTest answer in `../shared`, with
//! that answer's label), and the detector's agreement per language does not fall below what
//! was measured when its model was trained (see `data/README.md` and the `refusal_agreement`
//! example, which also gives the leave-one-source-out estimates).

use std::collections::{BTreeMap, HashMap};

use candor_data::DataDir;
use candor_safety::{Refusal, RefusalDetector};

const LANGUAGES: [&str; 16] = [
    "en", "zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv", "es", "fr", "de", "pt", "ru", "ja",
];

#[test]
fn every_row_is_a_labelled_xstest_answer_in_sixteen_languages() {
    let set = DataDir::new(env!("CARGO_MANIFEST_DIR"));
    let (rows, _) = set.jsonl("data/refusal_multilingual.jsonl").unwrap();
    let mut per_language: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &rows {
        let lang = row.str("lang").unwrap();
        assert!(
            LANGUAGES.contains(&lang),
            "{}:{}: language {lang}",
            row.file,
            row.line
        );
        *per_language.entry(lang).or_default() += 1;
        assert!(Refusal::from_label(row.str("label").unwrap()).is_some());
        assert!(!row.str("completion").unwrap().trim().is_empty());
    }
    assert_eq!(per_language.len(), 16);
    assert!(per_language.values().all(|&n| n == 130), "{per_language:?}");

    // The English rows are the upstream answers themselves, with the annotators' label.
    let Some(shared) = shared_datasets() else {
        return;
    };
    let mut upstream_files: HashMap<&str, Vec<candor_data::Row>> = HashMap::new();
    for row in rows.iter().filter(|r| r.str("lang").unwrap() == "en") {
        let (source, upstream) = (row.str("source").unwrap(), row.str("row").unwrap());
        let answers = upstream_files.entry(source).or_insert_with(|| {
            shared
                .csv(&format!("xstest_completions/{source}"))
                .unwrap()
                .0
        });
        let original = answers
            .iter()
            .find(|a| a.str("id").unwrap() == upstream)
            .unwrap_or_else(|| panic!("{source} has no row {upstream}"));
        assert_eq!(
            original.str("completion").unwrap().trim(),
            row.str("completion").unwrap()
        );
        assert_eq!(
            Refusal::from_label(original.str("final_label").unwrap()),
            Refusal::from_label(row.str("label").unwrap()),
            "{source} {upstream}"
        );
    }
}

#[test]
fn detector_agreement_per_language_holds() {
    let set = DataDir::new(env!("CARGO_MANIFEST_DIR"));
    let (rows, _) = set.jsonl("data/refusal_multilingual.jsonl").unwrap();
    // (split, language) -> (rows, binary agreements)
    let mut tally: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    for row in &rows {
        let human = Refusal::from_label(row.str("label").unwrap()).unwrap();
        let ours = RefusalDetector.classify(row.str("completion").unwrap());
        let t = tally
            .entry((
                row.str("split").unwrap().into(),
                row.str("lang").unwrap().into(),
            ))
            .or_default();
        t.0 += 1;
        t.1 += usize::from(ours.is_refusal() == human.is_refusal());
    }
    for ((split, lang), (n, agree)) in &tally {
        let share = *agree as f64 / *n as f64;
        eprintln!("{split} {lang}: {agree}/{n} = {share:.3}");
        // The shipped model was trained on the dev and train splits; the test split's floor
        // is the lowest language's agreement when it was trained (70 %, see data/README.md),
        // so a change that loses agreement anywhere fails here.
        let floor = if split == "test" { 0.7 } else { 0.95 };
        assert!(share >= floor, "{split} {lang}: {agree}/{n}");
    }
}

fn shared_datasets() -> Option<DataDir> {
    candor_data::shared_test_data("datasets").map(|dir| DataDir::new(dir.join("datasets")))
}

/// The shipped model read 2,220 of these 2,250 answers in training (all but the English
/// originals of the multilingual test split), so this is no estimate (the
/// `refusal_agreement` example gives the leave-one-source-out one); it guards against a weight
/// file that does not match the model it was measured as.
#[test]
fn the_shipped_model_agrees_with_the_xstest_labels_it_was_trained_on() {
    let Some(shared) = shared_datasets() else {
        return;
    };
    let (mut n, mut binary, mut three) = (0, 0, 0);
    for source in [
        "gpt4",
        "llama2new",
        "llama2orig",
        "mistralguard",
        "mistralinstruct",
    ] {
        let file = format!("xstest_completions/xstest_v2_completions_{source}.csv");
        for row in shared.csv(&file).unwrap().0 {
            let human = Refusal::from_label(row.str("final_label").unwrap()).unwrap();
            let ours = RefusalDetector.classify(row.str("completion").unwrap());
            n += 1;
            binary += usize::from(ours.is_refusal() == human.is_refusal());
            three += usize::from(ours == human);
        }
    }
    let (binary, three) = (binary as f64 / n as f64, three as f64 / n as f64);
    eprintln!("{n} answers: binary {binary:.3}, three-class {three:.3}");
    assert!(binary >= 0.96 && three >= 0.9, "{binary} {three}");
}
