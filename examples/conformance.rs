//! feedparser conformance on the whole corpus: every file of `DIR` (default
//! `../shared/corpus/feedparser`) served from a loopback fixture server with its headers and
//! read through wiredesk's fetch → charset → parse path; the rates per folder as the Markdown
//! table in CONFORMANCE.md. The compression/ files (no expectation lines) are served with the
//! `Content-Encoding` their extension names and must be read.
//!
//! ```sh
//! cargo run --release --example conformance -- [DIR] [--failures] [--not-applicable]
//! ```
//! Exits 1 if anything panicked.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/feedparser.rs"]
mod feedparser;

use std::collections::BTreeMap;
use std::path::PathBuf;

use feedparser::{Verdict, load_all, run, tally};

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
    let cases = load_all(&root);
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
