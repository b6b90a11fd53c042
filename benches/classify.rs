//! Benchmark: parse + classify over the fixture corpus with the example rules.
//!
//! Run with `cargo bench --bench classify`. Prints messages per second on one core, for the
//! whole corpus and for the typical (well-formed) messages alone. A plain timing loop rather
//! than criterion: the figure wanted is a throughput, and the test suite stays free of
//! criterion's dependency tree.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use delega::classify::{Category, RuleSet};
use delega::config::load_rules_dir;
use delega::message::Message;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (rules, diags) = load_rules_dir(&root.join("rules"), &["marta", "luca"]);
    assert!(diags.is_empty(), "{diags:?}");
    let rules = RuleSet {
        rules: rules.into(),
        default: Category::Strategic,
    };

    let mut corpus: Vec<(String, Vec<u8>)> = std::fs::read_dir(root.join("tests/fixtures/corpus"))
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                std::fs::read(&p).expect("read"),
            )
        })
        .collect();
    corpus.sort();
    let typical: Vec<_> = corpus
        .iter()
        .filter(|(name, _)| !name.contains("broken"))
        .cloned()
        .collect();

    println!("parse + classify, {} rules, one core", rules.rules.len());
    for (label, set) in [("whole corpus", &corpus), ("typical messages", &typical)] {
        let bytes: usize = set.iter().map(|(_, raw)| raw.len()).sum();
        let (count, elapsed) = run(set, &rules, Duration::from_secs(3));
        let rate = count as f64 / elapsed.as_secs_f64();
        println!(
            "  {label:<17} {:>3} messages, mean {:>5} bytes: {:>9.0} messages/s ({:.2} µs each)",
            set.len(),
            bytes / set.len().max(1),
            rate,
            1e6 / rate
        );
    }
}

fn run(set: &[(String, Vec<u8>)], rules: &RuleSet, budget: Duration) -> (u64, Duration) {
    // Warm up caches and the allocator before timing.
    for (_, raw) in set {
        black_box(rules.classify(&Message::parse(raw)));
    }
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        for (_, raw) in set {
            black_box(rules.classify(&Message::parse(black_box(raw))));
            count += 1;
        }
    }
    (count, start.elapsed())
}
