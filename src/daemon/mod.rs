//! The running daemon: start-up, live reload of a new config, health and shutdown, over the
//! shared [`App`]. [`run_with_reload`] runs it under a config file: signals, the file watch,
//! systemd.

mod reload;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use crate::app::App;
use crate::app::{render_loop, render_now};
use crate::config::{Config, FeedConfig, FeedId};
use crate::fetch::Fetcher;
use crate::refresh::RefreshReport;
use crate::scheduler::Scheduler;
pub use reload::run_with_reload;

/// How long in-flight refreshes may run on after a shutdown request before they are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a reload changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReloadSummary {
    pub added: Vec<FeedId>,
    pub changed: Vec<FeedId>,
    pub removed: Vec<FeedId>,
}

/// A started daemon. [`run`] is start, wait for the shutdown signal, stop.
pub struct Daemon {
    pub app: Arc<App>,
    scheduler: Scheduler,
    http: tokio::task::JoinHandle<()>,
    http_stop: CancellationToken,
    render: tokio::task::JoinHandle<()>,
    /// Subscribed before the first refresh starts, so that no report is missed.
    first_reports: Option<broadcast::Receiver<RefreshReport>>,
}

impl Daemon {
    /// Opens the store, renders, starts serving on `listener`, schedules every enabled feed and
    /// starts an immediate refresh of each feed that is due (never fetched, or past its next
    /// attempt).
    pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Daemon> {
        let app = App::open(config.clone()).await?;
        let first_reports = Some(app.subscribe_reports());
        render_now(&app)
            .await
            .context("rendering the merged feeds")?;
        let render = tokio::spawn(render_loop(app.clone()));

        let http_stop = CancellationToken::new();
        let http = tokio::spawn(crate::http::serve(
            listener,
            app.clone(),
            http_stop.clone().cancelled_owned(),
        ));

        // The near-duplicate index loads between other jobs; serving and the first wave do not
        // wait for it (an ingest that needs it first finishes loading it).
        let store = app.store.clone();
        app.tasks.spawn(async move {
            let started = std::time::Instant::now();
            match store.load_index().await {
                Ok(items) => tracing::info!(
                    items,
                    ms = started.elapsed().as_millis() as u64,
                    "near-duplicate index loaded"
                ),
                Err(e) => tracing::warn!("loading the near-duplicate index: {e}"),
            }
        });
        crate::notify::ensure_running(&app);
        tokio::spawn(websub_loop(app.clone()));
        let scheduler = Scheduler::start(app.clone(), &config).await?;
        // Catch up on retention at start too (a daemon restarted daily would otherwise skip it).
        let hk = app.clone();
        app.tasks.spawn(async move { hk.housekeeping().await });
        let health = app.store.call(|db| db.feed_health()).await?;
        let now = chrono::Utc::now();
        for feed in config.enabled_feeds() {
            let due = health
                .iter()
                .find(|h| h.id == feed.id.as_str())
                .is_none_or(|h| {
                    h.last_attempt.is_none() || h.next_attempt.is_none_or(|n| n <= now)
                });
            if due {
                app.spawn_refresh(feed.clone());
            }
        }
        tracing::info!(
            feeds = config.enabled_feeds().count(),
            listen = %config.server.listen,
            database = %config.storage.database_path().display(),
            "wiredesk started"
        );
        Ok(Daemon {
            app,
            scheduler,
            http,
            http_stop,
            render,
            first_reports,
        })
    }

    /// A receiver of refresh reports: the first call gets every report since start-up, later
    /// calls those from now on.
    pub fn reports(&mut self) -> broadcast::Receiver<RefreshReport> {
        self.first_reports
            .take()
            .unwrap_or_else(|| self.app.subscribe_reports())
    }

    /// Applies a new, already validated config without a restart: feeds added start polling
    /// (at once), feeds removed or disabled stop (their stories stay until retention removes
    /// them), changed feeds get their new URL, schedule, priority and tags; unchanged feeds keep
    /// their job and their place in the schedule. `[poll]` and `[dedup]` changes apply to the
    /// next refreshes. A new `[server] listen` address needs a restart, and the log says so.
    pub async fn reload(&mut self, new: Config) -> anyhow::Result<ReloadSummary> {
        let old = self.app.config();
        if let Some(why) = crate::config::mass_removal(&old, &new) {
            anyhow::bail!("{why}");
        }
        let mut summary = ReloadSummary::default();
        if new.server.listen != old.server.listen {
            tracing::warn!(
                old = %old.server.listen,
                new = %new.server.listen,
                "[server] listen changed: restart wiredesk for it to take effect"
            );
        }
        if new.storage.database_path() != old.storage.database_path() {
            tracing::warn!("[storage] path changed: restart wiredesk for it to take effect");
        }
        if new.poll != old.poll {
            let fetcher = Fetcher::new(&new.poll).context("building the HTTP client")?;
            self.app.set_fetcher(fetcher);
        }
        let feeds = new.feeds.clone();
        self.app.store.call(move |db| db.sync_feeds(&feeds)).await?;
        if new.dedup != old.dedup {
            let dedup = new.dedup.clone();
            self.app
                .store
                .call(move |db| db.set_dedup_config(dedup))
                .await?;
        }
        let before: HashMap<&FeedId, &FeedConfig> =
            old.enabled_feeds().map(|f| (&f.id, f)).collect();
        let after: HashMap<&FeedId, &FeedConfig> =
            new.enabled_feeds().map(|f| (&f.id, f)).collect();
        for (id, feed) in &after {
            match before.get(id) {
                None => {
                    self.scheduler.add((*feed).clone()).await?;
                    self.app.spawn_refresh((*feed).clone());
                    summary.added.push((*id).clone());
                }
                Some(prev) if prev != feed => {
                    self.scheduler.add((*feed).clone()).await?;
                    if prev.filter != feed.filter {
                        // Items the old filter left out may be wanted now: the next poll
                        // fetches and reads the whole feed again (no 304, no same-body skip).
                        let id = (*id).clone();
                        self.app
                            .store
                            .call(move |db| db.forget_validators(&id))
                            .await?;
                    }
                    if prev.url != feed.url || prev.filter != feed.filter {
                        self.app.spawn_refresh((*feed).clone());
                    }
                    summary.changed.push((*id).clone());
                }
                Some(_) => {}
            }
        }
        for id in before.keys() {
            if !after.contains_key(id) {
                self.scheduler.remove(id).await;
                self.app.runtime.forget(id);
                summary.removed.push((*id).clone());
            }
        }
        self.app.set_config(new);
        self.app.request_render();
        crate::notify::ensure_running(&self.app);
        for list in [
            &mut summary.added,
            &mut summary.changed,
            &mut summary.removed,
        ] {
            list.sort();
        }
        tracing::info!(
            added = summary.added.len(),
            changed = summary.changed.len(),
            removed = summary.removed.len(),
            "config reloaded"
        );
        Ok(summary)
    }

    /// Whether the daemon is alive where it matters: the store is alive and making progress
    /// (answered at once, not queued behind a catch-up; see [`crate::store::Store::health`])
    /// and the scheduler responds within a few seconds. The watchdog pings only when this
    /// holds, so a wedged daemon gets restarted and a busy one does not.
    pub async fn healthy(&mut self) -> bool {
        let limit = Duration::from_secs(5);
        let db_ok = match self.app.store.health() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("unhealthy: {e}");
                false
            }
        };
        db_ok
            && tokio::time::timeout(limit, self.scheduler.alive())
                .await
                .unwrap_or(false)
    }

    /// "polling 42 feeds, 3 failing", for `systemctl status`.
    pub async fn status_line(&self) -> String {
        let config = self.app.config();
        let enabled: Vec<String> = config.enabled_feeds().map(|f| f.id.0.clone()).collect();
        let failing = match self.app.store.call(|db| db.feed_health()).await {
            Ok(health) => health
                .iter()
                .filter(|h| h.consecutive_failures > 0 && enabled.contains(&h.id))
                .count(),
            _ => return format!("polling {} feeds; database not answering", enabled.len()),
        };
        format!("polling {} feeds, {failing} failing", enabled.len())
    }

    /// Stops scheduling, lets in-flight refreshes finish within [`SHUTDOWN_GRACE`], stops
    /// serving and closes the database.
    pub async fn stop(mut self) {
        tracing::info!("shutting down");
        self.scheduler.stop().await;
        self.app.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.app.tasks.wait())
            .await
            .is_err()
        {
            self.app.hard_stop.cancel();
            self.app.tasks.wait().await;
        }
        self.http_stop.cancel();
        let _ = self.http.await;
        self.render.abort();
        let _ = self.render.await;
        // The scheduler's jobs may still hold the store: fold the WAL into the database now
        // rather than rely on the store thread ending before the process does.
        let _ = self.app.store.call(|db| db.checkpoint()).await;
        // Closed even while scheduler jobs still hold the app: the database and its lock are
        // let go of here, not whenever the last handle happens to drop.
        self.app.store.close().await;
        tracing::info!("stopped");
    }
}

/// Keeps WebSub subscriptions in line (new, renewed, removed): when the next one is due, when
/// woken (a lease granted), and at least every minute (config reloads). Ends with the store.
async fn websub_loop(app: Arc<App>) {
    const LOOK: std::time::Duration = std::time::Duration::from_secs(60);
    loop {
        let next = app.websub_maintain(None).await;
        if app.store.read(|_| Ok(())).await.is_err() {
            return; // closed: the daemon has stopped
        }
        let rest = next.map_or(LOOK, |at| {
            (at - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
                .clamp(std::time::Duration::from_millis(200), LOOK)
        });
        tokio::select! {
            _ = app.websub_wake.notified() => {}
            _ = tokio::time::sleep(rest) => {}
            _ = app.hard_stop.cancelled() => return,
        }
    }
}

/// Runs the daemon until `shutdown` completes, then stops it cleanly.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let daemon = Daemon::start(config, listener).await?;
    shutdown.await;
    daemon.stop().await;
    Ok(())
}
