//! Running the daemon under its config file: SIGHUP and edits of the file reload it (the
//! directory is watched, since editors save by renaming a new file over the old one, and the
//! file is fingerprinted every two seconds so that the last edit always wins), and systemd
//! hears READY, RELOADING, STATUS, WATCHDOG and STOPPING.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::Daemon;
use crate::config::Config;

/// Runs the daemon until `shutdown` completes, reloading its config file on SIGHUP and whenever
/// the file changes (the directory is watched, since editors save by renaming a new file over
/// the old one). A config that fails validation is refused with every problem in the log, and
/// the running config stays in force.
pub async fn run_with_reload(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let path = config.source.clone();
    warn_if_readable_by_all(&path);
    // Before starting: a SIGHUP during start-up must not kill the daemon (its default action).
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut daemon = Daemon::start(config, listener).await?;
    let (tx, mut changes) = tokio::sync::mpsc::channel::<()>(16);
    let _watcher = match watch_file(&path, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} for changes ({e}); reload with SIGHUP",
                path.display()
            );
            None
        }
    };
    // The file as last read (applied or refused): the last edit always wins, even when its
    // watcher event was lost or merged into an earlier one, because a periodic look at the
    // file reloads whenever its content differs from what was last read.
    let mut last_read = file_fingerprint(&path);
    let mut settle_tick = tokio::time::interval(Duration::from_secs(2));
    settle_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    crate::systemd::ready(&daemon.status_line().await);
    let watchdog = crate::systemd::watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut status_tick = tokio::time::interval(Duration::from_secs(30));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP received: reloading {}", path.display());
                last_read = reload_from_file(&mut daemon, &path).await;
            }
            Some(()) = changes.recv() => {
                // Editors write in several steps: wait for the file to settle, then reload once.
                tokio::time::sleep(Duration::from_millis(300)).await;
                while changes.try_recv().is_ok() {}
                tracing::info!("{} changed: reloading", path.display());
                last_read = reload_from_file(&mut daemon, &path).await;
            }
            _ = settle_tick.tick() => {
                let now = file_fingerprint(&path);
                if now.is_some() && now != last_read {
                    tracing::info!("{} differs from the config last read: reloading", path.display());
                    last_read = reload_from_file(&mut daemon, &path).await;
                }
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                if daemon.healthy().await {
                    crate::systemd::watchdog();
                } else {
                    tracing::error!("unhealthy (database or scheduler not answering): not pinging the watchdog");
                }
            }
            _ = status_tick.tick() => crate::systemd::status(&daemon.status_line().await),
        }
    }
    crate::systemd::stopping();
    daemon.stop().await;
    Ok(())
}

/// A fingerprint of the config file's content (`None` if it cannot be read).
fn file_fingerprint(path: &std::path::Path) -> Option<[u8; 32]> {
    std::fs::read(path).ok().map(|b| fingerprint(&b))
}

fn fingerprint(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// Reloads from `path`; returns the fingerprint of the content read (applied or refused).
async fn reload_from_file(daemon: &mut Daemon, path: &std::path::Path) -> Option<[u8; 32]> {
    crate::systemd::reloading();
    let text = std::fs::read_to_string(path);
    let read = text.as_ref().ok().map(|t| fingerprint(t.as_bytes()));
    let loaded = match text {
        Ok(text) => Config::parse(&text, path),
        Err(_) => Config::load(path),
    };
    let outcome = match loaded {
        Ok(new) => match daemon.reload(new).await {
            Ok(_) => None,
            Err(e) => {
                tracing::error!("reload failed, previous config stays in force: {e:#}");
                Some(format!("reload failed: {e}"))
            }
        },
        Err(e) => {
            tracing::error!("reload refused, previous config stays in force: {e}");
            let first = e
                .problems
                .first()
                .map(|p| {
                    format!(
                        "{}:{}:{}: {}",
                        e.path.display(),
                        p.line,
                        p.column,
                        p.message
                    )
                })
                .unwrap_or_default();
            Some(format!(
                "config refused ({first}); previous config in force"
            ))
        }
    };
    let status = daemon.status_line().await;
    match outcome {
        None => crate::systemd::ready(&status),
        Some(problem) => crate::systemd::ready(&format!("{status}; {problem}")),
    }
    read
}

/// Watches the directory of `path` and sends `()` whenever an event touches that file.
fn watch_file(
    path: &std::path::Path,
    tx: tokio::sync::mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let dir = path
        .parent()
        .map(std::path::Path::to_owned)
        .unwrap_or_else(|| ".".into());
    let name = path.file_name().map(|n| n.to_owned());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
            let _ = tx.try_send(());
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// `feeds.toml` may hold credentials for paid feeds: say so when anyone can read it.
fn warn_if_readable_by_all(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            "{} is readable by every user; if it holds credentials, chmod 640 it (or 600)",
            path.display()
        );
    }
}
