//! End to end: the real daemon against a fixture server on loopback.

mod common;

#[allow(unused_imports)]
use common::Behaviour;
use common::*;
use wiredesk::refresh::Outcome;

const WIRE: &str = "https://wire.example/2026/11/01/quake";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_feeds_sharing_a_url_publish_one_entry_with_both_outlets() {
    let tracked = format!("{WIRE}?utm_source=rss&amp;utm_medium=feed");
    let (_server, _dir, cfg) = serve_feeds(&[
        (
            "a",
            &[("a-1", "Quake hits the coast", WIRE, "A strong quake.")],
        ),
        (
            "b",
            &[
                (
                    "b-1",
                    "Strong quake on the coast",
                    &tracked,
                    "Copy of the wire.",
                ),
                (
                    "b-2",
                    "Unrelated local news",
                    "https://b.example/local",
                    "Other.",
                ),
            ],
        ),
    ])
    .await;
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("a", stored).await;
    rx.wait_for("b", stored).await;

    let stories = stories(&daemon).await;
    assert_eq!(stories.len(), 2, "{stories:#?}");
    let merged = stories
        .iter()
        .find(|s| s.members.len() == 2)
        .expect("one merged story");
    let feeds: Vec<&str> = merged.members.iter().map(|m| m.feed.as_str()).collect();
    assert!(feeds.contains(&"a") && feeds.contains(&"b"), "{feeds:?}");

    // The merged feed is re-rendered after the refreshes (in either order, one render each or
    // one for both); wait until it shows both stories, one of them merged.
    let body = body_when(addr, "/feed.atom", |b| {
        b.matches("<entry>").count() == 2 && b.contains("Also reported by")
    })
    .await;
    let feed = feed_rs::parser::parse(body.as_bytes()).expect("our Atom parses");
    assert_eq!(feed.entries.len(), 2);
    let entry = feed
        .entries
        .iter()
        .find(|e| e.authors.len() == 2)
        .expect("the merged entry names both outlets");
    let names: Vec<&str> = entry
        .authors
        .iter()
        .filter_map(|a| a.name.as_deref())
        .collect();
    assert!(
        names.contains(&"a News") && names.contains(&"b News"),
        "{names:?}"
    );
    let summary = entry.summary.as_ref().unwrap().content.clone();
    assert!(summary.contains("Also reported by"), "{summary}");

    // A bad ?limit= is a 400 with its reason; an unknown tag is a 404.
    let bad = get(addr, "/feed.atom?limit=abc").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().starts_with("invalid limit"));
    assert_eq!(get(addr, "/tags/no-such-tag.atom").await.status(), 404);
    // The page: per tag, with paging; bad parameters are refused.
    let tagged_page = get(addr, "/?tag=t-b").await.text().await.unwrap();
    assert!(
        tagged_page.contains("Unrelated local news"),
        "{tagged_page}"
    );
    assert!(tagged_page.contains("tagged #t-b"), "{tagged_page}");
    let a_page = get(addr, "/?tag=t-a").await.text().await.unwrap();
    assert!(!a_page.contains("Unrelated local news"), "{a_page}");
    assert_eq!(get(addr, "/?tag=nope").await.status(), 404);
    assert_eq!(get(addr, "/?page=0").await.status(), 400);
    // ?limit= below the configured size gives fewer stories, newest first.
    let limited = get(addr, "/feed.json?limit=1").await.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&limited).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // Per-tag feeds exist for each tag.
    let tagged = get(addr, "/tags/t-a.atom").await.text().await.unwrap();
    assert_eq!(
        feed_rs::parser::parse(tagged.as_bytes())
            .unwrap()
            .entries
            .len(),
        1
    );
    assert_eq!(get(addr, "/nope").await.status(), 404);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_feed_is_a_304_and_writes_nothing() {
    let (server, _dir, cfg) =
        serve_feeds(&[("a", &[("1", "One", "https://a.example/1", "x")])]).await;
    let (daemon, _addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("a", stored).await;
    let changes_before = query_i64(&daemon, "SELECT total_changes()").await;
    let r = rx.wait_for("a", |r| r.outcome == Outcome::Unchanged).await;
    assert_eq!(r.status, Some(304));
    assert!(server.not_modified("/a.xml") >= 1);
    // Only the feed's health row is touched by a 304: no item or story is written.
    let (n_stories, items, updated) = daemon
        .app
        .store
        .call(|db| {
            Ok(db.conn().query_row(
                "SELECT (SELECT COUNT(*) FROM stories), (SELECT COUNT(*) FROM items),
                        (SELECT MAX(updated) FROM stories)",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?)
        })
        .await
        .unwrap();
    assert_eq!((n_stories, items), (1, 1));
    let first = stories(&daemon).await;
    assert_eq!(first[0].updated.timestamp(), updated);
    let changes_after = query_i64(&daemon, "SELECT total_changes()").await;
    // total_changes counts rows changed by this connection: one feeds row per 304 at most.
    assert!(
        changes_after - changes_before <= 2,
        "{changes_before} → {changes_after}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_entry_updates_its_story_instead_of_adding_one() {
    let (server, _dir, cfg) =
        serve_feeds(&[("a", &[("g1", "First title", "https://a.example/1", "x")])]).await;
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("a", stored).await;
    let before = stories(&daemon).await;

    server.set(
        "/a.xml",
        Route::feed(rss(
            "A",
            &[("g1", "Corrected title", "https://a.example/1", "x")],
        )),
    );
    let r = rx
        .wait_for(
            "a",
            |r| matches!(r.outcome, Outcome::Stored(s) if s.updated == 1),
        )
        .await;
    assert!(matches!(r.outcome, Outcome::Stored(s) if s.new == 0));
    let after = stories(&daemon).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, before[0].id);
    assert_eq!(after[0].representative().title, "Corrected title");
    assert!(after[0].updated >= before[0].updated);
    let body = body_containing(addr, "/feed.atom", "Corrected title").await;
    assert_eq!(body.matches("<entry>").count(), 1);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_survive_a_restart_with_the_same_ids() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("g1", "Kept", "https://a.example/1", "x")])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[("a", server.url("/a.xml"))]);
    let (daemon, _, mut rx) = start_watched(cfg.clone()).await;
    rx.wait_for("a", stored).await;
    let before = stories(&daemon).await;
    daemon.stop().await;

    server.set("/a.xml", Route::status(500));
    let (daemon, addr) = start(cfg).await;
    let after = stories(&daemon).await;
    assert_eq!(before, after);
    let body = get(addr, "/feed.atom").await.text().await.unwrap();
    assert!(
        body.contains(&format!("urn:wiredesk:story:{}", before[0].id)),
        "{body}"
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_and_unreachable_feeds_are_reported_and_others_still_update() {
    let server = FixtureServer::with(
        "/good.xml",
        Route::feed(rss("G", &[("1", "Good news", "https://g.example/1", "x")])),
    )
    .await;
    server.set(
        "/broken.xml",
        Route::feed("<html><body>This is not a feed</body></html>"),
    );
    server.set(
        "/amp.xml",
        Route::feed(
            "<rss version=\"2.0\"><channel><title>Q & A</title><item><guid>1</guid><title>Tom & Jerry</title></item></channel></rss>",
        ),
    );
    // EUC-KR with no XML declaration: once with the charset in the HTTP header, once with
    // nothing to go on but the bytes.
    let korean = |title: &str| {
        let doc = format!(
            "<rss version=\"2.0\"><channel><title>연합뉴스</title><item><guid>{title}</guid><title>{title}</title><description>북한이 동해상으로 탄도미사일을 발사했다고 합동참모본부가 밝혔다. 군 당국은 추가 발사에 대비해 감시와 경계를 강화하고 있다.</description></item></channel></rss>"
        );
        encoding_rs::EUC_KR.encode(&doc).0.into_owned()
    };
    let mut with_charset = Route::feed(korean("북한 탄도미사일 발사"));
    with_charset.headers = vec![(
        "content-type".into(),
        "application/rss+xml; charset=EUC-KR".into(),
    )];
    server.set("/euckr-http.xml", with_charset);
    server.set("/euckr-bare.xml", Route::feed(korean("합참 경계 강화")));
    // A port that was just free: nothing listens there.
    let closed = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &[
            ("broken", server.url("/broken.xml")),
            ("gone", format!("http://{closed}/feed.xml")),
            ("good", server.url("/good.xml")),
            ("amp", server.url("/amp.xml")),
            ("euckr-http", server.url("/euckr-http.xml")),
            ("euckr-bare", server.url("/euckr-bare.xml")),
        ],
    );
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("amp", stored).await;
    rx.wait_for("euckr-http", stored).await;
    rx.wait_for("euckr-bare", stored).await;
    let broken = rx.wait_for("broken", failed).await;
    let gone = rx.wait_for("gone", failed).await;
    rx.wait_for("good", stored).await;
    match (&broken.outcome, &gone.outcome) {
        (Outcome::Failed(b), Outcome::Failed(g)) => {
            assert!(b.contains("not a readable feed"), "{b}");
            assert!(g.contains("cannot connect"), "{g}");
        }
        other => panic!("{other:?}"),
    }
    // The good feed keeps updating on its schedule while the others fail.
    server.set(
        "/good.xml",
        Route::feed(rss(
            "G",
            &[("2", "More good news", "https://g.example/2", "y")],
        )),
    );
    rx.wait_for(
        "good",
        |r| matches!(r.outcome, Outcome::Stored(s) if s.new == 1),
    )
    .await;
    let health = health(&daemon).await;
    let by_id = |id: &str| health.iter().find(|h| h.id == id).unwrap().clone();
    let amp = by_id("amp");
    assert_eq!(amp.items, 1, "the broken-but-readable feed was read");
    assert!(
        amp.last_warning
            .as_deref()
            .unwrap()
            .starts_with("recovered"),
        "{amp:?}"
    );
    assert_eq!(by_id("euckr-http").last_warning, None);
    assert_eq!(
        by_id("euckr-bare").last_warning.as_deref(),
        Some("charset not declared; read as EUC-KR by detection")
    );
    let json = get(addr, "/feed.json").await.text().await.unwrap();
    for title in ["북한 탄도미사일 발사", "합참 경계 강화", "Tom & Jerry"] {
        assert!(json.contains(title), "{title} in {json}");
    }
    assert!(by_id("broken").consecutive_failures >= 1);
    assert!(
        by_id("gone")
            .last_error
            .as_deref()
            .unwrap()
            .contains("cannot connect")
    );
    assert_eq!(by_id("good").consecutive_failures, 0);
    assert_eq!(by_id("good").items, 2);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_wire_story_under_two_headlines_is_one_entry_with_both_outlets() {
    let server = FixtureServer::start().await;
    let wire_text = "SEOUL, Nov. 1 (Yonhap) -- North Korea fired a short-range ballistic missile \
        into the East Sea on Sunday morning, the Joint Chiefs of Staff said, the third launch \
        in ten days as Pyongyang protests joint drills by Seoul and Washington. (END)";
    let herald_text = "North Korea fired a short-range ballistic missile into the East Sea on \
        Sunday morning, the Joint Chiefs of Staff said, the third launch in ten days as \
        Pyongyang protests joint drills by Seoul and Washington. (Yonhap)";
    server.set(
        "/yonhap.xml",
        Route::feed(rss(
            "Yonhap",
            &[
                (
                    "y-1",
                    "N. Korea fires short-range ballistic missile into East Sea: JCS",
                    "https://en.yna.co.kr/view/AEN1",
                    wire_text,
                ),
                (
                    "y-2",
                    "Seoul stocks open higher on chip rally",
                    "https://en.yna.co.kr/view/AEN2",
                    "South Korean stocks opened higher on Monday as chipmakers gained.",
                ),
            ],
        )),
    );
    server.set(
        "/herald.xml",
        Route::feed(rss(
            "Korea Herald",
            &[(
                "h-1",
                "NK launches missile for third time in 10 days | Korea Herald",
                "https://www.koreaherald.com/view.php?ud=1",
                herald_text,
            )],
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        &[
            ("yonhap", server.url("/yonhap.xml")),
            ("herald", server.url("/herald.xml")),
        ],
    );
    cfg.feeds[0].priority = 10;
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("yonhap", stored).await;
    rx.wait_for("herald", stored).await;
    let body = body_when(addr, "/feed.atom", |b| {
        b.matches("<entry>").count() == 2 && b.contains("Also reported by")
    })
    .await;
    let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
    assert_eq!(
        feed.entries.len(),
        2,
        "one missile story and one markets story"
    );
    let missile = feed
        .entries
        .iter()
        .find(|e| e.authors.len() == 2)
        .expect("the missile story names both outlets");
    // Yonhap has the higher priority: its headline and link represent the story.
    assert_eq!(
        missile.title.as_ref().unwrap().content,
        "N. Korea fires short-range ballistic missile into East Sea: JCS"
    );
    assert_eq!(missile.links[0].href, "https://en.yna.co.kr/view/AEN1");
    let summary = &missile.summary.as_ref().unwrap().content;
    assert!(
        summary.contains("https://www.koreaherald.com/view.php?ud=1"),
        "{summary}"
    );
    let stories = stories(&daemon).await;
    let merged = stories.iter().find(|s| s.members.len() == 2).unwrap();
    // Whichever outlet was stored second joined the first one's story by its text.
    let mut how: Vec<&str> = merged
        .members
        .iter()
        .map(|m| m.joined_by.as_str())
        .collect();
    how.sort();
    assert_eq!(how, vec!["first", "near_duplicate"]);
    let joined = merged
        .members
        .iter()
        .find(|m| m.joined_by == "near_duplicate")
        .unwrap();
    assert!(joined.score.unwrap() >= wiredesk::config::DEFAULT_THRESHOLD);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_removes_and_changes_feeds_without_a_restart() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss(
            "A",
            &[("a1", "Alpha news", "https://a.example/1", "x")],
        )),
    )
    .await;
    server.set(
        "/b.xml",
        Route::feed(rss("B", &[("b1", "Beta news", "https://b.example/1", "y")])),
    );
    server.set(
        "/c.xml",
        Route::feed(rss(
            "C",
            &[("c1", "Gamma news", "https://c.example/1", "z")],
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &[("a", server.url("/a.xml")), ("b", server.url("/b.xml"))],
    );
    let (mut daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("a", stored).await;
    rx.wait_for("b", stored).await;
    let b = wiredesk::config::FeedId("b".into());
    assert!(
        daemon.app.runtime.unseen(&b, &[]).is_some(),
        "b's last fetch is remembered"
    );

    let mut new = config(
        dir.path(),
        &[("a", server.url("/a.xml")), ("c", server.url("/c.xml"))],
    );
    new.feeds[0].priority = 7;
    let summary = daemon.reload(new).await.unwrap();
    assert_eq!(summary.added, vec![wiredesk::config::FeedId("c".into())]);
    assert_eq!(summary.changed, vec![wiredesk::config::FeedId("a".into())]);
    assert_eq!(summary.removed, vec![wiredesk::config::FeedId("b".into())]);
    assert!(
        daemon.app.runtime.unseen(&b, &[]).is_none(),
        "and forgotten once b is removed"
    );
    rx.wait_for("c", stored).await;

    // b is no longer polled: two more refreshes of a (each a scheduled tick) see no request to b.
    let b_hits = server.hits("/b.xml");
    rx.wait_for("a", |_| true).await;
    rx.wait_for("a", |_| true).await;
    assert_eq!(server.hits("/b.xml"), b_hits);
    // b's story stays; c's is added; the new priority is in force.
    let stories = stories(&daemon).await;
    let feeds: Vec<&str> = stories
        .iter()
        .map(|s| s.representative().feed.as_str())
        .collect();
    assert!(feeds.contains(&"b") && feeds.contains(&"c"), "{feeds:?}");
    assert_eq!(
        stories
            .iter()
            .find(|s| s.representative().feed == "a")
            .unwrap()
            .representative()
            .priority,
        7
    );
    // The tags of the new config have their feeds.
    let body = body_when(addr, "/tags/t-c.atom", |_| true).await;
    assert!(body.contains("Gamma news"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_feeds_back_off_and_honour_retry_after_while_others_keep_updating() {
    let server = FixtureServer::start().await;
    let mut busy = Route::status(503);
    busy.headers.push(("retry-after".into(), "3600".into()));
    server.set("/busy.xml", busy);
    let mut limited = Route::status(429);
    let in_two_hours = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(7200),
    );
    limited.headers.push(("retry-after".into(), in_two_hours));
    server.set("/limited.xml", limited);
    server.set("/broken.xml", Route::status(500));
    server.set(
        "/good.xml",
        Route::feed(rss("G", &[("1", "Good", "https://g.example/1", "x")])),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &[
            ("busy", server.url("/busy.xml")),
            ("limited", server.url("/limited.xml")),
            ("broken", server.url("/broken.xml")),
            ("good", server.url("/good.xml")),
        ],
    );
    let (daemon, _, mut rx) = start_watched(cfg).await;
    let started = chrono::Utc::now();
    for id in ["busy", "limited", "broken"] {
        rx.wait_for(id, failed).await;
    }
    rx.wait_for("good", stored).await;
    // Ticks come every second; the good feed keeps being polled, the failing ones are not.
    let hits = |p: &str| server.hits(p);
    let before = (hits("/busy.xml"), hits("/limited.xml"), hits("/broken.xml"));
    rx.wait_for("good", |r| r.outcome == Outcome::Unchanged)
        .await;
    rx.wait_for("good", |r| r.outcome == Outcome::Unchanged)
        .await;
    assert_eq!(
        (hits("/busy.xml"), hits("/limited.xml"), hits("/broken.xml")),
        before
    );
    assert_eq!(before, (1, 1, 1));

    let health = health(&daemon).await;
    let wait = |id: &str| {
        let h = health.iter().find(|h| h.id == id).unwrap();
        assert_eq!(h.consecutive_failures, 1, "{id}");
        (h.next_attempt.unwrap() - started).num_seconds()
    };
    let busy_wait = wait("busy");
    assert!(
        (3590..=3610).contains(&busy_wait),
        "Retry-After in seconds: {busy_wait}"
    );
    let limited_wait = wait("limited");
    assert!(
        (7180..=7210).contains(&limited_wait),
        "Retry-After as a date: {limited_wait}"
    );
    let broken_wait = wait("broken");
    assert!(
        (45..=75).contains(&broken_wait),
        "first back-off step, 60 s ± 20 %: {broken_wait}"
    );
    let broken = health.iter().find(|h| h.id == "broken").unwrap();
    assert!(broken.last_error.as_deref().unwrap().contains("HTTP 500"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_format_page_and_method_is_served() {
    let server = FixtureServer::start().await;
    server.set(
        "/a.xml",
        Route::feed(rss(
            "A",
            &[("a1", "Tom &amp; Jerry &lt;3", "https://a.example/1", "x")],
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let (daemon, addr, mut rx) = start_watched(config(
        dir.path(),
        &[("a", format!("{}?apikey=s3cret", server.url("/a.xml")))],
    ))
    .await;
    rx.wait_for("a", stored).await;
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let fetch = |path: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap()
        }
    };
    body_containing(addr, "/feed.json", "Tom & Jerry").await;
    for path in [
        "/feed.rss",
        "/tags/t-a.rss",
        "/feed.json",
        "/tags/t-a.json",
        "/tags/t-a.atom",
    ] {
        let body = fetch(path).await.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&body[..]).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(feed.entries.len(), 1, "{path}");
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "Tom & Jerry <3",
            "{path}"
        );
    }
    // ?limit= below the configured size; the feeds' Cache-Control follows the fastest schedule
    // (every second here, so the 60 s floor).
    let atom = fetch("/feed.atom").await;
    assert_eq!(atom.headers()["cache-control"], "public, max-age=60");
    let opml = fetch("/sources.opml").await.text().await.unwrap();
    assert!(
        opml.contains("xmlUrl=") && opml.contains("apikey=REDACTED"),
        "{opml}"
    );
    assert!(!opml.contains("s3cret"));
    let page = fetch("/").await;
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Tom &amp; Jerry &lt;3"),
        "escaped title on the page"
    );
    assert!(page.contains("a News"));
    // gzip on request, with its own ETag that revalidates.
    let gz = client
        .get(format!("http://{addr}/feed.atom"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let etag = gz.headers()["etag"].to_str().unwrap().to_owned();
    let again = client
        .get(format!("http://{addr}/feed.atom"))
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let br = client
        .get(format!("http://{addr}/feed.atom"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_ne!(br.headers()["etag"].to_str().unwrap(), etag);
    // The page, made per request, is compressed the one way each client accepts.
    for (accept, coding) in [
        ("br, gzip", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let page = client
            .get(format!("http://{addr}/"))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(
            page.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            coding,
            "{accept}"
        );
    }
    // HEAD works, other methods are refused, unknown paths are 404.
    let head = client
        .head(format!("http://{addr}/feed.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(
        head.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 0
    );
    let post = client
        .post(format!("http://{addr}/feed.atom"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(fetch("/feed.xml").await.status(), 404);
    // The metrics count what happened, in Prometheus text format.
    let metrics = fetch("/metrics").await.text().await.unwrap();
    for line in [
        "wiredesk_refreshes_total{outcome=\"stored\"} 1",
        "wiredesk_items_total{kind=\"new\"} 1",
        "wiredesk_stories 1",
        "wiredesk_feeds 1",
        "wiredesk_http_requests_total{route=\"/feed.atom\",status=\"405\"} 1",
        "wiredesk_http_requests_total{route=\"other\",status=\"404\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line} in\n{metrics}"
        );
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_that_hang_drip_or_never_stop_fail_alone_and_shutdown_stays_bounded() {
    use std::io::Write;
    let server = FixtureServer::start().await;
    server.set("/hang.xml", Route::misbehaving(Behaviour::Hang));
    server.set("/drip.xml", Route::misbehaving(Behaviour::Drip));
    server.set("/endless.xml", Route::misbehaving(Behaviour::Endless));
    // 64 MiB of spaces, gzip-compressed to a few dozen KiB: a gzip bomb against a 1 MiB cap.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    let mut bomb = Route::feed(enc.finish().unwrap());
    bomb.headers
        .push(("content-encoding".into(), "gzip".into()));
    bomb.etag = None;
    server.set("/bomb.xml", bomb);
    server.set(
        "/good.xml",
        Route::feed(rss("G", &[("1", "Good", "https://g.example/1", "x")])),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        &[
            ("hang", server.url("/hang.xml")),
            ("drip", server.url("/drip.xml")),
            ("endless", server.url("/endless.xml")),
            ("bomb", server.url("/bomb.xml")),
            ("good", server.url("/good.xml")),
        ],
    );
    cfg.poll.timeout = std::time::Duration::from_secs(3);
    cfg.poll.max_body_bytes = 1 << 20;
    let (daemon, _, mut rx) = start_watched(cfg).await;
    let reason = |r: &wiredesk::refresh::RefreshReport| match &r.outcome {
        Outcome::Failed(e) => e.clone(),
        other => panic!("{other:?}"),
    };
    let endless = rx.wait_for("endless", failed).await;
    assert!(
        reason(&endless).contains("larger than the 1048576-byte limit"),
        "{endless:?}"
    );
    let bomb = rx.wait_for("bomb", failed).await;
    assert!(reason(&bomb).contains("larger than"), "{bomb:?}");
    rx.wait_for("good", stored).await;
    // While the slow ones are still held, the good feed keeps updating on its schedule.
    rx.wait_for("good", |r| r.outcome == Outcome::Unchanged)
        .await;
    let hang = rx.wait_for("hang", failed).await;
    assert!(reason(&hang).contains("timed out"), "{hang:?}");
    let drip = rx.wait_for("drip", failed).await;
    assert!(reason(&drip).contains("timed out"), "{drip:?}");
    // A refresh is in flight against the hanging server again? Stopping is still bounded by
    // the grace period (the hard stop abandons it; nothing half-written: it had written nothing).
    daemon.stop().await;
    let conn = rusqlite::Connection::open(dir.path().join("wiredesk.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_redirects_move_the_feed_temporary_ones_do_not_and_loops_fail() {
    let server = FixtureServer::start().await;
    let redirect = |status: u16, to: &str| {
        let mut r = Route::status(status);
        r.headers.push(("location".into(), to.into()));
        r
    };
    server.set("/old.xml", redirect(301, "/new.xml"));
    server.set(
        "/new.xml",
        Route::feed(rss("N", &[("1", "Moved news", "https://n.example/1", "x")])),
    );
    server.set("/tmp.xml", redirect(302, "/elsewhere.xml"));
    server.set(
        "/elsewhere.xml",
        Route::feed(rss("E", &[("1", "Temporary", "https://e.example/1", "x")])),
    );
    server.set("/loop-a.xml", redirect(302, "/loop-b.xml"));
    server.set("/loop-b.xml", redirect(307, "/loop-a.xml"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &[
            ("moved", server.url("/old.xml")),
            ("temporary", server.url("/tmp.xml")),
            ("looping", server.url("/loop-a.xml")),
        ],
    );
    let (daemon, _, mut rx) = start_watched(cfg).await;
    rx.wait_for("moved", stored).await;
    rx.wait_for("temporary", stored).await;
    let looping = rx.wait_for("looping", failed).await;
    match &looping.outcome {
        Outcome::Failed(e) => assert!(e.contains("redirect loop"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Next refreshes: the moved feed is polled at its new URL only; the temporary one at its own.
    rx.wait_for("moved", |r| r.outcome == Outcome::Unchanged)
        .await;
    rx.wait_for("temporary", |r| r.outcome == Outcome::Unchanged)
        .await;
    assert_eq!(server.hits("/old.xml"), 1);
    assert!(server.hits("/new.xml") >= 2);
    assert!(server.hits("/tmp.xml") >= 2);
    let moved_to = |daemon: &wiredesk::Daemon| {
        let store = daemon.app.store.clone();
        async move {
            let health = store.call(|db| db.feed_health()).await.unwrap();
            let h = health.iter().find(|h| h.id == "moved").unwrap();
            h.moved_to.clone()
        }
    };
    assert_eq!(moved_to(&daemon).await, Some(server.url("/new.xml")));
    daemon.stop().await;

    // After a restart the move still holds: the old URL is not asked again.
    let cfg = config(dir.path(), &[("moved", server.url("/old.xml"))]);
    let (daemon, _, mut rx) = start_watched(cfg).await;
    rx.wait_for("moved", |r| r.outcome == Outcome::Unchanged)
        .await;
    assert_eq!(server.hits("/old.xml"), 1, "the move was remembered");
    daemon.stop().await;

    // Once feeds.toml names the new URL, nothing is reported as moved any more.
    let cfg = config(dir.path(), &[("moved", server.url("/new.xml"))]);
    let (daemon, _) = start(cfg).await;
    assert_eq!(moved_to(&daemon).await, None);
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_sent_and_never_shown() {
    let server = FixtureServer::start().await;
    let mut bearer = Route::feed(rss(
        "P",
        &[("1", "Paid wire story", "https://p.example/1", "x")],
    ));
    bearer.require = Some(("authorization".into(), "Bearer s3cret-token".into()));
    server.set("/paid.xml", bearer.clone());
    let mut basic = Route::feed(rss(
        "B",
        &[("1", "Basic story", "https://b.example/1", "x")],
    ));
    // "user:pa55word" in base64.
    basic.require = Some(("authorization".into(), "Basic dXNlcjpwYTU1d29yZA==".into()));
    server.set("/basic.xml", basic);
    server.set("/wrong.xml", bearer);
    let dir = tempfile::tempdir().unwrap();
    let basic_url = format!("http://user:pa55word@{}/basic.xml", server.addr);
    let wrong_url = format!("http://user:pa55word@{}/wrong.xml?apikey=k3y", server.addr);
    let mut cfg = config(
        dir.path(),
        &[
            ("paid", server.url("/paid.xml")),
            ("basic", basic_url),
            ("wrong", wrong_url),
        ],
    );
    cfg.feeds[0].headers = vec![("Authorization".into(), "Bearer s3cret-token".into())];
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("paid", stored).await;
    rx.wait_for("basic", stored).await;
    let wrong = rx.wait_for("wrong", failed).await;
    let shown = format!("{wrong:?}");
    assert!(shown.contains("HTTP 401"), "{shown}");
    for secret in ["pa55word", "k3y", "s3cret"] {
        assert!(!shown.contains(secret), "{secret} leaked in {shown}");
    }
    let health = health(&daemon).await;
    let wrong_health = health.iter().find(|h| h.id == "wrong").unwrap();
    let err = wrong_health.last_error.as_deref().unwrap();
    assert!(!err.contains("pa55word") && !err.contains("k3y"), "{err}");
    for path in ["/sources.opml", "/", "/feed.atom", "/feed.json"] {
        let body = get(addr, path).await.text().await.unwrap();
        for secret in ["pa55word", "k3y", "s3cret"] {
            assert!(!body.contains(secret), "{secret} leaked in {path}");
        }
    }
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_reads_are_logged_once_per_change_of_kind() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[("a", "http://127.0.0.1:9/a.xml".into())]);
    let app = wiredesk::daemon::App::open(cfg).await.unwrap();
    let a = wiredesk::config::FeedId("a".into());
    assert!(
        !app.runtime.warning_kinds_changed(&a, &[]),
        "clean from the start"
    );
    assert!(app.runtime.warning_kinds_changed(&a, &["not well-formed"]));
    assert!(
        !app.runtime.warning_kinds_changed(&a, &["not well-formed"]),
        "said once"
    );
    assert!(
        app.runtime
            .warning_kinds_changed(&a, &["not well-formed", "charset guessed"])
    );
    assert!(
        app.runtime.warning_kinds_changed(&a, &[]),
        "clean again is news"
    );
    assert!(!app.runtime.warning_kinds_changed(&a, &[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enclosures_images_and_categories_are_republished_in_every_format() {
    let feed = format!(
        r#"<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Pod</title>
<item><guid>p-1</guid><title>Morning briefing</title><link>https://pod.example/1</link>
<description>Today's news.</description><pubDate>{}</pubDate>
<enclosure url="https://pod.example/1.mp3" length="4200" type="audio/mpeg"/>
<media:thumbnail url="https://pod.example/1.jpg"/>
<category>Politics</category><category>Economy</category></item>
</channel></rss>"#,
        recent_date()
    );
    let server = FixtureServer::with("/pod.xml", Route::feed(feed)).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &[("pod", server.url("/pod.xml"))]);
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("pod", stored).await;

    let atom = body_containing(addr, "/feed.atom", "rel=\"enclosure\"").await;
    let parsed = feed_rs::parser::parse(atom.as_bytes()).expect("our Atom parses");
    let entry = &parsed.entries[0];
    let enclosure = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("enclosure"))
        .expect("an enclosure link");
    assert_eq!(enclosure.href, "https://pod.example/1.mp3");
    assert_eq!(enclosure.media_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(enclosure.length, Some(4200));
    let terms: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
    assert!(
        terms.contains(&"Politics") && terms.contains(&"Economy"),
        "{terms:?}"
    );
    assert!(atom.contains("<media:thumbnail url=\"https://pod.example/1.jpg\"/>"));

    let rss = body_containing(addr, "/feed.rss", "<enclosure").await;
    let parsed = feed_rs::parser::parse(rss.as_bytes()).expect("our RSS parses");
    let content = &parsed.entries[0].media[0].content;
    assert!(
        content
            .iter()
            .any(|c| c.url.as_ref().map(|u| u.as_str()) == Some("https://pod.example/1.mp3")),
        "{content:?}"
    );
    assert!(rss.contains("<category>Economy</category>"));

    let json: serde_json::Value =
        serde_json::from_str(&body_containing(addr, "/feed.json", "attachments").await).unwrap();
    let item = &json["items"][0];
    assert_eq!(item["attachments"][0]["url"], "https://pod.example/1.mp3");
    assert_eq!(item["attachments"][0]["mime_type"], "audio/mpeg");
    assert_eq!(item["attachments"][0]["size_in_bytes"], 4200);
    assert_eq!(item["image"], "https://pod.example/1.jpg");
    assert!(
        item["tags"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("Politics"))
    );

    let page = body_containing(addr, "/", "class=\"th\"").await;
    assert!(page.contains("src=\"https://pod.example/1.jpg\""), "{page}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_as_a_page_and_as_feeds_a_reader_can_subscribe_to() {
    let (_server, _dir, cfg) = serve_feeds(&[(
        "k",
        &[
            (
                "k1",
                "북한 미사일 발사",
                "https://k.example/1",
                "합동참모본부 발표.",
            ),
            (
                "k2",
                "Rail strike ends",
                "https://k.example/2",
                "Unions signed a deal.",
            ),
        ],
    )])
    .await;
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("k", stored).await;

    let page = body_containing(addr, "/search?q=%EB%AF%B8%EC%82%AC%EC%9D%BC", "미사일 발사").await;
    assert!(!page.contains("Rail strike"), "only the match: {page}");
    assert!(
        page.contains("value=\"미사일\""),
        "the query stays in the box"
    );
    let atom = body_containing(addr, "/search.atom?q=rail+strike", "<entry>").await;
    let parsed = feed_rs::parser::parse(atom.as_bytes()).expect("the search feed parses");
    assert_eq!(parsed.entries.len(), 1);
    assert_eq!(
        parsed.entries[0].title.as_ref().unwrap().content,
        "Rail strike ends"
    );
    let json: serde_json::Value =
        serde_json::from_str(&body_containing(addr, "/search.json?q=deal", "items").await).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), 1);
    let none = body_containing(addr, "/search.rss?q=earthquake", "<channel>").await;
    assert!(!none.contains("<item>"), "{none}");
    // Nothing to search for is a 400 that says so; the bare page has the box and no results.
    let bad = get(addr, "/search.atom?q=%20the%20").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("give q"));
    let bare = get(addr, "/search").await;
    assert_eq!(bare.status(), 200);
    assert!(bare.text().await.unwrap().contains("<h2>Search"));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_and_exclude_keep_unwanted_items_out_and_a_changed_filter_looks_again() {
    let items = [
        (
            "f1",
            "Strong quake off the coast",
            "https://f.example/1",
            "Tsunami warning.",
        ),
        (
            "f2",
            "Sponsored: quake insurance deals",
            "https://f.example/2",
            "Buy now.",
        ),
        ("f3", "강원 지진 발생", "https://f.example/3", "규모 4.1"),
        (
            "f4",
            "Cooking with leeks",
            "https://f.example/4",
            "A recipe.",
        ),
    ];
    let server = FixtureServer::with("/f.xml", Route::feed(rss("F", &items))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &[("f", server.url("/f.xml"))]);
    let words = |w: &[&str]| {
        Some(
            wiredesk::filter::Keywords::parse(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap(),
        )
    };
    cfg.feeds[0].filter = wiredesk::config::FeedFilter {
        include: words(&["quake", "지진"]),
        exclude: words(&["sponsored"]),
    };
    let (mut daemon, _addr, mut rx) = start_watched(cfg.clone()).await;
    rx.wait_for("f", stored).await;
    let titles = |stories: Vec<wiredesk::store::Story>| {
        let mut t: Vec<String> = stories
            .iter()
            .map(|s| s.representative().title.clone())
            .collect();
        t.sort();
        t
    };
    assert_eq!(
        titles(stories(&daemon).await),
        ["Strong quake off the coast", "강원 지진 발생"]
    );
    // Without the exclusion, the same (unchanged) feed's sponsored item is stored too.
    let mut new = cfg.clone();
    new.feeds[0].filter.exclude = None;
    daemon.reload(new).await.unwrap();
    rx.wait_for(
        "f",
        |r| matches!(&r.outcome, Outcome::Stored(s) if s.new == 1),
    )
    .await;
    assert_eq!(
        titles(stories(&daemon).await),
        [
            "Sponsored: quake insurance deals",
            "Strong quake off the coast",
            "강원 지진 발생"
        ]
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_carry_the_stories_their_rules_select_in_their_order() {
    let (_server, dir, mut cfg) = serve_feeds(&[
        (
            "a",
            &[
                ("a1", "Quake hits the coast", WIRE, "A strong quake."),
                (
                    "a2",
                    "Sponsored: quake kits",
                    "https://a.example/kits",
                    "Buy.",
                ),
                (
                    "a3",
                    "Budget vote delayed",
                    "https://a.example/budget",
                    "Council.",
                ),
            ],
        ),
        ("b", &[("b1", "Coast quake damage", WIRE, "Wire copy.")]),
    ])
    .await;
    // The helper's config again, with outputs (same feeds, same database).
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntitle = \"Test desk\"\n[storage]\npath = \"{}\"\n\
         [poll]\nschedule = \"* * * * * *\"\n",
        cfg.storage.database_path().display()
    );
    for f in &cfg.feeds {
        toml.push_str(&format!(
            "[[feed]]\nid = \"{}\"\nurl = \"{}\"\n",
            f.id, f.url
        ));
    }
    toml.push_str(
        "[[output]]\nid = \"big\"\ntitle = \"Carried twice\"\nmin_outlets = 2\n\
         [[output]]\nid = \"quakes\"\ninclude = [\"quake\"]\nexclude = [\"sponsored\"]\n\
         [[output]]\nid = \"ranked\"\norder = \"outlets\"\nsize = 2\n\
         [[output]]\nid = \"found\"\nquery = \"budget\"\n",
    );
    cfg = wiredesk::Config::parse(&toml, std::path::Path::new("t.toml")).expect("valid");
    let _keep_the_database_dir = dir;
    assert_eq!(cfg.outputs.len(), 4);
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("a", stored).await;
    rx.wait_for("b", stored).await;

    let titles = |body: &str| -> Vec<String> {
        feed_rs::parser::parse(body.as_bytes())
            .expect("parses")
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect()
    };
    // Only the story both feeds carry.
    let big = body_when(addr, "/outputs/big.atom", |b| {
        b.contains("Also reported by")
    })
    .await;
    assert_eq!(titles(&big).len(), 1, "{big}");
    assert!(big.contains("<title>Carried twice</title>"));
    // The quake stories, not the sponsored one.
    let quakes = body_when(addr, "/outputs/quakes.rss", |b| b.contains("<item>")).await;
    let t = titles(&quakes);
    assert_eq!(t.len(), 1, "{t:?}");
    assert!(t[0].contains("uake"), "{t:?}");
    // Most outlets first, two at most.
    let ranked = body_when(addr, "/outputs/ranked.json", |b| {
        b.contains("Also reported by")
    })
    .await;
    let json: serde_json::Value = serde_json::from_str(&ranked).unwrap();
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0]["_wiredesk"]["members"].as_array().unwrap().len(),
        2
    );
    // A saved search.
    let found = body_when(addr, "/outputs/found.atom", |b| b.contains("<entry>")).await;
    assert_eq!(titles(&found), ["Budget vote delayed"]);
    // The page links the outputs; the OPML lists them.
    let page = body_containing(addr, "/", "Desk outputs").await;
    assert!(
        page.contains("href=\"outputs/big.atom\">Carried twice</a>"),
        "{page}"
    );
    let opml = body_containing(addr, "/sources.opml", "Desk outputs").await;
    assert!(opml.contains("outputs/quakes.atom"), "{opml}");
    daemon.stop().await;
}

/// A loopback webhook receiver: answers each POST with the next status of `statuses` (200 once
/// they run out) and keeps every request's body and signature header.
/// Each request: the status answered, the body, the signature header.
type Received = Vec<(u16, Vec<u8>, Option<String>)>;

struct Receiver {
    addr: std::net::SocketAddr,
    got: std::sync::Arc<std::sync::Mutex<Received>>,
    arrived: std::sync::Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Receiver {
        use std::sync::{Arc, Mutex};
        let got: Arc<Mutex<Received>> = Arc::default();
        let arrived = Arc::new(tokio::sync::Notify::new());
        let statuses = Arc::new(Mutex::new(statuses));
        let (g, a) = (got.clone(), arrived.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (g, a, statuses) = (g.clone(), a.clone(), statuses.clone());
                    async move {
                        let status = {
                            let mut s = statuses.lock().unwrap();
                            if s.is_empty() { 200 } else { s.remove(0) }
                        };
                        let sig = headers
                            .get("x-wiredesk-signature")
                            .map(|v| v.to_str().unwrap().to_owned());
                        g.lock().unwrap().push((status, body.to_vec(), sig));
                        a.notify_waiters();
                        axum::http::StatusCode::from_u16(status).unwrap()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, got, arrived }
    }

    /// The delivered (2xx) messages' bodies and signatures, once there are `n` of them (30 s).
    async fn delivered(&self, n: usize) -> Vec<(Vec<u8>, Option<String>)> {
        let ok = |got: &[(u16, Vec<u8>, Option<String>)]| -> Vec<(Vec<u8>, Option<String>)> {
            got.iter()
                .filter(|(s, _, _)| *s == 200)
                .map(|(_, b, sig)| (b.clone(), sig.clone()))
                .collect()
        };
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if ok(&self.got.lock().unwrap()).len() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("{n} messages were not delivered within 30 s"));
        ok(&self.got.lock().unwrap())
    }
}

/// RSS items dated as just published (later than any notify target's start).
fn fresh_items(items: &[(&str, &str, &str)]) -> String {
    let date =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(600));
    items
        .iter()
        .map(|(g, t, l)| {
            format!("<item><guid>{g}</guid><title>{t}</title><link>{l}</link><description>Body.</description><pubDate>{date}</pubDate></item>")
        })
        .collect()
}

fn desk_with_hook(db_dir: &std::path::Path, feed_url: &str, hook: &str) -> wiredesk::Config {
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\n\
         [[feed]]\nid = \"w\"\nurl = \"{feed_url}\"\n\
         [[output]]\nid = \"all\"\n\
         [[notify]]\nid = \"hook\"\noutput = \"all\"\nurl = \"{hook}\"\nsecret = \"s3cret\"\n",
        db_dir.join("wiredesk.db").display()
    );
    wiredesk::Config::parse(&toml, std::path::Path::new("t.toml")).expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_entering_an_output_is_notified_once_signed_and_never_again_after_a_restart() {
    let receiver = Receiver::start(Vec::new()).await;
    let server = FixtureServer::with(
        "/w.xml",
        Route::feed(rss(
            "W",
            &[("w1", "Already there", "https://w.example/1", "Old.")],
        )),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let hook = format!("http://{}/hook", receiver.addr);
    let cfg = desk_with_hook(dir.path(), &server.url("/w.xml"), &hook);
    let (daemon, _addr, mut rx) = start_watched(cfg.clone()).await;
    rx.wait_for("w", stored).await;
    // What the output held when the target was configured is not news; a new story is.
    let mut feed = rss(
        "W",
        &[("w1", "Already there", "https://w.example/1", "Old.")],
    );
    let w2 = fresh_items(&[("w2", "Storm closes the port", "https://w.example/2")]);
    feed = feed.replace("</channel>", &format!("{w2}</channel>"));
    server.set("/w.xml", Route::feed(feed.clone()));
    let got = receiver.delivered(1).await;
    let body: serde_json::Value = serde_json::from_slice(&got[0].0).unwrap();
    assert_eq!(body["title"], "Storm closes the port");
    assert_eq!(body["output"], "all");
    assert_eq!(body["outlet_count"], 1);
    assert_eq!(
        got[0].1.as_deref(),
        Some(wiredesk::notify::signature("s3cret", &got[0].0).as_str())
    );
    daemon.stop().await;

    // After a restart, a third story is sent, and the second is not sent again.
    let w3 = fresh_items(&[("w3", "Port reopens after storm", "https://w.example/3")]);
    feed = feed.replace("</channel>", &format!("{w3}</channel>"));
    server.set("/w.xml", Route::feed(feed));
    let (daemon, addr, _rx) = start_watched(cfg).await;
    let got = receiver.delivered(2).await;
    let titles: Vec<String> = got
        .iter()
        .map(|(b, _)| {
            serde_json::from_slice::<serde_json::Value>(b).unwrap()["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        titles,
        ["Storm closes the port", "Port reopens after storm"]
    );
    // Recorded as sent once the receiver has answered: nothing is owed any more.
    let metrics = body_containing(addr, "/metrics", "wiredesk_notifications_owed 0").await;
    assert!(metrics.contains("wiredesk_notifications_sent"), "{metrics}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_fails_gets_the_message_later_once() {
    // The first attempt fails; the retry (after notify::RETRY_BASE) succeeds.
    let receiver = Receiver::start(vec![503]).await;
    let server = FixtureServer::with("/w.xml", Route::feed(rss("W", &[]))).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = desk_with_hook(
        dir.path(),
        &server.url("/w.xml"),
        &format!("http://{}/hook", receiver.addr),
    );
    let (daemon, _addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("w", stored).await;
    let fresh = fresh_items(&[("w1", "Bridge closed", "https://w.example/1")]);
    server.set(
        "/w.xml",
        Route::feed(rss("W", &[]).replace("</channel>", &format!("{fresh}</channel>"))),
    );
    let got = receiver.delivered(1).await;
    assert_eq!(got.len(), 1);
    let all = receiver.got.lock().unwrap().clone();
    assert_eq!(
        all.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(),
        [503, 200]
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websub_hubs_are_named_in_the_feeds_and_told_when_they_change() {
    let hub = Receiver::start(Vec::new()).await;
    let server = FixtureServer::with("/w.xml", Route::feed(rss("W", &[]))).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"https://desk.example/\"\nwebsub_hubs = [\"http://{}/hook\"]\n\
         [storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\n[[feed]]\nid = \"w\"\nurl = \"{}\"\n",
        hub.addr,
        dir.path().join("w.db").display(),
        server.url("/w.xml")
    );
    let cfg = wiredesk::Config::parse(&toml, std::path::Path::new("t.toml")).unwrap();
    let (daemon, addr, mut rx) = start_watched(cfg).await;
    rx.wait_for("w", stored).await;
    let atom = get(addr, "/feed.atom").await.text().await.unwrap();
    assert!(atom.contains(&format!(
        "<link rel=\"hub\" href=\"http://{}/hook\"/>",
        hub.addr
    )));
    let rss_doc = get(addr, "/feed.rss").await.text().await.unwrap();
    assert!(rss_doc.contains("<atom:link rel=\"hub\""));
    // A new story: the hub is told that both documents changed.
    server.set(
        "/w.xml",
        Route::feed(rss(
            "W",
            &[("w1", "Harbour closes", "https://w.example/1", "x")],
        )),
    );
    let got = hub.delivered(2).await;
    let bodies: Vec<String> = got
        .iter()
        .map(|(b, _)| String::from_utf8(b.clone()).unwrap())
        .collect();
    for doc in ["feed.atom", "feed.rss"] {
        let want = format!("hub.mode=publish&hub.url=https%3A%2F%2Fdesk.example%2F{doc}");
        assert!(bodies.contains(&want), "{want} in {bodies:?}");
    }
    daemon.stop().await;
}
