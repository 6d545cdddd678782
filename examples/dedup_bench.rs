//! How the cost of matching one new item grows with the number of indexed items.
//!
//! Fills the near-duplicate index with 10k, 100k and 1M synthetic items (Zipf-distributed
//! vocabulary of 60k words, 8-word titles, 30-word bodies, all inside the matching window —
//! the worst case) and times `find` for 2,000 new items at each size: half of them rewrites of
//! an indexed item, half new stories. The 10k figure, measured in the same run, is the baseline.
//!
//! ```sh
//! cargo run --release --example dedup_bench [-- 10000 100000 1000000]
//! cargo run --release --example dedup_bench -- --memory
//! ```
//!
//! `--memory` measures the index's resident memory per item instead, each case in a fresh
//! child process (so that one case's allocations do not colour the next): items inside the
//! window (nothing evicted), and a stream of three times `[dedup] max_indexed_items` over ten
//! days (evicted by the window and by the cap), whose memory must stay flat.

use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use wiredesk::config::{DEFAULT_THRESHOLD, DedupConfig, FeedId};
use wiredesk::dedup::NearDuplicates;
use wiredesk::parse::Entry;

/// xorshift64*: a small deterministic generator (no dependency needed for a benchmark).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const VOCAB: usize = 60_000;

/// Word ranks drawn from a Zipf(1.0) distribution by inverting its cumulative weights.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (1..=n)
            .map(|r| {
                acc += 1.0 / r as f64;
                acc
            })
            .collect();
        Zipf { cumulative }
    }

    fn word(&self, rng: &mut Rng) -> String {
        let total = *self.cumulative.last().expect("non-empty");
        let x = rng.unit() * total;
        let rank = self.cumulative.partition_point(|c| *c < x);
        // Letters only, so the tokeniser keeps each word whole.
        let mut n = rank;
        let mut w = String::from("w");
        loop {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                break;
            }
        }
        w
    }

    fn text(&self, rng: &mut Rng, words: usize) -> String {
        (0..words)
            .map(|_| self.word(rng))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn entry(title: String, text: String) -> Entry {
    Entry {
        key: title.clone(),
        guid: None,
        link: None,
        canonical_url: None,
        title,
        summary_html: String::new(),
        text,
        published: None,
        updated: None,
        content_hash: String::new(),
        media: Default::default(),
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One memory case in this process: fills an index with `n` items of 8-word titles and
/// 120-word bodies (a news summary's length), published `spread_hours` apart in all, and prints
/// `indexed rss_before_kib rss_after_kib text_bytes rss_at_cap_kib rss_at_twice_cap_kib`.
fn memory_case(n: usize, spread_hours: i64, cap: usize) {
    let zipf = Zipf::new(VOCAB);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let mut ix = NearDuplicates::new(DedupConfig {
        near_duplicates: true,
        window_hours: 48,
        threshold: DEFAULT_THRESHOLD,
        copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: cap,
    });
    let feeds: Vec<FeedId> = (0..200).map(|i| FeedId(format!("feed{i}"))).collect();
    let before = rss_kib("VmRSS:");
    let mut text_bytes = 0usize;
    let mut at_cap = 0;
    let mut at_twice = 0;
    for i in 0..n {
        let title = zipf.text(&mut rng, 8);
        let text = zipf.text(&mut rng, 120);
        text_bytes += title.len() + text.len();
        let published = base + chrono::Duration::seconds(i as i64 * spread_hours * 3600 / n as i64);
        ix.insert_text(
            i as i64,
            &feeds[i % feeds.len()],
            &format!("s{i}"),
            &title,
            &text,
            published,
        );
        if i + 1 == cap.min(n) {
            at_cap = rss_kib("VmRSS:");
        }
        if i + 1 == 2 * cap {
            at_twice = rss_kib("VmRSS:");
        }
    }
    println!(
        "{} {before} {} {text_bytes} {at_cap} {at_twice}",
        ix.len(),
        rss_kib("VmRSS:")
    );
}

fn memory() {
    println!(
        "| case | items streamed | items indexed at the end | index RSS at the end | per indexed item | their text alone | RSS at 1× / 2× the cap streamed |"
    );
    println!("|---|---|---|---|---|---|---|");
    let cap = wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS;
    for (name, n, hours) in [
        ("inside the window", 50_000usize, 40i64),
        ("10 days, 3× the cap", 3 * cap, 240),
    ] {
        let out = std::process::Command::new(std::env::current_exe().expect("own path"))
            .args(["--memory-case", &n.to_string(), &hours.to_string()])
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<u64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [indexed, before, after, text_bytes, at_cap, at_twice] = f[..] else {
            println!("| {name} | could not be measured | | | | | |");
            std::process::exit(1);
        };
        let grown = after.saturating_sub(before) * 1024;
        println!(
            "| {name} | {n} | {indexed} | {} MiB | {} bytes | {} bytes | {} |",
            grown / 1_048_576,
            grown / indexed.max(1),
            text_bytes / n as u64,
            if n > cap {
                format!(
                    "{} / {} MiB",
                    at_cap.saturating_sub(before) / 1024,
                    at_twice.saturating_sub(before) / 1024
                )
            } else {
                "-".to_owned()
            }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--memory") {
        memory();
        return;
    }
    if args.get(1).map(String::as_str) == Some("--memory-case") {
        let n = args[2].parse().expect("n");
        let hours = args[3].parse().expect("hours");
        memory_case(n, hours, wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS);
        return;
    }
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![10_000, 100_000, 1_000_000]
        } else {
            args
        }
    };
    let zipf = Zipf::new(VOCAB);
    let base: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    println!(
        "{:>10}  {:>12}  {:>14}  {:>10}  {:>8}",
        "indexed", "fill (s)", "match (µs/item)", "vs first", "joined"
    );
    let mut first: Option<f64> = None;
    for &n in &sizes {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut ix = NearDuplicates::new(DedupConfig {
            near_duplicates: true,
            window_hours: 48,
            threshold: DEFAULT_THRESHOLD,
            copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
            max_indexed_items: n.max(1_000),
        });
        let feeds: Vec<FeedId> = (0..200).map(|i| FeedId(format!("feed{i}"))).collect();
        let mut kept = Vec::new();
        let fill = Instant::now();
        for i in 0..n {
            let title = zipf.text(&mut rng, 8);
            let text = zipf.text(&mut rng, 30);
            // Spread over the window so that every item stays a candidate.
            let published = base + chrono::Duration::seconds((i as i64 * 40 * 3600) / n as i64);
            let feed = &feeds[i % feeds.len()];
            ix.insert_text(i as i64, feed, &format!("s{i}"), &title, &text, published);
            if i % (n / 1000).max(1) == 0 {
                kept.push((title, text));
            }
        }
        let fill_secs = fill.elapsed().as_secs_f64();
        let n_queries: usize = std::env::var("QUERIES")
            .ok()
            .and_then(|q| q.parse().ok())
            .unwrap_or(2000);
        let queries: Vec<Entry> = (0..n_queries)
            .map(|q| {
                if q % 2 == 0 {
                    // A rewrite: most of an indexed item's words, a few new ones.
                    let (t, x) = &kept[(q / 2) % kept.len()];
                    let mut tw: Vec<&str> = t.split(' ').collect();
                    tw.truncate(6);
                    entry(
                        format!("{} {}", tw.join(" "), zipf.text(&mut rng, 2)),
                        x.clone(),
                    )
                } else {
                    entry(zipf.text(&mut rng, 8), zipf.text(&mut rng, 30))
                }
            })
            .collect();
        let at = base + chrono::Duration::hours(41);
        let other = FeedId("other".into());
        let started = Instant::now();
        let mut joined = 0;
        for e in &queries {
            if ix.find(&other, e, at).is_some() {
                joined += 1;
            }
        }
        let per_item = started.elapsed().as_secs_f64() * 1e6 / queries.len() as f64;
        let ratio = per_item / *first.get_or_insert(per_item);
        println!("{n:>10}  {fill_secs:>12.2}  {per_item:>14.1}  {ratio:>9.2}x  {joined:>8}");
    }
}
