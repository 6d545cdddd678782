//! Fits the verification model of the near-duplicate layer (`src/dedup/score.rs`, `WEIGHTS`).
//!
//! For each labelled set it indexes every item of `items.jsonl` with the daemon's own
//! tokeniser and index (so the features are computed exactly as at run time), computes the
//! features of every labelled pair, and fits a logistic regression (label 2 = same story against
//! labels 0 and 1; a false merge costs three missed ones). It reports each set scored by the
//! model fitted on the *other* set — the honest figure — and prints the weights fitted on all
//! sets, ready to paste.
//!
//! ```sh
//! cargo run --release --example dedup_train -- ../shared/corpus/dedup/kr ../shared/corpus/dedup/ghdev
//! ```

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use common::{LabelledSet, parse_date, snapshot_time};
use wiredesk::config::{DEFAULT_THRESHOLD, DedupConfig};
use wiredesk::dedup::NearDuplicates;
use wiredesk::dedup::score::{FEATURE_NAMES, N_FEATURES, probability};

type Sample = ([f64; N_FEATURES], bool);

/// The cost of a false merge relative to a missed merge (`DEDUP_NEGATIVE_WEIGHT` overrides).
const NEGATIVE_WEIGHT: f64 = 3.0;
/// L2 regularisation of the feature weights (`DEDUP_L2` overrides).
const L2: f64 = 1e-3;

/// A setting of the fit, from the environment when set there (for sweeps).
fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn samples(set: &LabelledSet) -> Vec<Sample> {
    let mut ix = NearDuplicates::new(DedupConfig {
        near_duplicates: true,
        // The whole set in one window: features do not depend on it, only the IDF does.
        window_hours: 24 * 365 * 10,
        threshold: DEFAULT_THRESHOLD,
        copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
    });
    let mut docs = HashMap::new();
    let mut ids: Vec<&String> = set.items.keys().collect();
    ids.sort();
    for (n, id) in ids.into_iter().enumerate() {
        let it = &set.items[id];
        let published = it
            .published
            .as_deref()
            .and_then(parse_date)
            .or_else(|| snapshot_time(&it.snapshot))
            .map(|d| d.timestamp())
            .unwrap_or(0);
        let feed = ix.feed_index(&it.source);
        let doc = ix.make_doc(&it.title, &it.summary, published);
        ix.add_doc(n as i64, feed, id, doc.clone());
        docs.insert(id.clone(), (doc, feed));
    }
    set.pairs
        .iter()
        .filter_map(|p| {
            // Rolling formats never join by text at run time: not training material.
            let rolling = |id: &str| wiredesk::dedup::text::is_rolling_format(&set.items[id].title);
            if rolling(&p.a) || rolling(&p.b) {
                return None;
            }
            let (a, fa) = docs.get(&p.a)?;
            let (b, fb) = docs.get(&p.b)?;
            Some((ix.pair_features(a, *fa, b, *fb), p.label == 2))
        })
        .collect()
}

fn fit(data: &[Sample]) -> [f64; N_FEATURES + 1] {
    let negative_weight = setting("DEDUP_NEGATIVE_WEIGHT", NEGATIVE_WEIGHT);
    let l2 = setting("DEDUP_L2", L2);
    let mut w = [0.0; N_FEATURES + 1];
    let total: f64 = data
        .iter()
        .map(|(_, y)| if *y { 1.0 } else { negative_weight })
        .sum();
    let mut rate = 1.0;
    for step in 0..20_000 {
        let mut grad = [0.0; N_FEATURES + 1];
        for (x, y) in data {
            let p = probability(x, &w);
            let c = if *y { 1.0 } else { negative_weight };
            let err = c * (p - if *y { 1.0 } else { 0.0 });
            for i in 0..N_FEATURES {
                grad[i] += err * x[i];
            }
            grad[N_FEATURES] += err;
        }
        for i in 0..=N_FEATURES {
            let reg = if i < N_FEATURES { l2 * w[i] } else { 0.0 };
            w[i] -= rate * (grad[i] / total + reg);
        }
        if step == 10_000 {
            rate = 0.3;
        }
    }
    w
}

fn report(name: &str, data: &[Sample], w: &[f64; N_FEATURES + 1]) {
    let positives = data.iter().filter(|(_, y)| *y).count();
    print!("{name:>16}:");
    for th in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8] {
        let merged: Vec<bool> = data
            .iter()
            .filter(|(x, _)| probability(x, w) >= th)
            .map(|(_, y)| *y)
            .collect();
        let tp = merged.iter().filter(|y| **y).count();
        let precision = if merged.is_empty() {
            1.0
        } else {
            tp as f64 / merged.len() as f64
        };
        print!(
            "  @{th}: P {precision:.3} R {:.3}",
            tp as f64 / positives.max(1) as f64
        );
    }
    println!();
}

fn main() -> anyhow::Result<()> {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(!dirs.is_empty(), "usage: dedup_train DIR [DIR…]");
    let mut sets = Vec::new();
    for d in &dirs {
        let set = LabelledSet::load(d).with_context(|| format!("loading {}", d.display()))?;
        let data = samples(&set);
        println!(
            "{}: {} pairs ({} same story)",
            set.name,
            data.len(),
            data.iter().filter(|s| s.1).count()
        );
        sets.push((set.name.clone(), data));
    }
    println!("\npair-level precision / recall of the labelled pairs, by probability threshold");
    for (i, (name, data)) in sets.iter().enumerate() {
        let others: Vec<Sample> = sets
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (_, d))| d.iter().cloned())
            .collect();
        if !others.is_empty() {
            let w = fit(&others);
            report(&format!("{name} (held out)"), data, &w);
            let list: Vec<String> = w.iter().map(|v| format!("{v:.3}")).collect();
            println!(
                "{:>16}   weights fitted without it: --weights {}",
                "",
                list.join(",")
            );
        }
        report(&format!("{name} (fitted)"), data, &fit(data));
    }
    let all: Vec<Sample> = sets.iter().flat_map(|(_, d)| d.iter().cloned()).collect();
    let w = fit(&all);
    report("all (fitted)", &all, &w);
    println!("\nweights fitted on all sets:");
    for (name, v) in FEATURE_NAMES.iter().zip(w.iter()) {
        println!("  {name:>22} {v:+.3}");
    }
    println!("  {:>22} {:+.3}", "bias", w[N_FEATURES]);
    let list: Vec<String> = w.iter().map(|v| format!("{v:.3}")).collect();
    println!(
        "\npub const WEIGHTS: [f64; N_FEATURES + 1] = [{}];",
        list.join(", ")
    );
    Ok(())
}
