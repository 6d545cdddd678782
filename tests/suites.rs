//! Other parsers' test suites (tests/fixtures/suites/SUITE/, sources in SOURCES.md): for each
//! feed file, the number of entries wiredesk reads with a title, a link or text must equal what Python feedparser reads
//! (`tests/fixtures/suites/expected.json`, made by `.ci/suite-counts.py`, checked against
//! feedparser in `.ci/run`) for at least 97 % of each suite's files, and no file may panic.
//! `cargo test --test suites -- --nocapture` prints the table CONFORMANCE.md records.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{TimeZone, Utc};

#[test]
fn every_suite_agrees_with_feedparser_on_at_least_97_percent_of_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/suites");
    let expected: BTreeMap<String, usize> =
        serde_json::from_str(&std::fs::read_to_string(root.join("expected.json")).unwrap())
            .unwrap();
    assert!(expected.len() >= 70, "the suites are missing");
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    // As if fetched from a URL (relative links resolve against it, as in the fetch path).
    let base = url::Url::parse("https://feeds.example/feed.xml").unwrap();
    // suite -> (files, agreeing, disagreements)
    let mut suites: BTreeMap<String, (usize, usize, Vec<String>)> = BTreeMap::new();
    for (file, want) in &expected {
        let bytes = std::fs::read(root.join(file)).unwrap();
        let parsed = std::panic::catch_unwind(|| {
            wiredesk::parse::parse_feed(&bytes, None, Some(&base), now)
        });
        let got = match parsed {
            // Entries with a title, a link or text (an enclosure-only entry is kept by
            // wiredesk, but not what is counted here).
            Ok(Ok(feed)) => feed
                .entries
                .iter()
                .filter(|e| {
                    !e.title.is_empty()
                        || e.link.is_some()
                        || !e.text.is_empty()
                        || !e.summary_html.is_empty()
                })
                .count(),
            Ok(Err(_)) => 0,
            Err(_) => panic!("{file}: the parser panicked"),
        };
        let suite = file.split('/').next().unwrap_or(file).to_owned();
        let row = suites.entry(suite).or_default();
        row.0 += 1;
        if got == *want {
            row.1 += 1;
        } else {
            row.2
                .push(format!("{file}: wiredesk {got}, feedparser {want}"));
        }
    }
    println!("| suite | files | same count as feedparser | agreement |");
    println!("|---|---|---|---|");
    for (suite, (files, agree, _)) in &suites {
        println!(
            "| {suite} | {files} | {agree} | {:.1} % |",
            100.0 * *agree as f64 / *files as f64
        );
    }
    for (suite, (files, agree, misses)) in &suites {
        for m in misses {
            println!("  differs: {m}");
        }
        assert!(
            *agree as f64 >= 0.97 * *files as f64,
            "{suite}: {agree} of {files} files agree with feedparser: {misses:#?}"
        );
    }
}
