//! [`App`]: what the scheduler's jobs, the render loop and the HTTP handlers share — the
//! config in force, the store, the HTTP client, the rendered documents, the per-feed runtime
//! state, counters and the refresh tasks. It sits below the daemon (which starts and stops it)
//! and above the stages: a refresh is handed a narrow [`RefreshContext`] built from it, and
//! never reaches back up.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, FeedConfig, FeedId};
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::publish::{FeedMeta, Rendered, render_atom, render_json, render_opml, render_rss};
use crate::refresh::runtime::FeedRuntime;
use crate::refresh::{Outcome, RefreshContext, RefreshReport, Trigger, refresh_feed};
use crate::store::{Store, Story};

/// The rendered documents, by URL path (`/feed.atom`, `/tags/korea.atom`, …).
pub type Outputs = HashMap<String, Rendered>;

/// A render function of the merged feed's formats.
type RenderFn = fn(&[Story], &FeedMeta) -> Rendered;

/// The formats each merged feed is rendered in, by file extension.
const FORMATS: [(&str, RenderFn); 3] = [
    ("atom", render_atom),
    ("rss", render_rss),
    ("json", render_json),
];

/// State shared by the scheduler's jobs, the render loop and the HTTP handlers.
pub struct App {
    config: Mutex<Arc<Config>>,
    pub store: Store,
    fetcher: Mutex<Arc<Fetcher>>,
    outputs: watch::Sender<Arc<Outputs>>,
    /// Per merged feed (`/feed`, `/tags/TAG`), a signature of the stories it was last rendered
    /// from: an unchanged feed is not rendered or compressed again.
    signatures: Mutex<HashMap<String, u64>>,
    render_needed: Notify,
    reports: broadcast::Sender<RefreshReport>,
    /// Per-feed state of the refresh layer (overlap guards, permanent moves, warnings).
    pub runtime: FeedRuntime,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// `Cache-Control: max-age` of the merged feeds, from the config (see [`fastest_interval`]).
    max_age: AtomicU64,
    /// Refresh tasks in flight.
    pub tasks: TaskTracker,
    /// Cancelled when in-flight refreshes must stop (after the shutdown grace).
    pub hard_stop: CancellationToken,
    /// Bumped when a render has noted new stories: wakes the `[[notify]]` delivery tasks
    /// (a watch, so that a wake while a task is busy is not lost).
    pub notify_wake: watch::Sender<u64>,
    /// The `[[notify]]` targets with a delivery task running.
    notify_running: Mutex<std::collections::HashSet<String>>,
    /// Wakes the WebSub maintenance loop (a lease granted, a feed's hub found).
    pub websub_wake: Notify,
}

impl App {
    /// Opens the store (creating and migrating it), records the configured feeds in it and
    /// builds the HTTP client: everything a refresh needs, without scheduler or server.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let db_path = config.storage.database_path();
        let store = Store::open(&db_path, &config.dedup)
            .with_context(|| format!("opening database at {}", db_path.display()))?;
        let feeds = config.feeds.clone();
        store.call(move |db| db.sync_feeds(&feeds)).await?;
        // Permanent moves learnt before a restart still apply (while the configured URL is the
        // one that moved). The database keeps the configured URL redacted: match it so.
        let moved: HashMap<FeedId, (url::Url, url::Url)> = store
            .call(|db| db.moves())
            .await?
            .into_iter()
            .filter_map(|(id, from, to)| {
                let feed = config.feeds.iter().find(|f| f.id.as_str() == id)?;
                if crate::normalise::redact_url(&feed.url) != from {
                    return None;
                }
                let to = url::Url::parse(&to).ok()?;
                Some((FeedId(id), (feed.url.clone(), to)))
            })
            .collect();
        let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
        let (reports, _) = broadcast::channel(1024);
        let max_age = fastest_interval(&config);
        Ok(Arc::new(App {
            config: Mutex::new(Arc::new(config)),
            store,
            fetcher: Mutex::new(Arc::new(fetcher)),
            outputs: watch::Sender::new(Arc::new(Outputs::new())),
            signatures: Mutex::new(HashMap::new()),
            render_needed: Notify::new(),
            reports,
            runtime: FeedRuntime::with_moves(moved),
            metrics: Metrics::default(),
            max_age: AtomicU64::new(max_age),
            tasks: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
            notify_wake: watch::Sender::new(0),
            notify_running: Mutex::new(std::collections::HashSet::new()),
            websub_wake: Notify::new(),
        }))
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a new config in force (on reload): every document is rendered afresh next time.
    pub fn set_config(&self, config: Config) {
        self.max_age
            .store(fastest_interval(&config), Ordering::Relaxed);
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        // Feeds may have turned WebSub on or off.
        self.websub_wake.notify_one();
        self.signatures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The HTTP client in force (rebuilt when `[poll]` changes on reload).
    pub fn fetcher(&self) -> Arc<Fetcher> {
        self.fetcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the HTTP client for the next fetches.
    pub fn set_fetcher(&self, fetcher: Fetcher) {
        *self.fetcher.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(fetcher);
    }

    /// A receiver of refresh reports from now on.
    pub fn subscribe_reports(&self) -> broadcast::Receiver<RefreshReport> {
        self.reports.subscribe()
    }

    /// Asks the render loop to render the merged feeds again (coalesced).
    pub fn request_render(&self) {
        self.render_needed.notify_one();
    }

    /// The current rendered documents.
    pub fn outputs(&self) -> Arc<Outputs> {
        self.outputs.borrow().clone()
    }

    /// `Cache-Control: max-age` for the merged feeds: the shortest interval between two polls of
    /// any enabled feed (between 60 s and an hour), so readers poll no faster than news can come.
    pub fn max_age(&self) -> u64 {
        self.max_age.load(Ordering::Relaxed)
    }

    /// Refreshes one feed now with the config and client in force; asks for a render when
    /// stories changed, counts and broadcasts the report.
    pub async fn refresh(&self, feed: &FeedConfig, trigger: Trigger) -> RefreshReport {
        let config = self.config();
        let fetcher = self.fetcher();
        let ctx = self.context(&config, &fetcher);
        let report = refresh_feed(&ctx, feed, trigger).await;
        if report.changed_stories() {
            self.request_render();
        }
        self.metrics.refresh(&report);
        let _ = self.reports.send(report.clone());
        // Articles come after the report: the feed's items are stored and rendered without
        // waiting for their pages. Also after a 304: items left waiting by an earlier run.
        if feed.websub && matches!(report.outcome, Outcome::Stored(_)) {
            self.websub_maintain(Some(&feed.id)).await;
        }
        if feed.full_text && matches!(report.outcome, Outcome::Stored(_) | Outcome::Unchanged) {
            let done = crate::refresh::fulltext::enrich_feed(&ctx, feed).await;
            self.metrics.full_text(&done);
            if done.enriched > 0 {
                self.request_render();
            }
        }
        report
    }

    /// Brings WebSub subscriptions in line with the config and what the feeds' documents name
    /// (see `websub::subscriber::plan`): one feed's, or every configured feed's and every
    /// stored subscription's. Returns when the next action is due (for every feed; `None` for one).
    pub async fn websub_maintain(&self, only: Option<&FeedId>) -> Option<DateTime<Utc>> {
        let config = self.config();
        let subs = match only {
            // After one feed's refresh: its own row only.
            Some(id) => {
                let id = id.clone();
                let sub = self.store.read(move |db| db.websub(&id)).await.ok()?;
                sub.into_iter().collect()
            }
            None => self.store.read(|db| db.websub_all()).await.ok()?,
        };
        let mut ids: Vec<FeedId> = config
            .feeds
            .iter()
            .filter(|f| f.websub)
            .map(|f| f.id.clone())
            .chain(subs.iter().map(|s| FeedId(s.feed.clone())))
            .filter(|id| only.is_none_or(|o| o == id))
            .collect();
        ids.sort();
        ids.dedup();
        let client = self.fetcher().client();
        for id in ids {
            let wants = config
                .feeds
                .iter()
                .any(|f| f.id == id && f.websub && f.enabled);
            let sub = subs.iter().find(|s| s.feed == id.as_str());
            let links = self.runtime.websub_links(&id);
            let action = crate::websub::subscriber::plan(wants, links.as_ref(), sub, Utc::now());
            self.websub_act(&client, &config.server.base_url, &id, sub, action)
                .await;
        }
        if only.is_some() {
            // The maintenance loop is woken by verifications; it finds the next due itself.
            return None;
        }
        let subs = self.store.read(|db| db.websub_all()).await.ok()?;
        subs.iter().map(crate::websub::subscriber::next_due).min()
    }

    /// Carries out what `plan` decided for one feed's subscription (`sub`, if stored).
    async fn websub_act(
        &self,
        client: &reqwest::Client,
        base: &url::Url,
        id: &FeedId,
        sub: Option<&crate::store::websub::Subscription>,
        action: crate::websub::subscriber::Action,
    ) {
        use crate::websub::subscriber::{Action, ask, callback, random_hex};
        let now = Utc::now();
        let fid = id.clone();
        match (action, sub) {
            (Action::Nothing, _) => {}
            (Action::Subscribe(l), _) => {
                let (token, secret) = (random_hex(16), random_hex(32));
                let Some(cb) = callback(base, id, &token) else {
                    return;
                };
                let (hub, topic, s) = (l.hub.clone(), l.topic.clone(), secret.clone());
                let noted = self
                    .store
                    .call(move |db| db.websub_requested(&fid, &hub, &topic, &token, &s, now))
                    .await;
                if noted.is_err() {
                    return;
                }
                let shown = crate::normalise::redact_url_str(&l.hub);
                if !l.hub.starts_with("https://") {
                    tracing::warn!(feed = %id, hub = %shown, "WebSub hub is not https: the subscription's secret travels in the clear");
                }
                match ask(client, &l.hub, "subscribe", &l.topic, &cb, &secret).await {
                    Ok(()) => tracing::info!(feed = %id, hub = %shown, "WebSub subscription asked"),
                    Err(e) => {
                        tracing::warn!(feed = %id, "WebSub: {e}");
                        let fid = id.clone();
                        let _ = self.store.call(move |db| db.websub_failed(&fid, &e)).await;
                    }
                }
            }
            (Action::Renew, Some(s)) => {
                let Some(cb) = callback(base, id, &s.token) else {
                    return;
                };
                let _ = self
                    .store
                    .call(move |db| db.websub_renewing(&fid, now))
                    .await;
                match ask(client, &s.hub, "subscribe", &s.topic, &cb, &s.secret).await {
                    Ok(()) => tracing::info!(feed = %id, "WebSub lease renewal asked"),
                    Err(e) => tracing::warn!(feed = %id, "WebSub renewal: {e}"),
                }
            }
            (Action::Unsubscribe, Some(s)) => {
                let _ = self
                    .store
                    .call(move |db| db.websub_unsubscribing(&fid))
                    .await;
                let asked = match callback(base, id, &s.token) {
                    Some(cb) => ask(client, &s.hub, "unsubscribe", &s.topic, &cb, &s.secret).await,
                    None => Err("no callback URL".to_owned()),
                };
                match asked {
                    Ok(()) => tracing::info!(feed = %id, "WebSub unsubscription asked"),
                    Err(e) => {
                        tracing::warn!(feed = %id, "WebSub unsubscribe: {e}");
                        let fid = id.clone();
                        let _ = self.store.call(move |db| db.websub_delete(&fid)).await;
                    }
                }
            }
            (Action::Forget, _) => {
                let _ = self.store.call(move |db| db.websub_delete(&fid)).await;
            }
            // Renewing or leaving needs a stored subscription; `plan` asks for neither without.
            (Action::Renew | Action::Unsubscribe, None) => {}
        }
    }

    /// The hub's intent verification at `/websub/FEED/TOKEN`: the challenge to answer with, or
    /// `None` (answer 404) for anything wiredesk did not ask for.
    pub async fn websub_verify(
        &self,
        feed: &str,
        token: &str,
        query: &HashMap<String, String>,
    ) -> Option<String> {
        use crate::websub::subscriber::{Verified, token_matches, verify};
        let id = FeedId(feed.to_owned());
        let fid = id.clone();
        let sub = self.store.read(move |db| db.websub(&fid)).await.ok()??;
        if !token_matches(&sub, token) {
            return None;
        }
        let now = Utc::now();
        match verify(&sub, query) {
            Verified::Subscribed { challenge, lease } => {
                self.store
                    .call(move |db| db.websub_active(&id, lease, now))
                    .await
                    .ok()?;
                tracing::info!(feed, lease, "WebSub subscription verified");
                self.websub_wake.notify_one();
                Some(challenge)
            }
            Verified::Unsubscribed { challenge } => {
                self.store
                    .call(move |db| db.websub_delete(&id))
                    .await
                    .ok()?;
                tracing::info!(feed, "WebSub unsubscription verified");
                Some(challenge)
            }
            Verified::Denied { reason } => {
                let why = format!("the hub denied the subscription: {reason}");
                tracing::warn!(feed, "WebSub: {why}");
                self.store
                    .call(move |db| db.websub_failed(&id, &why))
                    .await
                    .ok()?;
                Some(String::new())
            }
            Verified::Refused => None,
        }
    }

    /// Content a hub pushed to `/websub/FEED/TOKEN`. `Err(())` when there is no such
    /// subscription (answer 410 Gone, so a hub stops); otherwise `Ok(stored)`: false when the
    /// signature was missing or wrong (the content ignored) or the body unreadable.
    pub async fn websub_push(
        &self,
        feed: &str,
        token: &str,
        signature: Option<&str>,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Result<bool, ()> {
        use crate::websub::subscriber::{signature_valid, token_matches};
        let config = self.config();
        let Some(feed_cfg) = config
            .feeds
            .iter()
            .find(|f| f.id.as_str() == feed && f.websub)
        else {
            return Err(());
        };
        let fid = feed_cfg.id.clone();
        let Some(sub) = self
            .store
            .read(move |db| db.websub(&fid))
            .await
            .ok()
            .flatten()
        else {
            return Err(());
        };
        if !token_matches(&sub, token) || !matches!(sub.state.as_str(), "active" | "requested") {
            return Err(());
        }
        if !signature_valid(signature, &sub.secret, &body) {
            tracing::warn!(
                feed,
                "WebSub: pushed content without a valid signature ignored"
            );
            self.metrics.websub_push("refused");
            return Ok(false);
        }
        let Ok(topic) = url::Url::parse(&sub.topic) else {
            return Err(());
        };
        let fetcher = self.fetcher();
        let ctx = self.context(&config, &fetcher);
        let report = crate::refresh::ingest_pushed(&ctx, feed_cfg, body, content_type, topic).await;
        let stored = matches!(report.outcome, Outcome::Stored(_));
        self.metrics
            .websub_push(if stored { "stored" } else { "unreadable" });
        if report.changed_stories() {
            self.request_render();
        }
        let _ = self.reports.send(report);
        Ok(stored)
    }

    /// What a refresh (or a push) is given, from the config and client in force.
    fn context<'a>(&'a self, config: &'a Config, fetcher: &'a Fetcher) -> RefreshContext<'a> {
        RefreshContext {
            store: &self.store,
            fetcher,
            poll: &config.poll,
            runtime: &self.runtime,
            max_age: crate::refresh::oldest_kept(
                config.storage.retention_days,
                config.poll.max_age,
            ),
        }
    }

    /// Claims the delivery task of a `[[notify]]` target; false when one runs already.
    pub fn notify_claim(&self, id: &str) -> bool {
        let mut running = self
            .notify_running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        running.insert(id.to_owned())
    }

    /// A target's delivery task has ended.
    pub fn notify_release(&self, id: &str) {
        let mut running = self
            .notify_running
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        running.remove(id);
    }

    /// Starts a refresh of `feed` as its own task, unless shutting down.
    pub fn spawn_refresh(self: &Arc<Self>, feed: FeedConfig) {
        let app = self.clone();
        let stop = self.hard_stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                _ = app.refresh(&feed, Trigger::Scheduled) => {}
                _ = stop.cancelled() => {
                    tracing::warn!(feed = %feed.id, "refresh abandoned at shutdown");
                }
            }
        });
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
            Ok(p) => {
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
            Err(e) => tracing::error!("housekeeping failed: {e}"),
        }
    }

    /// A saved search as a feed: `/search.EXT?q=QUERY` with the newest `limit` stories that
    /// match, rendered on request off the async workers. `None` for an unknown format, or when
    /// the database does not answer.
    pub async fn render_search(&self, ext: &str, query: &str, limit: usize) -> Option<Rendered> {
        let config = self.config();
        let render = FORMATS.iter().find(|(e, _)| *e == ext)?.1;
        let title = format!("{}: search \u{201c}{query}\u{201d}", config.server.title);
        let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
        let path = format!("/search.{ext}?q={encoded}");
        let q = query.to_owned();
        let stories = self
            .store
            .read(move |db| db.search(&q, limit, 0))
            .await
            .ok()?;
        let meta = feed_meta(&config.server, &path, title);
        tokio::task::spawn_blocking(move || render(&stories, &meta))
            .await
            .ok()
    }

    /// A merged feed (`/feed.EXT` or `/tags/TAG.EXT`) with at most `limit` stories, rendered on
    /// request (for `?limit=` below the configured size), off the async workers. `None` for an
    /// unknown path.
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
        let render = FORMATS.iter().find(|(e, _)| *e == ext)?.1;
        let title = match &tag {
            None => config.server.title.clone(),
            Some(t) => format!("{}: {t}", config.server.title),
        };
        let stories = self
            .store
            .read(move |db| db.latest_stories(limit, tag.as_deref()))
            .await
            .ok()?;
        let meta = feed_meta(&config.server, path, title);
        tokio::task::spawn_blocking(move || render(&stories, &meta))
            .await
            .ok()
    }

    /// Renders every merged feed whose stories changed since its last render, and the OPML.
    /// The store only reads the stories; rendering and compression run on the blocking pool,
    /// so that neither the database nor the async workers wait on them.
    async fn render_all(&self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let config = self.config();
        let size = config.server.feed_size;
        let title = &config.server.title;
        let mut feeds: Vec<(String, String, Option<String>)> =
            vec![("/feed".to_owned(), title.clone(), None)];
        for tag in config.tags() {
            feeds.push((format!("/tags/{tag}"), format!("{title}: {tag}"), Some(tag)));
        }
        let tags: Vec<Option<String>> = feeds.iter().map(|f| f.2.clone()).collect();
        let outputs_cfg = config.outputs.clone();
        let now = chrono::Utc::now();
        let (mut lists, output_lists) = self
            .store
            .read(move |db| {
                let lists = tags
                    .iter()
                    .map(|tag| db.latest_stories(size, tag.as_deref()))
                    .collect::<Result<Vec<_>, _>>()?;
                let outputs = outputs_cfg
                    .iter()
                    .map(|o| output_candidates(db, o, now))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((lists, outputs))
            })
            .await?;
        for (o, candidates) in config.outputs.iter().zip(output_lists) {
            feeds.push((format!("/outputs/{}", o.id), o.title.clone(), None));
            lists.push(select_output(candidates, o));
        }
        // `[[notify]]`: what each target's output holds now is noted (new stories become
        // owed messages), then the delivery tasks are woken.
        let n_feeds = feeds.len() - config.outputs.len();
        let mut owed = 0;
        for target in &config.notify {
            let Some(i) = config.outputs.iter().position(|o| o.id == target.output) else {
                continue;
            };
            let stories: Vec<(String, i64, chrono::DateTime<chrono::Utc>)> = lists[n_feeds + i]
                .iter()
                .map(|s| {
                    (
                        s.id.0.clone(),
                        crate::publish::outlets(s).len() as i64,
                        s.published,
                    )
                })
                .collect();
            let (id, on_outlets) = (target.id.clone(), target.on_outlets);
            match self
                .store
                .call(move |db| db.note_output_stories(&id, &stories, on_outlets, now))
                .await
            {
                Ok(n) => owed += n,
                Err(e) => tracing::warn!(notify = %target.id, "noting new stories: {e}"),
            }
        }
        if owed > 0 {
            self.notify_wake.send_modify(|n| *n = n.wrapping_add(1));
        }
        let previous = self.outputs();
        let mut signatures = self
            .signatures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let cfg = config.clone();
        let (rendered, signatures) = tokio::task::spawn_blocking(move || {
            let mut out = Outputs::new();
            for ((base_path, title, _), stories) in feeds.iter().zip(lists) {
                let signature = stories_signature(&stories);
                let unchanged = signatures.get(base_path) == Some(&signature)
                    && FORMATS
                        .iter()
                        .all(|(ext, _)| previous.contains_key(&format!("{base_path}.{ext}")));
                for (ext, render) in FORMATS {
                    let path = format!("{base_path}.{ext}");
                    let doc = match previous.get(&path) {
                        Some(doc) if unchanged => doc.clone(),
                        _ => render(&stories, &feed_meta(&cfg.server, &path, title.clone())),
                    };
                    out.insert(path, doc);
                }
                signatures.insert(base_path.clone(), signature);
            }
            // The OPML lists every feed: rendered and compressed again only when the config
            // changed (its cost grows with the feeds; a story change does not touch it).
            let loaded_at = config_loaded_at(&cfg);
            let opml_signature = opml_signature(&cfg, loaded_at);
            let opml = match previous.get("/sources.opml") {
                Some(doc) if signatures.get("/sources.opml") == Some(&opml_signature) => {
                    doc.clone()
                }
                _ => render_opml(&cfg, loaded_at),
            };
            out.insert("/sources.opml".into(), opml);
            signatures.insert("/sources.opml".into(), opml_signature);
            (out, signatures)
        })
        .await
        .context("rendering the merged feeds")?;
        // WebSub: the Atom and RSS documents whose stories changed (not the OPML, not a
        // first render after a start, which changed nothing a subscriber has not seen).
        let changed: Vec<String> = {
            let before = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
            signatures
                .iter()
                .filter(|(path, sig)| {
                    path.as_str() != "/sources.opml" && before.get(*path).is_some_and(|b| b != *sig)
                })
                .flat_map(|(path, _)| [format!("{path}.atom"), format!("{path}.rss")])
                .collect()
        };
        if !config.server.websub_hubs.is_empty() && !changed.is_empty() {
            let topics: Vec<String> = changed
                .iter()
                .filter_map(|p| config.server.base_url.join(p.trim_start_matches('/')).ok())
                .map(|u| u.to_string())
                .collect();
            let client = self.fetcher().client();
            let hubs = config.server.websub_hubs.clone();
            self.tasks
                .spawn(crate::websub::announce(client, hubs, topics));
        }
        *self.signatures.lock().unwrap_or_else(|e| e.into_inner()) = signatures;
        self.outputs.send_replace(Arc::new(rendered));
        self.metrics.render(started.elapsed());
        Ok(())
    }
}

/// Renders the merged feeds whenever asked (requests coalesce: a burst of refreshes renders
/// once or twice, not once per feed).
pub async fn render_loop(app: Arc<App>) {
    use futures_util::FutureExt as _;
    loop {
        app.render_needed.notified().await;
        let started = tokio::time::Instant::now();
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
        // Changes that arrive meanwhile are coalesced into the next render, which starts no
        // sooner than RENDER_DUTY times this render's duration later (capped): with feeds
        // changing all through the minute, rendering takes at most a fifth of one core.
        let gap = (started.elapsed() * RENDER_DUTY).min(MAX_RENDER_GAP);
        tokio::time::sleep(gap).await;
    }
}

/// The stories an `[[output]]` may carry, read for [`select_output`]: when keywords or the
/// order by outlets decide, more than `size` (the newest that pass the SQL conditions).
fn output_candidates(
    db: &crate::store::Db,
    o: &crate::config::OutputConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Story>, crate::store::StoreError> {
    let limit = if o.filter.is_empty() && !o.by_outlets {
        o.size
    } else {
        (o.size * 10).clamp(500, 5000)
    };
    let since = o
        .max_age
        .and_then(|a| chrono::Duration::from_std(a).ok())
        .map(|a| now - a);
    let feeds: Vec<String> = o.feeds.iter().map(|f| f.0.clone()).collect();
    db.output_candidates(
        &o.tags,
        &feeds,
        o.min_outlets,
        since,
        o.query.as_deref(),
        limit,
    )
}

/// An `[[output]]`'s stories from its candidates (newest first): those with a member
/// mentioning one of `include` (if given) and none mentioning `exclude`, most outlets first
/// when asked (then newest), at most `size`.
pub fn select_output(candidates: Vec<Story>, o: &crate::config::OutputConfig) -> Vec<Story> {
    let mentions = |s: &Story, k: &crate::filter::Keywords| {
        s.members
            .iter()
            .any(|m| k.matches_any(&[&m.title, &m.text]))
    };
    let mut kept: Vec<Story> = candidates
        .into_iter()
        .filter(|s| o.filter.include.as_ref().is_none_or(|k| mentions(s, k)))
        .filter(|s| o.filter.exclude.as_ref().is_none_or(|k| !mentions(s, k)))
        .collect();
    if o.by_outlets {
        // Stable: equal counts keep their newest-first order.
        kept.sort_by_key(|s| std::cmp::Reverse(crate::publish::outlets(s).len()));
    }
    kept.truncate(o.size);
    kept
}

/// The render loop rests this many times a render's duration before the next one.
const RENDER_DUTY: u32 = 4;
/// The longest rest between two renders (the delay a reader may see on top of a render).
const MAX_RENDER_GAP: std::time::Duration = std::time::Duration::from_secs(5);

/// Renders the merged feeds once, now (at start, before serving).
pub async fn render_now(app: &App) -> anyhow::Result<()> {
    app.render_all().await
}

/// What decides a merged feed's bytes: its stories, their members and when each last changed.
fn stories_signature(stories: &[Story]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for s in stories {
        s.id.hash(&mut h);
        s.updated.timestamp().hash(&mut h);
        for m in &s.members {
            m.item_id.hash(&mut h);
            m.updated.timestamp().hash(&mut h);
        }
    }
    h.finish()
}

/// What decides the OPML's bytes: the desk's title and the enabled feeds as listed.
fn opml_signature(config: &Config, loaded_at: chrono::DateTime<chrono::Utc>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    config.server.title.hash(&mut h);
    loaded_at.timestamp().hash(&mut h);
    for f in config.enabled_feeds() {
        (f.id.as_str(), &f.name, f.url.as_str(), &f.tags).hash(&mut h);
    }
    for o in &config.outputs {
        (&o.id, &o.title).hash(&mut h);
    }
    config.server.base_url.as_str().hash(&mut h);
    h.finish()
}

/// When the config file was last written (for the OPML's Last-Modified), else the epoch.
fn config_loaded_at(config: &Config) -> chrono::DateTime<chrono::Utc> {
    std::fs::metadata(&config.source)
        .and_then(|m| m.modified())
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or(chrono::DateTime::UNIX_EPOCH)
}

/// What a merged feed at `path` says about itself.
fn feed_meta(server: &crate::config::ServerConfig, path: &str, title: String) -> FeedMeta {
    let base = &server.base_url;
    FeedMeta {
        title,
        self_url: base
            .join(path.trim_start_matches('/'))
            .map(|u| u.to_string())
            .unwrap_or_default(),
        home_url: base.to_string(),
        hubs: server.websub_hubs.iter().map(|u| u.to_string()).collect(),
    }
}

/// The shortest interval between two scheduled polls of any enabled feed, in seconds, clamped
/// to [60, 3600]. Computed when a config comes into force, not per render.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_story_change_changes_the_signature() {
        let a = Story {
            id: crate::store::StoryId("s1".into()),
            published: chrono::DateTime::UNIX_EPOCH,
            first_seen: chrono::DateTime::UNIX_EPOCH,
            updated: chrono::DateTime::UNIX_EPOCH,
            members: Vec::new(),
        };
        let mut b = a.clone();
        assert_eq!(
            stories_signature(std::slice::from_ref(&a)),
            stories_signature(std::slice::from_ref(&b))
        );
        b.updated += chrono::Duration::seconds(1);
        assert_ne!(
            stories_signature(std::slice::from_ref(&a)),
            stories_signature(std::slice::from_ref(&b))
        );
        assert_ne!(stories_signature(&[]), stories_signature(&[a]));
    }
}
