//! The running daemon: shared state ([`App`]), the render loop, start-up and shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, FeedConfig, FeedId};
use crate::fetch::Fetcher;
use crate::publish::{FeedMeta, Rendered, render_atom, render_json, render_opml, render_rss};
use crate::refresh::{RefreshReport, Trigger, refresh_feed};
use crate::scheduler::Scheduler;
use crate::store::Store;

/// How long in-flight refreshes may run on after a shutdown request before they are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The rendered documents, by URL path (`/feed.atom`, `/tags/korea.atom`, …).
pub type Outputs = HashMap<String, Rendered>;

/// State shared by the scheduler's jobs, the render loop and the HTTP handlers.
pub struct App {
    config: Mutex<Arc<Config>>,
    pub store: Store,
    fetcher: Mutex<Arc<Fetcher>>,
    outputs: watch::Sender<Arc<Outputs>>,
    render_needed: Notify,
    reports: broadcast::Sender<RefreshReport>,
    guards: Mutex<HashMap<FeedId, Arc<tokio::sync::Mutex<()>>>>,
    /// Feeds that moved permanently: (configured URL, new URL) by feed id.
    moved: Mutex<HashMap<FeedId, (url::Url, url::Url)>>,
    /// The kinds of warning last logged per feed (see [`App::warning_kinds_changed`]).
    warned: Mutex<HashMap<FeedId, Vec<String>>>,
    /// Counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    max_age: std::sync::atomic::AtomicU64,
    /// Refresh tasks in flight.
    pub tasks: TaskTracker,
    /// Cancelled when in-flight refreshes must stop (after the shutdown grace).
    pub hard_stop: CancellationToken,
}

impl App {
    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The HTTP client in force (rebuilt when `[poll]` changes on reload).
    pub fn fetcher(&self) -> Arc<Fetcher> {
        self.fetcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The URL to poll for a feed: where it moved permanently, else the configured one.
    pub fn poll_url(&self, feed: &FeedConfig) -> url::Url {
        let moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        match moved.get(&feed.id) {
            Some((configured, new)) if *configured == feed.url => new.clone(),
            _ => feed.url.clone(),
        }
    }

    /// Records that a feed moved permanently; true when this is news (to warn once per change).
    pub fn record_move(&self, feed: &FeedConfig, to: url::Url) -> bool {
        let mut moved = self.moved.lock().unwrap_or_else(|e| e.into_inner());
        let entry = (feed.url.clone(), to);
        if moved.get(&feed.id) == Some(&entry) {
            return false;
        }
        moved.insert(feed.id.clone(), entry);
        true
    }

    /// Records the kinds of warning a feed's latest refresh had; true when they differ from the
    /// previous refresh's (a feed never warned about counts as having had none), so that the
    /// log says it once per change rather than on every refresh.
    pub fn warning_kinds_changed(&self, feed: &FeedId, kinds: &[&str]) -> bool {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        let before = warned.get(feed).map(Vec::as_slice).unwrap_or_default();
        if before.iter().map(String::as_str).eq(kinds.iter().copied()) {
            return false;
        }
        warned.insert(
            feed.clone(),
            kinds.iter().map(|k| (*k).to_owned()).collect(),
        );
        true
    }

    /// The lock that keeps refreshes of one feed from overlapping.
    pub fn feed_guard(&self, feed: &FeedId) -> Arc<tokio::sync::Mutex<()>> {
        let mut guards = self.guards.lock().unwrap_or_else(|e| e.into_inner());
        guards.entry(feed.clone()).or_default().clone()
    }

    /// Asks the render loop to render the merged feeds again (coalesced).
    pub fn request_render(&self) {
        self.render_needed.notify_one();
    }

    /// Publishes a refresh report to whoever listens.
    pub fn report(&self, report: RefreshReport) {
        self.metrics.refresh(&report);
        let _ = self.reports.send(report);
    }

    /// The current rendered documents.
    pub fn outputs(&self) -> Arc<Outputs> {
        self.outputs.borrow().clone()
    }

    /// Prunes stories older than `[storage] retention_days` (in small transactions) and
    /// maintains the database; logs what it did.
    pub async fn housekeeping(&self) {
        let days = self.config().storage.retention_days;
        match self
            .store
            .call(move |db| db.prune(days, chrono::Utc::now()))
            .await
        {
            Ok(Ok(p)) => {
                tracing::info!(
                    stories = p.stories,
                    items = p.items,
                    tombstones_expired = p.tombstones_expired,
                    retention_days = days,
                    "housekeeping done"
                );
                if p.stories > 0 {
                    self.request_render();
                }
            }
            Ok(Err(e)) => tracing::error!("housekeeping failed: {e}"),
            Err(e) => tracing::error!("housekeeping failed: {e}"),
        }
    }

    /// Starts a refresh of `feed` as its own task, unless shutting down.
    pub fn spawn_refresh(self: &Arc<Self>, feed: FeedConfig) {
        let app = self.clone();
        let stop = self.hard_stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = refresh_feed(&app, &feed, Trigger::Scheduled) => {}
                _ = stop.cancelled() => {
                    tracing::warn!(feed = %feed.id, "refresh abandoned at shutdown");
                }
            }
        });
    }

    /// A merged feed (`/feed.EXT` or `/tags/TAG.EXT`) with at most `limit` stories, rendered on
    /// request (for `?limit=` below the configured size). `None` for an unknown path.
    pub async fn render_limited(&self, path: &str, limit: usize) -> Option<Rendered> {
        let config = self.config();
        let (base_path, ext) = path.rsplit_once('.')?;
        let tag = match base_path {
            "/feed" => None,
            other => Some(other.strip_prefix("/tags/")?.to_owned()),
        };
        if tag.as_ref().is_some_and(|t| !config.tags().contains(t)) {
            return None;
        }
        let render: fn(&[crate::store::Story], &FeedMeta) -> Rendered = match ext {
            "atom" => render_atom,
            "rss" => render_rss,
            "json" => render_json,
            _ => return None,
        };
        let title = match &tag {
            None => config.server.title.clone(),
            Some(t) => format!("{}: {t}", config.server.title),
        };
        let stories = self
            .store
            .call(move |db| db.latest_stories(limit, tag.as_deref()))
            .await
            .ok()?
            .ok()?;
        Some(render(
            &stories,
            &feed_meta(&config.server.base_url, path, title),
        ))
    }

    /// `Cache-Control: max-age` for the merged feeds: the shortest interval between two polls of
    /// any enabled feed (between 60 s and an hour), so readers poll no faster than news can come.
    pub fn max_age(&self) -> u64 {
        self.max_age.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Opens the store (creating and migrating it), records the configured feeds in it and
    /// builds the HTTP client: everything a refresh needs, without scheduler or server.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let db_path = config.storage.database_path();
        let store = Store::open(&db_path, &config.dedup)
            .with_context(|| format!("opening database at {}", db_path.display()))?;
        let feeds = config.feeds.clone();
        store.call(move |db| db.sync_feeds(&feeds)).await??;
        // Permanent moves learnt before a restart still apply (while the configured URL is the
        // one that moved).
        // The database keeps the configured URL redacted: match it against the config's.
        let moved: HashMap<FeedId, (url::Url, url::Url)> = store
            .run(|db| db.moves())
            .await?
            .into_iter()
            .filter_map(|(id, from, to)| {
                let feed = config.feeds.iter().find(|f| f.id.as_str() == id)?;
                (crate::normalise::redact_url(&feed.url) == from)
                    .then(|| Some((FeedId(id), (feed.url.clone(), url::Url::parse(&to).ok()?))))
                    .flatten()
            })
            .collect();
        let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
        let (reports, _) = broadcast::channel(1024);
        Ok(Arc::new(App {
            config: Mutex::new(Arc::new(config)),
            store,
            fetcher: Mutex::new(Arc::new(fetcher)),
            outputs: watch::Sender::new(Arc::new(Outputs::new())),
            render_needed: Notify::new(),
            reports,
            guards: Mutex::new(HashMap::new()),
            moved: Mutex::new(moved),
            warned: Mutex::new(HashMap::new()),
            metrics: crate::metrics::Metrics::default(),
            max_age: std::sync::atomic::AtomicU64::new(60),
            tasks: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
        }))
    }

    async fn render_all(&self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let config = self.config();
        let size = config.server.feed_size;
        let tags = config.tags();
        let base = config.server.base_url.clone();
        let title = config.server.title.clone();
        let rendered = self
            .store
            .call(move |db| -> Result<Outputs, crate::store::StoreError> {
                let mut out = Outputs::new();
                let meta = |path: &str, title: String| feed_meta(&base, path, title);
                let mut add = |base_path: &str, title: String, stories: &[crate::store::Story]| {
                    for (ext, render) in [
                        (
                            "atom",
                            render_atom as fn(&[crate::store::Story], &FeedMeta) -> Rendered,
                        ),
                        ("rss", render_rss),
                        ("json", render_json),
                    ] {
                        let path = format!("{base_path}.{ext}");
                        let m = meta(&path, title.clone());
                        out.insert(path, render(stories, &m));
                    }
                };
                let stories = db.latest_stories(size, None)?;
                add("/feed", title.clone(), &stories);
                for tag in tags {
                    let stories = db.latest_stories(size, Some(&tag))?;
                    add(&format!("/tags/{tag}"), format!("{title}: {tag}"), &stories);
                }
                Ok(out)
            })
            .await??;
        let mut rendered = rendered;
        rendered.insert(
            "/sources.opml".into(),
            render_opml(&config, config_loaded_at(&config)),
        );
        self.outputs.send_replace(Arc::new(rendered));
        self.max_age.store(
            fastest_interval(&config),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.metrics.render(started.elapsed());
        Ok(())
    }
}

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
        let first_reports = Some(app.reports.subscribe());
        app.render_all()
            .await
            .context("rendering the merged feeds")?;
        let render = tokio::spawn(render_loop(app.clone()));

        let http_stop = CancellationToken::new();
        let http = tokio::spawn(crate::http::serve(
            listener,
            app.clone(),
            http_stop.clone().cancelled_owned(),
        ));

        let scheduler = Scheduler::start(app.clone(), &config).await?;
        // Catch up on retention at start too (a daemon restarted daily would otherwise skip it).
        let hk = app.clone();
        app.tasks.spawn(async move { hk.housekeeping().await });
        let health = app.store.call(|db| db.feed_health()).await??;
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
            .unwrap_or_else(|| self.app.reports.subscribe())
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
            *self.app.fetcher.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(fetcher);
        }
        let feeds = new.feeds.clone();
        self.app
            .store
            .call(move |db| db.sync_feeds(&feeds))
            .await??;
        if new.dedup != old.dedup {
            let dedup = new.dedup.clone();
            self.app
                .store
                .call(move |db| db.set_dedup_config(dedup))
                .await??;
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
                    if prev.url != feed.url {
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
                summary.removed.push((*id).clone());
            }
        }
        *self.app.config.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
        self.app.request_render();
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

    /// Whether the daemon is alive where it matters: the database thread answers and the
    /// scheduler responds, each within a few seconds. The watchdog pings only when this holds,
    /// so a wedged daemon gets restarted.
    pub async fn healthy(&mut self) -> bool {
        let limit = Duration::from_secs(5);
        let db = tokio::time::timeout(limit, self.app.store.call(|db| db.ping())).await;
        let db_ok = matches!(db, Ok(Ok(Ok(()))));
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
            Ok(Ok(health)) => health
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

async fn render_loop(app: Arc<App>) {
    use futures_util::FutureExt as _;
    loop {
        app.render_needed.notified().await;
        // A panic while rendering (a bug of ours that some stored text reached) fails this
        // render only: the documents served stay the last good ones and the loop carries on.
        match std::panic::AssertUnwindSafe(app.render_all())
            .catch_unwind()
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("rendering the merged feeds failed: {e:#}"),
            Err(payload) => tracing::error!(
                "internal error while rendering the merged feeds: {}",
                crate::store::panic_message(payload.as_ref())
            ),
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
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
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
    use sha2::Digest as _;
    std::fs::read(path)
        .ok()
        .map(|b| sha2::Sha256::digest(&b).into())
}

/// Reloads from `path`; returns the fingerprint of the content read (applied or refused).
async fn reload_from_file(daemon: &mut Daemon, path: &std::path::Path) -> Option<[u8; 32]> {
    crate::systemd::reloading();
    let text = std::fs::read_to_string(path);
    let fingerprint = text.as_ref().ok().map(|t| {
        use sha2::Digest as _;
        sha2::Sha256::digest(t.as_bytes()).into()
    });
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
    fingerprint
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

/// When the config file was last written (for the OPML's Last-Modified), else the epoch.
fn config_loaded_at(config: &Config) -> chrono::DateTime<chrono::Utc> {
    std::fs::metadata(&config.source)
        .and_then(|m| m.modified())
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
}

/// What a merged feed at `path` says about itself.
fn feed_meta(base: &url::Url, path: &str, title: String) -> FeedMeta {
    FeedMeta {
        title,
        self_url: base
            .join(path.trim_start_matches('/'))
            .map(|u| u.to_string())
            .unwrap_or_default(),
        home_url: base.to_string(),
    }
}

/// The shortest interval between two scheduled polls of any enabled feed, in seconds, clamped
/// to [60, 3600].
fn fastest_interval(config: &Config) -> u64 {
    let now = chrono::Utc::now();
    config
        .enabled_feeds()
        .filter_map(|f| {
            let a = f.schedule.next_after(now)?;
            let b = f.schedule.next_after(a)?;
            Some((b - a).num_seconds().max(0) as u64)
        })
        .min()
        .unwrap_or(300)
        .clamp(60, 3600)
}
