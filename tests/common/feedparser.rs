//! The feedparser conformance runner: Python feedparser's test files served from the fixture
//! server with the headers each one names, read through wiredesk's real fetch → charset →
//! parse path, and judged by the file's own `Expect:` expression where that expression is
//! about something wiredesk produces (feed and entry titles, summaries, links, ids, the
//! charset, and whether the feed was read cleanly — feedparser's `bozo`).
//!
//! Used by `tests/conformance.rs` (on the copy in `tests/fixtures/feedparser/`) and by
//! `examples/conformance.rs` (on the whole corpus in `../shared`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use url::Url;
use wiredesk::config::PollConfig;
use wiredesk::fetch::{Fetched, Fetcher};
use wiredesk::model::Validators;
use wiredesk::normalise::{html_to_text, sanitise_html};
use wiredesk::parse::{ParsedFeed, parse_feed};

use crate::common::{FixtureServer, Route};

/// The hosts feedparser's suite names in its expected values and `Location` headers (its own
/// test server), pointed at the fixture server here.
const SUITE_HOSTS: [&str; 2] = ["http://localhost:8097", "http://127.0.0.1:8097"];

/// One line of `expectations.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct Case {
    pub file: String,
    /// What the case is about (shown in reports).
    #[serde(default)]
    pub description: String,
    pub expect: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Case {
    /// The top folder: `encoding`, `http`, `illformed`, …
    pub fn folder(&self) -> &str {
        self.file.split('/').next().unwrap_or("")
    }
}

/// Reads `expectations.jsonl` under `root`.
pub fn load(root: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(root.join("expectations.jsonl"))
        .unwrap_or_else(|e| panic!("{}: {e}", root.join("expectations.jsonl").display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("expectations.jsonl line {}: {e}", i + 1))
        })
        .collect()
}

/// Every file under `root`'s folders: the cases of `expectations.jsonl`, and the files it has
/// no line for (compression/) as cases that must be read without a panic.
pub fn load_all(root: &Path) -> Vec<Case> {
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
    let mut cases = load(root);
    let listed: std::collections::BTreeSet<String> = cases.iter().map(|c| c.file.clone()).collect();
    let mut all = Vec::new();
    files_under(root, root, &mut all);
    all.sort();
    cases.extend(
        all.into_iter()
            .filter(|f| !listed.contains(f))
            .map(|file| Case {
                file,
                description: "no expectation line".into(),
                expect: "1".into(),
                headers: BTreeMap::new(),
            }),
    );
    cases
}

/// How one case came out.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
    /// The expectation is about something wiredesk does not keep (e.g. `feed['itunes_block']`)
    /// or is feedparser-internal (`bozo_exception` types): not counted.
    NotApplicable(String),
    /// Our code panicked (a feed-rs panic is caught inside `parse_feed` and is a parse error).
    Panic(String),
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub file: String,
    pub description: String,
    pub folder: String,
    pub verdict: Verdict,
    /// What wiredesk decided, for the report.
    pub got: String,
}

/// A value the expression compares against.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
}

/// What an expected value is compared with.
#[derive(Clone, Debug, PartialEq)]
enum Target {
    FeedTitle,
    EntryTitle(usize),
    EntrySummary(usize),
    EntryLink(usize),
    EntryId(usize),
    Encoding,
}

#[derive(Clone, Debug, PartialEq)]
struct Check {
    target: Target,
    /// `ord(x) == n`: the value is one character.
    ord: bool,
    value: Literal,
}

/// A parsed `Expect:` expression.
#[derive(Clone, Debug, Default, PartialEq)]
struct Expectation {
    bozo: Option<bool>,
    checks: Vec<Check>,
    /// `1`: the file only has to be read without crashing.
    no_crash_only: bool,
}

/// Parses the subset of Python feedparser's expectations that maps onto wiredesk:
/// `[not ]bozo`, `path == literal`, `ord(path) == n`, joined by `and`.
fn parse_expect(expr: &str) -> Result<Expectation, String> {
    let expr = expr.trim();
    if expr == "1" {
        return Ok(Expectation {
            no_crash_only: true,
            ..Expectation::default()
        });
    }
    let mut out = Expectation::default();
    for part in split_and(expr) {
        let part = part.trim();
        match part {
            "bozo" => out.bozo = Some(true),
            "not bozo" => out.bozo = Some(false),
            _ => {
                let (lhs, rhs) = part
                    .split_once("==")
                    .ok_or_else(|| format!("unsupported expression `{part}`"))?;
                let value = python_literal(rhs.trim())?;
                let mut lhs = lhs.trim();
                let mut ord = false;
                if let Some(inner) = lhs.strip_prefix("ord(").and_then(|l| l.strip_suffix(')')) {
                    lhs = inner;
                    ord = true;
                }
                let target = target(lhs)?;
                out.checks.push(Check { target, ord, value });
            }
        }
    }
    Ok(out)
}

/// Splits on ` and ` outside string literals.
fn split_and(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < expr.len() {
        let c = bytes[i] as char;
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if expr[i..].starts_with(" and ") {
            parts.push(&expr[start..i]);
            start = i + 5;
            i += 5;
            continue;
        }
        i += 1;
    }
    parts.push(&expr[start..]);
    parts
}

/// `feed['title']`, `feed.title`, `entries[0]['description']`, `encoding`, … → a target.
fn target(path: &str) -> Result<Target, String> {
    let mut segs: Vec<String> = Vec::new();
    let mut rest = path;
    let head_len = rest.find(['[', '.']).unwrap_or(rest.len());
    segs.push(rest[..head_len].to_owned());
    rest = &rest[head_len..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.find(['[', '.']).unwrap_or(r.len());
            segs.push(r[..n].to_owned());
            rest = &r[n..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let n = r
                .find(']')
                .ok_or_else(|| format!("unsupported path `{path}`"))?;
            segs.push(r[..n].trim_matches(['\'', '"']).to_owned());
            rest = &r[n + 1..];
        } else {
            return Err(format!("unsupported path `{path}`"));
        }
    }
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let entry = |i: &str| {
        i.parse::<usize>()
            .map_err(|_| format!("unsupported path `{path}`"))
    };
    Ok(match segs.as_slice() {
        ["encoding"] => Target::Encoding,
        ["feed", "title"] | ["feed", "title_detail", "value"] => Target::FeedTitle,
        ["entries", i, "title"] | ["entries", i, "title_detail", "value"] => {
            Target::EntryTitle(entry(i)?)
        }
        ["entries", i, "description" | "summary"]
        | ["entries", i, "summary_detail", "value"]
        | ["entries", i, "content", "0", "value"] => Target::EntrySummary(entry(i)?),
        ["entries", i, "link"] => Target::EntryLink(entry(i)?),
        ["entries", i, "id" | "guid"] => Target::EntryId(entry(i)?),
        _ => return Err(format!("`{path}` is not something wiredesk keeps")),
    })
}

/// A Python string literal (with `u`/`r` prefix, escapes, and `'a' + 'b'` concatenation)
/// or integer literal.
fn python_literal(s: &str) -> Result<Literal, String> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Literal::Int(n));
    }
    let unsupported = || format!("unsupported literal `{s}`");
    let mut out = String::new();
    let mut rest = s.trim();
    loop {
        let (raw, body) = match rest.as_bytes().first() {
            Some(b'u' | b'U') => (false, &rest[1..]),
            Some(b'r' | b'R') => (true, &rest[1..]),
            _ => (false, rest),
        };
        let q = body
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .ok_or_else(unsupported)?;
        let mut chars = body[1..].char_indices();
        let mut closed_at = None;
        while let Some((i, c)) = chars.next() {
            if c == q {
                closed_at = Some(1 + i + 1);
                break;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| -> Result<char, String> {
                let h: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                u32::from_str_radix(&h, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("bad escape in `{s}`"))
            };
            if raw {
                out.push(c);
                continue;
            }
            match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('x') => out.push(hex(&mut chars, 2)?),
                Some('u') => out.push(hex(&mut chars, 4)?),
                Some('U') => out.push(hex(&mut chars, 8)?),
                Some(other @ ('\\' | '\'' | '"')) => out.push(other),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => return Err(format!("bad escape in `{s}`")),
            }
        }
        let end = closed_at.ok_or_else(unsupported)?;
        rest = body[end..].trim_start();
        if rest.is_empty() {
            return Ok(Literal::Str(out));
        }
        rest = rest.strip_prefix('+').ok_or_else(unsupported)?.trim_start();
    }
}

/// What the http/ cases expect. Their `Expect:` lines are placeholders (`0`): feedparser
/// checks them in separate Python code, so the expectations are written here from each
/// file's description.
#[derive(Clone, Copy, Debug, PartialEq)]
enum HttpExpect {
    /// The target feed (`/tests/http/target.xml`) is fetched and read; `moved` says whether
    /// the fetch reports a permanent move. (Its `<item>` inside an Atom `<feed>` is not an
    /// Atom entry: only the feed is checked.)
    Target { moved: bool },
    /// A clear error that mentions this text.
    Error(&'static str),
    /// Nothing new, without an error (a 304).
    NotModified,
    /// The first fetch reads the entry; a conditional second fetch gets a 304.
    ThenNotModified,
}

fn http_expect(file: &str) -> Option<HttpExpect> {
    Some(match file.rsplit('/').next()? {
        "http_status_301.xml" => HttpExpect::Target { moved: true },
        "http_status_302.xml" | "http_status_303.xml" | "http_status_307.xml" | "target.xml" => {
            HttpExpect::Target { moved: false }
        }
        "http_status_302-no-location.xml" => HttpExpect::Error("without a usable Location"),
        "http_status_404.xml" => HttpExpect::Error("404"),
        "http_redirect_to_304.xml" => HttpExpect::NotModified,
        "http_status_304.xml" => HttpExpect::ThenNotModified,
        _ => return None,
    })
}

/// What the compression/ files (which have no expectation lines) must give when served with
/// the `Content-Encoding` their extension names: (the feed title, or `None` where the body is
/// corrupt and need not parse; whether a warning is due).
fn compression_expect(file: &str) -> Option<(Option<&'static str>, bool)> {
    Some(match file.rsplit('/').next()? {
        "gzip.gz" | "deflate.z" | "deflate-no-headers.z" => (Some(""), false),
        "gzip-not-compressed.gz" => (Some("gzip"), true),
        "deflate-not-compressed.z" => (Some("deflate"), true),
        // A corrupt stream whose output ends in garbage: flagged; reading it is a bonus.
        "gzip-struct-error.gz" => (None, true),
        _ => return None,
    })
}

/// The URL path a corpus file is served at (the same as in feedparser's own test server).
fn served_path(file: &str) -> String {
    format!("/tests/{file}")
}

/// Serves `cases` (files under `root`) and runs each through fetch → parse.
pub async fn run(root: &Path, cases: &[Case]) -> Vec<Outcome> {
    let server = FixtureServer::start().await;
    let base = server.url("");
    for case in cases {
        let Ok(body) = std::fs::read(root.join(&case.file)) else {
            continue;
        };
        server.set(&served_path(&case.file), route_for(case, body, &base));
    }
    server.set("/-/return-304.xml", Route::status(304));
    let fetcher = Fetcher::new(&poll_config()).expect("client builds");
    let fetcher = std::sync::Arc::new(fetcher);
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        let (verdict, got) = if !root.join(&case.file).exists() {
            (
                Verdict::Fail(format!("{} is missing", case.file)),
                String::new(),
            )
        } else {
            let url = Url::parse(&server.url(&served_path(&case.file))).expect("fixture URL");
            let task = tokio::spawn(judge(fetcher.clone(), url, case.clone(), base.clone()));
            match tokio::time::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) if e.is_panic() => (Verdict::Panic(panic_message(e)), String::new()),
                Ok(Err(e)) => (Verdict::Fail(format!("task failed: {e}")), String::new()),
                Err(_) => (Verdict::Fail("no answer within 30 s".into()), String::new()),
            }
        };
        outcomes.push(Outcome {
            file: case.file.clone(),
            description: case.description.clone(),
            folder: case.folder().to_owned(),
            verdict,
            got,
        });
    }
    outcomes
}

fn panic_message(e: tokio::task::JoinError) -> String {
    wiredesk::store::panic_message(e.into_panic().as_ref())
}

fn poll_config() -> PollConfig {
    let text = "[[feed]]\nid = \"x\"\nurl = \"http://127.0.0.1/\"\n";
    let cfg = wiredesk::Config::parse(text, Path::new("conformance.toml")).expect("config");
    PollConfig {
        per_host: 8,
        ..cfg.poll
    }
}

fn suite_to_fixture(text: &str, base: &str) -> String {
    SUITE_HOSTS
        .iter()
        .fold(text.to_owned(), |t, host| t.replace(host, base))
}

/// The route for one file: its headers, with `Status:` as the status and the suite's
/// `localhost:8097` URLs pointed at the fixture server.
fn route_for(case: &Case, body: Vec<u8>, base: &str) -> Route {
    let mut route = Route::status(200);
    route.body = body;
    if case.folder() == "compression" {
        let coding = if case.file.ends_with(".gz") {
            "gzip"
        } else {
            "deflate"
        };
        route
            .headers
            .push(("Content-Encoding".into(), coding.into()));
        route
            .headers
            .push(("Content-Type".into(), "application/atom+xml".into()));
    }
    for (name, value) in &case.headers {
        let value = suite_to_fixture(value, base);
        match name.to_ascii_lowercase().as_str() {
            "status" => route.status = value.trim().parse().unwrap_or(200),
            "etag" => route.etag = Some(value),
            _ => route.headers.push((name.clone(), value)),
        }
    }
    route
}

/// Fetches and parses one case and judges it.
async fn judge(
    fetcher: std::sync::Arc<Fetcher>,
    url: Url,
    case: Case,
    base: String,
) -> (Verdict, String) {
    if case.folder() == "http" {
        return judge_http(&fetcher, &url, &case).await;
    }
    if let Some((title, warned)) = compression_expect(&case.file) {
        return judge_compression(&fetcher, &url, title, warned).await;
    }
    let expectation = match parse_expect(&case.expect) {
        Ok(e) => e,
        Err(why) => {
            // Still read it: no file may crash the pipeline.
            let _ = fetch_and_parse(&fetcher, &url).await;
            return (Verdict::NotApplicable(why), String::new());
        }
    };
    let read = fetch_and_parse(&fetcher, &url).await;
    let got = match &read {
        Ok((feed, _)) => format!(
            "encoding {}, title {:?}, {} entries{}",
            feed.encoding,
            feed.title.as_deref().unwrap_or(""),
            feed.entries.len(),
            if bozo(feed) { ", bozo" } else { "" }
        ),
        Err(e) => format!("error: {e}"),
    };
    if expectation.no_crash_only {
        return (Verdict::Pass, got);
    }
    let verdict = match &read {
        Err(e) => {
            if expectation.bozo == Some(true) && expectation.checks.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail(format!("not read: {e}"))
            }
        }
        Ok((feed, body)) => evaluate(&expectation, feed, body, &base),
    };
    (verdict, got)
}

/// feedparser's `bozo`, as wiredesk sees it: the feed was not read cleanly (repaired, bytes
/// invalid in its charset, a charset that had to be guessed or that is unknown).
fn bozo(feed: &ParsedFeed) -> bool {
    feed.recovered.is_some()
        || feed.undecodable_bytes
        || feed.charset_guessed
        || feed.unknown_charset.is_some()
}

async fn fetch_and_parse(fetcher: &Fetcher, url: &Url) -> Result<(ParsedFeed, Vec<u8>), String> {
    match fetcher.fetch(url, &[], &Validators::default()).await {
        Ok(Fetched::Body(body)) => {
            let parsed = parse_feed(
                &body.bytes,
                body.content_type.as_deref(),
                Some(&body.final_url),
                Utc::now(),
            )
            .map_err(|e| e.to_string())?;
            Ok((parsed, body.bytes))
        }
        Ok(Fetched::NotModified(_)) => Err("304 Not Modified".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn evaluate(exp: &Expectation, feed: &ParsedFeed, body: &[u8], base: &str) -> Verdict {
    if let Some(want) = exp.bozo
        && bozo(feed) != want
    {
        return Verdict::Fail(format!(
            "bozo is {} (recovered: {:?}, undecodable bytes: {}, charset guessed: {}, unknown charset: {:?})",
            !want,
            feed.recovered,
            feed.undecodable_bytes,
            feed.charset_guessed,
            feed.unknown_charset
        ));
    }
    for check in &exp.checks {
        if let Err(why) = check_one(check, feed, body, base) {
            return Verdict::Fail(why);
        }
    }
    Verdict::Pass
}

fn check_one(check: &Check, feed: &ParsedFeed, body: &[u8], base: &str) -> Result<(), String> {
    let want = match &check.value {
        Literal::Str(s) => suite_to_fixture(s, base),
        Literal::Int(n) if check.ord => u32::try_from(*n)
            .ok()
            .and_then(char::from_u32)
            .map(String::from)
            .ok_or_else(|| format!("ord {n} is not a character"))?,
        Literal::Int(n) => n.to_string(),
    };
    let entry = |i: usize| {
        feed.entries
            .get(i)
            .ok_or_else(|| format!("no entry {i} (got {})", feed.entries.len()))
    };
    let fail = |what: &str, got: &str| Err(format!("{what}: want {want:?}, got {got:?}"));
    let expect = |ok: bool, what: &str, got: &str| if ok { Ok(()) } else { fail(what, got) };
    match &check.target {
        Target::Encoding => expect(
            same_encoding(&want, feed.encoding, body),
            "encoding",
            feed.encoding,
        ),
        Target::FeedTitle => {
            let got = feed.title.as_deref().unwrap_or("");
            expect(same_text(&want, got), "feed title", got)
        }
        Target::EntryTitle(i) => {
            let got = &entry(*i)?.title;
            expect(same_text(&want, got), "entry title", got)
        }
        Target::EntrySummary(i) => {
            let e = entry(*i)?;
            let base = Url::parse(base).ok();
            // wiredesk keeps summaries as sanitised HTML (republished) and as plain text
            // (matched): either must say what the expected value says.
            let want_html = sanitise_html(&want, base.as_ref());
            let want_text = html_to_text(&want);
            let text_match = !want_text.is_empty() && e.text == want_text;
            expect(
                e.summary_html == want_html || text_match,
                "entry summary",
                &e.summary_html,
            )
        }
        Target::EntryLink(i) => {
            let got = entry(*i)?.link.clone().unwrap_or_default();
            expect(got == want, "entry link", &got)
        }
        Target::EntryId(i) => {
            let got = entry(*i)?.guid.clone().unwrap_or_default();
            expect(got == want, "entry id", &got)
        }
    }
}

/// Titles are kept as plain text: an expected value with markup matches its text.
fn same_text(want: &str, got: &str) -> bool {
    got == want || got == html_to_text(want) || got == want.trim()
}

/// The same charset: the same canonical name (WHATWG labels: `iso-8859-1` is windows-1252),
/// or two charsets that decode this document to the identical text — as `us-ascii` (RFC
/// 3023's default for text/* without a charset, which RFC 7303 withdrew) and UTF-8 do for a
/// pure-ASCII document, KOI8-R and KOI8-U for Russian text, GB2312 and GB18030.
fn same_encoding(want: &str, got: &str, body: &[u8]) -> bool {
    use wiredesk::charset::{canonical_name, decode_as};
    if canonical_name(want).is_some_and(|w| canonical_name(got) == Some(w)) {
        return true;
    }
    let want_text = if want.eq_ignore_ascii_case("us-ascii") {
        body.is_ascii()
            .then(|| String::from_utf8_lossy(body).into_owned())
    } else {
        decode_as(want, body)
    };
    want_text.is_some() && want_text == decode_as(got, body)
}

async fn judge_compression(
    fetcher: &Fetcher,
    url: &Url,
    title: Option<&str>,
    warned: bool,
) -> (Verdict, String) {
    let body = match fetcher.fetch(url, &[], &Validators::default()).await {
        Ok(Fetched::Body(b)) => b,
        other => return (Verdict::Fail(format!("{other:?}")), String::new()),
    };
    let got = format!("warning {:?}", body.warning);
    let parsed = parse_feed(&body.bytes, None, Some(&body.final_url), Utc::now());
    let verdict = match (title, parsed) {
        _ if body.warning.is_some() != warned => {
            Verdict::Fail(format!("warning {:?}, want one: {warned}", body.warning))
        }
        (None, _) => Verdict::Pass,
        (Some(_), Err(e)) => Verdict::Fail(format!("not read: {e}")),
        (Some(want), Ok(f)) if f.title.as_deref().unwrap_or("") != want => {
            Verdict::Fail(format!("title {:?}, want {want:?}", f.title))
        }
        (Some(_), Ok(_)) => Verdict::Pass,
    };
    (verdict, got)
}

async fn judge_http(fetcher: &Fetcher, url: &Url, case: &Case) -> (Verdict, String) {
    let Some(expect) = http_expect(&case.file) else {
        return (
            Verdict::NotApplicable("no expectation written for this http/ case".into()),
            String::new(),
        );
    };
    let first = fetcher.fetch(url, &[], &Validators::default()).await;
    let got = match &first {
        Ok(Fetched::Body(b)) => format!(
            "HTTP {} from {} (moved: {})",
            b.status,
            b.final_url.path(),
            b.moved_to.is_some()
        ),
        Ok(Fetched::NotModified(_)) => "304".to_owned(),
        Err(e) => format!("error: {e}"),
    };
    let read = |b: &wiredesk::fetch::Body| {
        parse_feed(
            &b.bytes,
            b.content_type.as_deref(),
            Some(&b.final_url),
            Utc::now(),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let verdict = match (expect, first) {
        (HttpExpect::Target { moved }, Ok(Fetched::Body(b))) => {
            if b.final_url.path() != "/tests/http/target.xml" {
                Verdict::Fail(format!("read {}, want the target", b.final_url.path()))
            } else if let Err(e) = read(&b) {
                Verdict::Fail(format!("target not read: {e}"))
            } else if b.moved_to.is_some() != moved {
                Verdict::Fail(format!("moved: {}, want {moved}", b.moved_to.is_some()))
            } else {
                Verdict::Pass
            }
        }
        (HttpExpect::Error(text), Err(e)) if e.to_string().contains(text) => Verdict::Pass,
        (HttpExpect::NotModified, Ok(Fetched::NotModified(_))) => Verdict::Pass,
        (HttpExpect::ThenNotModified, Ok(Fetched::Body(b))) => {
            let validators = Validators {
                url: Some(url.to_string()),
                etag: b.etag.clone(),
                last_modified: b.last_modified.clone(),
                ..Validators::default()
            };
            match fetcher.fetch(url, &[], &validators).await {
                Ok(Fetched::NotModified(_)) => match read(&b) {
                    Ok(()) => Verdict::Pass,
                    Err(e) => Verdict::Fail(format!("first body not read: {e}")),
                },
                other => Verdict::Fail(format!("second fetch: {other:?}, want a 304")),
            }
        }
        (want, _) => Verdict::Fail(format!("want {want:?}")),
    };
    (verdict, got)
}

/// Pass/fail/not-applicable/panic counts per folder.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub not_applicable: usize,
    pub panic: usize,
}

impl Tally {
    pub fn applicable(&self) -> usize {
        self.pass + self.fail + self.panic
    }

    pub fn rate(&self) -> f64 {
        if self.applicable() == 0 {
            return 1.0;
        }
        self.pass as f64 / self.applicable() as f64
    }
}

pub fn tally<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Tally {
    let mut t = Tally::default();
    for o in outcomes {
        match o.verdict {
            Verdict::Pass => t.pass += 1,
            Verdict::Fail(_) => t.fail += 1,
            Verdict::NotApplicable(_) => t.not_applicable += 1,
            Verdict::Panic(_) => t.panic += 1,
        }
    }
    t
}

/// Checks the expression reader on the forms the corpus uses (called from a test).
pub fn self_check() {
    let e = parse_expect(r#"not bozo and entries[0]['description'] == 'don\u2019t'"#).unwrap();
    assert_eq!(e.bozo, Some(false));
    assert_eq!(e.checks[0].target, Target::EntrySummary(0));
    assert_eq!(e.checks[0].value, Literal::Str("don\u{2019}t".into()));
    let e = parse_expect("not bozo and feed.title == '\\xd8'").unwrap();
    assert_eq!(e.checks[0].value, Literal::Str("\u{d8}".into()));
    let e = parse_expect("bozo and ord(entries[0]['description']) == 8230").unwrap();
    assert!(e.checks[0].ord);
    assert_eq!(e.checks[0].value, Literal::Int(8230));
    assert!(parse_expect("feed['itunes_block'] == 1").is_err());
    assert!(parse_expect("isinstance(bozo_exception, X)").is_err());
    assert_eq!(split_and("a == ' and ' and b").len(), 2);
    assert_eq!(
        python_literal(r#"'a -' + "- b\n" + u'\xe9'"#),
        Ok(Literal::Str("a -- b\né".into()))
    );
    assert!(python_literal("'open").is_err());
    assert!(python_literal("'a' - 'b'").is_err());
    assert!(same_encoding("us-ascii", "UTF-8", b"<rss/>"));
    assert!(!same_encoding(
        "us-ascii",
        "UTF-8",
        "<rss>é</rss>".as_bytes()
    ));
    assert!(same_encoding("gb18030", "GBK", "新闻".as_bytes()));
    let koi8 = encoding_rs::KOI8_R.encode("Новости").0;
    assert!(same_encoding("KOI8-R", "KOI8-U", &koi8));
    let big5 = encoding_rs::BIG5.encode("中央社").0;
    assert!(!same_encoding("big5", "GBK", &big5));
}
