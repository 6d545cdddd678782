//! Store behaviour: the first two dedup layers, revisions, id stability, persistence.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::config::{DedupConfig, FeedConfig};
use crate::schedule::Schedule;
use crate::store::fulltext::Enriched;
use std::sync::atomic::Ordering;

fn dedup() -> DedupConfig {
    DedupConfig {
        near_duplicates: true,
        window_hours: 48,
        threshold: crate::config::DEFAULT_THRESHOLD,
        copy_window_hours: crate::config::DEFAULT_COPY_WINDOW_HOURS,
        max_indexed_items: crate::config::DEFAULT_MAX_INDEXED_ITEMS,
    }
}

fn feed(id: &str, priority: i64) -> FeedConfig {
    FeedConfig {
        id: FeedId(id.into()),
        name: format!("{id} name"),
        url: url::Url::parse(&format!("https://{id}.example/rss")).unwrap(),
        schedule: Schedule::parse("*/5 * * * *", id).unwrap(),
        tags: vec![format!("tag-{id}")],
        priority,
        enabled: true,
        headers: Vec::new(),
        filter: Default::default(),
        full_text: false,
        websub: false,
    }
}

fn entry(key: &str, title: &str, link: &str) -> Entry {
    Entry {
        key: key.into(),
        guid: Some(key.into()),
        link: Some(link.into()),
        canonical_url: crate::normalise::canonical_url(link, None),
        title: title.into(),
        summary_html: String::new(),
        text: String::new(),
        published: Some(t(0)),
        updated: None,
        content_hash: crate::model::hex_digest(&[title]),
        media: Default::default(),
    }
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn open(dir: &tempfile::TempDir) -> Db {
    let mut db = Db::open(&dir.path().join("w.db"), &dedup()).unwrap();
    db.sync_feeds(&[feed("a", 0), feed("b", 10)]).unwrap();
    db
}

fn ingest(db: &mut Db, feed: &str, entries: &[Entry], now: DateTime<Utc>) -> IngestStats {
    db.ingest(
        &FeedId(feed.into()),
        &format!("https://{feed}.example/rss"),
        entries,
        &FetchMeta::default(),
        now,
        None,
    )
    .unwrap()
}

#[test]
fn same_url_across_feeds_is_one_story_with_the_priority_source_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let s = ingest(
        &mut db,
        "a",
        &[entry("a1", "Quake hits", "https://n.example/q")],
        t(0),
    );
    assert_eq!((s.new, s.merged), (1, 0));
    let id_before = db.all_stories().unwrap()[0].id.clone();
    assert_eq!(db.all_stories().unwrap()[0].representative().feed, "a");
    let s = ingest(
        &mut db,
        "b",
        &[entry(
            "b1",
            "Quake hits city",
            "https://N.example/q?utm_source=rss",
        )],
        t(5),
    );
    assert_eq!((s.new, s.merged), (1, 1));
    let stories = db.all_stories().unwrap();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].members.len(), 2);
    // b has the higher priority, so it represents the story though it came later.
    assert_eq!(stories[0].representative().feed, "b");
    // The representative changed; the story id did not.
    assert_eq!(stories[0].id, id_before);
    assert_eq!(stories[0].members[0].joined_by, "same_url");
    assert_eq!(stories[0].updated, t(5));
    assert_eq!(stories[0].first_seen, t(0));
}

#[test]
fn a_revised_entry_updates_its_story_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    ingest(
        &mut db,
        "a",
        &[entry("a1", "Draft", "https://n.example/1")],
        t(0),
    );
    let id_before = db.all_stories().unwrap()[0].id.clone();
    let s = ingest(
        &mut db,
        "a",
        &[entry("a1", "Final", "https://n.example/1")],
        t(10),
    );
    assert_eq!((s.new, s.updated, s.unchanged), (0, 1, 0));
    let s = ingest(
        &mut db,
        "a",
        &[entry("a1", "Final", "https://n.example/1")],
        t(20),
    );
    assert_eq!((s.new, s.updated, s.unchanged), (0, 0, 1));
    let stories = db.all_stories().unwrap();
    assert_eq!(stories.len(), 1);
    assert_eq!(stories[0].id, id_before);
    assert_eq!(stories[0].representative().title, "Final");
    assert_eq!(stories[0].updated, t(10));
}

#[test]
fn story_ids_are_stable_across_databases() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let mut a = open(&d1);
    let mut b = open(&d2);
    ingest(&mut a, "a", &[entry("k", "T", "https://n.example/1")], t(0));
    ingest(
        &mut b,
        "a",
        &[entry("k", "T", "https://n.example/1")],
        t(30),
    );
    assert_eq!(
        a.all_stories().unwrap()[0].id,
        b.all_stories().unwrap()[0].id
    );
}

#[test]
fn stories_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut db = open(&dir);
        ingest(
            &mut db,
            "a",
            &[entry("a1", "One", "https://n.example/1")],
            t(0),
        );
        ingest(
            &mut db,
            "b",
            &[entry("b1", "Two", "https://n.example/2")],
            t(0),
        );
    }
    let db = open(&dir);
    assert_eq!(db.all_stories().unwrap().len(), 2);
    assert_eq!(db.counts().unwrap(), (2, 2));
}

#[test]
fn tag_filter_and_feed_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    ingest(
        &mut db,
        "a",
        &[entry("a1", "One", "https://n.example/1")],
        t(0),
    );
    // Stories are ordered by their own (earliest member's) date: "Two" is the newer one.
    let mut two = entry("b1", "Two", "https://n.example/2");
    two.published = Some(t(1));
    ingest(&mut db, "b", &[two], t(1));
    let tagged = db.latest_stories(10, Some("tag-b")).unwrap();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].representative().title, "Two");
    assert_eq!(
        db.latest_stories(10, None).unwrap()[0]
            .representative()
            .title,
        "Two"
    );
    let n = db
        .record_failure(&FeedId("a".into()), Some(500), "HTTP 500", t(2), None)
        .unwrap();
    assert_eq!(n, 1);
    let n = db
        .record_failure(&FeedId("a".into()), Some(500), "HTTP 500", t(3), None)
        .unwrap();
    assert_eq!(n, 2);
    let h = db.feed_health().unwrap();
    assert_eq!(h[0].id, "a");
    assert_eq!(h[0].consecutive_failures, 2);
    assert_eq!(h[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(h[0].items, 1);
    db.record_unchanged(&FeedId("a".into()), 304, t(4), None)
        .unwrap();
    assert_eq!(db.feed_health().unwrap()[0].consecutive_failures, 0);
}

#[test]
fn migrations_bring_a_new_database_to_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(&dir);
    let v: i64 = db
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::current_version());
    assert!(v >= 2);
    assert_eq!(fts_hashsize(&db), Some(4 << 20));
}

/// The search index's `hashsize` (FTS5's in-memory buffer of new rows), when set.
fn fts_hashsize(db: &Db) -> Option<i64> {
    db.conn()
        .query_row(
            "SELECT v FROM items_fts_config WHERE k = 'hashsize'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Db::open(&path, &dedup()).err().expect("refused");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn a_panic_while_storing_one_entry_fails_that_refresh_only_and_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let good = entry("a1", "Quake hits", "https://n.example/q");
    let bad = entry(PANIC_KEY, "Poison", "https://n.example/p");
    let err = db
        .ingest(
            &FeedId("a".into()),
            "https://a.example/rss",
            &[good.clone(), bad],
            &FetchMeta::default(),
            t(0),
            None,
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("internal error while storing feed a: item \"wiredesk-test-panic\""),
        "{msg}"
    );
    assert!(
        db.needs_recovery,
        "the index is rebuilt before the next job"
    );
    db.recover();
    // Nothing of the failed refresh was committed; the next refresh stores normally.
    assert!(db.all_stories().unwrap().is_empty());
    let s = ingest(&mut db, "a", &[good], t(1));
    assert_eq!(s.new, 1);
}

#[tokio::test]
async fn a_panicking_job_fails_alone_and_the_database_thread_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), &dedup()).unwrap();
    store
        .call(|db| db.sync_feeds(&[feed("a", 0)]))
        .await
        .unwrap();
    let err = store
        .call(|_db| -> Result<u32, StoreError> { panic!("boom in a job") })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Internal(m) if m.contains("boom in a job")),
        "{err}"
    );
    // The thread is alive: later jobs run, including a refresh's ingest.
    store.call(|db| db.ping()).await.unwrap();
    let stats = store
        .call(|db| {
            db.ingest(
                &FeedId("a".into()),
                "https://a.example/rss",
                &[entry("a1", "Quake hits", "https://n.example/q")],
                &FetchMeta::default(),
                t(0),
                None,
            )
        })
        .await
        .unwrap();
    assert_eq!(stats.new, 1);
}

/// Holds the store thread in a job until `release` is sent: the writes sent meanwhile queue
/// behind it (and run as one batch). Returns once the job has started.
async fn hold_thread(
    store: &Store,
) -> (
    std::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<Result<(), StoreError>>,
) {
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let holder = store.clone();
    let hold = tokio::spawn(async move {
        holder
            .call(move |_db| {
                let _ = started_tx.send(());
                let _ = held.recv();
                Ok(())
            })
            .await
    });
    started.await.unwrap();
    (release, hold)
}

#[tokio::test]
async fn what_a_write_holds_is_let_go_once_it_has_run_not_at_its_batch_commit() {
    use std::future::Future;
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Held(Arc<AtomicBool>);
    impl Drop for Held {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), &dedup()).unwrap();
    let (release, hold) = hold_thread(&store).await;
    let dropped = Arc::new(AtomicBool::new(false));
    let seen = dropped.clone();
    let mut first = Box::pin(store.write_holding(Held(dropped.clone()), |_db| Ok(())));
    // Queued behind it in the same batch: it runs before that batch commits.
    let mut second = Box::pin(store.write(move |_db| Ok(seen.load(Ordering::SeqCst))));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert!(!dropped.load(Ordering::SeqCst), "held while queued");
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    first.await.unwrap();
    assert!(
        second.await.unwrap(),
        "the next write of the batch ran after the first let go of what it held"
    );
    assert_eq!(store.batches_committed(), 1, "one batch");
}

#[tokio::test]
async fn writes_queued_together_share_one_commit_and_a_failing_one_rolls_back_alone() {
    use std::future::Future;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), &dedup()).unwrap();
    store
        .call(|db| db.sync_feeds(&[feed("a", 0), feed("b", 10), feed("c", 20)]))
        .await
        .unwrap();
    // Hold the thread in a job until the writes below are queued behind it.
    let (release, hold) = hold_thread(&store).await;
    let ingest_job = |feed: &'static str, e: Entry| {
        move |db: &mut Db| {
            db.ingest(
                &FeedId(feed.into()),
                &format!("https://{feed}.example/rss"),
                &[e],
                &FetchMeta::default(),
                t(0),
                None,
            )
        }
    };
    let mut writes = vec![
        Box::pin(store.write(ingest_job(
            "a",
            entry("a1", "Harbour reopens", "https://n.example/h"),
        )))
            as std::pin::Pin<Box<dyn Future<Output = Result<IngestStats, StoreError>> + Send>>,
        Box::pin(store.write(ingest_job(
            "b",
            entry(PANIC_KEY, "Poison", "https://n.example/p"),
        ))),
        Box::pin(
            store.write(|_db| -> Result<IngestStats, StoreError> { panic!("boom in a write") }),
        ),
        Box::pin(store.write(ingest_job(
            "c",
            entry("c1", "Bridge closes", "https://n.example/b"),
        ))),
    ];
    // Polled once, each write is sent (and then waits for its answer).
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for w in &mut writes {
        assert!(w.as_mut().poll(&mut cx).is_pending());
    }
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    let mut results = Vec::new();
    for w in writes {
        results.push(w.await);
    }
    assert_eq!(results[0].as_ref().unwrap().new, 1);
    assert!(
        matches!(&results[1], Err(StoreError::Internal(m)) if m.contains(PANIC_KEY)),
        "{:?}",
        results[1].as_ref().err()
    );
    assert!(matches!(&results[2], Err(StoreError::Internal(_))));
    assert_eq!(results[3].as_ref().unwrap().new, 1);
    assert_eq!(
        store.batches_committed(),
        1,
        "the four writes shared one commit"
    );
    // What the good writes stored is committed and searchable; the failed ones left nothing.
    let (titles, found) = store
        .call(|db| {
            let titles: Vec<String> = db
                .all_stories()?
                .iter()
                .map(|s| s.representative().title.clone())
                .collect();
            let found = db.search("bridge", 10, 0)?.len();
            Ok((titles, found))
        })
        .await
        .unwrap();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Harbour reopens".to_owned()), "{titles:?}");
    assert!(titles.contains(&"Bridge closes".to_owned()), "{titles:?}");
    assert_eq!(found, 1);
    // A later write is its own batch, and the reader sees it once answered.
    store
        .write(ingest_job(
            "a",
            entry("a2", "Ferry resumes", "https://n.example/f"),
        ))
        .await
        .unwrap();
    assert_eq!(store.batches_committed(), 2);
    let read = store
        .read(|db| Ok(db.search("ferry", 10, 0)?.len()))
        .await
        .unwrap();
    assert_eq!(read, 1);
}

#[test]
fn a_stored_non_web_link_is_never_read_back_for_output() {
    // Items stored before parsing dropped such links (or written by other tools) keep them in
    // the table, but stories never carry them to an output.
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let mut e = entry("a1", "Scripted", "https://n.example/s");
    e.link = Some("javascript:alert(1)".into());
    ingest(
        &mut db,
        "a",
        &[e, entry("a2", "Fine", "https://n.example/f")],
        t(0),
    );
    let links: Vec<Option<String>> = db
        .all_stories()
        .unwrap()
        .iter()
        .flat_map(|s| s.members.iter().map(|m| m.link.clone()))
        .collect();
    assert_eq!(links.len(), 2);
    assert!(links.contains(&None), "{links:?}");
    assert!(
        links.contains(&Some("https://n.example/f".into())),
        "{links:?}"
    );
}

#[test]
fn stories_are_dated_and_ordered_by_their_earliest_member_not_by_first_sight() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    // Current news first seen now…
    let mut fresh = entry("a1", "Fresh news", "https://n.example/fresh");
    fresh.published = Some(t(60));
    ingest(&mut db, "a", &[fresh], t(61));
    // …then a feed added later with an old backlog: seen later, published long before.
    let mut old = entry("b1", "Old backlog item", "https://n.example/old");
    old.published = Some(t(-60 * 24 * 30));
    ingest(&mut db, "b", &[old], t(62));
    let latest = db.latest_stories(10, None).unwrap();
    let titles: Vec<&str> = latest
        .iter()
        .map(|s| s.representative().title.as_str())
        .collect();
    assert_eq!(titles, ["Fresh news", "Old backlog item"]);
    assert_eq!(latest[1].published, t(-60 * 24 * 30));
    // A member that joins with an earlier date of its own moves the story's date back.
    let mut earlier = entry("b2", "Fresh news again", "https://n.example/fresh");
    earlier.published = Some(t(30));
    ingest(&mut db, "b", &[earlier], t(63));
    let story_of = |db: &Db, members: usize| {
        db.latest_stories(10, None)
            .unwrap()
            .into_iter()
            .find(|s| s.members.len() == members)
            .unwrap()
    };
    let story = story_of(&db, 2);
    assert_eq!(story.published, t(30));
    assert_eq!(story.first_seen, t(61));
    // A later member leaves the date where it is, and the story counts as updated.
    db.sync_feeds(&[feed("a", 0), feed("b", 10), feed("c", 5)])
        .unwrap();
    let mut later = entry("c1", "Fresh news, later", "https://n.example/fresh");
    later.published = Some(t(90));
    ingest(&mut db, "c", &[later], t(95));
    let story = story_of(&db, 3);
    assert_eq!(story.published, t(30));
    assert_eq!(story.updated, t(95));
}

#[tokio::test]
async fn health_is_answered_at_once_while_a_job_runs_and_fails_only_on_a_stall() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), &dedup()).unwrap();
    assert!(store.health().is_ok(), "idle is healthy");
    // A long job holds the thread; more jobs queue behind it.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let busy = store.clone();
    let long_job = tokio::spawn(async move {
        busy.call(move |_| {
            let _ = wait.recv();
            Ok(())
        })
        .await
    });
    let queued = store.clone();
    let queued_job = tokio::spawn(async move { queued.call(|db| db.ping()).await });
    while store.progress.pending.load(Ordering::Relaxed) < 2 {
        tokio::task::yield_now().await;
    }
    // Health does not wait in the queue: it answers now, and says "busy, not stalled"…
    assert!(store.health().is_ok());
    // …unless no job has finished for longer than the stall limit.
    let stalled = store.health_within(std::time::Duration::ZERO);
    assert!(
        matches!(stalled, Err(StoreError::Stalled { pending: 2, .. })),
        "{stalled:?}"
    );
    release.send(()).unwrap();
    long_job.await.unwrap().unwrap();
    queued_job.await.unwrap().unwrap();
    // A job's caller hears of it a moment before the thread counts it done.
    while store.progress.pending.load(Ordering::Relaxed) > 0 {
        tokio::task::yield_now().await;
    }
    assert!(
        store.health_within(std::time::Duration::ZERO).is_ok(),
        "idle again"
    );
    store.close().await;
    assert!(matches!(store.health(), Err(StoreError::Closed)));
}

/// An entry with a body, published at `at`.
fn news(key: &str, title: &str, body: &str, at: DateTime<Utc>) -> Entry {
    let mut e = entry(key, title, &format!("https://n.example/{key}"));
    e.text = body.into();
    e.published = Some(at);
    e.content_hash = crate::model::hex_digest(&[title, body]);
    e
}

const BODY: &str = "The central bank raised its benchmark rate by a quarter point on Thursday, \
    citing persistent inflation in services and a tight labour market, and signalled that \
    further increases remained possible at the December meeting.";

#[test]
fn the_index_is_not_built_at_open_and_the_first_ingest_that_needs_it_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    let first = [
        news("a1", "Central bank raises rates again", BODY, now),
        news(
            "a2",
            "Ferry service resumes after storm",
            "Boats sail again.",
            now,
        ),
    ];
    ingest(&mut db, "a", &first, now);
    assert_eq!(db.near.len(), 2);
    drop(db);

    let mut db = open(&dir);
    assert_eq!(db.near.len(), 0, "opening must not build the index");
    // A re-read with nothing new needs no lookup, so no index.
    let s = ingest(&mut db, "a", &first, now);
    assert_eq!((s.unchanged, db.near.len()), (2, 0));
    // The same wire copy from another outlet: the ingest loads the index, then matches.
    let copy = news("b1", "Rates raised by a quarter point", BODY, now);
    let s = ingest(&mut db, "b", &[copy], now);
    assert_eq!((s.new, s.merged_by_text), (1, 1));
    assert_eq!(db.near.len(), 3);
    assert_eq!(db.index_load, IndexLoad::Done);
}

#[test]
fn loading_in_chunks_indexes_every_item_of_the_window_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    let entries: Vec<Entry> = (0..7)
        .map(|i| {
            news(
                &format!("a{i}"),
                &format!("Story number {i} of the day"),
                "",
                now,
            )
        })
        .collect();
    ingest(&mut db, "a", &entries, now);
    // One item outside the window is never indexed.
    let old = news(
        "a-old",
        "An old story",
        "",
        now - chrono::Duration::days(30),
    );
    ingest(&mut db, "a", &[old], now);
    drop(db);

    let mut db = open(&dir);
    let mut chunks = 0;
    while db.index_load != IndexLoad::Done {
        Db::index_chunk(&db.conn, &mut db.near, &mut db.index_load, 3).unwrap();
        chunks += 1;
        // An item stored by URL while the load is under way is left to the load.
        if chunks == 1 {
            let same = entry("b1", "Story number 0 of the day", "https://n.example/a0");
            let mut same = same;
            same.published = Some(now);
            let s = ingest(&mut db, "b", &[same], now);
            assert_eq!((s.new, s.merged), (1, 1));
        }
    }
    assert_eq!(chunks, 3, "8 items of the window in chunks of 3");
    assert_eq!(
        db.near.len(),
        8,
        "7 items, the one added during the load, once each"
    );
}

#[tokio::test]
async fn reads_are_answered_while_the_writer_is_busy_and_see_what_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("w.db"), &dedup()).unwrap();
    store
        .call(|db| db.sync_feeds(&[feed("a", 0)]))
        .await
        .unwrap();
    let now = Utc::now();
    let first = news(
        "a1",
        "Ferry service resumes after storm",
        "Boats sail again.",
        now,
    );
    store
        .call(move |db| {
            db.ingest(
                &FeedId("a".into()),
                "u",
                &[first],
                &FetchMeta::default(),
                now,
                None,
            )
        })
        .await
        .unwrap();
    // The writer is held by a long job…
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let busy = store.clone();
    let long_job = tokio::spawn(async move {
        busy.call(move |_| {
            let _ = wait.recv();
            Ok(())
        })
        .await
    });
    while store.progress.pending.load(Ordering::Relaxed) < 1 {
        tokio::task::yield_now().await;
    }
    // …and a read is answered meanwhile, with the committed story.
    let stories = store.read(|db| db.latest_stories(10, None)).await.unwrap();
    assert_eq!(stories.len(), 1);
    // A read job cannot write.
    let write = store
        .read(|db| Ok(db.conn().execute("DELETE FROM items", [])?))
        .await;
    assert!(write.is_err(), "{write:?}");
    release.send(()).unwrap();
    long_job.await.unwrap().unwrap();
    store.close().await;
    assert!(matches!(
        store.read(|db| db.ping()).await,
        Err(StoreError::Closed)
    ));
}

fn search_titles(db: &Db, q: &str) -> Vec<String> {
    db.search(q, 20, 0)
        .unwrap()
        .into_iter()
        .map(|s| s.representative().title.clone())
        .collect()
}

#[test]
fn search_finds_stories_in_any_script_keeps_in_step_and_survives_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    ingest(
        &mut db,
        "a",
        &[
            news(
                "e1",
                "Earthquake strikes off Hokkaido",
                "A magnitude 6.1 quake hit northern Japan.",
                now,
            ),
            news(
                "k1",
                "북한군 미사일 발사",
                "합동참모본부는 북한이 동해상으로 탄도미사일을 발사했다고 밝혔다.",
                now,
            ),
            news(
                "j1",
                "東京で地震",
                "気象庁によると、東京都内で震度４の揺れを観測した。",
                now,
            ),
            news("c1", "上海股市大涨", "上海证券交易所今日收盘上涨。", now),
            news(
                "p1",
                "Rail strike ends",
                "Talks on the rail strike ended with a deal.",
                now,
            ),
        ],
        now,
    );
    assert_eq!(
        search_titles(&db, "earthquake"),
        ["Earthquake strikes off Hokkaido"]
    );
    assert_eq!(
        search_titles(&db, "Japan quake"),
        ["Earthquake strikes off Hokkaido"]
    );
    assert_eq!(search_titles(&db, "미사일"), ["북한군 미사일 발사"]);
    assert_eq!(search_titles(&db, "북한"), ["북한군 미사일 발사"]);
    assert_eq!(search_titles(&db, "地震"), ["東京で地震"]);
    assert_eq!(search_titles(&db, "上海"), ["上海股市大涨"]);
    assert_eq!(search_titles(&db, "\"rail strike\""), ["Rail strike ends"]);
    assert!(
        search_titles(&db, "\"strike rail\"").is_empty(),
        "a phrase keeps its order"
    );
    assert!(
        search_titles(&db, "earthquake rail").is_empty(),
        "every word must match"
    );
    assert!(search_titles(&db, "the").is_empty());

    // A revision is searched by its new text only.
    let revised = news(
        "p1",
        "Rail strike called off",
        "Unions and operators signed an agreement.",
        now,
    );
    ingest(&mut db, "a", &[revised], now);
    assert_eq!(search_titles(&db, "agreement"), ["Rail strike called off"]);
    assert!(search_titles(&db, "deal").is_empty());

    // An item deleted (retention, or anything else) is gone from search.
    db.conn()
        .execute("DELETE FROM items WHERE key = 'c1'", [])
        .unwrap();
    assert!(search_titles(&db, "上海").is_empty());

    // A database from before the search index is indexed when it is opened.
    db.conn().execute("DELETE FROM items_fts", []).unwrap();
    db.conn()
        .pragma_update(None, "user_version", schema::SEARCH_VERSION - 1)
        .unwrap();
    db.conn()
        .execute_batch(
            "DROP TRIGGER items_fts_delete; DROP TABLE items_fts;
             DROP TABLE notifications; DROP TABLE notify_targets;
             DROP INDEX items_full_text_pending; ALTER TABLE items DROP COLUMN full_text;
             ALTER TABLE feeds DROP COLUMN full_text_enriched;
             ALTER TABLE feeds DROP COLUMN full_text_failed;
             ALTER TABLE feeds DROP COLUMN full_text_error;
             DROP TABLE websub; DROP TABLE story_aliases;",
        )
        .unwrap();
    drop(db);
    let db = open(&dir);
    assert_eq!(search_titles(&db, "地震"), ["東京で地震"]);
    // The index made by the upgrade is tuned as a new one is.
    assert_eq!(fts_hashsize(&db), Some(4 << 20));
}

#[test]
fn notifications_are_owed_once_per_new_story_and_again_on_more_outlets() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let now = Utc::now();
    let old = now - chrono::Duration::hours(3);
    let s = |id: &str, n: i64, at| (id.to_owned(), n, at);
    // Published before the target was configured: not news, now or later.
    assert_eq!(
        db.note_output_stories("t", &[s("a", 1, old)], false, now)
            .unwrap(),
        0
    );
    assert_eq!(
        db.note_output_stories("t", &[s("a", 1, old)], false, now)
            .unwrap(),
        0
    );
    assert!(db.owed_messages("t", now, 10).unwrap().is_empty());
    // A new story is owed once, however often it is seen.
    assert_eq!(
        db.note_output_stories("t", &[s("a", 1, old), s("b", 1, now)], false, now)
            .unwrap(),
        1
    );
    assert_eq!(
        db.note_output_stories("t", &[s("b", 1, now)], false, now)
            .unwrap(),
        0
    );
    let owed = db.owed_messages("t", now, 10).unwrap();
    assert_eq!(
        owed.iter().map(|o| o.story_id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    // A failure postpones it; delivery settles it.
    db.message_failed("t", "b", "HTTP 503", now + chrono::Duration::seconds(5))
        .unwrap();
    assert!(db.owed_messages("t", now, 10).unwrap().is_empty());
    let later = now + chrono::Duration::seconds(6);
    assert_eq!(db.owed_messages("t", later, 10).unwrap()[0].attempts, 1);
    db.message_sent("t", "b", 1, later).unwrap();
    assert!(db.owed_messages("t", later, 10).unwrap().is_empty());
    // More outlets: owed again only with on = "outlets".
    assert_eq!(
        db.note_output_stories("t", &[s("b", 3, now)], false, later)
            .unwrap(),
        0
    );
    assert_eq!(db.note_output_stories("u", &[], true, now).unwrap(), 0);
    assert_eq!(
        db.note_output_stories("u", &[s("b", 1, now)], true, later)
            .unwrap(),
        1
    );
    db.message_sent("u", "b", 1, later).unwrap();
    assert_eq!(
        db.note_output_stories("u", &[s("b", 2, now)], true, later)
            .unwrap(),
        1
    );
    assert_eq!(db.owed_messages("u", later, 10).unwrap()[0].outlets, 2);
    db.message_failed("u", "b", "HTTP 500", later).unwrap();
    let summary = db.notify_summary().unwrap();
    assert_eq!(
        summary
            .iter()
            .map(|n| (n.target.as_str(), n.owed, n.sent, n.last_error.as_deref()))
            .collect::<Vec<_>>(),
        [("t", 0, 1, None), ("u", 1, 0, Some("HTTP 500"))]
    );
}

/// The wire copy of the full-text fixture, as paragraphs.
fn wire_copy() -> String {
    include_str!("../../tests/fixtures/articles/standard.expected.txt").replace('\n', " ")
}

#[test]
fn an_item_alone_for_lack_of_text_joins_the_story_its_article_matches() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let mut wire = entry(
        "a1",
        "Bank of Korea keeps key rate at 3.25 pct",
        "https://a.example/1",
    );
    wire.text = wire_copy();
    ingest(&mut db, "a", &[wire], t(0));
    // A headline only, in other words: no match, a story of its own, waiting for its article.
    let daily = entry("b1", "Central bank stands pat", "https://b.example/1");
    let meta = FetchMeta {
        full_text_below: Some(400),
        ..FetchMeta::default()
    };
    let s = db
        .ingest(
            &FeedId("b".into()),
            "https://b.example/rss",
            &[daily],
            &meta,
            t(1),
            None,
        )
        .unwrap();
    assert_eq!((s.new, s.merged), (1, 0));
    let due = db.full_text_due(&FeedId("b".into()), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].link, "https://b.example/1");
    let stories_before = db.all_stories().unwrap();
    assert_eq!(stories_before.len(), 2);
    let own = stories_before
        .iter()
        .find(|s| s.members.iter().any(|m| m.feed == "b"))
        .unwrap()
        .id
        .clone();

    let html = format!("<p>{}</p>", wire_copy());
    let done = db
        .full_text_store(due[0].item_id, &html, &wire_copy(), t(2))
        .unwrap();
    let Enriched::Stored { moved_to: Some(to) } = done else {
        panic!("the item should have joined the wire's story: {done:?}");
    };
    let stories = db.all_stories().unwrap();
    assert_eq!(stories.len(), 1, "its own story is gone");
    assert_eq!(stories[0].id.0, to);
    assert_ne!(to, own.0);
    assert_eq!(stories[0].members.len(), 2);
    // Searchable by the article's words; tried once: nothing waits, a second store is refused.
    assert_eq!(db.search("unanimously", 10, 0).unwrap().len(), 1);
    assert!(
        db.full_text_due(&FeedId("b".into()), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.full_text_store(due[0].item_id, "<p>x</p>", "x", t(3))
            .unwrap(),
        Enriched::NotWaiting
    );
    // A revision from the feed that sends less keeps the article's text.
    let mut revised = entry(
        "b1",
        "Central bank stands pat (updated)",
        "https://b.example/1",
    );
    revised.content_hash = "changed".into();
    ingest(&mut db, "b", &[revised], t(4));
    let text: String = db
        .conn()
        .query_row("SELECT text FROM items WHERE key = 'b1'", [], |r| r.get(0))
        .unwrap();
    assert!(text.contains("voted unanimously"), "{text}");
}

#[test]
fn a_failed_page_is_counted_once_and_never_due_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    let meta = FetchMeta {
        full_text_below: Some(400),
        ..FetchMeta::default()
    };
    let mut long = entry("a2", "Long enough", "https://a.example/2");
    long.text = "word ".repeat(100);
    let no_link = Entry {
        link: None,
        canonical_url: None,
        ..entry("a3", "No link", "https://a.example/3")
    };
    let entries = [entry("a1", "Short", "https://a.example/1"), long, no_link];
    db.ingest(
        &FeedId("a".into()),
        "https://a.example/rss",
        &entries,
        &meta,
        t(0),
        None,
    )
    .unwrap();
    let due = db.full_text_due(&FeedId("a".into()), 10).unwrap();
    assert_eq!(
        due.len(),
        1,
        "only the short item with a link waits: {due:?}"
    );
    db.full_text_failed(due[0].item_id, "HTTP 404 from https://a.example/1")
        .unwrap();
    db.full_text_failed(due[0].item_id, "again").unwrap();
    assert!(
        db.full_text_due(&FeedId("a".into()), 10)
            .unwrap()
            .is_empty()
    );
    let h = db.feed_health().unwrap();
    let a = h.iter().find(|h| h.id == "a").unwrap();
    assert_eq!((a.full_text_enriched, a.full_text_failed), (0, 1));
    assert_eq!(
        a.full_text_error.as_deref(),
        Some("HTTP 404 from https://a.example/1")
    );
}

#[test]
fn retention_takes_items_out_of_search_and_a_backup_searches_like_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    let old = now - chrono::Duration::days(40);
    // Stored 40 days ago (retention goes by when a story last changed), and now.
    let season = "The last typhoon of the season passed.";
    ingest(
        &mut db,
        "a",
        &[news("old", "Typhoon season ends", season, old)],
        old,
    );
    let warning = "A typhoon is expected on Friday.";
    ingest(
        &mut db,
        "a",
        &[news("new", "Typhoon warning issued", warning, now)],
        now,
    );
    assert_eq!(search_titles(&db, "typhoon").len(), 2);
    let pruned = db.prune(30, now).unwrap();
    assert_eq!(pruned.items, 1);
    assert_eq!(search_titles(&db, "typhoon"), ["Typhoon warning issued"]);
    assert!(search_titles(&db, "season").is_empty());
    let fts_rows: i64 = db
        .conn()
        .query_row("SELECT COUNT(*) FROM items_fts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fts_rows, 1, "no index row outlives its item");

    // A backup restored in place of the database answers the same searches.
    let copy = dir.path().join("copy.db");
    housekeeping::backup(&dir.path().join("w.db"), &copy).unwrap();
    drop(db);
    std::fs::remove_file(dir.path().join("w.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("w.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("w.db-shm"));
    std::fs::rename(&copy, dir.path().join("w.db")).unwrap();
    let db = open(&dir);
    assert_eq!(search_titles(&db, "typhoon"), ["Typhoon warning issued"]);
    assert!(search_titles(&db, "season").is_empty());
}

#[test]
fn one_story_told_twice_is_merged_into_the_older_with_an_alias() {
    let dir = tempfile::tempdir().unwrap();
    // Two outlets' copies stored while the near-duplicate layer was off: two stories.
    let mut db = Db::open(
        &dir.path().join("w.db"),
        &DedupConfig {
            near_duplicates: false,
            ..dedup()
        },
    )
    .unwrap();
    db.sync_feeds(&[feed("a", 0), feed("b", 0), feed("c", 0)])
        .unwrap();
    let now = Utc::now();
    let older = now - chrono::Duration::minutes(30);
    ingest(
        &mut db,
        "a",
        &[news("a1", "Central bank raises rates again", BODY, older)],
        older,
    );
    ingest(
        &mut db,
        "b",
        &[news(
            "b1",
            "Rates up a quarter point as inflation lingers",
            BODY,
            now,
        )],
        now,
    );
    let before = db.all_stories().unwrap();
    assert_eq!(before.len(), 2);
    let id_of = |stories: &[Story], feed: &str| {
        stories
            .iter()
            .find(|s| s.members.iter().any(|m| m.feed == feed))
            .unwrap()
            .id
            .0
            .clone()
    };
    let (story_a, story_b) = (id_of(&before, "a"), id_of(&before, "b"));
    // Something was owed for the younger one.
    db.conn()
        .execute(
            "INSERT INTO notifications (notify_id, story_id, outlets, state, next_attempt, created)
             VALUES ('t', ?1, 1, 'pending', 0, 0)",
            [&story_b],
        )
        .unwrap();
    db.set_dedup_config(dedup()).unwrap();
    // A third outlet's copy matches both: one story, the older one's id.
    let s = ingest(
        &mut db,
        "c",
        &[news(
            "c1",
            "Bank lifts key rate by 25 basis points",
            BODY,
            now,
        )],
        now,
    );
    assert_eq!((s.new, s.merged), (1, 1));
    let after = db.all_stories().unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id.0, story_a);
    assert_eq!(after[0].members.len(), 3);
    // The absorbed id resolves to the survivor, with what bridged them.
    assert_eq!(db.resolve_story(&story_b).unwrap(), story_a);
    assert_eq!(db.resolve_story(&story_a).unwrap(), story_a);
    let merges = db.merges_into(&story_a).unwrap();
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].absorbed, story_b);
    assert!(merges[0].score.unwrap() >= crate::dedup::STRONG_MATCH);
    // What was owed is owed for the survivor.
    let owed: String = db
        .conn()
        .query_row("SELECT story_id FROM notifications", [], |r| r.get(0))
        .unwrap();
    assert_eq!(owed, story_a);
    // Later copies join the survivor.
    let s = ingest(
        &mut db,
        "c",
        &[news(
            "c2",
            "Rates raised again by the central bank",
            BODY,
            now,
        )],
        now,
    );
    assert_eq!(s.merged, 1);
    assert_eq!(db.all_stories().unwrap().len(), 1);
    // Retention takes the aliases with the story.
    db.prune(30, now + chrono::Duration::days(31)).unwrap();
    assert_eq!(db.resolve_story(&story_b).unwrap(), story_b);
}

#[test]
fn explain_near_says_why_candidates_did_or_did_not_join() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    db.sync_feeds(&[feed("a", 0), feed("b", 0), feed("c", 0), feed("d", 0)])
        .unwrap();
    let now = Utc::now();
    let close = "Shares in Seoul closed higher as chip makers rallied and foreign investors \
        bought heavily, while the won firmed against the dollar in thin trade on the day.";
    ingest(
        &mut db,
        "a",
        &[news("a1", "Central bank raises rates again", BODY, now)],
        now,
    );
    ingest(
        &mut db,
        "b",
        &[news("b1", "Stocks close higher, March 5", close, now)],
        now,
    );
    ingest(
        &mut db,
        "c",
        &[news("c1", "Stocks close higher, March 6", close, now)],
        now,
    );
    ingest(
        &mut db,
        "d",
        &[news("d1", "Rates raised again, bank says", BODY, now)],
        now,
    );
    let id = |key: &str| -> i64 {
        db.conn()
            .query_row("SELECT id FROM items WHERE key = ?1", [key], |r| r.get(0))
            .unwrap()
    };
    let why = |near: &crate::store::Near, item: i64| -> String {
        near.candidates
            .iter()
            .find(|c| c.found.item_id == item)
            .map(|c| c.found.why.clone())
            .unwrap_or_else(|| format!("not a candidate: {near:?}"))
    };
    let c1 = db
        .explain_near(&id("c1").to_string(), &dedup(), 10)
        .unwrap()
        .unwrap();
    assert_eq!(c1.title, "Stocks close higher, March 6");
    assert!(why(&c1, id("b1")).contains("different days"), "{c1:?}");
    let d1 = db
        .explain_near(&id("d1").to_string(), &dedup(), 10)
        .unwrap()
        .unwrap();
    assert_eq!(why(&d1, id("a1")), "in the same story");
    // By story id: its first member.
    let story = d1.story_id.clone();
    let by_story = db.explain_near(&story, &dedup(), 10).unwrap().unwrap();
    assert_eq!(by_story.item_id, id("a1"));
    assert!(
        db.explain_near("s0000000000000000", &dedup(), 10)
            .unwrap()
            .is_none()
    );
}

#[test]
fn items_of_one_fetch_are_compared_with_each_other_and_a_failed_refresh_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    // A pool listing one wire copy under two publishers, in one fetch: one story.
    let pool = [
        news(
            "a1",
            "Central bank raises rates again - Daily One",
            BODY,
            now,
        ),
        news(
            "a2",
            "Central bank raises rates again - Daily Two",
            BODY,
            now,
        ),
    ];
    let s = ingest(&mut db, "a", &pool, now);
    assert_eq!((s.new, s.merged_by_text), (2, 1));
    assert_eq!(db.all_stories().unwrap().len(), 1);
    assert_eq!(db.near.len(), 2);
    // A refresh that fails after the index learnt of its first item: the index is rebuilt
    // from what is committed, so the lost item is never matched.
    let lost = news(
        "a3",
        "Ferry service resumes after the storm",
        "Boats sail again on the \
        northern route after three days of gales kept them in harbour.",
        now,
    );
    let mut bad = entry(PANIC_KEY, "Poison", "https://n.example/p");
    bad.published = Some(now);
    assert!(
        db.ingest(
            &FeedId("a".into()),
            "https://a.example/rss",
            &[lost.clone(), bad],
            &FetchMeta::default(),
            now,
            None
        )
        .is_err()
    );
    assert!(db.needs_recovery);
    db.recover();
    assert_eq!(db.near.len(), 2, "the index holds only what is stored");
    drop(db);

    // Reopened (index not loaded): the first entry joins by URL without the index, the second
    // makes the ingest load it part-way through the refresh; each item is indexed once.
    let mut db = open(&dir);
    let same_url = news("b1", "Rates up again", "Another text entirely.", now);
    let mut same_url = same_url;
    same_url.link = Some("https://n.example/a1".into());
    same_url.canonical_url = crate::normalise::canonical_url("https://n.example/a1", None);
    let s = ingest(&mut db, "b", &[same_url, lost], now);
    assert_eq!(s.new, 2);
    assert_eq!(db.near.len(), 4);
}

#[test]
fn cached_statements_are_not_re_prepared_and_same_url_finds_the_earliest_item() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let mut db = open(&dir);
    for round in 0..3 {
        let entries: Vec<Entry> = (0..20)
            .map(|i| {
                news(
                    &format!("k{round}-{i}"),
                    &format!("Item {i} of round {round}"),
                    "",
                    now,
                )
            })
            .collect();
        ingest(&mut db, "a", &entries, now);
    }
    let st = db.conn.prepare_cached(SAME_URL_SQL).unwrap();
    assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
    drop(st);
    let plan: String = db
        .conn
        .query_row(&format!("EXPLAIN QUERY PLAN {SAME_URL_SQL}"), ["x"], |r| {
            r.get(3)
        })
        .unwrap();
    assert!(
        plan.contains("items_canonical_url") && !plan.contains("TEMP"),
        "{plan}"
    );
    // Two items at one URL: the earlier is the one found.
    let mut again = news("b1", "Item 1 of round 0, again", "", now);
    again.link = Some("https://n.example/k0-1".into());
    again.canonical_url = crate::normalise::canonical_url("https://n.example/k0-1", None);
    let s = ingest(&mut db, "b", &[again.clone()], now);
    assert_eq!(s.merged, 1);
    let first: i64 = db
        .conn
        .query_row(
            "SELECT min(id) FROM items WHERE canonical_url = ?1",
            [again.canonical_url.as_deref()],
            |r| r.get(0),
        )
        .unwrap();
    let join_ref: i64 = db
        .conn
        .query_row("SELECT join_ref FROM items WHERE key = 'b1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(join_ref, first);
}

#[test]
fn the_database_lock_is_let_go_even_while_a_starting_process_shares_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let lock = lock_database(&path).unwrap();
    assert!(
        matches!(lock_database(&path), Err(StoreError::Locked { .. })),
        "held"
    );
    // What a process forked at this moment holds until its exec: the same open file.
    let twin = lock.0.try_clone().unwrap();
    drop(lock);
    assert!(
        lock_database(&path).is_ok(),
        "free again although the twin descriptor is still open"
    );
    drop(twin);
}

/// A store whose WAL only starts over by the writer's wait between batches (the commit hook
/// never asks for a checkpoint), once it holds 16 pages; with a table `bulk` made by `sql`.
async fn bulk_store(path: &std::path::Path, sql: &'static str) -> Store {
    let store = Store::open(path, &dedup()).unwrap();
    store
        .call(move |db| {
            db.set_checkpoint_pages(i32::MAX, 16);
            Ok(db.conn.execute_batch(sql)?)
        })
        .await
        .unwrap();
    store
}

/// One batch of about 11 pages.
async fn write_bulk(store: &Store) {
    store
        .write(|db| {
            Ok(db
                .conn
                .execute("INSERT INTO bulk VALUES (zeroblob(40000))", [])?)
        })
        .await
        .unwrap();
}

async fn bulk_rows(store: &Store) -> i64 {
    store
        .call(|db| {
            Ok(db
                .conn
                .query_row("SELECT COUNT(*) FROM bulk", [], |r| r.get(0))?)
        })
        .await
        .unwrap()
}

/// Bytes of a WAL frame (a 4 KiB page and its header).
const FRAME: u64 = 4096 + 24;

#[tokio::test]
async fn the_wal_starts_over_during_a_long_run_of_batches_instead_of_growing_with_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = bulk_store(&dir.path().join("w.db"), "CREATE TABLE bulk (x BLOB)").await;
    // What opening the database (migrations) left in the WAL.
    let wal = dir.path().join("w.db-wal");
    let opened = std::fs::metadata(&wal).unwrap().len();
    let mut largest = 0;
    for _ in 0..100 {
        // 100 batches are ~1,100 pages if the WAL never starts over.
        write_bulk(&store).await;
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest <= opened + (16 + 2 * 12) * FRAME,
        "the WAL grew from {opened} to {largest} bytes ({} frames)",
        largest / FRAME
    );
    assert_eq!(bulk_rows(&store).await, 100, "every batch's row is stored");
}

#[tokio::test]
async fn a_reader_holding_an_old_snapshot_only_delays_the_wal_starting_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let sql = "CREATE TABLE bulk (x BLOB); INSERT INTO bulk VALUES (1);";
    let store = bulk_store(&path, sql).await;
    // A reader in the middle of a read: no checkpoint may fold back what it does not see.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let count = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT COUNT(*) FROM bulk", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&reader), 1);
    let wal = dir.path().join("w.db-wal");
    for _ in 0..30 {
        write_bulk(&store).await;
    }
    let pinned = std::fs::metadata(&wal).unwrap().len();
    assert!(
        pinned > 30 * 10 * FRAME,
        "the WAL grew while the reader held its snapshot ({pinned} bytes)"
    );
    assert_eq!(count(&reader), 1, "the reader's snapshot is intact");
    reader.execute_batch("COMMIT").unwrap();
    // The next batch still goes to the WAL's end (its wait is the first to fold everything
    // back); from then on the WAL starts over: 60 more batches (~660 pages) add nothing.
    for _ in 0..60 {
        write_bulk(&store).await;
    }
    let after = std::fs::metadata(&wal).unwrap().len();
    assert!(
        after <= pinned + 2 * 12 * FRAME,
        "the WAL grew from {pinned} to {after} bytes after the reader was done"
    );
    assert_eq!(bulk_rows(&store).await, 91, "every batch's row is stored");
}

#[test]
fn a_long_prune_lets_the_wal_start_over_between_its_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = open(&dir);
    // 1,200 stories to prune: three transactions of at most 500.
    db.conn()
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
             INSERT INTO stories (id, first_seen, updated, published) SELECT 's' || i, 0, 0, 0 FROM n;",
        )
        .unwrap();
    db.set_checkpoint_pages(i32::MAX, 1);
    let before = db.restart_waits();
    let pruned = db.prune(30, t(0) + chrono::Duration::days(31)).unwrap();
    assert_eq!(pruned.stories, 1200);
    assert!(
        db.restart_waits() >= before + 3,
        "the prune waited for {} checkpoints between its transactions",
        db.restart_waits() - before
    );
}
