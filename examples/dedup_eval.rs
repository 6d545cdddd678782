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
use wiredesk::store::{Db, FetchMeta, Story};

/// The command line.
struct Args {
    dir: PathBuf,
    threshold: f64,
    near: bool,
    show_errors: bool,
    weights: Option<[f64; N_FEATURES + 1]>,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let usage = "usage: dedup_eval DIR [--threshold X] [--no-near-duplicates]";
        let mut args = std::env::args().skip(1);
        let mut dir: Option<PathBuf> = None;
        let mut out = Args {
            dir: PathBuf::new(),
            threshold: DEFAULT_THRESHOLD,
            near: true,
            show_errors: false,
            weights: None,
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--threshold" => {
                    out.threshold = args.next().context("--threshold needs a value")?.parse()?
                }
                "--no-near-duplicates" => out.near = false,
                "--show-errors" => out.show_errors = true,
                "--weights" => {
                    let list = args
                        .next()
                        .context("--weights needs a comma-separated list")?;
                    let values: Vec<f64> =
                        list.split(',').map(str::parse).collect::<Result<_, _>>()?;
                    out.weights = Some(values.try_into().map_err(|v: Vec<f64>| {
                        anyhow::anyhow!(
                            "--weights needs {} numbers, got {}",
                            N_FEATURES + 1,
                            v.len()
                        )
                    })?);
                }
                _ if dir.is_none() => dir = Some(PathBuf::from(a)),
                _ => bail!("{usage}"),
            }
        }
        out.dir = dir.context(usage)?;
        Ok(out)
    }
}

/// What replaying the snapshots did.
struct Replay {
    snapshots: usize,
    entries_seen: usize,
    parse_errors: usize,
    elapsed: std::time::Duration,
}

/// Every snapshot's feeds, in time order, through parse and `Db::ingest`.
fn replay(db: &mut Db, dir: &Path) -> anyhow::Result<Replay> {
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
            filter: Default::default(),
            full_text: false,
            websub: false,
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
    Ok(Replay {
        snapshots: snapshots.len(),
        entries_seen,
        parse_errors,
        elapsed: started.elapsed(),
    })
}

/// Which story each labelled item ended in, by (source, guid), else (source, link).
struct StoryIndex<'a> {
    set: &'a LabelledSet,
    story_of: HashMap<(String, String), usize>,
}

impl<'a> StoryIndex<'a> {
    fn new(set: &'a LabelledSet, stories: &[Story]) -> StoryIndex<'a> {
        let mut story_of = HashMap::new();
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
        StoryIndex { set, story_of }
    }

    fn locate(&self, id: &str) -> Option<usize> {
        let it = self.set.items.get(id)?;
        [it.guid.as_ref(), it.link.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|k| self.story_of.get(&(it.source.clone(), k.clone())).copied())
    }
}

/// The labelled pairs, counted by what happened to them.
#[derive(Default)]
struct Tally {
    tp: usize,
    merged_0: usize,
    merged_1: usize,
    positives: usize,
    missing: usize,
    copy: usize,
    copy_hit: usize,
    rewrite: usize,
    rewrite_hit: usize,
}

/// Scores every labelled pair (merged = both items in one story); with `show_errors`, prints
/// each miss and false merge with the items' titles and how they joined.
fn score_pairs(index: &StoryIndex<'_>, stories: &[Story], show_errors: bool) -> Tally {
    let set = index.set;
    let mut t = Tally::default();
    for p in &set.pairs {
        let (sa, sb) = (index.locate(&p.a), index.locate(&p.b));
        if sa.is_none() || sb.is_none() {
            t.missing += 1;
            for (id, found) in [(&p.a, sa), (&p.b, sb)] {
                if found.is_none() && t.missing <= 5 {
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
            show_error(index, stories, p, merged);
        }
        match p.label {
            2 => {
                t.positives += 1;
                t.tp += usize::from(merged);
                if p.kind == "copy" {
                    t.copy += 1;
                    t.copy_hit += usize::from(merged);
                } else {
                    t.rewrite += 1;
                    t.rewrite_hit += usize::from(merged);
                }
            }
            1 => t.merged_1 += usize::from(merged),
            _ => t.merged_0 += usize::from(merged),
        }
    }
    t
}

fn show_error(index: &StoryIndex<'_>, stories: &[Story], p: &common::Pair, merged: bool) {
    let what = if merged {
        format!("FALSE MERGE (label {})", p.label)
    } else {
        format!("MISSED {}", p.kind)
    };
    eprintln!("{what}");
    for id in [&p.a, &p.b] {
        let it = &index.set.items[id];
        let joined = index
            .locate(id)
            .and_then(|s| {
                stories[s].members.iter().find(|m| {
                    m.feed == it.source && (Some(&m.key) == it.guid.as_ref() || m.link == it.link)
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

/// Merged pairs of labelled-set items (from different sources) that nobody labelled.
fn merged_unlabelled(index: &StoryIndex<'_>, show_errors: bool) -> usize {
    let set = index.set;
    let mut labelled: HashSet<(&str, &str)> = HashSet::new();
    for p in &set.pairs {
        labelled.insert((&p.a, &p.b));
        labelled.insert((&p.b, &p.a));
    }
    let mut members_by_story: HashMap<usize, Vec<&str>> = HashMap::new();
    for id in set.items.keys() {
        if let Some(s) = index.locate(id) {
            members_by_story.entry(s).or_default().push(id);
        }
    }
    let mut count = 0;
    for ids in members_by_story.values() {
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let (ia, ib) = (&set.items[*a], &set.items[*b]);
                if ia.source != ib.source && !labelled.contains(&(*a, *b)) {
                    count += 1;
                    if show_errors {
                        eprintln!(
                            "MERGED UNLABELLED\n  {} {}\n  {} {}",
                            ia.source, ia.title, ib.source, ib.title
                        );
                    }
                }
            }
        }
    }
    count
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let set = LabelledSet::load(&args.dir)?;
    let tmp = tempfile::tempdir()?;
    let config = DedupConfig {
        near_duplicates: args.near,
        window_hours: 48,
        threshold: args.threshold,
        copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
    };
    let mut db = Db::open(&tmp.path().join("eval.db"), &config)?;
    if let Some(w) = args.weights {
        db.set_dedup_model(config.clone(), w)?;
    }
    let replayed = replay(&mut db, &args.dir)?;
    let stories = db.all_stories()?;
    let index = StoryIndex::new(&set, &stories);
    let t = score_pairs(&index, &stories, args.show_errors);
    let merged_unlabelled = merged_unlabelled(&index, args.show_errors);

    let merged = t.tp + t.merged_0 + t.merged_1;
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(t.tp, merged);
    let recall = ratio(t.tp, t.positives);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let (story_count, item_count) = db.counts()?;
    println!(
        "set {}: {} snapshots, {} entries read, {} unreadable files",
        set.name, replayed.snapshots, replayed.entries_seen, replayed.parse_errors
    );
    println!(
        "ingest: {item_count} items into {story_count} stories in {:.2} s",
        replayed.elapsed.as_secs_f64()
    );
    println!(
        "labelled pairs: {} ({} same story); {} with an item not found",
        set.pairs.len(),
        t.positives,
        t.missing
    );
    println!("precision {precision:.3}  recall {recall:.3}  F1 {f1:.3}");
    println!(
        "recall on copy pairs {:.3} ({}/{}), on rewrite pairs {:.3} ({}/{})",
        ratio(t.copy_hit, t.copy),
        t.copy_hit,
        t.copy,
        ratio(t.rewrite_hit, t.rewrite),
        t.rewrite_hit,
        t.rewrite
    );
    println!(
        "false merges: {} pairs labelled 0, {} labelled 1; {merged_unlabelled} merged pairs not labelled",
        t.merged_0, t.merged_1
    );
    let json = serde_json::json!({
        "set": set.name,
        "precision": round(precision),
        "recall": round(recall),
        "f1": round(f1),
        "copy_recall": round(ratio(t.copy_hit, t.copy)),
        "rewrite_recall": round(ratio(t.rewrite_hit, t.rewrite)),
        "merged_0": t.merged_0,
        "merged_1": t.merged_1,
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
