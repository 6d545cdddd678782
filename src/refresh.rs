//! `refresh_feed`: one feed's refresh, calling the stages in order —
//! fetch → parse → normalise (inside parse) → dedup and store (one transaction) → ask for a
//! render. Every failure stays inside this feed's refresh: it is recorded on the feed's row,
//! logged, reported, and nothing else is affected.

use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::backoff;
use crate::config::{FeedConfig, FeedId};
use crate::daemon::App;
use crate::fetch::Fetched;
use crate::normalise::redact_url;
use crate::parse::parse_feed;
use crate::store::{FetchMeta, IngestStats};

/// How a refresh ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// New body, stored (possibly with nothing new in it).
    Stored(IngestStats),
    /// 304, or the same body as last time: nothing parsed, nothing written but the feed's state.
    Unchanged,
    /// The refresh failed; the message is stored on the feed and shown in `status`.
    Failed(String),
    /// A refresh of this feed was still running, so this one did not start.
    Skipped,
}

/// Why a refresh runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A scheduler tick (or start-up catch-up): skipped while the feed is backing off.
    Scheduled,
    /// An operator's explicit request (`poll-once`): runs whatever the back-off says.
    Manual,
}

/// What one refresh did, as logged and broadcast to listeners (tests, metrics).
#[derive(Clone, Debug)]
pub struct RefreshReport {
    pub feed: FeedId,
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub duration: Duration,
}

/// Refreshes one feed now. Never panics on bad input; never blocks other feeds (the fetch
/// limits are shared, but each feed's work is its own task).
pub async fn refresh_feed(app: &App, feed: &FeedConfig, trigger: Trigger) -> RefreshReport {
    let started = Instant::now();
    let guard = app.feed_guard(&feed.id);
    // tokio-cron-scheduler starts a job again even when its previous run has not finished:
    // refreshes of one feed must never overlap, so a tick that finds one running is skipped.
    let Ok(_running) = guard.try_lock() else {
        tracing::debug!(feed = %feed.id, "previous refresh still running; tick skipped");
        return RefreshReport {
            feed: feed.id.clone(),
            status: None,
            outcome: Outcome::Skipped,
            duration: started.elapsed(),
        };
    };
    let (status, outcome) = run_stages(app, feed, trigger).await;
    let report = RefreshReport {
        feed: feed.id.clone(),
        status,
        outcome,
        duration: started.elapsed(),
    };
    log_report(&report);
    app.report(report.clone());
    report
}

async fn run_stages(app: &App, feed: &FeedConfig, trigger: Trigger) -> (Option<u16>, Outcome) {
    let now = Utc::now();
    let scheduled = feed.schedule.next_after(now);
    let id = feed.id.clone();
    let validators = match app.store.call(move |db| db.validators(&id)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return (None, Outcome::Failed(e.to_string())),
        Err(e) => return (None, Outcome::Failed(e.to_string())),
    };
    // A tick inside a back-off (or before a cache header's minimum interval) is skipped.
    if let Some(due) = validators.next_attempt
        && trigger == Trigger::Scheduled
        && due > now + chrono::Duration::seconds(2)
    {
        tracing::debug!(feed = %feed.id, next_attempt = %due, "not due yet; tick skipped");
        return (None, Outcome::Skipped);
    }

    let max_backoff = app.config().poll.max_backoff;
    let failures = validators.consecutive_failures + 1;
    let fail = |status: Option<u16>, retry_after: Option<std::time::Duration>, message: String| {
        let id = feed.id.clone();
        let store = app.store.clone();
        let next = backoff::after_failure(
            now,
            failures,
            retry_after,
            max_backoff,
            backoff::jitter(id.as_str()),
        );
        async move {
            let msg = message.clone();
            let _ = store
                .call(move |db| db.record_failure(&id, status, &msg, Utc::now(), Some(next)))
                .await;
            (status, Outcome::Failed(message))
        }
    };

    let target = app.poll_url(feed);
    let body = match app
        .fetcher()
        .fetch(&target, &feed.headers, &validators)
        .await
    {
        Ok(Fetched::Body(b)) => b,
        Ok(Fetched::NotModified(min_interval)) => {
            let id = feed.id.clone();
            let next = backoff::after_success(scheduled, now, min_interval);
            let _ = app
                .store
                .call(move |db| db.record_unchanged(&id, 304, now, next))
                .await;
            return (Some(304), Outcome::Unchanged);
        }
        Err(e) => return fail(e.status(), e.retry_after(), e.to_string()).await,
    };
    let next = backoff::after_success(scheduled, now, body.min_interval);
    if let Some(to) = &body.moved_to
        && app.record_move(feed, to.clone())
    {
        tracing::warn!(
            feed = %feed.id,
            from = %redact_url(&feed.url),
            to = %redact_url(to),
            "feed moved permanently (301/308): polling the new URL; update its url in feeds.toml"
        );
        let (id, from, to) = (feed.id.clone(), feed.url.to_string(), to.to_string());
        if let Ok(Err(e)) = app
            .store
            .call(move |db| db.record_move(&id, &from, &to))
            .await
        {
            tracing::warn!(feed = %feed.id, error = %e, "could not remember the move");
        }
    }

    let body_hash = hex(&Sha256::digest(&body.bytes));
    let status = body.status;
    if validators.url.as_deref() == Some(target.as_str())
        && validators.body_hash.as_deref() == Some(body_hash.as_str())
    {
        let id = feed.id.clone();
        let _ = app
            .store
            .call(move |db| db.record_unchanged(&id, status, now, next))
            .await;
        return (Some(status), Outcome::Unchanged);
    }

    let base = body.final_url.clone();
    let bytes = body.bytes;
    let content_type = body.content_type.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        parse_feed(&bytes, content_type.as_deref(), Some(&base), now)
    })
    .await;
    let parsed = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            return fail(
                Some(status),
                None,
                format!("{} from {}", e, redact_url(&body.final_url)),
            )
            .await;
        }
        Err(e) => return fail(Some(status), None, format!("parser crashed: {e}")).await,
    };

    // What a lenient reader let pass, by kind: each is shown on the feed's status row; the log
    // says so when the kinds change (not on every refresh of a feed that is always a bit off).
    let mut warnings: Vec<(&str, String)> = Vec::new();
    if let Some(w) = &body.warning {
        warnings.push(("content coding", w.clone()));
    }
    if let Some(e) = &parsed.recovered {
        warnings.push((
            "not well-formed",
            format!("recovered: not well-formed ({e}); read after repair"),
        ));
    }
    if parsed.undecodable_bytes {
        let enc = parsed.encoding;
        warnings.push((
            "invalid bytes",
            format!("some bytes are not valid {enc} and were replaced by U+FFFD"),
        ));
    }
    if let Some(label) = &parsed.unknown_charset {
        warnings.push((
            "unknown charset",
            format!(
                "declares an unknown charset {label:?}; read as {}",
                parsed.encoding
            ),
        ));
    }
    if parsed.charset_guessed {
        warnings.push((
            "charset guessed",
            format!(
                "charset not declared; read as {} by detection",
                parsed.encoding
            ),
        ));
    }
    let kinds: Vec<&str> = warnings.iter().map(|(k, _)| *k).collect();
    let warnings: Vec<String> = warnings.into_iter().map(|(_, w)| w).collect();
    if app.warning_kinds_changed(&feed.id, &kinds) {
        if warnings.is_empty() {
            tracing::info!(feed = %feed.id, "feed reads cleanly again");
        } else {
            tracing::warn!(
                feed = %feed.id,
                warning = %warnings.join("; "),
                "feed read leniently (shown on its status row; logged again when this changes)"
            );
        }
    }
    let warning = (!warnings.is_empty()).then(|| warnings.join("; "));
    let meta = FetchMeta {
        status,
        etag: body.etag,
        last_modified: body.last_modified,
        body_hash: Some(body_hash),
        feed_title: parsed.title,
        warning,
    };
    let id = feed.id.clone();
    let url = target.to_string();
    let entries = parsed.entries;
    let stored = app
        .store
        .call(move |db| db.ingest(&id, &url, &entries, &meta, now, next))
        .await;
    match stored {
        Ok(Ok(stats)) => {
            if stats.changed() {
                app.request_render();
            }
            (Some(status), Outcome::Stored(stats))
        }
        Ok(Err(e)) => fail(Some(status), None, format!("storing entries: {e}")).await,
        Err(e) => (Some(status), Outcome::Failed(e.to_string())),
    }
}

fn log_report(r: &RefreshReport) {
    let ms = r.duration.as_millis() as u64;
    let status = r.status.unwrap_or(0);
    match &r.outcome {
        Outcome::Stored(s) => tracing::info!(
            feed = %r.feed, status, new = s.new, updated = s.updated,
            unchanged = s.unchanged, merged = s.merged, ms, "refreshed"
        ),
        Outcome::Unchanged => {
            tracing::info!(feed = %r.feed, status, new = 0, updated = 0, ms, "unchanged")
        }
        Outcome::Failed(e) => {
            tracing::warn!(feed = %r.feed, status, ms, error = %e, "refresh failed")
        }
        Outcome::Skipped => {}
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
