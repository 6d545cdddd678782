//! Python feedparser's encoding/, http/, illformed/ and compression/ test files (copied into
//! `tests/fixtures/feedparser/`, see SOURCES.md) served from a loopback fixture server with
//! their headers and read through the real fetch → charset → parse path. CONFORMANCE.md has
//! the rates on the whole corpus (`cargo run --release --example conformance`).

mod common;
#[path = "common/feedparser.rs"]
mod feedparser;

use std::path::Path;

use feedparser::{Verdict, load_all, run, tally};

fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/feedparser"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedparser_encoding_http_and_illformed_cases() {
    let cases = load_all(fixtures());
    assert!(cases.len() > 200, "the fixture list is complete");
    let outcomes = run(fixtures(), &cases).await;
    let report: Vec<String> = outcomes
        .iter()
        .filter(|o| !matches!(o.verdict, Verdict::Pass | Verdict::NotApplicable(_)))
        .map(|o| format!("{}: {:?} [{}]", o.file, o.verdict, o.got))
        .collect();
    let panics: Vec<&String> = report.iter().filter(|r| r.contains("Panic(")).collect();
    assert!(panics.is_empty(), "panics: {panics:#?}");

    // At least 95 % of the applicable encoding/ and http/ cases; every compression/ case.
    for (folder, target) in [("encoding", 0.95), ("http", 0.95), ("compression", 1.0)] {
        let t = tally(outcomes.iter().filter(|o| o.folder == folder));
        assert!(t.applicable() > 0);
        assert!(
            t.rate() >= target,
            "{folder}: {}/{} pass; failures:\n{}",
            t.pass,
            t.applicable(),
            report.join("\n")
        );
    }
    // Every case of the charsets wire feeds in Asia and Russia use, however they are found.
    let key_charset = |file: &str| {
        let f = file.to_ascii_lowercase();
        [
            "euc-kr",
            "euckr",
            "gb2312",
            "big5",
            "shiftjis",
            "shift_jis",
            "1251",
            "ms-cyrl",
        ]
        .iter()
        .any(|k| f.contains(k))
    };
    let key: Vec<_> = outcomes.iter().filter(|o| key_charset(&o.file)).collect();
    assert!(key.len() >= 15, "{} key-charset cases", key.len());
    let failed: Vec<_> = key
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .map(|o| format!("{}: {:?} [{}]", o.file, o.verdict, o.got))
        .collect();
    assert!(failed.is_empty(), "key charsets: {failed:#?}");
}

#[test]
fn expectations_are_understood() {
    feedparser::self_check();
}
