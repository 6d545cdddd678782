//! What a re-read feed's unchanged entries cost to read (issue #12: ≤ 20 µs each): every feed
//! file of DIR is parsed once to learn its entries' fingerprints, as the daemon remembers them
//! after storing a fetch, then parsed again with them known (`parse_feed_skipping`: RSS items
//! sent as before cut out before feed-rs reads the rest, nothing converted, sanitised or
//! matched again). Baselines in the same run: feed-rs alone parsing the same bytes, and the
//! same re-read knowing only the entries' fingerprints (every item read by feed-rs, none
//! converted: how re-reads worked before items were known by their bytes). Three rounds;
//! prints µs per entry.
//!
//! ```sh
//! python3 benches/gen_feeds.py /tmp/feeds 2000 50 ../shared/corpus/dedup
//! cargo run --release --example reread_bench -- /tmp/feeds
//! ```

use std::time::Instant;

use anyhow::Context;
use wiredesk::parse::Known;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .context("usage: reread_bench DIR (feed files, e.g. from benches/gen_feeds.py)")?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "xml") {
            files.push(std::fs::read(&path)?);
        }
    }
    anyhow::ensure!(!files.is_empty(), "no .xml files in {dir}");
    let now = chrono::Utc::now();
    let base = url::Url::parse("http://127.0.0.1/feed.xml")?;
    let ct = Some("application/rss+xml");
    let mut known = Vec::new();
    let mut entries_only = Vec::new();
    for b in &files {
        let parsed = wiredesk::parse::parse_feed(b, ct, Some(&base), now).ok();
        let fingerprints = parsed.as_ref().map_or(&[][..], |p| &p.fingerprints[..]);
        let items = parsed.as_ref().map_or(&[][..], |p| &p.items[..]);
        known.push(Known::new(fingerprints, items));
        entries_only.push(Known::new(fingerprints, &[]));
    }
    println!("{} feeds", files.len());
    for round in 1..=3 {
        let t = Instant::now();
        let mut n = 0;
        for b in &files {
            n += feed_rs::parser::parse(&b[..]).map_or(0, |f| f.entries.len());
        }
        let alone = t.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
        let reread = |known: &[Known]| -> anyhow::Result<(f64, usize)> {
            let t = Instant::now();
            let (mut skipped, mut unread) = (0, 0);
            for (b, k) in files.iter().zip(known) {
                let parsed = wiredesk::parse::parse_feed_skipping(
                    b,
                    ct,
                    Some(&base),
                    now,
                    Default::default(),
                    k,
                )?;
                skipped += parsed.skipped_known;
                unread += parsed.unread_known;
            }
            let each = t.elapsed().as_secs_f64() * 1e6 / skipped.max(1) as f64;
            anyhow::ensure!(skipped == n, "{skipped} of {n} entries were known");
            Ok((each, unread))
        };
        let (old, _) = reread(&entries_only)?;
        let (ours, unread) = reread(&known)?;
        println!(
            "round {round}: unchanged entries re-read {ours:.1} µs each ({unread} of {n} not read at all); \
             knowing entries only {old:.1} µs; feed-rs alone {alone:.1} µs"
        );
    }
    Ok(())
}
