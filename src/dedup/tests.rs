//! The near-duplicate index: candidates, sources, the window, learnt boilerplate.

use chrono::TimeZone;

use super::*;

fn config() -> DedupConfig {
    DedupConfig {
        near_duplicates: true,
        window_hours: 48,
        threshold: crate::config::DEFAULT_THRESHOLD,
        copy_window_hours: crate::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: crate::config::DEFAULT_MAX_INDEXED_ITEMS,
    }
}

fn at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

fn entry(title: &str, text: &str) -> Entry {
    Entry {
        key: title.into(),
        guid: None,
        link: None,
        canonical_url: None,
        title: title.into(),
        summary_html: String::new(),
        text: text.into(),
        published: None,
        updated: None,
        content_hash: String::new(),
        media: Default::default(),
    }
}

/// An index with some unrelated background items, so that IDF means something.
fn index() -> NearDuplicates {
    let mut ix = NearDuplicates::new(config());
    let topics = [
        "Parliament passes budget bill after long debate",
        "Storm closes schools across the northern region",
        "Central bank holds interest rates steady",
        "Football club sacks manager after losing streak",
        "Tech firm unveils new smartphone at launch event",
        "Wildfire forces evacuations in mountain towns",
    ];
    for (i, t) in topics.iter().enumerate() {
        let feed = FeedId(format!("bg{}", i % 3));
        ix.insert_text(i as i64 + 1000, &feed, &format!("s-bg{i}"), t, "", at(0));
    }
    ix
}

const WIRE_TITLE: &str = "North Korea fires ballistic missile into East Sea, JCS says";
const WIRE_TEXT: &str = "SEOUL, Nov. 1 (Yonhap) -- North Korea fired a short-range ballistic missile into the East Sea on Sunday, South Korea's Joint Chiefs of Staff said. (END)";

#[test]
fn wire_copy_with_another_headline_joins_the_story() {
    let mut ix = index();
    ix.insert_text(
        1,
        &FeedId("yonhap".into()),
        "s-wire",
        WIRE_TITLE,
        WIRE_TEXT,
        at(1),
    );
    let copy = entry(
        "N. Korea fires ballistic missile into East Sea | Korea Herald",
        "North Korea fired a short-range ballistic missile into the East Sea on Sunday, South Korea's Joint Chiefs of Staff said. (Yonhap)",
    );
    let join = ix
        .find(&FeedId("herald".into()), &copy, at(2))
        .expect("joined");
    assert_eq!(join.story_id, "s-wire");
    assert_eq!(join.item_id, 1);
    assert_eq!(join.layer, JoinLayer::NearDuplicate);
    assert!(join.score.unwrap() >= 0.5);
}

#[test]
fn a_different_story_does_not_join() {
    let mut ix = index();
    ix.insert_text(
        1,
        &FeedId("yonhap".into()),
        "s-wire",
        WIRE_TITLE,
        WIRE_TEXT,
        at(1),
    );
    let other = entry(
        "South Korea's exports rise for third month",
        "South Korea's exports rose 5 percent in October from a year earlier, data showed on Sunday.",
    );
    assert_eq!(ix.find(&FeedId("herald".into()), &other, at(2)), None);
}

#[test]
fn the_same_source_joins_only_near_verbatim_and_late_items_only_as_copies() {
    let mut ix = index();
    let yonhap = FeedId("yonhap".into());
    ix.insert_text(1, &yonhap, "s-wire", WIRE_TITLE, WIRE_TEXT, at(1));
    // One outlet carrying the same copy twice (a re-post under a new URL): one story.
    let copy = entry(WIRE_TITLE, WIRE_TEXT);
    let again = ix
        .find(&yonhap, &copy, at(2))
        .expect("a near-verbatim re-post joins");
    assert_eq!(again.story_id, "s-wire");
    // A match the model puts between the threshold and a near-verbatim copy (a model that
    // scores every pair 0.8): another outlet's item joins on it, the same outlet's does not —
    // two pieces of one outlet that are merely alike are two pieces.
    let mut weights = [0.0; N_FEATURES + 1];
    weights[N_FEATURES] = 4.0f64.ln();
    let mut alike = NearDuplicates::with_weights(config(), weights);
    alike.insert_text(1, &yonhap, "s-wire", WIRE_TITLE, WIRE_TEXT, at(1));
    let rewrite = entry(
        "North Korea fires missile into East Sea, military says",
        "The North launched a short-range ballistic missile on Sunday morning, according to \
         the South's military, its third weapons test this month.",
    );
    let other = alike
        .find(&FeedId("herald".into()), &rewrite, at(2))
        .expect("another outlet's item joins");
    assert!((other.score.expect("scored") - 0.8).abs() < 1e-9);
    assert_eq!(alike.find(&yonhap, &rewrite, at(2)), None);
    let near = alike.near_candidates(
        &yonhap,
        &prepare(&rewrite.title, &rewrite.text),
        at(2),
        "",
        5,
    );
    assert!(
        near.iter().any(|c| c.why.contains("same outlet")),
        "{near:?}"
    );
    // Published further apart than the window (48 h) but inside the copy window (96 h): a
    // copy of the text joins (a late republication)…
    let late = ix
        .find(&FeedId("herald".into()), &copy, at(60))
        .expect("a late copy joins");
    assert_eq!(late.story_id, "s-wire");
    // …a rewrite does not, and nothing joins past the copy window.
    assert_eq!(ix.find(&FeedId("herald".into()), &rewrite, at(60)), None);
    assert_eq!(ix.find(&FeedId("herald".into()), &copy, at(100)), None);
    assert!(ix.find(&FeedId("herald".into()), &copy, at(40)).is_some());
}

#[test]
fn headlines_naming_different_stages_of_a_story_never_join() {
    let mut ix = index();
    let text = "Norwegian businessman Tom Hagen, one of the country's richest men, and his wife \
        Anne-Elisabeth Hagen, missing since October 2018 from their home near Oslo, police said.";
    ix.insert_text(
        1,
        &FeedId("a".into()),
        "s-arrest",
        "Tom Hagen arrested on suspicion of murdering his wife",
        text,
        at(1),
    );
    let denial = entry(
        "Tom Hagen denies killing his wife",
        "Tom Hagen, one of Norway's richest men, maintains that he had nothing to do with the \
         disappearance of his wife Anne-Elisabeth Hagen, missing since October 2018, police said.",
    );
    let b = FeedId("b".into());
    assert_eq!(ix.find(&b, &denial, at(2)), None, "an arrest and a denial");
    let near = ix.near_candidates(&b, &prepare(&denial.title, &denial.text), at(2), "", 5);
    assert!(
        near.iter()
            .any(|c| c.item_id == 1 && c.why.contains("stages")),
        "{near:?}"
    );
    // A headline that names no stage joins the arrest's story as before…
    let plain = entry("Tom Hagen and the disappearance of his wife", text);
    let join = ix.find(&FeedId("c".into()), &plain, at(2)).expect("joined");
    assert_eq!(join.story_id, "s-arrest");
    ix.insert_text(
        2,
        &FeedId("c".into()),
        "s-arrest",
        &plain.title,
        &plain.text,
        at(2),
    );
    // …and the denial does not reach the story through it either.
    assert_eq!(ix.find(&FeedId("d".into()), &denial, at(3)), None);
    // The same stage in other words is one story.
    let detained = entry(
        "Norway's Tom Hagen detained on suspicion of killing wife",
        text,
    );
    assert!(ix.find(&FeedId("e".into()), &detained, at(3)).is_some());
}

#[test]
fn a_description_that_lists_other_pieces_is_no_body() {
    let list = prepare(
        "Watch these Irrfan Khan masterpieces",
        "• 'Slumdog Millionaire' star Irrfan Khan dies at 53 • How Irrfan Khan made a name",
    );
    assert!(list.body_ignored);
    assert!(list.search_text().contains("slumdog"), "still searched");
    assert!(
        !prepare(
            "Irrfan Khan dies at 53",
            "The actor died in Mumbai on Wednesday."
        )
        .body_ignored
    );
}

#[test]
fn old_items_are_evicted() {
    let mut ix = index();
    let before = ix.len();
    ix.insert_text(
        1,
        &FeedId("yonhap".into()),
        "s-wire",
        WIRE_TITLE,
        WIRE_TEXT,
        at(1),
    );
    assert_eq!(ix.len(), before + 1);
    ix.insert_text(
        2,
        &FeedId("yonhap".into()),
        "s-late",
        "Later news",
        "",
        at(60),
    );
    assert_eq!(
        ix.len(),
        before + 2,
        "kept for two windows (and the copy window)"
    );
    ix.insert_text(
        3,
        &FeedId("yonhap".into()),
        "s-later",
        "Even later news",
        "",
        at(100),
    );
    assert_eq!(ix.len(), 2, "everything older than two windows is gone");
}

#[test]
fn switched_off_it_never_matches() {
    let mut ix = NearDuplicates::new(DedupConfig {
        near_duplicates: false,
        ..config()
    });
    ix.insert_text(1, &FeedId("a".into()), "s", WIRE_TITLE, WIRE_TEXT, at(1));
    assert_eq!(
        ix.find(&FeedId("b".into()), &entry(WIRE_TITLE, WIRE_TEXT), at(1)),
        None
    );
}

#[test]
fn a_sources_own_boilerplate_is_learnt() {
    let mut ix = index();
    let feed = FeedId("daily".into());
    for i in 0..20 {
        ix.insert_text(
            100 + i,
            &feed,
            &format!("s{i}"),
            &format!("Topic number{i} headline"),
            "Subscribe to DailyKorea premium newsletter today",
            at(1),
        );
    }
    let ix_feed = ix.feed_index("daily");
    let sub = ix.token_id("subscrib").unwrap();
    assert!(
        !ix.keeps(ix_feed, sub),
        "a token on every item is boilerplate"
    );
    let other = ix.feed_index("other");
    assert!(ix.keeps(other, sub), "but only for that source");
}

#[test]
fn one_shared_word_is_not_enough() {
    let mut ix = index();
    ix.insert_text(1, &FeedId("a".into()), "s-a", "Shared story", "", at(1));
    assert_eq!(
        ix.find(&FeedId("b".into()), &entry("Own story", ""), at(1)),
        None
    );
}

#[test]
fn recurring_formats_and_live_pages_never_join_by_text() {
    let mut ix = index();
    ix.insert_text(
        1,
        &FeedId("chosun".into()),
        "s-weather",
        "[오늘의 날씨] 2022년 8월 1일 전국 흐리고 비",
        "전국이 흐리고 곳곳에 비가 내리겠다",
        at(1),
    );
    let next_day = entry(
        "[오늘의 날씨] 2022년 8월 2일 전국 흐리고 비",
        "전국이 흐리고 곳곳에 비가 내리겠다",
    );
    assert_eq!(ix.find(&FeedId("donga".into()), &next_day, at(20)), None);
    ix.insert_text(
        2,
        &FeedId("cnn".into()),
        "s-live",
        "Coronavirus pandemic: Live updates from around the world",
        "The latest on the coronavirus pandemic",
        at(1),
    );
    let other_live = entry(
        "Coronavirus live updates: latest news from around the world",
        "The latest on the coronavirus pandemic",
    );
    assert_eq!(ix.find(&FeedId("nyt".into()), &other_live, at(2)), None);
    assert!(text::is_rolling_format("LIVE: Election night"));
    assert!(!text::is_rolling_format("Quake hits the coast"));
}

#[test]
fn the_index_holds_at_most_max_indexed_items_forgetting_the_oldest_first() {
    let mut ix = NearDuplicates::new(DedupConfig {
        copy_window_hours: crate::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: 50,
        ..config()
    });
    let feed = FeedId("wire".into());
    // 120 distinct stories, an hour apart in publication, all within the window.
    let title = |i: usize| format!("Story {i} about harbour number {i} and its ferry {i}");
    let text = |i: usize| {
        format!("The harbour {i} reopened after repairs to ferry {i} were finished on time {i}.")
    };
    for i in 0..120 {
        ix.insert_text(
            i as i64,
            &feed,
            &format!("s{i}"),
            &title(i),
            &text(i),
            at(i as i64 / 4),
        );
    }
    assert_eq!(ix.len(), 50);
    let other = FeedId("republisher".into());
    // The newest items can still be matched; the oldest were forgotten.
    let newest = ix.find(&other, &entry(&title(119), &text(119)), at(30));
    assert_eq!(newest.map(|j| j.story_id), Some("s119".to_owned()));
    assert_eq!(ix.find(&other, &entry(&title(3), &text(3)), at(30)), None);
    // The accounting holds (entries of forgotten items are dead until swept), and a sweep
    // leaves exactly what the live items carry.
    let entries = |ix: &NearDuplicates| ix.postings.values().map(Vec::len).sum::<usize>();
    assert!(ix.dead_postings > 0);
    assert!(entries(&ix) <= ix.live_postings + ix.dead_postings);
    ix.sweep();
    assert_eq!(ix.dead_postings, 0);
    assert_eq!(entries(&ix), ix.live_postings);
    assert!(ix.postings.values().all(|l| !l.is_empty()));
    // The feed's token counts describe the indexed items only.
    assert_eq!(ix.feed_stats[0].items, 50);
    let harbour = ix.token_id("harbor").unwrap();
    assert!(ix.feed_stats[0].boilerplate.contains(&harbour));
    // Matching works as before after the sweep.
    let again = ix.find(&other, &entry(&title(100), &text(100)), at(30));
    assert_eq!(again.map(|j| j.story_id), Some("s100".to_owned()));
}

#[test]
fn editions_of_different_days_never_join_even_with_the_same_text() {
    let mut ix = index();
    let body = "Shares in Seoul closed higher as chip makers rallied and foreign investors bought \
        heavily, while the won firmed against the dollar in thin trade on the day.";
    ix.insert_text(
        1,
        &FeedId("a".into()),
        "s-5",
        "Market close, March 5",
        body,
        at(1),
    );
    let next_day = entry("Market close, March 6", body);
    assert_eq!(ix.find(&FeedId("b".into()), &next_day, at(2)), None);
    // The same day's edition from another outlet does join.
    let same_day = entry("Market close, March 5", body);
    assert!(ix.find(&FeedId("b".into()), &same_day, at(2)).is_some());
}

#[test]
fn an_echoed_description_or_a_teaser_is_no_body_and_media_stubs_are_not_matched() {
    // A pool's description: the headline again, and the publisher.
    let echo = prepare(
        "Quake hits Tokyo suburbs",
        "Quake hits Tokyo suburbs Nikkei Asia",
    );
    assert!(echo.body_ignored);
    assert!(!echo.title.is_empty());
    // Searched all the same.
    assert!(echo.search_text().contains("nikkei"));
    // The headline repeated exactly stays as it was (treating it as no body cost a false
    // merge on the English set), and a real description is kept.
    assert!(!prepare("Quake hits Tokyo", "Quake hits Tokyo").body_ignored);
    let real = prepare(
        "Quake hits Tokyo",
        "A magnitude 6 quake shook Tokyo on Sunday.",
    );
    assert!(!real.body_ignored);
    // A one-line teaser adds too little to compare, but is searched.
    let teaser = prepare("Rail strike ends", "Unions signed a deal.");
    assert!(teaser.body_ignored);
    assert!(teaser.search_text().contains("deal"));
    // Video and podcast listings say nothing of the story.
    assert!(prepare("Watch: flooding in the capital", "Source: BBC News, 1:42").is_rolling());
    assert!(prepare("Markets: stocks, bonds, and more", "Long enough text here.").is_rolling());
}

#[test]
fn an_update_with_a_rising_toll_joins_while_another_disaster_does_not() {
    let mut ix = index();
    ix.insert_text(
        1,
        &FeedId("a".into()),
        "s-quake",
        "Earthquake in Sulawesi kills 12, hundreds of homes destroyed",
        "A magnitude 6.2 earthquake struck West Sulawesi early on Friday, killing at least 12 \
         people and destroying hundreds of homes in Mamuju, the disaster agency said.",
        at(1),
    );
    // The same quake's update: another toll in the headline, the rest of the news the same.
    let update = entry(
        "Sulawesi earthquake death toll rises to 34 as homes lie destroyed",
        "The death toll from the magnitude 6.2 earthquake that struck West Sulawesi on Friday \
         rose to 34, the disaster agency said, with hundreds of homes destroyed in Mamuju.",
    );
    let join = ix
        .find(&FeedId("b".into()), &update, at(6))
        .expect("the update joins");
    assert_eq!(join.story_id, "s-quake");
    // Another quake, elsewhere, with its own toll: the kind of event, not the event.
    let other = entry(
        "Earthquake in Peru kills 3, dozens of homes destroyed",
        "A magnitude 5.9 earthquake struck northern Peru on Friday, killing three people and \
         damaging dozens of homes in Piura, the civil defence institute said.",
    );
    assert_eq!(ix.find(&FeedId("c".into()), &other, at(6)), None);
}

#[test]
fn token_weights_are_the_idf_they_rewrite() {
    let mut ix = index();
    for i in 0..300 {
        ix.insert(
            i,
            &FeedId(format!("f{}", i % 7)),
            &format!("s{i}"),
            &entry(
                &format!("Harbour workers strike {}", i % 40),
                "The port stays shut.",
            ),
            at(i),
        );
    }
    let weight = ix.weigher();
    let n = ix.n_for_idf();
    for t in 0..ix.df.len() as u32 {
        let (fast, slow) = (weight(t), idf(n, ix.df[t as usize]));
        assert!((fast - slow).abs() < 1e-12, "token {t}: {fast} vs {slow}");
    }
    // Past the table, and past the item count (a frequency the floor of n may exceed).
    for df in [0, 1, 4095, 4096, 4097, 1 << 20, u32::MAX] {
        for n in [200, 4096, 1 << 20] {
            let fast = ((f64::from(n) + 1.0).ln() - ln_df_half(df)).max(0.0);
            assert!((fast - idf(n, df)).abs() < 1e-12, "n {n} df {df}");
        }
    }
}
