//! Faults around the daemon rather than in the feeds: connections that never send a request,
//! a database file deleted or shared while the daemon runs, damaged backups, reloads that
//! would drop every feed, and reload storms. Each is a regression for a fault once found.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::*;
use wiredesk::Config;

fn config_text(dir: &Path, server: &str, feeds: &[(&str, String)]) -> String {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{server}\n[storage]\npath = \"{}\"\n[poll]\nschedule = \"* * * * * *\"\ntimeout = \"5s\"\n",
        dir.join("wiredesk.db").display()
    );
    for (id, url) in feeds {
        text.push_str(&format!("[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
    }
    text
}

/// Whether the server closed `stream` (EOF or reset) within `limit`; false if it is still open.
fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn healthz(addr: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_connections_are_closed_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        dir.path(),
        "max_connections = 4\nheader_timeout = \"2s\"",
        &[],
    );
    let cfg = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (daemon, addr) = start(cfg).await;
    tokio::task::spawn_blocking(move || {
        // Four connections take every slot: two say nothing, two send half a request.
        let mut held: Vec<TcpStream> = (0..4)
            .map(|i| {
                let mut s = TcpStream::connect(addr).unwrap();
                if i % 2 == 1 {
                    s.write_all(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\n")
                        .unwrap();
                }
                s
            })
            .collect();
        // A fifth is closed unanswered while they hold the slots.
        let mut extra = TcpStream::connect(addr).unwrap();
        let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            closed_by_server(&mut extra, Duration::from_secs(30)),
            "a connection over the cap is closed"
        );
        // The held ones are closed by the server after the header timeout...
        for (i, s) in held.iter_mut().enumerate() {
            assert!(
                closed_by_server(s, Duration::from_secs(30)),
                "connection {i} was never closed"
            );
        }
        // ...and the slots serve again (a slot is released just after its socket closes, so
        // the first try may still find it taken).
        let answer = (0..100)
            .find_map(|_| {
                healthz(addr).filter(|a| !a.is_empty()).or_else(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    None
                })
            })
            .expect("the daemon answers again");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // A kept-alive connection that goes idle after a request is closed too.
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 15];
        kept.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200 OK");
        let mut rest = Vec::new();
        kept.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let closed = kept.read_to_end(&mut rest).is_ok();
        assert!(
            closed,
            "an idle kept-alive connection is closed by the server"
        );
    })
    .await
    .unwrap();
    let metrics = get(addr, "/metrics").await.text().await.unwrap();
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wiredesk_http_connections_refused_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "{metrics}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_or_poll_once_on_the_same_database_is_refused() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("a1", "One", "https://n.example/1", "x")])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), "", &[("a", server.url("/a.xml"))]);
    let cfg = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (mut daemon, _addr) = start(cfg.clone()).await;
    let mut rx = Reports::new(daemon.reports());
    rx.wait_for("a", stored).await;
    // In-process second daemon.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = match wiredesk::Daemon::start(cfg, listener).await {
        Ok(_) => panic!("a second daemon started on the same database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("is in use by another wiredesk process"),
        "{err}"
    );
    // poll-once from a shell, beside the running daemon.
    let cfg_path = dir.path().join("feeds.toml");
    std::fs::write(&cfg_path, &text).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
            .env("RUST_LOG", "warn")
            .env_remove("STATE_DIRECTORY")
            .arg("poll-once")
            .arg("--config")
            .arg(&cfg_path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`poll-once` cannot run beside a running daemon"),
        "{stderr}"
    );
    // The daemon's own refreshes carry on unharmed.
    let r = rx
        .wait_for("a", |r| {
            !matches!(r.outcome, wiredesk::refresh::Outcome::Skipped)
        })
        .await;
    assert!(!failed(&r), "{r:?}");
    daemon.stop().await;
    // Once it has stopped, the database is free again.
    let text_again = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (daemon, _) = start(text_again).await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_deleted_under_the_daemon_fails_loudly_and_is_not_written() {
    let server = FixtureServer::start().await;
    server.set_growing("/a.xml", "a");
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), "", &[("a", server.url("/a.xml"))]);
    let cfg = Config::parse(&text, Path::new("t.toml")).unwrap();
    let (mut daemon, addr) = start(cfg).await;
    let mut rx = Reports::new(daemon.reports());
    rx.wait_for("a", stored).await;
    assert_eq!(get(addr, "/healthz").await.status(), 200);
    for side in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("wiredesk.db{side}")));
    }
    let r = rx.wait_for("a", failed).await;
    let wiredesk::refresh::Outcome::Failed(message) = &r.outcome else {
        unreachable!()
    };
    assert!(
        message.contains("was deleted while wiredesk was running"),
        "{message}"
    );
    let health = get(addr, "/healthz").await;
    assert_eq!(health.status(), 503);
    assert!(
        !dir.path().join("wiredesk.db").exists(),
        "nothing recreated it"
    );
    daemon.stop().await;
}

#[test]
fn a_backup_of_a_damaged_database_fails_and_leaves_no_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("w.db");
    {
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=DELETE; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
             CREATE INDEX t_v ON t(v);",
        )
        .unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..5000 {
            tx.execute(
                "INSERT INTO t (v) VALUES (?1)",
                [format!("value {i} {}", "x".repeat(40))],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    // Scribble over pages in the middle of the file (the index's and the table's).
    let mut bytes = std::fs::read(&db_path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 3..len / 3 + 8192] {
        *b = 0x5A;
    }
    std::fs::write(&db_path, bytes).unwrap();
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = \"{}\"\n[[feed]]\nid = \"a\"\nurl = \"https://e.example/rss\"\n",
            db_path.display()
        ),
    )
    .unwrap();
    let dest = dir.path().join("copy.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .env("RUST_LOG", "warn")
        .args(["backup", "--config"])
        .arg(&cfg)
        .arg(&dest)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("integrity check") || stderr.contains("malformed"),
        "{stderr}"
    );
    assert!(!dest.exists(), "no copy is left behind");
}

async fn notify_until(sock: &tokio::net::UnixDatagram, needle: &str) -> String {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), sock.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no notify message with {needle:?} within 30 s"))
            .unwrap();
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        if m.contains(needle) {
            return m;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_config_is_refused_and_the_last_edit_of_a_storm_wins() {
    let server = FixtureServer::start().await;
    for f in ["a", "b", "c", "d", "e"] {
        server.set(
            &format!("/{f}.xml"),
            Route::feed(rss(f, &[("1", "One", "https://n.example/1", "x")])),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("feeds.toml");
    let write = |ids: &[&str]| {
        let mut text = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\npath = \"{}\"\n",
            dir.path().join("w.db").display()
        );
        for id in ids {
            text.push_str(&format!(
                "[[feed]]\nid = \"{id}\"\nurl = \"{}\"\n",
                server.url(&format!("/{id}.xml"))
            ));
        }
        text
    };
    std::fs::write(&cfg, write(&["a", "b", "c", "d"])).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let mut child = daemon_command(env!("CARGO_BIN_EXE_wiredesk"), &cfg, "warn")
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    notify_until(&sock, "READY=1").await;

    // An emptied file (an editor's truncation, a bad deploy) is refused: every feed stays.
    std::fs::write(&cfg, "").unwrap();
    let refused = notify_until(&sock, "would stop polling").await;
    assert!(
        refused.contains("stop polling 4 of the 4 feeds"),
        "{refused}"
    );
    assert!(refused.contains("STATUS=polling 4 feeds"), "{refused}");

    // A storm of edits, valid and invalid, written in place and by rename, with SIGHUPs.
    let pid = child.id();
    for i in 0..40 {
        let text = match i % 4 {
            0 => "[[feed]]\nid = 5\n".to_owned(),
            1 => write(&["a", "b", "c", "d"]),
            2 => write(&["a", "b", "c", "e"]),
            _ => write(&["a", "b", "d", "e"]),
        };
        if i % 3 == 0 {
            let tmp = dir.path().join(".feeds.toml.tmp");
            std::fs::write(&tmp, &text).unwrap();
            std::fs::rename(&tmp, &cfg).unwrap();
        } else {
            std::fs::write(&cfg, &text).unwrap();
        }
        if i % 10 == 5 {
            signal(pid, "HUP");
        }
    }
    // The last edit: a, b, c and e.
    std::fs::write(&cfg, write(&["a", "b", "c", "e"])).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let want = |opml: &str| {
        ["a", "b", "c", "e"]
            .iter()
            .all(|f| opml.contains(&format!("/{f}.xml")))
            && !opml.contains("/d.xml")
    };
    let mut last = String::new();
    for _ in 0..300 {
        last = get(addr, "/sources.opml").await.text().await.unwrap();
        if want(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(want(&last), "the last edit was not applied: {last}");
    signal(pid, "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
