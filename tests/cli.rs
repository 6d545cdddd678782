//! The binary as an operator uses it: exit codes, messages, output formats, signals.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn wiredesk() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    c.env("RUST_LOG", "warn").env_remove("STATE_DIRECTORY");
    c
}

/// Runs `wiredesk ARGS --config CFG` off the async workers, to its end.
fn run_with_config(cfg: &Path, args: &[&str]) -> tokio::task::JoinHandle<std::process::Output> {
    let mut cmd = wiredesk();
    cmd.args(args).arg("--config").arg(cfg);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
}

#[test]
fn the_shipped_config_is_valid() {
    let out = wiredesk()
        .args(["check", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok, 12 feeds"));
}

/// `wiredesk check` of a config file holding `text`, written in a new temp dir.
fn check_text(text: &str) -> (tempfile::TempDir, std::path::PathBuf, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = wiredesk()
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (dir, path, out)
}

#[test]
fn a_bad_config_is_rejected_with_file_line_and_column() {
    let (dir, path, out) = check_text(
        "[[feed]]\nid = \"x\"\nurl = \"https://e.com/rss\"\nschedulle = \"*/5 * * * *\"\n\n[[feed]]\nid = \"x\"\nurl = \"e.com\"\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = path.display().to_string();
    assert!(
        err.contains(&format!("{shown}:4:1: unknown key `schedulle`")),
        "{err}"
    );
    assert!(err.contains("did you mean `schedule`?"), "{err}");
    assert!(
        err.contains(&format!("{shown}:7:6: duplicate feed id `x`")),
        "{err}"
    );
    assert!(err.contains(&format!("{shown}:8:7: invalid URL")), "{err}");
    // `run` refuses the same file the same way, before doing anything.
    let out = wiredesk()
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("wiredesk.db").exists());
}

#[test]
fn a_missing_config_names_the_file() {
    let out = wiredesk()
        .args(["check", "--config", "/nonexistent/feeds.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "cannot read /nonexistent/feeds.toml: No such file or directory (os error 2)"
    );
}

fn write_config(dir: &Path, feeds: &[(&str, String)]) -> std::path::PathBuf {
    let mut text = format!(
        "[storage]\npath = \"{}\"\n[poll]\ntimeout = \"5s\"\n",
        dir.join("w.db").display()
    );
    for (id, url) in feeds {
        text.push_str(&format!("[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_then_stories_and_status() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss(
            "A",
            &[("a1", "Shared story", "https://n.example/s", "x")],
        )),
    )
    .await;
    server.set(
        "/b.xml",
        Route::feed(rss(
            "B",
            &[
                (
                    "b1",
                    "Shared story again",
                    "https://n.example/s?utm_source=b",
                    "y",
                ),
                ("b2", "Own story", "https://b.example/own", "z"),
            ],
        )),
    );
    server.set("/c.xml", Route::status(503));
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &[
            ("a", server.url("/a.xml")),
            ("b", server.url("/b.xml")),
            ("c", server.url("/c.xml")),
        ],
    );
    let run = |args: &[&str]| run_with_config(&cfg, args);
    let out = run(&["poll-once"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(3),
        "a failed feed makes exit code 3: {stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    // Feeds are polled concurrently: whichever stored the shared story second merged it.
    let (a, b) = (lines[0], lines[1]);
    assert!(
        a.starts_with("a  new 1, updated 0, unchanged 0, merged "),
        "{stdout}"
    );
    assert!(
        b.starts_with("b  new 2, updated 0, unchanged 0, merged "),
        "{stdout}"
    );
    let merged = |l: &str| l.rsplit(' ').next().unwrap().parse::<u32>().unwrap();
    assert_eq!(merged(a) + merged(b), 1, "{stdout}");
    assert!(lines[2].starts_with("c  error: HTTP 503"), "{stdout}");

    let out = run(&["poll-once"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout
            .lines()
            .next()
            .unwrap()
            .contains("unchanged (304 Not Modified)"),
        "{stdout}"
    );

    let out = run(&["stories", "--json"]).await.unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stories = v.as_array().unwrap();
    assert_eq!(stories.len(), 2);
    let shared = stories
        .iter()
        .find(|s| s["members"].as_array().unwrap().len() == 2)
        .unwrap();
    for key in ["id", "title", "link", "published", "updated"] {
        assert!(shared.get(key).is_some(), "missing {key}: {shared}");
    }
    let members = shared["members"].as_array().unwrap();
    let member = members.iter().find(|m| m["feed"] == "b").unwrap();
    for key in ["feed", "guid", "link", "title", "published"] {
        assert!(member.get(key).is_some(), "missing {key}: {member}");
    }
    assert_eq!(member["guid"], "b1");
    assert_eq!(member["link"], "https://n.example/s?utm_source=b");

    // Search: the story carrying the word, once; nothing searchable is an error that says so.
    let out = run(&["search", "own", "--json"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = v.as_array().unwrap();
    assert_eq!(found.len(), 1, "{v}");
    assert_eq!(found[0]["title"], "Own story");
    let out = run(&["search", "shared story"]).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        stdout.lines().count(),
        1,
        "one story, not one line per item: {stdout}"
    );
    assert!(stdout.contains("Shared story"), "{stdout}");
    let out = run(&["search", "the"]).await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("nothing to search for"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["status", "--json"]).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = v
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "c")
        .unwrap();
    assert_eq!(
        c["consecutive_failures"], 2,
        "two poll-once runs, two failures"
    );
    assert!(c["last_error"].as_str().unwrap().contains("HTTP 503"));
    // A consistent copy of the database; never over an existing file.
    let copy = dir.path().join("copy.db");
    let copy_arg = copy.display().to_string();
    let out = run(&["backup", &copy_arg]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    let out = run(&["backup", &copy_arg]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));

    let out = run(&["status"]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.lines().next().unwrap().starts_with("FEED"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("c ") && l.contains("HTTP 503")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_cleanly() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("a1", "Story", "https://n.example/1", "x")])),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), &[("a", server.url("/a.xml"))]);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.insert_str(0, &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&cfg, text).unwrap();
    let mut child = daemon_command(env!("CARGO_BIN_EXE_wiredesk"), &cfg, "info")
        .spawn()
        .unwrap();
    // Wait for the log line of the first refresh (no sleeping: the log is the signal).
    let stderr = child.stderr.take().unwrap();
    let (mut lines, first) = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let first = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.contains("refreshed"));
        (lines, first)
    })
    .await
    .unwrap();
    let first = first.expect("the daemon logs its first refresh");
    assert!(
        first.contains("feed=a") && first.contains("new=1"),
        "{first}"
    );
    let pid = child.id().to_string();
    signal(pid, "TERM");
    let (status, rest) = tokio::task::spawn_blocking(move || {
        let rest: Vec<String> = lines.by_ref().map_while(Result::ok).collect();
        (child.wait().unwrap(), rest.join("\n"))
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(
        rest.contains("SIGTERM received") && rest.contains("stopped"),
        "{rest}"
    );
    // The database is intact and holds the story.
    let conn = rusqlite::Connection::open(dir.path().join("w.db")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_every_member_and_how_it_joined() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss(
            "A",
            &[(
                "a1",
                "Parliament passes the budget bill",
                "https://n.example/budget",
                "x",
            )],
        )),
    )
    .await;
    server.set(
        "/b.xml",
        Route::feed(rss(
            "B",
            &[(
                "b1",
                "Budget bill passes",
                "https://n.example/budget?utm_source=b",
                "y",
            )],
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &[("a", server.url("/a.xml")), ("b", server.url("/b.xml"))],
    );
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with_config(&cfg, &args)
    };
    run(vec!["poll-once".into()]).await.unwrap();
    let out = run(vec!["stories".into(), "--json".into()]).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v[0]["id"].as_str().unwrap().to_owned();
    let out = run(vec!["explain".into(), id.clone()]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with(&format!("story {id}: ")), "{text}");
    assert!(text.contains("2 members"), "{text}");
    assert!(text.contains("started the story"), "{text}");
    assert!(text.contains("joined: same canonical URL as ["), "{text}");
    // The Atom entry id works too, and an unknown id is an error.
    let out = run(vec!["explain".into(), format!("urn:wiredesk:story:{id}")])
        .await
        .unwrap();
    assert!(out.status.success());
    let out = run(vec!["explain".into(), "s0000000000000000".into()])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

/// Reads the child's stderr lines in a thread and hands them over as they come.
fn log_lines(stderr: std::process::ChildStderr) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits (up to 30 s) for a log line containing `needle`; returns it.
fn wait_log(rx: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no log line with {needle:?} within 30 s"),
        }
    }
}

/// Waits (up to 30 s) until a log line has contained each of `needles`, in any order.
fn wait_logs(rx: &std::sync::mpsc::Receiver<String>, needles: &[&str]) {
    let mut missing: Vec<&str> = needles.to_vec();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => missing.retain(|n| !line.contains(n)),
            Err(_) => panic!("no log lines with {missing:?} within 30 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_daemon_picks_up_config_edits_and_refuses_bad_ones() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("a1", "Alpha", "https://n.example/a", "x")])),
    )
    .await;
    server.set(
        "/b.xml",
        Route::feed(rss("B", &[("b1", "Beta", "https://n.example/b", "y")])),
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let head = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\npath = \"{}\"\n",
        dir.path().join("w.db").display()
    );
    let cfg = dir.path().join("feeds.toml");
    let feed_a = format!("[[feed]]\nid = \"a\"\nurl = \"{}\"\n", server.url("/a.xml"));
    let feed_b = format!("[[feed]]\nid = \"b\"\nurl = \"{}\"\n", server.url("/b.xml"));
    std::fs::write(&cfg, format!("{head}{feed_a}")).unwrap();
    let mut child = daemon_command(env!("CARGO_BIN_EXE_wiredesk"), &cfg, "info")
        .spawn()
        .unwrap();
    let logs = log_lines(child.stderr.take().unwrap());
    let cfg2 = cfg.clone();
    let pid = child.id().to_string();
    let logs = tokio::task::spawn_blocking(move || {
        wait_log(&logs, "refreshed feed=a");
        // An editor's save: write a new file, rename it over the old one.
        let tmp = cfg2.with_extension("toml.new");
        std::fs::write(&tmp, format!("{head}{feed_a}{feed_b}")).unwrap();
        std::fs::rename(&tmp, &cfg2).unwrap();
        // The new feed's first refresh may log before the reload's summary does.
        wait_logs(&logs, &["config reloaded", "refreshed feed=b"]);
        // A bad edit is refused with line and column; the daemon goes on.
        std::fs::write(
            &cfg2,
            format!("{head}{feed_a}{feed_b}[[feed]]\nid = \"a\"\nurll = \"x\"\n"),
        )
        .unwrap();
        let refused = wait_log(&logs, "reload refused");
        assert!(
            refused.contains("previous config stays in force"),
            "{refused}"
        );
        let line = wait_log(&logs, "duplicate feed id `a`");
        assert!(line.contains(":12:6:"), "{line}");
        // SIGHUP reloads too (the file is still bad: refused again).
        signal(pid, "HUP");
        wait_log(&logs, "SIGHUP received");
        wait_log(&logs, "reload refused");
        logs
    })
    .await
    .unwrap();
    signal(child.id().to_string(), "TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    drop(logs);
    let conn = rusqlite::Connection::open(dir.path().join("w.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM stories", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2, "both feeds' stories are stored");
}

#[test]
fn import_opml_prints_feed_tables_that_check_clean() {
    let dir = tempfile::tempdir().unwrap();
    let opml = dir.path().join("subs.opml");
    std::fs::write(
        &opml,
        r#"<?xml version="1.0"?><opml version="2.0"><body><outline text="Wires"><outline type="rss" text="Kyodo News" xmlUrl="https://english.kyodonews.net/rss/all.xml"/></outline></body></opml>"#,
    )
    .unwrap();
    let out = wiredesk().arg("import-opml").arg(&opml).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tables = String::from_utf8(out.stdout).unwrap();
    assert!(tables.contains("id = \"kyodo-news\""), "{tables}");
    assert!(tables.contains("tags = [\"wires\"]"), "{tables}");
    let cfg = dir.path().join("feeds.toml");
    std::fs::write(&cfg, &tables).unwrap();
    let out = wiredesk()
        .arg("check")
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Not OPML: a clear error naming the file.
    std::fs::write(&opml, "<html></html>").unwrap();
    let out = wiredesk().arg("import-opml").arg(&opml).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an OPML document"));
}

/// Runs `wiredesk ARGS` in `cwd` with an optional `STATE_DIRECTORY`, to its end.
fn run_in(
    cwd: &Path,
    state_directory: Option<&Path>,
    args: &[&str],
) -> tokio::task::JoinHandle<std::process::Output> {
    let mut cmd = wiredesk();
    cmd.current_dir(cwd).args(args);
    if let Some(dir) = state_directory {
        cmd.env("STATE_DIRECTORY", dir);
    }
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_find_the_database_or_say_where_they_looked_and_create_nothing() {
    let server = FixtureServer::with(
        "/a.xml",
        Route::feed(rss("A", &[("a1", "One", "https://n.example/1", "x")])),
    )
    .await;
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let cfg = cwd.path().join("feeds.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\npath = \"wiredesk.db\"\n[[feed]]\nid = \"a\"\nurl = \"{}\"\n",
            server.url("/a.xml")
        ),
    )
    .unwrap();
    let cfg_arg = cfg.display().to_string();
    let dest = cwd.path().join("copy.db");
    let dest_arg = dest.display().to_string();
    // Before the daemon ever ran: every read-only command and backup fail, saying where
    // they looked and how to point elsewhere, and leave no file behind.
    for args in [
        vec!["status"],
        vec!["stories"],
        vec!["explain", "s0000000000000000"],
        vec!["backup", &dest_arg],
    ] {
        let mut full = args.clone();
        full.extend(["--config", &cfg_arg]);
        let out = run_in(cwd.path(), Some(state.path()), &full).await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let looked = state.path().join("wiredesk.db");
        assert!(
            err.contains(&format!("no database at {}", looked.display()))
                && err.contains("$STATE_DIRECTORY")
                && err.contains("--database PATH"),
            "{args:?}: {err}"
        );
    }
    for dir in [cwd.path(), state.path()] {
        let files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "feeds.toml")
            .collect();
        assert!(files.is_empty(), "created {files:?} in {}", dir.display());
    }
    // The daemon's rule and the admin commands' rule agree: a relative path under
    // $STATE_DIRECTORY for both.
    let out = run_in(
        cwd.path(),
        Some(state.path()),
        &["poll-once", "--config", &cfg_arg],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(state.path().join("wiredesk.db").is_file());
    let out = run_in(
        cwd.path(),
        Some(state.path()),
        &["stories", "--config", &cfg_arg],
    )
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("One"));
    // --database names the file whatever the config says.
    let elsewhere = state.path().join("wiredesk.db").display().to_string();
    let out = run_in(
        cwd.path(),
        None,
        &["status", "--config", &cfg_arg, "--database", &elsewhere],
    )
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("a "));
    assert!(!cwd.path().join("wiredesk.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_reaches_the_database_or_a_backup_and_both_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = FixtureServer::with(
        "/paid.xml",
        Route::feed(rss(
            "P",
            &[("p1", "Paid story", "https://p.example/1", "x")],
        )),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = server
        .url("/paid.xml?apikey=k3ysecret7&section=world")
        .replace("http://", "http://wireuser:pa55word7@");
    let cfg = write_config(dir.path(), &[("paid", url)]);
    let run = |args: &[&str]| run_with_config(&cfg, args);
    let out = run(&["poll-once"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Twice, so that the stored URL is compared and rewritten, not only inserted.
    let out = run(&["poll-once"]).await.unwrap();
    assert!(out.status.success());
    let copy = dir.path().join("copy.db");
    let out = run(&["backup", &copy.display().to_string()]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    for name in ["w.db", "w.db-wal", "w.db-shm", "copy.db"] {
        let path = dir.path().join(name);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        checked += 1;
        for secret in ["k3ysecret7", "pa55word7", "wireuser"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} stored in {name}"
            );
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o007, 0, "{name} is readable by others: {mode:o}");
    }
    assert!(checked >= 2, "the database and its backup were checked");
    // The status shows the feed, redacted, and the refresh used the credentials' URL.
    let out = run(&["status", "--json"]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("apikey=REDACTED"), "{text}");
    assert!(server.hits("/paid.xml") >= 2);
}

#[test]
fn check_warns_about_a_config_that_enables_no_feed() {
    let (_dir, _, out) =
        check_text("[[feed]]\nid = \"a\"\nurl = \"https://e.example/rss\"\nenabled = false\n");
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("enables no feed") && err.contains("allow_mass_removal"),
        "{err}"
    );
    let (_dir, _, out) = check_text("[[feed]]\nid = \"a\"\nurl = \"https://e.example/rss\"\n");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_are_newest_first_limited_filtered_and_quiet_into_a_closed_pipe() {
    let server = FixtureServer::start().await;
    // 1,200 items an hour apart with long titles: more output than a pipe holds.
    let mut feed = String::from("<rss version=\"2.0\"><channel><title>A</title>");
    for i in 0..1200u64 {
        // A minute apart, the newest a minute before the test started.
        let date = date_before_start(std::time::Duration::from_secs((1200 - i) * 60));
        feed.push_str(&format!(
            "<item><guid>a{i}</guid><title>Story number {i} {}</title><link>https://a.example/{i}</link><pubDate>{date}</pubDate></item>",
            "with a long headline ".repeat(5)
        ));
    }
    feed.push_str("</channel></rss>");
    server.set("/a.xml", Route::feed(feed));
    server.set(
        "/b.xml",
        Route::feed(rss("B", &[("b1", "Only in b", "https://b.example/1", "x")])),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &[("a", server.url("/a.xml")), ("b", server.url("/b.xml"))],
    );
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("[poll]\n", "[poll]\nmax_items = 5000\n"),
    )
    .unwrap();
    let run = |args: &[&str]| run_with_config(&cfg, args);
    assert!(run(&["poll-once"]).await.unwrap().status.success());
    let lines = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let out = run(&["stories", "--limit", "3", "--feed", "a"])
        .await
        .unwrap();
    let l = lines(&out);
    assert_eq!(l.len(), 3, "{l:?}");
    for (line, n) in l.iter().zip([1199, 1198, 1197]) {
        assert!(line.contains(&format!("Story number {n} ")), "{line}");
        assert!(line.ends_with("[a]"), "{line}");
    }
    let out = run(&["stories", "--feed", "b"]).await.unwrap();
    assert_eq!(lines(&out).len(), 1);
    assert!(lines(&out)[0].contains("Only in b"));
    // The default limit, and --since by date.
    assert_eq!(lines(&run(&["stories"]).await.unwrap()).len(), 50);
    // The last ten: published 10 minutes before the start or later.
    let since = chrono::DateTime::parse_from_rfc2822(
        &date_before_start(std::time::Duration::from_secs(10 * 60)).replace("GMT", "+0000"),
    )
    .unwrap()
    .to_rfc3339();
    let out = run(&["stories", "--feed", "a", "--since", &since])
        .await
        .unwrap();
    assert_eq!(lines(&out).len(), 10, "{:?}", lines(&out));
    let out = run(&["stories", "--since", "yesterday-ish"]).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Into a pipe that closes early: no "Broken pipe" error, exit 0.
    let out = tokio::task::spawn_blocking({
        let cfg = cfg.clone();
        move || {
            Command::new("bash")
                .arg("-c")
                .arg(format!(
                    "set -o pipefail; '{}' stories --limit 1300 --config '{}' | head -n 1 >/dev/null",
                    env!("CARGO_BIN_EXE_wiredesk"),
                    cfg.display()
                ))
                .env("RUST_LOG", "warn")
                .env_remove("STATE_DIRECTORY")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
