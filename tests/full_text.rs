//! `[[feed]] full_text` end to end: article pages served from loopback (normal, non-UTF-8,
//! paywall stub, 404, too large, not HTML, slow, 429), fetched after the feed's items are
//! stored, their text stored in place of the feed's, searched and matched again; failures kept
//! with the feed's own text, counted, and never retried.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use wiredesk::Config;

fn article(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/articles/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn page(body: Vec<u8>, content_type: &str) -> Route {
    Route {
        headers: vec![("content-type".into(), content_type.into())],
        body,
        ..Route::status(200)
    }
}

/// A config with the database in `dir` and `feeds` as (id, url, full_text); `poll` is added
/// to the `[poll]` table.
fn desk(dir: &Path, poll: &str, feeds: &[(&str, String, bool)]) -> Config {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\ntimeout = \"5s\"\n{poll}\n",
        dir.join("wiredesk.db").display()
    );
    for (id, url, full_text) in feeds {
        text.push_str(&format!(
            "[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\nfull_text = {full_text}\n"
        ));
    }
    Config::parse(&text, Path::new("test.toml")).expect("test config is valid")
}

/// Waits until `feed`'s status row satisfies `ready`.
async fn health_when(
    daemon: &wiredesk::Daemon,
    feed: &str,
    ready: impl Fn(&wiredesk::store::FeedHealth) -> bool,
) -> wiredesk::store::FeedHealth {
    let wait = async {
        loop {
            if let Some(h) = health(daemon)
                .await
                .into_iter()
                .find(|h| h.id == feed && ready(h))
            {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("{feed}'s status never got there within 30 s"))
}

async fn item_text(daemon: &wiredesk::Daemon, key: &'static str) -> (String, Option<i64>) {
    daemon
        .app
        .store
        .call(move |db| {
            Ok(db.conn().query_row(
                "SELECT text, full_text FROM items WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .expect("item read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_replace_short_texts_and_failed_pages_keep_the_feeds_own() {
    let server = FixtureServer::start().await;
    let link = |p: &str| server.url(p);
    let long_text = "A description long enough to stand on its own. ".repeat(10);
    let items = [
        (
            "g-standard",
            "Bank of Korea holds rate",
            link("/a/standard"),
            "Teaser one.".to_owned(),
        ),
        (
            "g-korean",
            "한은 기준금리 동결",
            link("/a/korean"),
            "요약.".to_owned(),
        ),
        (
            "g-paywall",
            "Rate decision for subscribers",
            link("/a/paywall"),
            "Teaser three.".to_owned(),
        ),
        (
            "g-missing",
            "A page that is gone",
            link("/a/missing"),
            "Teaser four.".to_owned(),
        ),
        (
            "g-huge",
            "A page too large",
            link("/a/huge"),
            "Teaser five.".to_owned(),
        ),
        (
            "g-pdf",
            "A report as PDF",
            link("/a/report.pdf"),
            "Teaser six.".to_owned(),
        ),
        (
            "g-long",
            "A story with its text",
            link("/a/never"),
            long_text,
        ),
    ];
    let refs: Vec<Item<'_>> = items
        .iter()
        .map(|(g, t, l, d)| (*g, *t, l.as_str(), d.as_str()))
        .collect();
    server.set("/feed.xml", Route::feed(rss("Daily", &refs)));
    server.set(
        "/a/standard",
        page(article("standard.html"), "text/html; charset=utf-8"),
    );
    // EUC-KR, declared only by the page's <meta charset>.
    server.set(
        "/a/korean",
        page(article("korean-euc-kr.html"), "text/html"),
    );
    server.set("/a/paywall", page(article("paywall.html"), "text/html"));
    let mut huge = b"<html><body><article>".to_vec();
    while huge.len() < 300_000 {
        huge.extend_from_slice(b"<p>Padding paragraph of a page far larger than the cap.</p>");
    }
    server.set("/a/huge", page(huge, "text/html"));
    server.set(
        "/a/report.pdf",
        page(b"%PDF-1.4 not a page".to_vec(), "application/pdf"),
    );
    server.set("/a/never", page(article("standard.html"), "text/html"));

    let dir = tempfile::tempdir().unwrap();
    let cfg = desk(
        dir.path(),
        "max_body_bytes = 200000",
        &[("daily", server.url("/feed.xml"), true)],
    );
    let (daemon, addr, mut reports) = start_watched(cfg.clone()).await;
    reports.wait_for("daily", stored).await;

    let h = health_when(&daemon, "daily", |h| {
        h.full_text_enriched + h.full_text_failed == 6
    })
    .await;
    assert_eq!((h.full_text_enriched, h.full_text_failed), (2, 4), "{h:?}");

    // The articles' text is the items' text, in the merged feed and in search.
    let feed = body_containing(addr, "/feed.json", "voted unanimously to keep the rate").await;
    assert!(
        !feed.contains("Most read"),
        "page chrome came with the article"
    );
    body_containing(addr, "/feed.json", "금융통화위원회는").await;
    let found = body_when(
        addr,
        "/search.json?q=%EA%B8%88%EC%9C%B5%ED%86%B5%ED%99%94%EC%9C%84%EC%9B%90%ED%9A%8C",
        |b| b.contains("g-korean") || b.contains("한은 기준금리 동결"),
    )
    .await;
    assert!(found.contains("한은 기준금리 동결"), "{found}");
    assert_eq!(item_text(&daemon, "g-standard").await.1, Some(1));

    // Failures keep the feed's own text; the long item was never asked for.
    for (key, teaser) in [
        ("g-paywall", "Teaser three."),
        ("g-missing", "Teaser four."),
        ("g-huge", "Teaser five."),
        ("g-pdf", "Teaser six."),
    ] {
        let (text, state) = item_text(&daemon, key).await;
        assert_eq!((text.as_str(), state), (teaser, Some(2)), "{key}");
    }
    assert_eq!(item_text(&daemon, "g-long").await.1, None);
    assert_eq!(server.hits("/a/never"), 0);

    // Nothing is fetched twice, however often the feed is polled afterwards.
    for _ in 0..3 {
        reports
            .wait_for("daily", |r| {
                !matches!(r.outcome, wiredesk::refresh::Outcome::Skipped)
            })
            .await;
    }
    for path in [
        "/a/standard",
        "/a/korean",
        "/a/paywall",
        "/a/missing",
        "/a/huge",
        "/a/report.pdf",
    ] {
        assert_eq!(server.hits(path), 1, "{path}");
    }

    // status and /metrics say what happened.
    let metrics = get(addr, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("wiredesk_full_text_total{result=\"enriched\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wiredesk_full_text_total{result=\"failed\"} 4"),
        "{metrics}"
    );
    let h = health(&daemon)
        .await
        .into_iter()
        .find(|h| h.id == "daily")
        .unwrap();
    let last = h.full_text_error.unwrap_or_default();
    assert!(
        last.contains("/a/"),
        "the last failure names its page: {last}"
    );
    let mut out = Vec::new();
    wiredesk::commands::status(cfg, false, &mut out)
        .await
        .expect("status");
    let out = String::from_utf8(out).unwrap();
    let row = out
        .lines()
        .skip_while(|l| !l.starts_with("FULL TEXT"))
        .nth(1)
        .unwrap_or_else(|| panic!("no full-text table in status: {out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[..3], ["daily", "2", "4"], "{out}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_page_never_holds_back_the_feeds_items() {
    let server = FixtureServer::start().await;
    let link = server.url("/a/slow");
    server.set(
        "/feed.xml",
        Route::feed(rss(
            "Slow",
            &[("g-slow", "Story with a slow page", &link, "Feed teaser.")],
        )),
    );
    server.set("/a/slow", Route::misbehaving(Behaviour::Hang));
    let dir = tempfile::tempdir().unwrap();
    let cfg = desk(dir.path(), "", &[("slow", server.url("/feed.xml"), true)]);
    let (daemon, addr, mut reports) = start_watched(cfg).await;
    reports.wait_for("slow", stored).await;
    // Stored and published with the feed's text while the page has not answered.
    body_containing(addr, "/feed.atom", "Feed teaser.").await;
    assert_eq!(
        item_text(&daemon, "g-slow").await,
        ("Feed teaser.".to_owned(), Some(0))
    );
    // The page's time limit ends it: failed, counted, the feed's text kept.
    let h = health_when(&daemon, "slow", |h| h.full_text_failed == 1).await;
    assert!(
        h.full_text_error
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{h:?}"
    );
    assert_eq!(
        item_text(&daemon, "g-slow").await,
        ("Feed teaser.".to_owned(), Some(2))
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_asks_for_a_rest_gets_one() {
    let server = FixtureServer::start().await;
    let (a, b) = (server.url("/a/first"), server.url("/a/second"));
    server.set(
        "/feed.xml",
        Route::feed(rss(
            "Busy",
            &[
                ("g-1", "First story", &a, "One."),
                ("g-2", "Second story", &b, "Two."),
            ],
        )),
    );
    let busy = Route {
        headers: vec![("retry-after".into(), "3600".into())],
        ..Route::status(429)
    };
    server.set("/a/first", busy.clone());
    server.set("/a/second", busy);
    let dir = tempfile::tempdir().unwrap();
    let cfg = desk(
        dir.path(),
        "per_host = 1",
        &[("busy", server.url("/feed.xml"), true)],
    );
    let (daemon, _addr, mut reports) = start_watched(cfg).await;
    reports.wait_for("busy", stored).await;
    let h = health_when(&daemon, "busy", |h| h.full_text_failed == 1).await;
    assert!(
        h.full_text_error.as_deref().unwrap_or("").contains("429"),
        "{h:?}"
    );
    for _ in 0..3 {
        reports
            .wait_for("busy", |r| {
                !matches!(r.outcome, wiredesk::refresh::Outcome::Skipped)
            })
            .await;
    }
    // One page was asked for; the host's hour of rest keeps the other item waiting.
    assert_eq!(server.hits("/a/first") + server.hits("/a/second"), 1);
    let waiting = query_i64(&daemon, "SELECT COUNT(*) FROM items WHERE full_text = 0").await;
    assert_eq!(waiting, 1);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_with_only_a_headline_joins_the_story_its_article_matches() {
    let server = FixtureServer::start().await;
    let story: String = String::from_utf8(article("standard.expected.txt")).unwrap();
    let wire_body = story.replace('\n', " ");
    server.set(
        "/wire.xml",
        Route::feed(rss(
            "Wire",
            &[(
                "w-1",
                "Bank of Korea keeps key rate at 3.25 pct",
                "https://wire.example/1",
                &wire_body,
            )],
        )),
    );
    let link = server.url("/a/standard");
    server.set(
        "/daily.xml",
        Route::feed(rss(
            "Daily",
            &[("d-1", "Central bank stands pat", &link, "")],
        )),
    );
    server.set("/a/standard", page(article("standard.html"), "text/html"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = desk(
        dir.path(),
        "",
        &[
            ("wire", server.url("/wire.xml"), false),
            ("daily", server.url("/daily.xml"), true),
        ],
    );
    let (daemon, addr, _reports) = start_watched(cfg).await;
    health_when(&daemon, "daily", |h| h.full_text_enriched == 1).await;
    // The merged feed settles on one story carried by both outlets (a render after the move).
    let one_story = |b: &str| {
        let json: serde_json::Value = serde_json::from_str(b).unwrap_or_default();
        let items = json["items"].as_array().cloned().unwrap_or_default();
        items.len() == 1 && b.contains("\"wire\"") && b.contains("\"daily\"")
    };
    body_when(addr, "/feed.json", one_story).await;
    assert_eq!(query_i64(&daemon, "SELECT COUNT(*) FROM stories").await, 1);
    daemon.stop().await;
}
