//! Dedup quality on a labelled set: replays `DIR/feeds/<snapshot>/<source>.xml` through the
//! daemon's own ingest path (parse → normalise → dedup → store) into a temporary database, reads
//! the stories back and scores every labelled pair of `DIR/pairs.jsonl`.
//!
//! ```sh
//! cargo run --release --example dedup_eval -- ../shared/corpus/dedup/kr [--threshold 0.65]
//!     [--weights W1,…,BIAS] [--no-near-duplicates] [--show-errors]
//! ```
//! The last line is a JSON object with the figures.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use common::{LabelledSet, snapshot_time};
use wiredesk::config::{DEFAULT_THRESHOLD, DedupConfig, FeedConfig, FeedId};
use wiredesk::dedup::score::N_FEATURES;
use wiredesk::parse::parse_feed;
use wiredesk::schedule::Schedule;
use wiredesk::store::{Db, FetchMeta};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut threshold = DEFAULT_THRESHOLD;
    let mut near = true;
    let mut show_errors = false;
    let mut weights: Option<[f64; N_FEATURES + 1]> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threshold" => {
                threshold = args.next().context("--threshold needs a value")?.parse()?
            }
            "--no-near-duplicates" => near = false,
            "--show-errors" => show_errors = true,
            "--weights" => {
                let list = args
                    .next()
                    .context("--weights needs a comma-separated list")?;
                let values: Vec<f64> = list.split(',').map(str::parse).collect::<Result<_, _>>()?;
                weights = Some(values.try_into().map_err(|v: Vec<f64>| {
                    anyhow::anyhow!(
                        "--weights needs {} numbers, got {}",
                        N_FEATURES + 1,
                        v.len()
                    )
                })?);
            }
            _ if dir.is_none() => dir = Some(PathBuf::from(a)),
            _ => bail!("usage: dedup_eval DIR [--threshold X] [--no-near-duplicates]"),
        }
    }
    let dir = dir.context("usage: dedup_eval DIR [--threshold X] [--no-near-duplicates]")?;
    let set = LabelledSet::load(&dir)?;
    let tmp = tempfile::tempdir()?;
    let config = DedupConfig {
        near_duplicates: near,
        window_hours: 48,
        threshold,
        max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
    };
    let mut db = Db::open(&tmp.path().join("eval.db"), &config)?;
    if let Some(w) = weights {
        db.set_dedup_model(config.clone(), w)?;
    }

    let started = Instant::now();
    let snapshots = sorted_dirs(&dir.join("feeds"))?;
    let mut sources = HashSet::new();
    for snap in &snapshots {
        for file in sorted_files(snap)? {
            sources.insert(stem(&file));
        }
    }
    let mut feeds: Vec<FeedConfig> = sources
        .iter()
        .map(|s| FeedConfig {
            id: FeedId(s.clone()),
            name: s.clone(),
            url: url::Url::parse(&format!("https://{s}.invalid/feed")).expect("valid"),
            schedule: Schedule::parse("*/5 * * * *", s).expect("valid"),
            tags: Vec::new(),
            priority: 0,
            enabled: true,
            headers: Vec::new(),
        })
        .collect();
    feeds.sort_by(|a, b| a.id.cmp(&b.id));
    db.sync_feeds(&feeds)?;
    let (mut entries_seen, mut parse_errors) = (0usize, 0usize);
    for snap in &snapshots {
        let name = snap.file_name().unwrap_or_default().to_string_lossy();
        let now = snapshot_time(&name).with_context(|| {
            format!("snapshot folder {name} does not start with YYYYMMDDTHHMMSSZ")
        })?;
        for file in sorted_files(snap)? {
            let feed = FeedId(stem(&file));
            let bytes = std::fs::read(&file)?;
            let parsed = match parse_feed(&bytes, None, None, now) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    parse_errors += 1;
                    continue;
                }
            };
            entries_seen += parsed.entries.len();
            let url = format!("https://{feed}.invalid/feed");
            db.ingest(
                &feed,
                &url,
                &parsed.entries,
                &FetchMeta::default(),
                now,
                None,
            )?;
        }
    }
    let elapsed = started.elapsed();

    // Map labelled items to stories by (source, guid), else (source, link).
    let stories = db.all_stories()?;
    let mut story_of: HashMap<(String, String), usize> = HashMap::new();
    for (i, s) in stories.iter().enumerate() {
        for m in &s.members {
            for k in [Some(&m.key), m.guid.as_ref(), m.link.as_ref()]
                .into_iter()
                .flatten()
            {
                story_of.entry((m.feed.clone(), k.clone())).or_insert(i);
            }
        }
    }
    let locate = |id: &str| -> Option<usize> {
        let it = set.items.get(id)?;
        [it.guid.as_ref(), it.link.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|k| story_of.get(&(it.source.clone(), k.clone())).copied())
    };
    let (mut tp, mut merged_0, mut merged_1, mut positives, mut missing) = (0, 0, 0, 0, 0);
    let (mut copy, mut copy_hit, mut rewrite, mut rewrite_hit) = (0, 0, 0, 0);
    let mut labelled: HashSet<(String, String)> = HashSet::new();
    for p in &set.pairs {
        labelled.insert((p.a.clone(), p.b.clone()));
        labelled.insert((p.b.clone(), p.a.clone()));
        let (sa, sb) = (locate(&p.a), locate(&p.b));
        if sa.is_none() || sb.is_none() {
            missing += 1;
            for (id, found) in [(&p.a, sa), (&p.b, sb)] {
                if found.is_none() && missing <= 5 {
                    let it = &set.items[id];
                    eprintln!(
                        "not found: {} {} {:?} {:?}",
                        it.source, it.snapshot, it.guid, it.link
                    );
                }
            }
        }
        let merged = sa.is_some() && sa == sb;
        if show_errors && (merged != (p.label == 2)) {
            let what = if merged {
                format!("FALSE MERGE (label {})", p.label)
            } else {
                format!("MISSED {}", p.kind)
            };
            eprintln!("{what}");
            for id in [&p.a, &p.b] {
                let it = &set.items[id];
                let joined = locate(id)
                    .and_then(|s| {
                        stories[s].members.iter().find(|m| {
                            m.feed == it.source
                                && (Some(&m.key) == it.guid.as_ref() || m.link == it.link)
                        })
                    })
                    .map(|m| format!("{} {:?}", m.joined_by, m.score))
                    .unwrap_or_default();
                let summary: String = it.summary.chars().take(100).collect();
                eprintln!(
                    "  {} {:?} [{joined}] {} | {summary}",
                    it.source, it.published, it.title
                );
            }
        }
        match p.label {
            2 => {
                positives += 1;
                if merged {
                    tp += 1;
                }
                if p.kind == "copy" {
                    copy += 1;
                    copy_hit += usize::from(merged);
                } else {
                    rewrite += 1;
                    rewrite_hit += usize::from(merged);
                }
            }
            1 => merged_1 += usize::from(merged),
            _ => merged_0 += usize::from(merged),
        }
    }
    // Merged pairs of labelled-set items that nobody labelled.
    let mut members_by_story: HashMap<usize, Vec<&str>> = HashMap::new();
    for id in set.items.keys() {
        if let Some(s) = locate(id) {
            members_by_story.entry(s).or_default().push(id);
        }
    }
    let mut merged_unlabelled = 0;
    for ids in members_by_story.values() {
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (ia, ib) = (&set.items[*a], &set.items[*b]);
                if ia.source != ib.source && !labelled.contains(&(a.to_string(), b.to_string())) {
                    merged_unlabelled += 1;
                    if show_errors && merged_unlabelled % 10 == 1 {
                        eprintln!(
                            "MERGED UNLABELLED\n  {} {}\n  {} {}",
                            ia.source, ia.title, ib.source, ib.title
                        );
                    }
                }
            }
        }
    }
    let merged = tp + merged_0 + merged_1;
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, merged);
    let recall = ratio(tp, positives);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let (story_count, item_count) = db.counts()?;
    println!(
        "set {}: {} snapshots, {entries_seen} entries read, {parse_errors} unreadable files",
        set.name,
        snapshots.len()
    );
    println!(
        "ingest: {item_count} items into {story_count} stories in {:.2} s",
        elapsed.as_secs_f64()
    );
    println!(
        "labelled pairs: {} ({positives} same story); {missing} with an item not found",
        set.pairs.len()
    );
    println!("precision {precision:.3}  recall {recall:.3}  F1 {f1:.3}");
    println!(
        "recall on copy pairs {:.3} ({copy_hit}/{copy}), on rewrite pairs {:.3} ({rewrite_hit}/{rewrite})",
        ratio(copy_hit, copy),
        ratio(rewrite_hit, rewrite)
    );
    println!(
        "false merges: {merged_0} pairs labelled 0, {merged_1} labelled 1; {merged_unlabelled} merged pairs not labelled"
    );
    let json = serde_json::json!({
        "set": set.name,
        "precision": round(precision),
        "recall": round(recall),
        "f1": round(f1),
        "copy_recall": round(ratio(copy_hit, copy)),
        "rewrite_recall": round(ratio(rewrite_hit, rewrite)),
        "merged_0": merged_0,
        "merged_1": merged_1,
        "merged_unlabelled": merged_unlabelled,
    });
    println!("{json}");
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn sorted_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

fn sorted_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}
