//! The notify protocol without systemd: the test binds a unix datagram socket, starts the
//! daemon with NOTIFY_SOCKET and WATCHDOG_USEC pointing at it, and reads what it says across
//! start, watchdog, reload and stop.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::net::UnixDatagram;

async fn next_message(sock: &UnixDatagram) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), sock.recv(&mut buf))
        .await
        .expect("a notify message within 30 s")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Reads messages until one contains `needle`; returns it and the ones before it.
async fn until(sock: &UnixDatagram, needle: &str) -> (String, Vec<String>) {
    let mut before = Vec::new();
    loop {
        let m = next_message(sock).await;
        if m.contains(needle) {
            return (m, before);
        }
        before.push(m);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_sequence_across_start_watchdog_reload_and_stop() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("a1", "Alpha", "https://n.example/a", "x")])),
    )
    .await;
    server.set("/down.xml", Route::status(500));
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket_path).unwrap();
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"w.db\"\n\
             [[feed]]\nid = \"a\"\nurl = \"{}\"\n[[feed]]\nid = \"down\"\nurl = \"{}\"\n",
            server.url("/a.xml"),
            server.url("/down.xml")
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mut child = daemon_command(env!("CARGO_BIN_EXE_wiredesk"), &cfg, "warn")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "400000")
        .env("STATE_DIRECTORY", &state)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let (ready, before) = until(&sock, "READY=1").await;
    assert!(before.is_empty(), "nothing before READY: {before:?}");
    assert!(ready.contains("STATUS=polling 2 feeds"), "{ready}");
    // The relative [storage] path resolved against $STATE_DIRECTORY.
    assert!(state.join("w.db").exists());
    // The watchdog is pinged while healthy (every 200 ms for a 400 ms timeout).
    until(&sock, "WATCHDOG=1").await;
    until(&sock, "WATCHDOG=1").await;
    // The failing feed shows in the status once it has failed (a reload refreshes the status).
    let pid = child.id();
    let mut seen = Vec::new();
    for _ in 0..50 {
        signal(pid, "HUP");
        let (ready, _) = until(&sock, "READY=1").await;
        if ready.contains("STATUS=polling 2 feeds, 1 failing") {
            break;
        }
        seen.push(ready);
    }
    assert!(seen.len() < 50, "never reported the failing feed: {seen:?}");

    signal(pid, "HUP");
    let (reloading, _) = until(&sock, "RELOADING=1").await;
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    let (ready_again, _) = until(&sock, "READY=1").await;
    assert!(
        ready_again.contains("STATUS=polling 2 feeds"),
        "{ready_again}"
    );

    // A bad config: RELOADING, then READY again with the problem in STATUS.
    std::fs::write(&cfg, "[[feed]]\nid = 5\n").unwrap();
    signal(pid, "HUP");
    until(&sock, "RELOADING=1").await;
    let (refused, _) = until(&sock, "READY=1").await;
    assert!(refused.contains("config refused"), "{refused}");
    assert!(refused.contains("feeds.toml:1:1"), "{refused}");

    signal(pid, "TERM");
    until(&sock, "STOPPING=1").await;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
