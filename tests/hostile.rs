//! Nothing a feed sends stops or empties the desk: hostile feeds beside normal ones, through
//! the real daemon on loopback. Each test is a regression for something that once broke it
//! (a panic that killed the database thread, a refresh that never finished, a title that
//! made the merged feed unreadable, an item count that stalled the store, a `javascript:`
//! link republished). Time and memory bounds are measured in benchmarks, not here.

mod common;

use std::path::Path;

use common::*;
use wiredesk::Config;
use wiredesk::refresh::Outcome;

/// Strings that have broken text code somewhere: case-changing characters whose UTF-8 length
/// differs from their lowercase, combining marks, bidi controls, NUL and C0/C1 controls,
/// noncharacters, the phrases and datelines the dedup layer strips, markup and entities.
const HOSTILE: &[&str] = &[
    // The text that panicked the database thread (offsets of a lowercased copy applied to the
    // original) and took every feed down with it.
    "ẞ한read more about the talks Ⱥ",
    "İSTANBUL (Yonhap) -- İ talks READ MORE Ⱥ (END)",
    "\u{212A}orea \u{212A}elvin: Advertisement ẞẞẞ Send to ⱥⱥ",
    "e\u{301}\u{301}\u{301} combining \u{20DD}\u{20DD}",
    "\u{202E}reversed\u{202C} \u{2066}isolate\u{2069} שלום مرحبا",
    "nul\0and\u{1}controls\u{8}\u{1B}[31m and c1 \u{85}\u{92}\u{9D}",
    "nonchar \u{FFFE}\u{FFFF}\u{FFFD} bom \u{FEFF}",
    "[서울=뉴시스] 홍길동 기자 = 기사보기 ⓒ 무단전재 및 재배포 금지 (뉴시스)",
    "SEOUL, April 5 (Yonhap) -- (Yonhap)(YONHAP)(yonhap)",
    "&amp;amp;lt;script&amp;amp;gt;alert(1)&amp;amp;lt;/script&amp;amp;gt;",
    "<script>alert(1)</script><img src=x onerror=alert(1)><a href=\"javascript:alert(2)\">x</a>",
    "<![CDATA[ not cdata ]]> ]]> <!-- unclosed comment",
    "😀👩\u{200D}👩\u{200D}👧 ＡＢＣ１２３ ﬃ ǅ ΐ ſ",
];

/// A config with the given feeds polled every second and the database in `dir`.
fn config_with(dir: &Path, poll: &str, feeds: &[(&str, String)]) -> Config {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\ntimeout = \"5s\"\nper_host = 8\n{poll}\n",
        dir.join("wiredesk.db").display()
    );
    for (id, url) in feeds {
        text.push_str(&format!(
            "[[feed]]\nid = \"{id}\"\nname = \"{id} News\"\nurl = \"{url}\"\n"
        ));
    }
    Config::parse(&text, Path::new("test.toml")).expect("test config is valid")
}

fn escape(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

/// One item per hostile string, the string in each field (escaped, and a second time raw in
/// the description), plus a comment that lets a test change the bytes but not the items.
fn torture_feed(generation: u32) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Torture ẞ</title><link>https://t.example/</link>\n",
    );
    for (i, h) in HOSTILE.iter().enumerate() {
        let e = escape(h);
        s.push_str(&format!(
            "<item><guid>{e}-{i}</guid><title>{e}</title><link>https://t.example/{i}/{e}</link>\
             <description>{e} {e}</description><pubDate>{e}</pubDate></item>\n"
        ));
        // The same string as the link, and as a date: neither may break anything.
        s.push_str(&format!(
            "<item><title>{i} link {e}</title><link>{e}</link><pubDate>{} {e}</pubDate></item>\n",
            recent_date().trim_end_matches(" GMT")
        ));
    }
    s.push_str(&format!(
        "</channel></rss>\n<!-- generation {generation} -->\n"
    ));
    s
}

fn normal_feed() -> String {
    rss(
        "Normal",
        &[
            (
                "n-1",
                "Parliament passes the budget",
                "https://n.example/1",
                "The budget passed.",
            ),
            (
                "n-2",
                "Storm closes schools",
                "https://n.example/2",
                "Schools closed.",
            ),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torture_feed_beside_a_normal_one_is_read_and_a_second_read_changes_nothing() {
    let server = FixtureServer::start().await;
    server.set("/torture.xml", Route::feed(torture_feed(1)));
    server.set("/normal.xml", Route::feed(normal_feed()));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_with(
        dir.path(),
        "",
        &[
            ("torture", server.url("/torture.xml")),
            ("normal", server.url("/normal.xml")),
        ],
    );
    let (mut daemon, addr) = start(cfg).await;
    let mut rx = Reports::new(daemon.reports());
    let first = rx.wait_for("torture", stored).await;
    let Outcome::Stored(s) = first.outcome else {
        unreachable!()
    };
    assert!(s.new >= HOSTILE.len(), "{s:?}");
    rx.wait_for("normal", stored).await;

    // The daemon answers, and every output is readable (once rendered after the refresh).
    assert_eq!(get(addr, "/healthz").await.status(), 200);
    body_containing(addr, "/feed.atom", "<entry>").await;
    for path in ["/feed.atom", "/feed.rss"] {
        let body = get(addr, path).await.text().await.unwrap();
        feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}"));
        // Hostile text may appear as text (escaped, or percent-encoded inside an http URL),
        // never as markup or as a link's scheme.
        assert!(!body.contains("href=\"javascript:"), "{path}: {body}");
        assert!(!body.contains("<script"), "{path}: {body}");
        assert!(!body.contains('\0'), "{path}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&get(addr, "/feed.json").await.text().await.unwrap()).unwrap();
    assert!(json["items"].as_array().is_some_and(|i| !i.is_empty()));
    let page = get(addr, "/").await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("<script>alert"));

    // The same items in other bytes: parsed and stored again, and nothing changes.
    server.set("/torture.xml", Route::feed(torture_feed(2)));
    let again = rx
        .wait_for(
            "torture",
            |r| matches!(&r.outcome, Outcome::Stored(s) if s.unchanged > 0),
        )
        .await;
    let Outcome::Stored(s) = again.outcome else {
        unreachable!()
    };
    assert_eq!((s.new, s.updated), (0, 0), "{s:?}");
    // The normal feed kept refreshing all along.
    rx.wait_for("normal", |r| !failed(r)).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_feeds_are_bounded_and_fail_nothing_else() {
    let server = FixtureServer::start().await;
    // Tens of thousands of unclosed <div>s in a summary (once: a refresh that never ended).
    let nested = format!(
        "<rss version=\"2.0\"><channel><title>N</title><item><guid>deep</guid><title>Deep</title><link>https://d.example/1</link><description>{}</description></item></channel></rss>",
        escape(&format!("{}deep text", "<div>".repeat(50_000)))
    );
    // A multi-megabyte title (once: readers refused the merged Atom).
    let huge_title = format!(
        "<rss version=\"2.0\"><channel><title>H</title><item><guid>big</guid><title>{}</title><link>https://h.example/1</link></item></channel></rss>",
        "Headline ".repeat(500_000)
    );
    // More entries than [poll] max_items (once: a 200,000-item feed stalled the store).
    let mut many = String::from("<rss version=\"2.0\"><channel><title>M</title>");
    for i in 0..300 {
        many.push_str(&format!(
            "<item><guid>m-{i}</guid><title>Item {i}</title><link>https://m.example/{i}</link><pubDate>{}</pubDate></item>",
            // Two hours and more before the start: older than the other feeds' items.
            date_before_start(std::time::Duration::from_secs((300 - i) * 60 + 7200))
        ));
    }
    many.push_str("</channel></rss>");
    // Links that are not http(s) (once: republished as the story's link).
    let scripted = rss(
        "S",
        &[
            ("s-1", "Scripted link", "javascript:alert(1)", "x"),
            ("s-2", "Data link", "data:text/html,&lt;script&gt;", "y"),
            ("s-3", "VB link", "vbscript:msgbox(1)", "z"),
        ],
    );
    server.set("/nested.xml", Route::feed(nested));
    server.set("/huge.xml", Route::feed(huge_title));
    server.set("/many.xml", Route::feed(many));
    server.set("/scripted.xml", Route::feed(scripted));
    server.set("/normal.xml", Route::feed(normal_feed()));
    let dir = tempfile::tempdir().unwrap();
    let feeds = ["nested", "huge", "many", "scripted", "normal"];
    let cfg = config_with(
        dir.path(),
        "max_items = 50",
        &feeds.map(|f| (f, server.url(&format!("/{f}.xml")))),
    );
    let (mut daemon, addr) = start(cfg).await;
    let mut rx = Reports::new(daemon.reports());
    for f in feeds {
        rx.wait_for(f, stored).await;
    }
    let stories = daemon.app.store.call(|db| db.all_stories()).await.unwrap();
    let title_of = |feed: &str| {
        stories
            .iter()
            .flat_map(|s| &s.members)
            .find(|m| m.feed == feed)
            .map(|m| m.title.clone())
            .unwrap_or_default()
    };
    assert!(title_of("nested") == "Deep");
    let huge = title_of("huge");
    assert!(
        huge.starts_with("Headline Headline") && huge.len() <= wiredesk::parse::MAX_TITLE_BYTES,
        "{} bytes",
        huge.len()
    );
    // The newest 50 of 300 were read, and the feed's row says the rest were left out.
    let many: Vec<_> = stories
        .iter()
        .flat_map(|s| &s.members)
        .filter(|m| m.feed == "many")
        .collect();
    assert_eq!(many.len(), 50);
    assert!(
        many.iter().all(|m| m.title.starts_with("Item 2")),
        "newest first"
    );
    let health = daemon.app.store.call(|db| db.feed_health()).await.unwrap();
    let row = health.iter().find(|h| h.id == "many").unwrap();
    let note = row.note().unwrap_or_default();
    assert!(
        note.contains("max_items") && note.contains("250 older left out"),
        "{note}"
    );
    // Only http(s) links leave wiredesk, in every output and on the page.
    for path in ["/feed.atom", "/feed.rss", "/feed.json", "/"] {
        let body = body_containing(addr, path, "Scripted link").await;
        for scheme in ["javascript:", "data:text", "vbscript:"] {
            assert!(!body.contains(scheme), "{path} carries {scheme}");
        }
    }
    assert_eq!(get(addr, "/healthz").await.status(), 200);
    daemon.stop().await;
}
