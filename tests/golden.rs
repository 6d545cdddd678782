//! Golden files: each output format rendered from a fixed set of stories, hostile titles and
//! summaries included, compared byte for byte with `tests/fixtures/golden/`. After an intended
//! change of the output, regenerate with `UPDATE_GOLDEN=1 cargo test --test golden` and review
//! the diff.

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use wiredesk::parse::{Enclosure, Media};
use wiredesk::publish::{FeedMeta, PageContext, render_atom, render_json, render_page, render_rss};
use wiredesk::store::{FeedHealth, Member, Story, StoryId};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn member(
    item: i64,
    feed: &str,
    name: &str,
    title: &str,
    link: &str,
    summary: &str,
    joined_by: &str,
) -> Member {
    Member {
        item_id: item,
        feed: feed.into(),
        feed_name: name.into(),
        priority: 0,
        key: link.into(),
        guid: Some(format!("{feed}-{item}")),
        link: Some(link.into()),
        title: title.into(),
        summary_html: summary.into(),
        text: String::new(),
        published: t(item),
        first_seen: t(item),
        updated: t(item),
        joined_by: joined_by.into(),
        score: (joined_by == "near_duplicate").then_some(0.91),
        matched_item: (joined_by != "first").then_some(1),
        media: Default::default(),
    }
}

fn stories() -> Vec<Story> {
    let mut stories = vec![
        Story {
            id: StoryId("s00000000000000a1".into()),
            published: t(1),
            first_seen: t(1),
            updated: t(30),
            members: vec![
                member(
                    1,
                    "yonhap",
                    "Yonhap News Agency",
                    "N. Korea fires missile into East Sea: JCS",
                    "https://en.yna.co.kr/view/AEN1",
                    "<p>North Korea fired a missile.</p>",
                    "first",
                ),
                member(
                    2,
                    "herald",
                    "The Korea Herald",
                    "NK launches missile",
                    "https://www.koreaherald.com/view.php?ud=1&utm_source=rss",
                    "<p>Copy.</p>",
                    "near_duplicate",
                ),
            ],
        },
        Story {
            id: StoryId("s00000000000000b2".into()),
            published: t(5),
            first_seen: t(5),
            updated: t(5),
            members: vec![member(
                5,
                "odd",
                "Odd & \"Quoted\" <Outlet>",
                "Tom & Jerry <b>bold</b> \u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{1F30D} \u{1} end",
                "https://user:pw@odd.example/a?token=s3cret&x=1",
                "<p>Safe <a href=\"https://odd.example/\" rel=\"noopener noreferrer\">link</a> &amp; text</p>",
                "first",
            )],
        },
    ];
    // The representative carries no media; the second member has an enclosure, an image and
    // categories, one of them hostile: the story republishes them.
    stories[0].members[1].media = Media {
        enclosure: Some(Enclosure {
            url: "https://www.koreaherald.com/audio/1.mp3".into(),
            media_type: Some("audio/mpeg".into()),
            length: Some(123_456),
        }),
        image: Some("https://www.koreaherald.com/img/1.jpg".into()),
        categories: vec!["North Korea".into(), "Defence & <Security>".into()],
    };
    stories
}

fn check(name: &str, actual: &[u8]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        expected == actual,
        "{name} differs from {}:\n{}",
        path.display(),
        String::from_utf8_lossy(actual)
    );
}

#[test]
fn every_format_matches_its_golden_file() {
    let meta = FeedMeta {
        title: "Desk <&> \"golden\"".into(),
        self_url: "https://news.example.org/feed.atom".into(),
        home_url: "https://news.example.org/".into(),
        hubs: vec!["https://hub.example/".into()],
    };
    let s = stories();
    let outputs = [
        ("feed.atom", render_atom(&s, &meta)),
        ("feed.rss", render_rss(&s, &meta)),
        ("feed.json", render_json(&s, &meta)),
    ];
    for (name, doc) in &outputs {
        check(name, &doc.body);
        let text = std::str::from_utf8(&doc.body).unwrap();
        for secret in ["pw@", "s3cret", "\u{1}"] {
            assert!(!text.contains(secret), "{name} carries {secret:?}");
        }
    }
    let health = vec![
        FeedHealth {
            id: "odd".into(),
            name: "Odd <Outlet>".into(),
            url: "https://odd.example/rss".into(),
            enabled: true,
            last_status: Some(500),
            last_attempt: Some(t(40)),
            last_success: Some(t(10)),
            last_error: Some("HTTP 500 from https://odd.example/rss".into()),
            last_warning: None,
            moved_to: None,
            consecutive_failures: 2,
            next_attempt: Some(t(45)),
            items: 1,
            full_text_enriched: 0,
            full_text_failed: 0,
            full_text_error: None,
        },
        FeedHealth {
            id: "moved".into(),
            name: "Moved & warned".into(),
            url: "https://old.example/rss".into(),
            enabled: true,
            last_status: Some(200),
            last_attempt: Some(t(40)),
            last_success: Some(t(40)),
            last_error: None,
            last_warning: Some("recovered: not well-formed (<bad>); read after repair".into()),
            moved_to: Some("https://user:pw@new.example/rss?apikey=s3cret".into()),
            consecutive_failures: 0,
            next_attempt: Some(t(45)),
            items: 3,
            full_text_enriched: 0,
            full_text_failed: 0,
            full_text_error: None,
        },
    ];
    let ctx = PageContext {
        now: t(90),
        page: 2,
        more: true,
        tag: Some("korea".to_owned()),
        query: None,
        outputs: vec![(
            "korea-breaking".to_owned(),
            "Korea: 3+ outlets <&>".to_owned(),
        )],
        tags: [(
            "yonhap".to_owned(),
            vec!["korea".to_owned(), "wire".to_owned()],
        )]
        .into_iter()
        .collect(),
    };
    let page = render_page("Desk <&>", &s, &health, &ctx).body;
    check("page.html", &page);
    let page = std::str::from_utf8(&page).unwrap();
    for secret in ["pw@", "s3cret"] {
        assert!(!page.contains(secret), "the page carries {secret:?}");
    }
    // The search page: the query escaped in the box, the heading and the Atom link.
    let search = PageContext {
        query: Some("북한 \"missile\" <b>&".to_owned()),
        tag: None,
        page: 1,
        more: true,
        ..ctx
    };
    let page = render_page("Desk <&>", &s[..1], &health, &search).body;
    check("search.html", &page);
}
