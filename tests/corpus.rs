//! The fixture corpus: every message in tests/fixtures/corpus gets the decision its
//! `.expect` file names, with the example rules of rules/.
//!
//! On a mismatch the actual decision is written beside the fixture as `.failed`, so the
//! difference is easy to inspect (and to accept, by renaming it, when the rules changed).

use std::path::Path;

use delega::classify::{Category, RuleSet};
use delega::config::load_rules_dir;
use delega::message::Message;

fn example_rules() -> RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let (rules, diagnostics) = load_rules_dir(&dir, &["marta", "luca"]);
    assert!(
        diagnostics.is_empty(),
        "the example rules must load cleanly: {diagnostics:#?}"
    );
    RuleSet {
        rules: rules.into(),
        default: Category::Strategic,
    }
}

#[test]
fn every_fixture_gets_its_expected_decision() {
    let rules = example_rules();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    for eml in files {
        let raw = std::fs::read(&eml).expect("fixture");
        let expected = std::fs::read_to_string(eml.with_extension("expect"))
            .unwrap_or_else(|_| panic!("{} has no .expect file", eml.display()));
        let d = rules.classify(&Message::parse(&raw));
        let actual = format!("{} {}", d.category, d.rule.as_deref().unwrap_or("-"));
        let failed = eml.with_extension("failed");
        if actual == expected.trim() {
            let _ = std::fs::remove_file(&failed);
        } else {
            std::fs::write(&failed, format!("{actual}\n# why: {}\n", d.why))
                .expect("write .failed");
            failures.push(format!(
                "{}: expected {:?}, got {actual:?} ({})",
                eml.display(),
                expected.trim(),
                d.why
            ));
        }
        checked += 1;
    }
    assert!(
        checked >= 30,
        "the corpus should not be empty (found {checked})"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures decided wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_example_rule_decides_at_least_one_fixture() {
    let rules = example_rules();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let expectations: String = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "expect"))
        .map(|p| std::fs::read_to_string(p).expect("expect file"))
        .collect();
    for rule in rules.rules.iter() {
        assert!(
            expectations
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(rule.name.as_str())),
            "no fixture exercises rule {}",
            rule.name
        );
    }
}
