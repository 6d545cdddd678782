//! Crash safety: the daemon is killed with SIGKILL at varying moments while it ingests feeds
//! that change on every request, 50 times. After every kill the database passes
//! `PRAGMA integrity_check`, every story committed before the kill is still there, no item is
//! stored twice, and the restarted daemon catches up. The kill moment is chosen by events (a
//! number of refresh log lines drawn per round), not by timers.

mod common;

use std::collections::HashSet;
use std::io::BufRead;
use std::path::Path;

use common::*;

const KILLS: usize = 50;
const FEEDS: usize = 4;

fn snapshot(db: &Path) -> HashSet<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens");
    let mut stmt = conn.prepare("SELECT id FROM stories").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn check(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let (items, distinct): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), (SELECT COUNT(*) FROM (SELECT DISTINCT feed_id, key FROM items)) FROM items",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(items, distinct, "an item stored twice");
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.story_id = s.id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        orphans, 0,
        "a story without members: a half-written refresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_kills_lose_nothing_committed_and_corrupt_nothing() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\n[dedup]\nnear_duplicates = false\n",
        db.display()
    );
    for i in 0..FEEDS {
        let path = format!("/f{i}.xml");
        server.set_growing(&path, &format!("f{i}"));
        text.push_str(&format!(
            "[[feed]]\nid = \"f{i}\"\nurl = \"{}\"\n",
            server.url(&path)
        ));
    }
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(&cfg, text).unwrap();

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut committed: HashSet<String> = HashSet::new();
    tokio::task::spawn_blocking(move || {
        for round in 0..KILLS {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let wait_for = (seed % 4) as usize; // refresh lines to see before the kill
            let mut child = common::daemon_command(env!("CARGO_BIN_EXE_wiredesk"), &cfg, "info")
                .spawn()
                .unwrap();
            let stderr = child.stderr.take().unwrap();
            let mut lines = std::io::BufReader::new(stderr).lines();
            let mut seen = 0;
            let mut started = false;
            for line in lines.by_ref().map_while(Result::ok) {
                started |= line.contains("wiredesk started");
                if line.contains("refreshed") {
                    seen += 1;
                }
                if started && seen >= wait_for {
                    break;
                }
            }
            assert!(started, "round {round}: the daemon did not start");
            // What is committed now must survive the kill.
            if db.exists() {
                committed = snapshot(&db);
            }
            child.kill().unwrap();
            child.wait().unwrap();
            check(&db);
            let after = snapshot(&db);
            let lost: Vec<_> = committed.difference(&after).collect();
            assert!(
                lost.is_empty(),
                "round {round}: committed stories lost: {lost:?}"
            );
            committed = after;
        }
    })
    .await
    .unwrap();
    // Restarted once more, the daemon catches up: every feed is refreshed with new items.
    let cfg2 = dir.path().join("feeds.toml");
    let before = snapshot(&dir.path().join("w.db")).len();
    let config = wiredesk::Config::load(&cfg2).unwrap();
    let (mut daemon, _) = start(config).await;
    let mut rx = Reports::new(daemon.reports());
    for i in 0..FEEDS {
        rx.wait_for(
            &format!("f{i}"),
            |r| matches!(r.outcome, wiredesk::refresh::Outcome::Stored(s) if s.new > 0),
        )
        .await;
    }
    daemon.stop().await;
    assert!(snapshot(&dir.path().join("w.db")).len() > before);
    check(&dir.path().join("w.db"));
}
