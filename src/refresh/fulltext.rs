//! `[[feed]] full_text`: once a refresh has stored a feed's items, the items waiting for their
//! article (less text than `[poll] full_text_below`, a web link) get the page fetched, its main
//! text extracted ([`crate::article`]) and stored in place of the feed's, where the store
//! matches the item again. It runs after the refresh, so a feed's items are never held back by
//! its pages; one run per feed at a time, at most [`PAGES_PER_RUN`] pages and
//! `[poll] refresh_timeout` long (what is left waits for the next run). Each item is tried once:
//! a failed page keeps the feed's own text and is counted on the feed, never retried.

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt as _;

use super::RefreshContext;
use crate::article::{self, MAX_PAGE_BYTES};
use crate::config::FeedConfig;
use crate::fetch::FetchError;
use crate::normalise::redact_url;
use crate::store::fulltext::{Due, Enriched};

/// Pages fetched at most per run of one feed.
pub const PAGES_PER_RUN: usize = 20;
/// How long a host that answered 429 or 503 without `Retry-After` is left alone.
const DEFAULT_REST: Duration = Duration::from_secs(600);

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FullTextReport {
    /// Items given their article's text.
    pub enriched: usize,
    /// Of those, items that joined another story once their text could be matched.
    pub moved: usize,
    /// Items whose page failed (the feed's text kept).
    pub failed: usize,
    /// Items left waiting: their host asked for a rest, or the run's time was up.
    pub deferred: usize,
}

/// One item's outcome.
enum Page {
    Enriched { moved: bool },
    Failed,
    Deferred,
}

/// Fetches and stores the articles `feed`'s waiting items link to (see the module docs).
/// Does nothing when a run for this feed is going on already.
pub async fn enrich_feed(ctx: &RefreshContext<'_>, feed: &FeedConfig) -> FullTextReport {
    let guard = ctx.runtime.full_text_guard(&feed.id);
    let Ok(_running) = guard.try_lock() else {
        return FullTextReport::default();
    };
    let id = feed.id.clone();
    let due = match ctx
        .store
        .call(move |db| db.full_text_due(&id, PAGES_PER_RUN))
        .await
    {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(feed = %feed.id, "full text: reading the items waiting failed: {e}");
            return FullTextReport::default();
        }
    };
    if due.is_empty() {
        return FullTextReport::default();
    }
    let deadline = tokio::time::Instant::now() + ctx.poll.refresh_timeout;
    let outcomes: Vec<Page> = futures_util::stream::iter(due)
        .map(|d| one_page(ctx, feed, d, deadline))
        .buffer_unordered(ctx.poll.per_host.max(1))
        .collect()
        .await;
    let mut report = FullTextReport::default();
    for o in outcomes {
        match o {
            Page::Enriched { moved } => {
                report.enriched += 1;
                report.moved += usize::from(moved);
            }
            Page::Failed => report.failed += 1,
            Page::Deferred => report.deferred += 1,
        }
    }
    tracing::info!(
        feed = %feed.id,
        enriched = report.enriched,
        joined_another_story = report.moved,
        failed = report.failed,
        deferred = report.deferred,
        "full text fetched"
    );
    report
}

/// Fetches, reads and stores one item's article; a failure is recorded on the item.
async fn one_page(
    ctx: &RefreshContext<'_>,
    feed: &FeedConfig,
    due: Due,
    deadline: tokio::time::Instant,
) -> Page {
    let item_id = due.item_id;
    let url = match url::Url::parse(&due.link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => u,
        _ => return failed(ctx, feed, item_id, "the item has no web link".to_owned()).await,
    };
    let shown = redact_url(&url);
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if !ctx.runtime.page_host_ready(&host) {
        return Page::Deferred;
    }
    let body = match tokio::time::timeout_at(deadline, ctx.fetcher.fetch_page(&url, MAX_PAGE_BYTES))
        .await
    {
        Err(_) => return Page::Deferred,
        Ok(Err(e)) => {
            if let FetchError::Status {
                status: 429 | 503,
                retry_after,
                ..
            } = &e
            {
                ctx.runtime
                    .rest_page_host(&host, retry_after.unwrap_or(DEFAULT_REST));
            }
            return failed(ctx, feed, item_id, e.to_string()).await;
        }
        Ok(Ok(body)) => body,
    };
    if let Some(ct) = body.content_type.as_deref()
        && !is_html(ct)
    {
        let reason = format!("{shown} is not an HTML page ({ct})");
        return failed(ctx, feed, item_id, reason).await;
    }
    // Decoding and the readability pass are CPU work: off the async workers. A panic in them
    // fails this item only.
    let read = ctx
        .fetcher
        .cpu()
        .run(move || {
            let (page, _) = crate::charset::html_to_utf8(&body.bytes, body.content_type.as_deref());
            article::extract(&page, &body.final_url)
        })
        .await;
    let found = match read {
        Ok(Ok(found)) => found,
        Ok(Err(no)) => return failed(ctx, feed, item_id, format!("{shown}: {no}")).await,
        Err(e) => {
            let reason = format!("{shown}: reading the page failed: {e}");
            return failed(ctx, feed, item_id, reason).await;
        }
    };
    let stored = ctx
        .store
        .call(move |db| db.full_text_store(item_id, &found.html, &found.text, Utc::now()))
        .await;
    match stored {
        Ok(Enriched::Stored { moved_to }) => Page::Enriched {
            moved: moved_to.is_some(),
        },
        Ok(Enriched::NotWaiting) => Page::Deferred,
        Err(e) => {
            tracing::warn!(feed = %feed.id, item_id, "full text: storing failed: {e}");
            Page::Deferred
        }
    }
}

/// Records a failed page (logged at debug: it is counted on the feed's status row).
async fn failed(ctx: &RefreshContext<'_>, feed: &FeedConfig, item_id: i64, reason: String) -> Page {
    tracing::debug!(feed = %feed.id, item_id, "full text: {reason}");
    let stored = ctx
        .store
        .call(move |db| db.full_text_failed(item_id, &reason))
        .await;
    if let Err(e) = stored {
        tracing::warn!(feed = %feed.id, item_id, "full text: recording a failure failed: {e}");
    }
    Page::Failed
}

/// Whether a Content-Type is a web page (HTML or XHTML).
fn is_html(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "text/html" || mime == "application/xhtml+xml" || mime.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_html_or_xhtml() {
        for ct in [
            "text/html",
            "TEXT/HTML; charset=euc-kr",
            "application/xhtml+xml",
            "",
        ] {
            assert!(is_html(ct), "{ct}");
        }
        for ct in [
            "application/pdf",
            "image/jpeg",
            "application/json",
            "text/plain",
        ] {
            assert!(!is_html(ct), "{ct}");
        }
    }
}
