//! Search at scale (issue #17): query latency with 1M stored items, the index's size per 100k
//! items, and what indexing adds to an ingest, each against a baseline in the same run.
//!
//! ```sh
//! cargo run --release --example search_bench [-- ITEMS]      # 1,000,000 by default
//! ```
//!
//! Items are the labelled news corpus's titles and summaries (`../shared/corpus/dedup`,
//! English and Korean), a third of each one's words replaced from the same set's vocabulary
//! (as `benches/gen_feeds.py` does), written straight into a database made by `Db::open`, one
//! story per item. Then the search index is built (`store::search::backfill`, the same code
//! an upgraded database runs). Queries: 40 two-word queries, half English and half Korean,
//! drawn from the items' own words; timed through `Db::search` (matching and loading 50
//! stories), median and 90th percentile. Baseline: the same queries answered by the scan a
//! database without an index would do (`LIKE '%w1%' AND LIKE '%w2%'` over titles and text).
//! Ingest: `Db::ingest` of 20,000 fresh entries (near-duplicate layer on) against the same
//! entries' index rows alone.

use std::time::Instant;

use chrono::Utc;
use rusqlite::params;
use wiredesk::config::{DEFAULT_MAX_INDEXED_ITEMS, DEFAULT_THRESHOLD, DedupConfig, FeedId};
use wiredesk::store::{Db, FetchMeta};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Source {
    title: Vec<String>,
    body: Vec<String>,
    set: usize,
}

fn corpus() -> anyhow::Result<(Vec<Source>, Vec<Vec<String>>)> {
    let root = std::path::Path::new("../shared/corpus/dedup");
    let mut sources = Vec::new();
    let mut vocab = Vec::new();
    for (set, name) in ["ghdev", "kr"].iter().enumerate() {
        let text = std::fs::read_to_string(root.join(name).join("items.jsonl"))?;
        let mut words = Vec::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let split = |k: &str| -> Vec<String> {
                v[k].as_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect()
            };
            let (title, body) = (split("title"), split("summary"));
            words.extend(title.iter().chain(&body).cloned());
            sources.push(Source { title, body, set });
        }
        vocab.push(words);
    }
    Ok((sources, vocab))
}

fn mutate(words: &[String], vocab: &[String], rng: &mut Rng) -> String {
    words
        .iter()
        .map(|w| {
            if rng.below(3) == 0 {
                vocab[rng.below(vocab.len())].as_str()
            } else {
                w.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn dedup_config() -> DedupConfig {
    DedupConfig {
        near_duplicates: true,
        window_hours: 48,
        threshold: DEFAULT_THRESHOLD,
        copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: DEFAULT_MAX_INDEXED_ITEMS,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let (sources, vocab) = corpus()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("search.db");
    let db = Db::open(&path, &dedup_config())?;
    let conn = db.conn();
    let now = Utc::now().timestamp();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);

    // Items and stories, without the search index (its rows are added after, to size them).
    let started = Instant::now();
    conn.execute_batch(
        "DROP TRIGGER items_fts_delete; BEGIN;
         INSERT INTO feeds (id, name, url, enabled, priority) VALUES ('f', 'F', 'https://f.example/', 1, 0);",
    )?;
    {
        let mut story = conn.prepare(
            "INSERT INTO stories (id, first_seen, updated, published) VALUES (?1, ?2, ?2, ?2)",
        )?;
        let mut item = conn.prepare(
            "INSERT INTO items (feed_id, key, title, summary_html, text, published, updated,
               first_seen, content_hash, story_id, join_layer)
             VALUES ('f', ?1, ?2, '', ?3, ?4, ?4, ?4, '', ?5, 'first')",
        )?;
        for i in 0..n {
            let s = &sources[rng.below(sources.len())];
            let v = &vocab[s.set];
            let (title, body) = (mutate(&s.title, v, &mut rng), mutate(&s.body, v, &mut rng));
            let id = format!("s{i:016x}");
            let at = now - (i as i64 % 2_592_000);
            story.execute(params![id, at])?;
            item.execute(params![format!("k{i}"), title, body, at, id])?;
        }
    }
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")?;
    let pages = |c: &rusqlite::Connection| -> anyhow::Result<i64> {
        let count: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(count * size)
    };
    let before = pages(conn)?;
    let load_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    conn.execute_batch("BEGIN")?;
    let indexed = wiredesk::store::search::backfill(conn)?;
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")?;
    let index_secs = started.elapsed().as_secs_f64();
    let index_bytes = pages(conn)? - before;

    // Queries: two words of one item, from its own (mutated) text.
    let mut queries = Vec::new();
    while queries.len() < 40 {
        let set = queries.len() % 2;
        let s = &sources[rng.below(sources.len())];
        if s.set != set {
            continue;
        }
        let words: Vec<&String> = s
            .title
            .iter()
            .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
            .collect();
        if words.len() < 2 {
            continue;
        }
        let a = words[rng.below(words.len())];
        let b = words[rng.below(words.len())];
        let clean = |w: &str| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        };
        let (a, b) = (clean(a), clean(b));
        if a.chars().count() < 2 || b.chars().count() < 2 || a == b {
            continue;
        }
        queries.push((a, b));
    }
    let mut fts_ms = Vec::new();
    let mut found = 0;
    for (a, b) in &queries {
        let t = Instant::now();
        let stories = db.search(&format!("{a} {b}"), 50, 0)?;
        fts_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        found += usize::from(!stories.is_empty());
    }
    let mut scan_ms = Vec::new();
    for (a, b) in queries.iter().take(10) {
        let t = Instant::now();
        let _: i64 = conn.query_row(
            "SELECT COUNT(*) FROM (SELECT story_id FROM items
               WHERE (title LIKE ?1 OR text LIKE ?1) AND (title LIKE ?2 OR text LIKE ?2) LIMIT 50)",
            params![format!("%{a}%"), format!("%{b}%")],
            |r| r.get(0),
        )?;
        scan_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    fts_ms.sort_by(f64::total_cmp);
    scan_ms.sort_by(f64::total_cmp);
    drop(db);

    // Ingest with the index against the index rows alone, on a fresh database.
    let dir2 = tempfile::tempdir()?;
    let mut db = Db::open(&dir2.path().join("ingest.db"), &dedup_config())?;
    let feed = wiredesk::config::FeedConfig {
        id: FeedId("f".into()),
        name: "F".into(),
        url: url::Url::parse("https://f.example/")?,
        schedule: wiredesk::schedule::Schedule::parse("*/5 * * * *", "f")
            .map_err(anyhow::Error::msg)?,
        tags: Vec::new(),
        priority: 0,
        enabled: true,
        headers: Vec::new(),
        filter: Default::default(),
        full_text: false,
        websub: false,
    };
    db.sync_feeds(&[feed])?;
    let entries: Vec<wiredesk::parse::Entry> = (0..20_000)
        .map(|i| {
            let s = &sources[rng.below(sources.len())];
            let v = &vocab[s.set];
            let (title, text) = (mutate(&s.title, v, &mut rng), mutate(&s.body, v, &mut rng));
            wiredesk::parse::Entry {
                key: format!("e{i}"),
                guid: None,
                link: None,
                canonical_url: None,
                content_hash: wiredesk::model::hex_digest(&[&title, &text]),
                title,
                summary_html: String::new(),
                text,
                published: Some(Utc::now()),
                updated: None,
                media: Default::default(),
            }
        })
        .collect();
    let t = Instant::now();
    for chunk in entries.chunks(50) {
        db.ingest(
            &FeedId("f".into()),
            "u",
            chunk,
            &FetchMeta::default(),
            Utc::now(),
            None,
        )?;
    }
    let ingest_us = t.elapsed().as_secs_f64() * 1e6 / entries.len() as f64;
    let t = Instant::now();
    for e in &entries {
        std::hint::black_box(wiredesk::store::search::index_text(&e.title, &e.text));
    }
    let tokens_us = t.elapsed().as_secs_f64() * 1e6 / entries.len() as f64;

    println!(
        "{n} items ({load_secs:.0} s to write), search index built in {index_secs:.1} s ({indexed} rows)"
    );
    println!("| figure | result | baseline (same run) |");
    println!("|---|---|---|");
    println!(
        "| two-word query, through `Db::search` (50 stories loaded) | median {:.1} ms, p90 {:.1} ms ({found}/40 found) | `LIKE` scan of the same items: median {:.0} ms (10 queries) |",
        percentile(&fts_ms, 0.5),
        percentile(&fts_ms, 0.9),
        percentile(&scan_ms, 0.5)
    );
    println!(
        "| index size | {:.1} MB per 100k items | the database without it: {:.1} MB per 100k items |",
        index_bytes as f64 / n as f64 * 100_000.0 / 1e6,
        before as f64 / n as f64 * 100_000.0 / 1e6
    );
    println!(
        "| ingest cost | tokens for the index {tokens_us:.1} µs per entry (plus its row in the same transaction) | `Db::ingest` per new entry, index included: {ingest_us:.0} µs |"
    );
    Ok(())
}
