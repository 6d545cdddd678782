//! `wiredesk check` on very large configs full of problems, beside its baseline in the same
//! run: the TOML parser alone reading the same text.
//!
//! ```sh
//! cargo run --release --example check_bench
//! ```
//!
//! Every `[[feed]]` reuses one of 100 ids, so all but 100 are duplicate-id problems, each
//! needing a line and column. Exits non-zero when validation takes more than 20× the TOML
//! parse of the same text (it was quadratic: 20k feeds took 19 s).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

fn config(feeds: usize) -> String {
    let mut text = String::from("[poll]\nschedule = \"*/5 * * * *\"\n");
    for i in 0..feeds {
        text.push_str(&format!(
            "[[feed]]\nid = \"feed-{}\"\nurl = \"https://n{i}.example/rss\"\ntags = [\"t\"]\n",
            i % 100
        ));
    }
    text
}

fn main() -> ExitCode {
    println!("| feeds | problems | TOML parse alone (baseline) | wiredesk check | ratio |");
    println!("|---|---|---|---|---|");
    let mut ok = true;
    for feeds in [10_000, 20_000, 100_000] {
        let text = config(feeds);
        let started = Instant::now();
        let parsed = toml::de::DeTable::parse(&text).is_ok();
        let base = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let problems = match wiredesk::Config::parse(&text, Path::new("big.toml")) {
            Ok(_) => 0,
            Err(e) => e.problems.len(),
        };
        let ours = started.elapsed().as_secs_f64();
        let ratio = ours / base.max(1e-6);
        ok &= parsed && problems == feeds - 100 && ratio <= 20.0;
        println!(
            "| {feeds} | {problems} | {:.0} ms | {:.0} ms | {ratio:.1} |",
            base * 1000.0,
            ours * 1000.0
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
