//! Real same-story and different-story pairs from the labelled corpus (see
//! tests/fixtures/SOURCES.md), each pushed through the real ingest path (RSS → parse →
//! normalise → dedup → store): label-2 pairs must end in one story, label 0 and 1 in two.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use wiredesk::config::{DEFAULT_THRESHOLD, DedupConfig, FeedConfig, FeedId};
use wiredesk::parse::parse_feed;
use wiredesk::schedule::Schedule;
use wiredesk::store::{Db, FetchMeta};

#[derive(Deserialize)]
struct Item {
    source: String,
    guid: String,
    link: String,
    title: String,
    summary: String,
    published: String,
}

#[derive(Deserialize)]
struct Case {
    set: String,
    label: u8,
    kind: String,
    why: String,
    a: Item,
    b: Item,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(item: &Item) -> String {
    let date = DateTime::parse_from_rfc3339(&item.published)
        .or_else(|_| DateTime::parse_from_rfc2822(&item.published))
        .map(|d| d.to_rfc2822())
        .unwrap_or_default();
    format!(
        "<rss version=\"2.0\"><channel><title>{src}</title><item><guid>{guid}</guid><link>{link}</link><title>{title}</title><description>{summary}</description><pubDate>{date}</pubDate></item></channel></rss>",
        src = xml_escape(&item.source),
        guid = xml_escape(&item.guid),
        link = xml_escape(&item.link),
        title = xml_escape(&item.title),
        summary = xml_escape(&item.summary),
    )
}

fn feed(id: &str) -> FeedConfig {
    FeedConfig {
        id: FeedId(id.into()),
        name: id.into(),
        url: url::Url::parse(&format!("https://{id}.invalid/rss")).unwrap(),
        schedule: Schedule::parse("*/5 * * * *", id).unwrap(),
        tags: Vec::new(),
        priority: 0,
        enabled: true,
        headers: Vec::new(),
        filter: Default::default(),
        full_text: false,
        websub: false,
    }
}

/// Ingests both items (a first) into a fresh store and says whether they share a story.
fn merged(case: &Case, dir: &Path) -> bool {
    let mut db = Db::open(
        &dir.join("t.db"),
        &DedupConfig {
            near_duplicates: true,
            window_hours: 48,
            threshold: DEFAULT_THRESHOLD,
            copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
            max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
        },
    )
    .unwrap();
    db.sync_feeds(&[feed(&case.a.source), feed(&case.b.source)])
        .unwrap();
    let now: DateTime<Utc> = Utc::now();
    for item in [&case.a, &case.b] {
        let parsed = parse_feed(rss(item).as_bytes(), None, None, now).expect("fixture parses");
        assert_eq!(parsed.entries.len(), 1);
        let f = FeedId(item.source.clone());
        db.ingest(
            &f,
            "https://x.invalid/",
            &parsed.entries,
            &FetchMeta::default(),
            now,
            None,
        )
        .unwrap();
    }
    db.all_stories().unwrap().len() == 1
}

#[test]
fn labelled_real_pairs_merge_exactly_when_they_are_the_same_story() {
    let text = include_str!("fixtures/dedup_pairs.jsonl");
    let cases: Vec<Case> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("fixture line is valid"))
        .collect();
    assert!(cases.len() >= 10, "the fixture has {} cases", cases.len());
    for lang in ["kr", "ghdev"] {
        for label in [0, 1, 2] {
            assert!(
                cases.iter().any(|c| c.set == lang && c.label == label),
                "no {lang} case with label {label}"
            );
        }
    }
    let mut wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let got = merged(case, dir.path());
        if got != (case.label == 2) {
            wrong.push(format!(
                "case {i} ({} label {} {}: {}): merged = {got}\n  a: {}\n  b: {}",
                case.set, case.label, case.kind, case.why, case.a.title, case.b.title
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
