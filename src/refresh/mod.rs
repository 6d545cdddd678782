//! `refresh_feed`: one feed's refresh, calling the stages in order —
//! fetch → parse → normalise (inside parse) → dedup and store (one transaction). Every failure
//! stays inside this feed's refresh: it is recorded on the feed's row, logged, reported, and
//! nothing else is affected.
//!
//! A refresh gets a narrow [`RefreshContext`] — the store, the HTTP client, the `[poll]`
//! settings and the per-feed [`runtime::FeedRuntime`] — and hands its [`RefreshReport`] back;
//! asking for a render and broadcasting the report are the caller's business.

pub mod fulltext;
pub mod runtime;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use sha2::{Digest, Sha256};

use crate::backoff;
use crate::config::{FeedConfig, FeedId, PollConfig};
use crate::fetch::{Body, Fetched, Fetcher};
use crate::model::Validators;
use crate::normalise::redact_url;
use crate::parse::{Limits, ParsedFeed, parse_feed_skipping};
use crate::store::{FetchMeta, IngestStats, Store, StoreError, panic_message};
use runtime::FeedRuntime;

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

impl RefreshReport {
    /// Whether the merged feeds need rendering again after this refresh.
    pub fn changed_stories(&self) -> bool {
        matches!(&self.outcome, Outcome::Stored(s) if s.changed())
    }
}

/// What a refresh uses, and nothing more.
pub struct RefreshContext<'a> {
    pub store: &'a Store,
    pub fetcher: &'a Fetcher,
    pub poll: &'a PollConfig,
    pub runtime: &'a FeedRuntime,
    /// Entries whose own date is older than this when first seen are not stored: the
    /// retention period, or `[poll] max_age` when shorter (see [`oldest_kept`]).
    pub max_age: Duration,
}

/// How old an entry may be (by its own date) and still be stored: retention would prune it
/// at once otherwise, and `[poll] max_age` may ask for less.
pub fn oldest_kept(retention_days: u32, max_age: Option<Duration>) -> Duration {
    let retention = Duration::from_secs(u64::from(retention_days) * 86_400);
    max_age.map_or(retention, |m| m.min(retention))
}

/// Drops the entries whose own date is before `cutoff` (entries without a date are first seen
/// now, so they stay); returns how many went.
pub fn drop_too_old(entries: &mut Vec<crate::parse::Entry>, cutoff: DateTime<Utc>) -> usize {
    let before = entries.len();
    entries.retain(|e| e.published.is_none_or(|p| p >= cutoff));
    before - entries.len()
}

/// A refresh's result so far: the HTTP status (if any) and how it ended.
type Staged = (Option<u16>, Outcome);

/// A refresh's place among those between fetch and store (`Fetcher::refresh_slot`).
type Slot = tokio::sync::OwnedSemaphorePermit;

/// Refreshes one feed now. Never panics on bad input; never blocks other feeds (the fetch
/// limits are shared, but each feed's work is its own task).
pub async fn refresh_feed(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    trigger: Trigger,
) -> RefreshReport {
    let started = Instant::now();
    let guard = ctx.runtime.feed_guard(&feed.id);
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
    // Back-pressure: at most `[poll] concurrency` refreshes are between their fetch and the
    // store having run their write (not its batch's commit: see `Store::write_holding`), so
    // fetching and parsing never run more than that far ahead of the one store thread (2,000
    // feeds fetched at once once held 800 MB of parsed entries waiting). Waiting for a slot
    // does not count against the refresh's time limit.
    let slot = ctx.fetcher.refresh_slot().await;
    let (status, outcome) = contained(ctx, feed, run_stages(ctx, feed, trigger, slot)).await;
    let report = RefreshReport {
        feed: feed.id.clone(),
        status,
        outcome,
        duration: started.elapsed(),
    };
    log_report(&report);
    report
}

/// A feed document pushed by its WebSub hub (signature checked by the caller): read and
/// stored like a polled body — same parsing, limits, filters, dedup and one transaction —
/// without touching the feed's poll state (validators, body hash, next attempt). Waits for a
/// refresh of the feed in progress (never overlaps one); a body that cannot be read is
/// reported, not recorded as the feed failing (polling decides the feed's health).
pub async fn ingest_pushed(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    bytes: Vec<u8>,
    content_type: Option<String>,
    topic: url::Url,
) -> RefreshReport {
    let started = Instant::now();
    let guard = ctx.runtime.feed_guard(&feed.id);
    let report = |status, outcome| RefreshReport {
        feed: feed.id.clone(),
        status,
        outcome,
        duration: started.elapsed(),
    };
    let Ok(_running) = tokio::time::timeout(ctx.poll.refresh_timeout, guard.lock()).await else {
        let message = format!(
            "pushed content for feed {} waited too long for a refresh",
            feed.id
        );
        return report(None, Outcome::Failed(message));
    };
    let slot = ctx.fetcher.refresh_slot().await;
    let push = push_stages(ctx, feed, bytes, content_type, topic, slot);
    let (status, outcome) = contained(ctx, feed, push).await;
    let done = report(status, outcome);
    log_report(&done);
    done
}

/// The stages of a pushed body: parse (failures reported only), then as a polled body.
async fn push_stages(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    bytes: Vec<u8>,
    content_type: Option<String>,
    topic: url::Url,
    slot: Slot,
) -> Staged {
    let now = Utc::now();
    let id = feed.id.clone();
    let validators = match ctx.store.read(move |db| db.validators(&id)).await {
        Ok(v) => v,
        Err(e) => return (None, Outcome::Failed(e.to_string())),
    };
    let parsed = parse_blocking(ctx, feed, bytes, content_type, topic.clone(), now).await;
    let parsed = match parsed {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            let message = format!("pushed content for feed {}: {e}", feed.id);
            return (Some(200), Outcome::Failed(message));
        }
        Err(e) => {
            let message = format!("reading pushed content for feed {} failed: {e}", feed.id);
            return (Some(200), Outcome::Failed(message));
        }
    };
    let stored_url = validators
        .url
        .clone()
        .unwrap_or_else(|| redact_url(&ctx.runtime.poll_url(feed)));
    let parsed = Parsed {
        feed: parsed,
        etag: validators.etag.clone(),
        last_modified: validators.last_modified.clone(),
    };
    let kept = Kept {
        status: 200,
        stored_url,
        body_hash: validators.body_hash.clone(),
        body_warning: None,
        next: validators.next_attempt,
    };
    filter_and_store(ctx, feed, parsed, kept, now, slot).await
}

/// A refresh's stages bounded in time, with a panic inside them (a bug of ours that some
/// input reached) failing this refresh only: both are recorded on the feed's row like any
/// failure.
async fn contained(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    stages: impl std::future::Future<Output = Staged>,
) -> Staged {
    let limit = ctx.poll.refresh_timeout;
    let staged = AssertUnwindSafe(tokio::time::timeout(limit, stages))
        .catch_unwind()
        .await;
    match staged {
        Ok(Ok(done)) => done,
        Ok(Err(_elapsed)) => {
            let message = format!(
                "refresh of feed {} took longer than {} ([poll] refresh_timeout) and was abandoned",
                feed.id,
                humantime::format_duration(limit)
            );
            record_failure(ctx, feed, None, None, message).await
        }
        Err(payload) => {
            let message = format!(
                "internal error while refreshing feed {}: {}",
                feed.id,
                panic_message(payload.as_ref())
            );
            record_failure(ctx, feed, None, None, message).await
        }
    }
}

/// What a body's store keeps of its fetch besides the entries.
struct Kept {
    status: u16,
    stored_url: String,
    body_hash: Option<String>,
    body_warning: Option<String>,
    next: Option<DateTime<Utc>>,
}

/// The stages in order; each returns early with the refresh's end when it has one.
async fn run_stages(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    trigger: Trigger,
    slot: Slot,
) -> Staged {
    let now = Utc::now();
    let id = feed.id.clone();
    let validators = match ctx.store.read(move |db| db.validators(&id)).await {
        Ok(v) => v,
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
    let scheduled = feed.schedule.next_after(now);
    let target = ctx.runtime.poll_url(feed);
    let body = match fetch_stage(ctx, feed, &target, &validators, scheduled, now).await {
        Ok(body) => body,
        Err(done) => return done,
    };
    let next = backoff::after_success(scheduled, now, body.min_interval);
    note_permanent_move(ctx, feed, &body).await;

    let body_hash = hex(&Sha256::digest(&body.bytes));
    let status = body.status;
    let stored_url = redact_url(&target);
    if validators.url.as_deref() == Some(stored_url.as_str())
        && validators.body_hash.as_deref() == Some(body_hash.as_str())
    {
        return record_unchanged(ctx, feed, status, now, next).await;
    }
    let body_warning = body.warning.clone();
    let header_websub = crate::parse::websub_links_from_headers(&body.links, &body.final_url);
    let mut parsed = match parse_stage(ctx, feed, *body, now).await {
        Ok(parsed) => parsed,
        Err(done) => return done,
    };
    // A hub and topic in the response's `Link` headers come before the document's own.
    if let Some(links) = header_websub {
        parsed.feed.websub = Some(links);
    }
    let kept = Kept {
        status,
        stored_url,
        body_hash: Some(body_hash),
        body_warning,
        next,
    };
    filter_and_store(ctx, feed, parsed, kept, now, slot).await
}

/// A parsed body's entries, less those too old or filtered out, stored with the fetch's state.
async fn filter_and_store(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    mut parsed: Parsed,
    kept: Kept,
    now: DateTime<Utc>,
    slot: Slot,
) -> Staged {
    let cutoff = now - chrono::Duration::from_std(ctx.max_age).unwrap_or(chrono::Duration::MAX);
    let too_old = drop_too_old(&mut parsed.feed.entries, cutoff);
    if too_old > 0 {
        tracing::debug!(feed = %feed.id, too_old, "entries older than retention or max_age left out");
    }
    // `[[feed]] include` / `exclude`: items the desk does not want are never stored.
    if !feed.filter.is_empty() {
        let before = parsed.feed.entries.len();
        parsed
            .feed
            .entries
            .retain(|e| feed.filter.keeps(&e.title, &e.text));
        let filtered = before - parsed.feed.entries.len();
        if filtered > 0 {
            tracing::debug!(feed = %feed.id, filtered, "entries left out by include/exclude");
        }
    }
    let limits = Limits {
        max_items: ctx.poll.max_items,
    };
    let warnings = lenient_read_warnings(kept.body_warning.as_deref(), &parsed.feed, limits);
    log_warning_change(ctx, feed, &warnings);
    if let Some(links) = &parsed.feed.websub {
        ctx.runtime.note_websub(&feed.id, links.clone());
    }
    let meta = FetchMeta {
        status: kept.status,
        etag: parsed.etag,
        last_modified: parsed.last_modified,
        body_hash: kept.body_hash,
        feed_title: parsed.feed.title.clone(),
        warning: (!warnings.is_empty()).then(|| {
            let texts: Vec<&str> = warnings.iter().map(|(_, w)| w.as_str()).collect();
            texts.join("; ")
        }),
        full_text_below: feed.full_text.then_some(ctx.poll.full_text_below),
    };
    let to_store = ToStore {
        stored_url: kept.stored_url,
        parsed: parsed.feed,
        meta,
        now,
        next: kept.next,
    };
    store_stage(ctx, feed, to_store, slot).await
}

/// Fetches the feed (conditional GET). A 304 or a failure ends the refresh here (recorded on
/// the feed's row); a body goes on.
async fn fetch_stage(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    target: &url::Url,
    validators: &Validators,
    scheduled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Box<Body>, Staged> {
    match ctx.fetcher.fetch(target, &feed.headers, validators).await {
        Ok(Fetched::Body(b)) => Ok(b),
        Ok(Fetched::NotModified(min_interval)) => {
            let next = backoff::after_success(scheduled, now, min_interval);
            Err(record_unchanged(ctx, feed, 304, now, next).await)
        }
        Err(e) => Err(record_failure(ctx, feed, e.status(), e.retry_after(), e.to_string()).await),
    }
}

/// A permanent redirect: polled at the new URL from now on, logged once per change, and
/// remembered across restarts when the new URL carries no credential (the database keeps
/// none; otherwise the redirect is followed again after a restart).
async fn note_permanent_move(ctx: &RefreshContext<'_>, feed: &FeedConfig, body: &Body) {
    let Some(to) = &body.moved_to else { return };
    if !ctx.runtime.record_move(feed, to.clone()) {
        return;
    }
    tracing::warn!(
        feed = %feed.id,
        from = %redact_url(&feed.url),
        to = %redact_url(to),
        "feed moved permanently (301/308): polling the new URL; update its url in feeds.toml"
    );
    if redact_url(to) == to.as_str() {
        let (id, from, to) = (feed.id.clone(), redact_url(&feed.url), to.to_string());
        if let Err(e) = ctx
            .store
            .call(move |db| db.record_move(&id, &from, &to))
            .await
        {
            tracing::warn!(feed = %feed.id, error = %e, "could not remember the move");
        }
    }
}

/// A parsed body with the validators its response carried.
struct Parsed {
    feed: ParsedFeed,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// Parses the body on the blocking pool, through the CPU gate (it can be large, and hostile).
async fn parse_stage(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    body: Body,
    now: DateTime<Utc>,
) -> Result<Parsed, Staged> {
    let status = body.status;
    let base = body.final_url.clone();
    let shown = redact_url(&body.final_url);
    let (bytes, content_type) = (body.bytes, body.content_type);
    let parsed = parse_blocking(ctx, feed, bytes, content_type, base, now).await;
    let message = match parsed {
        Ok(Ok(p)) => {
            return Ok(Parsed {
                feed: p,
                etag: body.etag,
                last_modified: body.last_modified,
            });
        }
        Ok(Err(e)) => format!("{e} from {shown}"),
        Err(e) => match e.try_into_panic() {
            Ok(payload) => format!(
                "internal error while parsing feed {}: {}",
                feed.id,
                panic_message(payload.as_ref())
            ),
            Err(e) => format!("parsing feed {} did not finish: {e}", feed.id),
        },
    };
    Err(record_failure(ctx, feed, Some(status), None, message).await)
}

/// A body parsed on the blocking pool, through the CPU gate (it can be large, and hostile),
/// entries sent as in the feed's last stored fetch skipped.
async fn parse_blocking(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    bytes: Vec<u8>,
    content_type: Option<String>,
    base: url::Url,
    now: DateTime<Utc>,
) -> Result<Result<ParsedFeed, crate::parse::ParseError>, tokio::task::JoinError> {
    let limits = Limits {
        max_items: ctx.poll.max_items,
    };
    let known = ctx.runtime.known_raw(&feed.id, feed.filter.signature());
    ctx.fetcher
        .cpu()
        .run(move || {
            parse_feed_skipping(
                &bytes,
                content_type.as_deref(),
                Some(&base),
                now,
                limits,
                &known,
            )
        })
        .await
}

/// The lenient reads of this refresh, logged when their kinds differ from the last refresh's.
fn log_warning_change(ctx: &RefreshContext<'_>, feed: &FeedConfig, warnings: &[(&str, String)]) {
    let kinds: Vec<&str> = warnings.iter().map(|(k, _)| *k).collect();
    if !ctx.runtime.warning_kinds_changed(&feed.id, &kinds) {
        return;
    }
    if warnings.is_empty() {
        tracing::info!(feed = %feed.id, "feed reads cleanly again");
    } else {
        let texts: Vec<&str> = warnings.iter().map(|(_, w)| w.as_str()).collect();
        tracing::warn!(
            feed = %feed.id,
            warning = %texts.join("; "),
            "feed read leniently (shown on its status row; logged again when this changes)"
        );
    }
}

/// What a refresh hands the store: the entries and the fetch's state.
struct ToStore {
    stored_url: String,
    parsed: ParsedFeed,
    meta: FetchMeta,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

/// Stores the entries and the feed's fetch state in one transaction.
async fn store_stage(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    to_store: ToStore,
    slot: Slot,
) -> Staged {
    let ToStore {
        stored_url,
        parsed,
        meta,
        now,
        next,
    } = to_store;
    let status = meta.status;
    let id = feed.id.clone();
    let entries = Arc::new(parsed.entries);
    // Text matching needs each new entry cleaned and tokenised: done here, on the blocking
    // pool, for the entries not seen in this feed's last stored fetch (the store prepares any
    // other entry that turns out new), so the one store thread only looks items up.
    let unseen = match ctx.runtime.unseen(&feed.id, &entries) {
        Some(unseen) => unseen,
        None => {
            // The first refresh since the start: what the store holds for this feed (read on
            // the reader thread, never queued behind other feeds' writes).
            let id = feed.id.clone();
            if let Ok(hashes) = ctx.store.read(move |db| db.content_hashes(&id)).await {
                ctx.runtime.remember_hashes(&feed.id, &hashes);
            }
            ctx.runtime
                .unseen(&feed.id, &entries)
                .unwrap_or_else(|| vec![true; entries.len()])
        }
    };
    // (Nothing to prepare, no hop to a thread: the store takes a missing entry as unprepared.)
    let prepared = if unseen.contains(&true) {
        let entries = entries.clone();
        ctx.fetcher
            .cpu()
            .run(move || {
                entries
                    .iter()
                    .zip(unseen)
                    .map(|(e, new)| new.then(|| crate::dedup::prepare(&e.title, &e.text)))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // The entries go with the write (freed once it has run, with the slot): the store's
    // answer waits for its batch to commit, and what waits with it should be small.
    let seen = runtime::short_hashes(&entries);
    let stored = ctx
        .store
        .write_holding(slot, move |db| {
            db.ingest_prepared(&id, &stored_url, &entries, &prepared, &meta, now, next)
        })
        .await;
    if stored.is_ok() {
        ctx.runtime.remember_seen(&feed.id, seen);
        ctx.runtime.remember_raw(
            &feed.id,
            feed.filter.signature(),
            &parsed.fingerprints,
            &parsed.items,
        );
    }
    match stored {
        Ok(mut stats) => {
            // Entries left unconverted as sent before are unchanged, as the store would say.
            stats.unchanged += parsed.skipped_known;
            (Some(status), Outcome::Stored(stats))
        }
        Err(StoreError::Closed) => (
            Some(status),
            Outcome::Failed(StoreError::Closed.to_string()),
        ),
        Err(e @ StoreError::Internal(_)) => {
            record_failure(ctx, feed, Some(status), None, e.to_string()).await
        }
        Err(e) => {
            let message = format!("storing entries: {e}");
            record_failure(ctx, feed, Some(status), None, message).await
        }
    }
}

/// Records a refresh that changed nothing (304, or the same body again).
async fn record_unchanged(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    status: u16,
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Staged {
    let id = feed.id.clone();
    let written = ctx
        .store
        .write(move |db| db.record_unchanged(&id, status, now, next))
        .await;
    log_health_write(&feed.id, written);
    (Some(status), Outcome::Unchanged)
}

/// What a lenient reader let pass, by kind (each kind is logged once per change; all are shown
/// on the feed's status row): a wrong content coding, a repair, invalid or guessed charsets,
/// and entries left out over `[poll] max_items`.
pub fn lenient_read_warnings(
    body_warning: Option<&str>,
    parsed: &ParsedFeed,
    limits: Limits,
) -> Vec<(&'static str, String)> {
    let mut warnings: Vec<(&'static str, String)> = Vec::new();
    if let Some(w) = body_warning {
        warnings.push(("content coding", w.to_owned()));
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
    if parsed.items_left_out > 0 {
        warnings.push((
            "too many items",
            format!(
                "the feed lists more than {} entries ([poll] max_items): the newest were read, {} older left out",
                limits.max_items, parsed.items_left_out
            ),
        ));
    }
    warnings
}

/// Records a failed refresh on the feed's row, with the next attempt after a back-off that
/// grows with the failures in a row (or follows the server's Retry-After).
async fn record_failure(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    status: Option<u16>,
    retry_after: Option<Duration>,
    message: String,
) -> (Option<u16>, Outcome) {
    let id = feed.id.clone();
    let max_backoff = ctx.poll.max_backoff;
    let msg = message.clone();
    let now: DateTime<Utc> = Utc::now();
    let written = ctx
        .store
        .write(move |db| {
            let failures = db.validators(&id)?.consecutive_failures + 1;
            let next = backoff::after_failure(
                now,
                failures,
                retry_after,
                max_backoff,
                backoff::jitter(id.as_str()),
            );
            db.record_failure(&id, status, &msg, now, Some(next))
        })
        .await;
    log_health_write(&feed.id, written.map(|_| ()));
    (status, Outcome::Failed(message))
}

/// A feed's health could not be written: say so (the refresh's own outcome stands).
fn log_health_write(feed: &FeedId, written: Result<(), StoreError>) {
    if let Err(e) = written {
        tracing::error!(feed = %feed, error = %e, "could not record the feed's health");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_older_than_retention_or_max_age_are_left_out() {
        let day = Duration::from_secs(86_400);
        assert_eq!(oldest_kept(30, None), 30 * day);
        assert_eq!(oldest_kept(30, Some(2 * day)), 2 * day);
        assert_eq!(oldest_kept(3, Some(10 * day)), 3 * day);
        let now = chrono::Utc::now();
        let entry = |days: Option<i64>| crate::parse::Entry {
            key: format!("{days:?}"),
            guid: None,
            link: None,
            canonical_url: None,
            title: "t".into(),
            summary_html: String::new(),
            text: String::new(),
            published: days.map(|d| now - chrono::Duration::days(d)),
            updated: None,
            content_hash: String::new(),
            media: Default::default(),
        };
        let mut entries = vec![
            entry(Some(1)),
            entry(Some(40)),
            entry(None),
            entry(Some(29)),
        ];
        let gone = drop_too_old(&mut entries, now - chrono::Duration::days(30));
        assert_eq!(gone, 1);
        let kept: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(kept, ["Some(1)", "None", "Some(29)"]);
    }

    /// A feed server on loopback answering every request with `body`.
    async fn serve(body: String) -> String {
        serve_shared(Arc::new(std::sync::Mutex::new(body))).await
    }

    /// [`serve`], answering with whatever `body` holds at the time of each request.
    async fn serve_shared(body: Arc<std::sync::Mutex<String>>) -> String {
        let router = axum::Router::new().fallback(move || {
            let body = body.lock().map(|b| b.clone()).unwrap_or_default();
            async move { ([("content-type", "application/rss+xml")], body) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}/feed.xml")
    }

    fn rss(guid: &str) -> String {
        format!(
            "<rss version=\"2.0\"><channel><title>T</title><item><guid>{guid}</guid><title>Story {guid}</title><link>https://e.example/{guid}</link></item></channel></rss>"
        )
    }

    /// A store in a temp dir with `feeds` (id, URL) synced, a fetcher and a runtime: what a
    /// `RefreshContext` borrows.
    struct Harness {
        _dir: tempfile::TempDir,
        config: crate::Config,
        store: Store,
        fetcher: Arc<Fetcher>,
        runtime: FeedRuntime,
    }

    impl Harness {
        async fn new(feeds: &[(&str, &str)]) -> Harness {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let dir = tempfile::tempdir().unwrap();
            let mut text = format!(
                "[storage]\npath = \"{}\"\n",
                dir.path().join("w.db").display()
            );
            for (id, url) in feeds {
                text.push_str(&format!("[[feed]]\nid = \"{id}\"\nurl = \"{url}\"\n"));
            }
            let config =
                crate::Config::parse(&text, std::path::Path::new("t.toml")).expect("valid config");
            let store = Store::open(&config.storage.database_path(), &config.dedup).unwrap();
            let synced = config.feeds.clone();
            store.call(move |db| db.sync_feeds(&synced)).await.unwrap();
            let fetcher = Arc::new(Fetcher::new(&config.poll).unwrap());
            Harness {
                _dir: dir,
                config,
                store,
                fetcher,
                runtime: FeedRuntime::default(),
            }
        }

        fn ctx(&self) -> RefreshContext<'_> {
            RefreshContext {
                store: &self.store,
                fetcher: &self.fetcher,
                poll: &self.config.poll,
                runtime: &self.runtime,
                max_age: oldest_kept(self.config.storage.retention_days, self.config.poll.max_age),
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refresh_does_its_cpu_work_only_in_a_free_cpu_slot() {
        let body = Arc::new(std::sync::Mutex::new(rss("gated-1")));
        let url = serve_shared(body.clone()).await;
        let h = Harness::new(&[("gated", &url)]).await;
        let (ctx, fetcher, config) = (h.ctx(), &h.fetcher, &h.config);
        // Every CPU slot taken by a job that runs until it is handed a token.
        let slots = fetcher.cpu().free();
        let (go, tokens) = std::sync::mpsc::channel::<()>();
        let tokens = Arc::new(std::sync::Mutex::new(tokens));
        let busy: Vec<_> = (0..slots)
            .map(|_| {
                let (fetcher, tokens) = (fetcher.clone(), tokens.clone());
                tokio::spawn(async move {
                    fetcher
                        .cpu()
                        .run(move || {
                            let _ = tokens.lock().map(|t| t.recv());
                        })
                        .await
                })
            })
            .collect();
        while fetcher.cpu().free() > 0 {
            tokio::task::yield_now().await;
        }
        // The refresh fetches, then waits for a slot.
        let before = fetcher.cpu().started();
        let refresh = refresh_feed(&ctx, &config.feeds[0], Trigger::Manual);
        tokio::pin!(refresh);
        while fetcher.cpu().waiting() == 0 {
            tokio::select! {
                biased;
                report = &mut refresh => panic!("the refresh ran without a CPU slot: {report:?}"),
                () = tokio::task::yield_now() => {}
            }
        }
        for _ in 0..slots {
            go.send(()).unwrap();
        }
        let report = refresh.await;
        assert!(
            matches!(report.outcome, Outcome::Stored(s) if s.new == 1),
            "{report:?}"
        );
        for job in busy {
            job.await.unwrap().unwrap();
        }
        assert_eq!(fetcher.cpu().free(), slots);
        // Both of its CPU stages went through the gate: parsing, and preparing the new
        // entry's text (the body came uncompressed: nothing to decode).
        assert_eq!(fetcher.cpu().started() - before, 2);
        // The same item in a changed document: parsed, and nothing new to prepare.
        *body.lock().unwrap() = rss("gated-1").replace("<title>T</title>", "<title>T2</title>");
        let before = fetcher.cpu().started();
        let report = refresh_feed(&ctx, &config.feeds[0], Trigger::Manual).await;
        assert!(
            matches!(report.outcome, Outcome::Stored(s) if s.new == 0),
            "{report:?}"
        );
        assert_eq!(fetcher.cpu().started() - before, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_while_storing_fails_that_feed_only_and_is_recorded_on_its_row() {
        let poisoned = serve(rss(crate::store::PANIC_KEY)).await;
        let healthy = serve(rss("fine-1")).await;
        let h = Harness::new(&[("poison", &poisoned), ("fine", &healthy)]).await;
        let (ctx, store, config) = (h.ctx(), &h.store, &h.config);
        let (poison, fine) = (&config.feeds[0], &config.feeds[1]);
        let report = refresh_feed(&ctx, poison, Trigger::Manual).await;
        let Outcome::Failed(message) = &report.outcome else {
            panic!("{report:?}")
        };
        assert!(
            message.starts_with(
                "internal error while storing feed poison: item \"wiredesk-test-panic\""
            ),
            "{message}"
        );
        // The store thread lives on: the other feed refreshes, and the failure is on the row.
        let report = refresh_feed(&ctx, fine, Trigger::Manual).await;
        assert!(
            matches!(report.outcome, Outcome::Stored(s) if s.new == 1),
            "{report:?}"
        );
        let health = store.call(|db| db.feed_health()).await.unwrap();
        let row = health.iter().find(|h| h.id == "poison").unwrap();
        assert_eq!(row.last_error.as_deref(), Some(message.as_str()));
        assert_eq!(row.consecutive_failures, 1);
    }
}
