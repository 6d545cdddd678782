//! The store thread's matching of a fresh ingest, alone: every entry of a directory of feeds
//! (as `benches/gen_feeds.py` writes them, or any `*.xml` feeds), in file order, looked up in
//! the near-duplicate index and added to it — what `poll-once` does per new item besides SQL,
//! without the SQL, the fetching and the other threads that make its timings noisy.
//!
//! ```sh
//! python3 benches/gen_feeds.py /tmp/www 2000 50 ../shared/corpus/dedup
//! cargo run --release --example lookup_bench -- /tmp/www [ROUNDS]
//! ```
//!
//! Parsing and preparing the text (the pool's work) happen before the clock starts. Prints, per
//! round, microseconds per entry and the number of entries joined to an earlier story (the same
//! in every round and every build that matches alike).

use std::time::Instant;

use anyhow::Context;
use chrono::{TimeZone, Utc};
use wiredesk::config::{DEFAULT_THRESHOLD, DedupConfig, FeedId};
use wiredesk::dedup::{self, NearDuplicates};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().context("usage: lookup_bench DIR [ROUNDS]")?;
    let rounds: usize = args.next().map_or(Ok(3), |r| r.parse())?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {dir}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let now = Utc
        .timestamp_opt(1_800_000_000, 0)
        .single()
        .context("a fixed time")?;
    let mut entries = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let feed = FeedId(
            path.file_stem()
                .and_then(|s| s.to_str())
                .context("a file name")?
                .to_string(),
        );
        let parsed = wiredesk::parse::parse_feed(&bytes, None, None, now)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for entry in parsed.entries {
            let prepared = dedup::prepare(&entry.title, &entry.text);
            entries.push((feed.clone(), entry.published.unwrap_or(now), prepared));
        }
    }
    if entries.is_empty() {
        anyhow::bail!("no entries in the *.xml files of {dir}: nothing to time");
    }
    println!("{} entries from {} feeds", entries.len(), files.len());
    for round in 1..=rounds {
        let mut near = NearDuplicates::new(DedupConfig {
            near_duplicates: true,
            window_hours: wiredesk::config::keys::WINDOW_HOURS.int() as u32,
            threshold: DEFAULT_THRESHOLD,
            copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
            max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
        });
        let mut joined = 0usize;
        let started = Instant::now();
        for (i, (feed, published, prepared)) in entries.iter().enumerate() {
            let (join, doc) = near.find_prepared(feed, prepared, *published);
            let story = match &join {
                Some(j) => {
                    joined += 1;
                    for from in &j.merge {
                        near.merge_story(from, &j.story_id);
                    }
                    j.story_id.clone()
                }
                None => format!("s{i}"),
            };
            if let Some(doc) = doc {
                near.insert_doc(i as i64, feed, &story, doc);
            }
        }
        let took = started.elapsed();
        println!(
            "round {round}: {:.2} us per entry, {joined} joined",
            took.as_secs_f64() * 1e6 / entries.len().max(1) as f64
        );
    }
    Ok(())
}
