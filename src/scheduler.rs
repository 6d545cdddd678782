//! Cron scheduling of feed refreshes with tokio-cron-scheduler.
//!
//! Its known traps, and what we do about each:
//! - it wants 6-field cron: [`crate::schedule`] converts 5-field expressions, adding the
//!   per-feed seconds offset that also spreads the load;
//! - it starts a job again while the previous run is still going: jobs only *spawn* a refresh,
//!   and `refresh_feed` skips a tick when the feed's previous refresh still holds its guard;
//! - it drifts at daylight-saving changes in local time: every job is scheduled in UTC;
//! - its internal broadcast channels have a fixed capacity (200 by default) and drop
//!   activations beyond it: we size them for the number of feeds.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use crate::app::App;
use crate::config::{Config, FeedConfig, FeedId};

/// The running scheduler and the job of each feed.
pub struct Scheduler {
    sched: JobScheduler,
    jobs: HashMap<FeedId, Uuid>,
    app: Arc<App>,
}

impl Scheduler {
    /// Schedules every enabled feed of `config` and starts ticking.
    pub async fn start(app: Arc<App>, config: &Config) -> anyhow::Result<Scheduler> {
        let capacity = (config.feeds.len() * 4).max(4096);
        let sched = JobScheduler::new_with_channel_size(capacity)
            .await
            .context("starting the scheduler")?;
        let mut s = Scheduler {
            sched,
            jobs: HashMap::new(),
            app,
        };
        for feed in config.enabled_feeds() {
            s.add(feed.clone()).await?;
        }
        s.add_housekeeping().await?;
        s.sched.start().await.context("starting the scheduler")?;
        Ok(s)
    }

    /// Adds (or replaces) the job of one feed.
    pub async fn add(&mut self, feed: FeedConfig) -> anyhow::Result<()> {
        self.remove(&feed.id).await;
        let id = feed.id.clone();
        let app = self.app.clone();
        let cron = feed.schedule.cron6().to_owned();
        let job = Job::new_async_tz(cron.as_str(), Utc, move |_uuid, _sched| {
            let app = app.clone();
            let feed = feed.clone();
            Box::pin(async move { app.spawn_refresh(feed) })
        })
        .with_context(|| format!("scheduling feed `{id}` with `{cron}`"))?;
        let uuid = self
            .sched
            .add(job)
            .await
            .with_context(|| format!("scheduling feed `{id}`"))?;
        self.jobs.insert(id, uuid);
        Ok(())
    }

    /// The daily prune (retention) and database maintenance, at 03:17 UTC.
    async fn add_housekeeping(&mut self) -> anyhow::Result<()> {
        let app = self.app.clone();
        let job = Job::new_async_tz("0 17 3 * * *", Utc, move |_uuid, _sched| {
            let app = app.clone();
            Box::pin(async move { app.housekeeping().await })
        })
        .context("scheduling housekeeping")?;
        self.sched
            .add(job)
            .await
            .context("scheduling housekeeping")?;
        Ok(())
    }

    /// Removes the job of one feed, if it has one.
    pub async fn remove(&mut self, feed: &FeedId) {
        if let Some(uuid) = self.jobs.remove(feed)
            && let Err(e) = self.sched.remove(&uuid).await
        {
            tracing::warn!(feed = %feed, "removing its job: {e}");
        }
    }

    /// Whether the scheduler's internals answer (its job store and clock).
    pub async fn alive(&mut self) -> bool {
        self.sched.time_till_next_job().await.is_ok()
    }

    /// Stops ticking; refreshes already started go on.
    pub async fn stop(&mut self) {
        if let Err(e) = self.sched.shutdown().await {
            tracing::warn!("stopping the scheduler: {e}");
        }
    }
}
