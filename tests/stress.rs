//! The database under load from every side at once: a heavy ingest on the store thread while
//! other connections read (as `status`, `stories` and sqlite3 do) and online backups run; then
//! the database and every backup must pass `PRAGMA integrity_check` and hold what was stored.
//! (Once, in a benchmark run with concurrent readers, the next open said "database disk image
//! is malformed"; this is the test that would catch it again.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::Utc;
use wiredesk::config::FeedId;
use wiredesk::parse::parse_feed;
use wiredesk::store::{FetchMeta, Store};

const FEEDS: usize = 24;
const ITEMS: usize = 40;

fn integrity(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).expect("open for the check");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_with_concurrent_readers_and_backups_leaves_every_copy_intact() {
    let dir = tempfile::tempdir().unwrap();
    let feeds: Vec<(String, String)> = (0..FEEDS)
        .map(|f| (format!("f{f}"), format!("http://127.0.0.1:9/f{f}.xml")))
        .collect();
    let refs: Vec<(&str, String)> = feeds.iter().map(|(a, b)| (a.as_str(), b.clone())).collect();
    let config = common::config(dir.path(), &refs);
    let path = config.storage.database_path();
    let store = Store::open(&path, &config.dedup).unwrap();
    let configured = config.feeds.clone();
    store
        .call(move |db| db.sync_feeds(&configured))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    // Two readers on connections of their own, reading what the admin commands read.
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, reads, path) = (stop.clone(), reads.clone(), path.clone());
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let n: i64 = conn
                        .query_row(
                            "SELECT COUNT(*) FROM stories s JOIN items i ON i.story_id = s.id",
                            [],
                            |r| r.get(0),
                        )
                        .unwrap();
                    assert!(n >= 0);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Online backups, each checked.
    let backups = {
        let (stop, path, dir) = (stop.clone(), path.clone(), dir.path().to_owned());
        std::thread::spawn(move || {
            let mut made = Vec::new();
            while !stop.load(Ordering::Relaxed) || made.is_empty() {
                let dest = dir.join(format!("backup-{}.db", made.len()));
                if let Err(e) = wiredesk::store::backup(&path, &dest) {
                    panic!("backup {} of {} failed: {e:?}", made.len(), path.display());
                }
                made.push(dest);
            }
            made
        })
    };

    // The heavy ingest: every feed at once, each refresh its own job.
    let now = Utc::now();
    let mut jobs = tokio::task::JoinSet::new();
    for (f, (id, _)) in feeds.iter().enumerate() {
        let items: Vec<(String, String, String, String)> = (0..ITEMS)
            .map(|i| {
                (
                    format!("f{f}-{i}"),
                    format!("Council {f} votes on budget item {i} after long debate"),
                    format!("https://f{f}.example/{i}"),
                    format!("The council of district {f} approved measure {i} by a narrow vote."),
                )
            })
            .collect();
        let refs: Vec<common::Item> = items
            .iter()
            .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str()))
            .collect();
        let parsed = parse_feed(common::rss(id, &refs).as_bytes(), None, None, now).unwrap();
        let (store, id) = (store.clone(), FeedId(id.clone()));
        jobs.spawn(async move {
            store
                .call(move |db| {
                    db.ingest(&id, "u", &parsed.entries, &FetchMeta::default(), now, None)
                })
                .await
        });
    }
    while let Some(done) = jobs.join_next().await {
        assert_eq!(done.unwrap().unwrap().new, ITEMS);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader failed");
    }
    let made = backups.join().expect("a backup failed");
    assert!(reads.load(Ordering::Relaxed) > 0);
    store.close().await;

    assert_eq!(integrity(&path), "ok");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let items: i64 = conn
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(items as usize, FEEDS * ITEMS);
    for b in &made {
        assert_eq!(integrity(b), "ok", "{}", b.display());
    }
}
