//! feedparser conformance on the whole corpus: every file of `DIR` (default
//! `../shared/corpus/feedparser`) served from a loopback fixture server with its headers and
//! read through wiredesk's fetch → charset → parse path; the rates per folder as the Markdown
//! table in CONFORMANCE.md. Files without an expectation (compression/) must only be read
//! without a panic.
//!
//! ```sh
//! cargo run --release --example conformance -- [DIR] [--failures] [--not-applicable]
//! ```
//! Exits 1 if anything panicked.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/feedparser.rs"]
mod feedparser;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use feedparser::{Case, Verdict, load, run, tally};

fn files_under(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, root, out);
        } else if let Ok(rel) = p.strip_prefix(root)
            && rel.components().count() > 1
        {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

fn row(folder: &str, files: usize, t: &feedparser::Tally) {
    println!(
        "| {folder} | {files} | {} | {} | {} | {} | {} | {:.1} % |",
        t.applicable(),
        t.pass,
        t.fail,
        t.not_applicable,
        t.panic,
        100.0 * t.rate()
    );
}

#[tokio::main]
async fn main() {
    let mut root = PathBuf::from("../shared/corpus/feedparser");
    let mut show_failures = false;
    let mut show_na = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--failures" => show_failures = true,
            "--not-applicable" => show_na = true,
            other => root = PathBuf::from(other),
        }
    }
    let mut cases = load(&root);
    let listed: BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    let mut all = Vec::new();
    files_under(&root, &root, &mut all);
    all.sort();
    for f in all {
        if !listed.contains(&f) {
            cases.push(Case {
                file: f,
                description: "no expectation: read without a panic".into(),
                expect: "1".into(),
                headers: BTreeMap::new(),
            });
        }
    }
    let outcomes = run(&root, &cases).await;
    let mut folders: BTreeMap<&str, Vec<&feedparser::Outcome>> = BTreeMap::new();
    for o in &outcomes {
        folders.entry(o.folder.as_str()).or_default().push(o);
    }
    println!("| folder | files | applicable | pass | fail | not applicable | panics | pass rate |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (folder, os) in &folders {
        row(folder, os.len(), &tally(os.iter().copied()));
    }
    let t = tally(&outcomes);
    row("**all**", outcomes.len(), &t);
    for o in &outcomes {
        let show = match &o.verdict {
            Verdict::Fail(_) => show_failures,
            Verdict::NotApplicable(_) => show_na,
            Verdict::Panic(_) => true,
            Verdict::Pass => false,
        };
        if show {
            println!(
                "- `{}` ({}): {:?} — got {}",
                o.file, o.description, o.verdict, o.got
            );
        }
    }
    if t.panic > 0 {
        std::process::exit(1);
    }
}
