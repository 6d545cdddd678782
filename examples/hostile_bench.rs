//! Time and memory of hostile feeds through wiredesk's parse and store path, each beside its
//! baseline in the same run: feed-rs parsing the same bytes alone (the floor no reader of the
//! document can go below), and a normal 50-item feed.
//!
//! ```sh
//! cargo run --release --example hostile_bench
//! ```
//!
//! Each case runs in a fresh child process so that its peak RSS (VmHWM) is its own. Exits
//! non-zero when a case breaks its bound (see `BOUND_*`) or a baseline could not be measured.

use std::process::{Command, ExitCode};
use std::time::Instant;

use chrono::Utc;
use wiredesk::config::{DedupConfig, FeedConfig, FeedId};
use wiredesk::parse::{Limits, parse_feed_limited};
use wiredesk::store::{Db, FetchMeta};

/// A case may take at most this many times feed-rs's own parse of the same bytes, plus a
/// second (for the store's commit and fsync).
const BOUND_TIME_FACTOR: f64 = 4.0;
/// A case's peak memory may be at most this many times the document's size, plus 64 MiB.
const BOUND_RSS_FACTOR: f64 = 12.0;

const CASES: &[&str] = &[
    "normal-50",
    "nested-divs-50k",
    "title-20mb",
    "items-200k",
    "scripts-20k",
    "entities-1mb",
];

fn item(i: usize, title: &str, desc: &str) -> String {
    format!(
        "<item><guid>g-{i}</guid><title>{title}</title><link>https://e.example/{i}</link><description>{desc}</description><pubDate>Sun, 01 Nov 2026 08:{:02}:00 GMT</pubDate></item>\n",
        i % 60
    )
}

fn document(case: &str) -> String {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let body = |items: String| {
        format!("<rss version=\"2.0\"><channel><title>Bench</title>{items}</channel></rss>")
    };
    let news = "SEOUL, Nov. 1 (Yonhap) -- The government said on Sunday it will expand support for small businesses hit by high interest rates, officials said. (END)";
    match case {
        "normal-50" => body(
            (0..50)
                .map(|i| item(i, &format!("Headline number {i} about the economy"), news))
                .collect(),
        ),
        "nested-divs-50k" => body(item(
            0,
            "Deep",
            &esc(&format!("{}deep text", "<div>".repeat(50_000))),
        )),
        "title-20mb" => body(item(0, &"Headline ".repeat(2_300_000), news)),
        "items-200k" => body(
            (0..200_000)
                .map(|i| item(i, &format!("Item {i}"), "short"))
                .collect(),
        ),
        "scripts-20k" => body(item(
            0,
            "Scripts",
            &esc(&"<script>x()</script>text ".repeat(20_000)),
        )),
        "entities-1mb" => body(item(
            0,
            "Entities",
            &"&amp;amp;lt;b&amp;amp;gt;".repeat(40_000),
        )),
        other => panic!("unknown case {other}"),
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One case, in this process: prints `bytes feedrs_ms wiredesk_ms entries peak_kib`.
fn run_case(case: &str, feed_rs_only: bool) {
    let doc = document(case);
    let bytes = doc.into_bytes();
    let started = Instant::now();
    if feed_rs_only {
        let n = feed_rs::parser::parse(&bytes[..])
            .map(|f| f.entries.len())
            .unwrap_or(0);
        println!(
            "{} {:.1} {n} {}",
            bytes.len(),
            started.elapsed().as_secs_f64() * 1000.0,
            peak_rss_kib()
        );
        return;
    }
    let now = Utc::now();
    let parsed = parse_feed_limited(&bytes, None, None, now, Limits::default()).expect("parses");
    let dir = tempfile::tempdir().expect("temp dir");
    let dedup = DedupConfig {
        near_duplicates: true,
        window_hours: 48,
        threshold: wiredesk::config::DEFAULT_THRESHOLD,
        copy_window_hours: wiredesk::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: wiredesk::config::DEFAULT_MAX_INDEXED_ITEMS,
    };
    let mut db = Db::open(&dir.path().join("b.db"), &dedup).expect("database");
    let feed = FeedConfig {
        id: FeedId("bench".into()),
        name: "Bench".into(),
        url: url::Url::parse("https://e.example/rss").expect("url"),
        schedule: wiredesk::schedule::Schedule::parse("*/5 * * * *", "bench").expect("cron"),
        tags: Vec::new(),
        priority: 0,
        enabled: true,
        headers: Vec::new(),
        filter: Default::default(),
        full_text: false,
        websub: false,
    };
    db.sync_feeds(std::slice::from_ref(&feed)).expect("sync");
    let stats = db
        .ingest(
            &feed.id,
            "https://e.example/rss",
            &parsed.entries,
            &FetchMeta::default(),
            now,
            None,
        )
        .expect("ingest");
    println!(
        "{} {:.1} {} {}",
        bytes.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        stats.new,
        peak_rss_kib()
    );
}

fn measure(case: &str, feed_rs_only: bool) -> Option<(u64, f64, u64, u64)> {
    let exe = std::env::current_exe().ok()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--case").arg(case);
    if feed_rs_only {
        cmd.arg("--feed-rs");
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = text.split_whitespace();
    Some((
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
        f.next()?.parse().ok()?,
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(&args[i + 1], args.iter().any(|a| a == "--feed-rs"));
        return ExitCode::SUCCESS;
    }
    println!(
        "| case | bytes | feed-rs alone (baseline) | wiredesk parse + store | entries stored | peak RSS feed-rs / wiredesk | within bounds |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut ok = true;
    for case in CASES {
        let (Some(base), Some(ours)) = (measure(case, true), measure(case, false)) else {
            println!("| {case} | could not be measured | | | | | no |");
            ok = false;
            continue;
        };
        let (bytes, base_ms, _, base_kib) = base;
        let (_, ms, stored, kib) = ours;
        let time_ok = ms <= base_ms * BOUND_TIME_FACTOR + 1000.0;
        let rss_ok = (kib as f64) * 1024.0 <= bytes as f64 * BOUND_RSS_FACTOR + 64.0 * 1048576.0;
        ok &= time_ok && rss_ok;
        println!(
            "| {case} | {bytes} | {base_ms:.0} ms | {ms:.0} ms | {stored} | {} / {} MiB | {} |",
            base_kib / 1024,
            kib / 1024,
            if time_ok && rss_ok { "yes" } else { "**no**" }
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
