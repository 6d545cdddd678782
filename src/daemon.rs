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
use crate::publish::{FeedMeta, Rendered, render_atom};
use crate::refresh::{RefreshReport, refresh_feed};
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
    pub fetcher: Fetcher,
    outputs: watch::Sender<Arc<Outputs>>,
    render_needed: Notify,
    reports: broadcast::Sender<RefreshReport>,
    guards: Mutex<HashMap<FeedId, Arc<tokio::sync::Mutex<()>>>>,
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
        let _ = self.reports.send(report);
    }

    /// The current rendered documents.
    pub fn outputs(&self) -> Arc<Outputs> {
        self.outputs.borrow().clone()
    }

    /// Starts a refresh of `feed` as its own task, unless shutting down.
    pub fn spawn_refresh(self: &Arc<Self>, feed: FeedConfig) {
        let app = self.clone();
        let stop = self.hard_stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = refresh_feed(&app, &feed) => {}
                _ = stop.cancelled() => {
                    tracing::warn!(feed = %feed.id, "refresh abandoned at shutdown");
                }
            }
        });
    }

    /// Opens the store (creating and migrating it), records the configured feeds in it and
    /// builds the HTTP client: everything a refresh needs, without scheduler or server.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let db_path = config.storage.database_path();
        let store = Store::open(&db_path, &config.dedup)
            .with_context(|| format!("opening database at {}", db_path.display()))?;
        let feeds = config.feeds.clone();
        store.call(move |db| db.sync_feeds(&feeds)).await??;
        let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
        let (reports, _) = broadcast::channel(1024);
        Ok(Arc::new(App {
            config: Mutex::new(Arc::new(config)),
            store,
            fetcher,
            outputs: watch::Sender::new(Arc::new(Outputs::new())),
            render_needed: Notify::new(),
            reports,
            guards: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
        }))
    }

    async fn render_all(&self) -> anyhow::Result<()> {
        let config = self.config();
        let size = config.server.feed_size;
        let tags = config.tags();
        let base = config.server.base_url.clone();
        let title = config.server.title.clone();
        let rendered = self
            .store
            .call(move |db| -> Result<Outputs, crate::store::StoreError> {
                let mut out = Outputs::new();
                let meta = |path: &str, title: String| FeedMeta {
                    title,
                    self_url: base
                        .join(path.trim_start_matches('/'))
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    home_url: base.to_string(),
                };
                let stories = db.latest_stories(size, None)?;
                out.insert(
                    "/feed.atom".into(),
                    render_atom(&stories, &meta("/feed.atom", title.clone())),
                );
                for tag in tags {
                    let stories = db.latest_stories(size, Some(&tag))?;
                    let path = format!("/tags/{tag}.atom");
                    let m = meta(&path, format!("{title}: {tag}"));
                    out.insert(path, render_atom(&stories, &m));
                }
                Ok(out)
            })
            .await??;
        self.outputs.send_replace(Arc::new(rendered));
        Ok(())
    }
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
        match Arc::try_unwrap(self.app) {
            Ok(app) => app.store.close().await,
            Err(app) => app.store.clone().close().await,
        }
        tracing::info!("stopped");
    }
}

async fn render_loop(app: Arc<App>) {
    loop {
        app.render_needed.notified().await;
        if let Err(e) = app.render_all().await {
            tracing::error!("rendering the merged feeds failed: {e:#}");
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
