//! Counters for `/metrics`, in the Prometheus text exposition format (version 0.0.4).
//!
//! Written by hand: a few atomics and one small labelled map cover what the daemon reports,
//! and the Prometheus client crates would add a registry, a text encoder and their own locks
//! for no gain here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::refresh::{Outcome, RefreshReport};

/// The daemon's counters. All monotonic except where named a gauge.
#[derive(Default)]
pub struct Metrics {
    refresh_stored: AtomicU64,
    refresh_unchanged: AtomicU64,
    refresh_not_modified: AtomicU64,
    refresh_failed: AtomicU64,
    refresh_skipped: AtomicU64,
    items_new: AtomicU64,
    items_updated: AtomicU64,
    items_merged: AtomicU64,
    items_merged_by_text: AtomicU64,
    renders: AtomicU64,
    /// Gauge: the last render's duration in microseconds.
    render_micros: AtomicU64,
    http: Mutex<BTreeMap<(String, u16), u64>>,
    /// Connections closed at once because `[server] max_connections` were being served.
    connections_refused: AtomicU64,
    /// `[[feed]] full_text`: items given their article's text, and pages that failed.
    full_text_enriched: AtomicU64,
    full_text_failed: AtomicU64,
    /// WebSub pushes by result (`stored`, `refused`: bad signature, `unreadable`).
    websub_pushes: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts one refresh.
    pub fn refresh(&self, r: &RefreshReport) {
        let c = match &r.outcome {
            Outcome::Stored(s) => {
                self.items_new.fetch_add(s.new as u64, Ordering::Relaxed);
                self.items_updated
                    .fetch_add(s.updated as u64, Ordering::Relaxed);
                self.items_merged
                    .fetch_add((s.merged - s.merged_by_text) as u64, Ordering::Relaxed);
                self.items_merged_by_text
                    .fetch_add(s.merged_by_text as u64, Ordering::Relaxed);
                &self.refresh_stored
            }
            Outcome::Unchanged if r.status == Some(304) => &self.refresh_not_modified,
            Outcome::Unchanged => &self.refresh_unchanged,
            Outcome::Failed(_) => &self.refresh_failed,
            Outcome::Skipped => &self.refresh_skipped,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one run of article fetching.
    pub fn full_text(&self, r: &crate::refresh::fulltext::FullTextReport) {
        self.full_text_enriched
            .fetch_add(r.enriched as u64, Ordering::Relaxed);
        self.full_text_failed
            .fetch_add(r.failed as u64, Ordering::Relaxed);
    }

    /// Counts one WebSub push.
    pub fn websub_push(&self, result: &'static str) {
        let mut map = self.websub_pushes.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(result).or_default() += 1;
    }

    /// Counts one render of the merged feeds.
    pub fn render(&self, took: std::time::Duration) {
        self.renders.fetch_add(1, Ordering::Relaxed);
        self.render_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts one connection refused over `[server] max_connections`.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP answer.
    pub fn http(&self, route: &str, status: u16) {
        let mut map = self.http.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// The exposition text; `gauges` are values read at scrape time (stories, items, feeds).
    pub fn render_text(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP wiredesk_refreshes_total Feed refreshes by outcome."
        );
        let _ = writeln!(out, "# TYPE wiredesk_refreshes_total counter");
        for (outcome, v) in [
            ("stored", get(&self.refresh_stored)),
            ("not_modified", get(&self.refresh_not_modified)),
            ("unchanged_body", get(&self.refresh_unchanged)),
            ("failed", get(&self.refresh_failed)),
            ("skipped", get(&self.refresh_skipped)),
        ] {
            let _ = writeln!(out, "wiredesk_refreshes_total{{outcome=\"{outcome}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP wiredesk_items_total Items stored, by what happened."
        );
        let _ = writeln!(out, "# TYPE wiredesk_items_total counter");
        for (kind, v) in [
            ("new", get(&self.items_new)),
            ("updated", get(&self.items_updated)),
            ("merged_same_url", get(&self.items_merged)),
            ("merged_near_duplicate", get(&self.items_merged_by_text)),
        ] {
            let _ = writeln!(out, "wiredesk_items_total{{kind=\"{kind}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP wiredesk_full_text_total Article pages of [[feed]] full_text items, by result."
        );
        let _ = writeln!(out, "# TYPE wiredesk_full_text_total counter");
        for (result, v) in [
            ("enriched", get(&self.full_text_enriched)),
            ("failed", get(&self.full_text_failed)),
        ] {
            let _ = writeln!(out, "wiredesk_full_text_total{{result=\"{result}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP wiredesk_websub_pushes_total Content pushed by WebSub hubs, by result."
        );
        let _ = writeln!(out, "# TYPE wiredesk_websub_pushes_total counter");
        let pushes = self
            .websub_pushes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for result in ["stored", "refused", "unreadable"] {
            let v = pushes.get(result).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "wiredesk_websub_pushes_total{{result=\"{result}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wiredesk_renders_total Renders of the merged feeds."
        );
        let _ = writeln!(out, "# TYPE wiredesk_renders_total counter");
        let _ = writeln!(out, "wiredesk_renders_total {}", get(&self.renders));
        let _ = writeln!(
            out,
            "# HELP wiredesk_render_seconds Duration of the last render."
        );
        let _ = writeln!(out, "# TYPE wiredesk_render_seconds gauge");
        let _ = writeln!(
            out,
            "wiredesk_render_seconds {}",
            get(&self.render_micros) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP wiredesk_http_requests_total HTTP answers by route and status."
        );
        let _ = writeln!(out, "# TYPE wiredesk_http_requests_total counter");
        for ((route, status), v) in self.http.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(
                out,
                "wiredesk_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wiredesk_http_connections_refused_total Connections closed unanswered: max_connections were being served."
        );
        let _ = writeln!(
            out,
            "# TYPE wiredesk_http_connections_refused_total counter"
        );
        let _ = writeln!(
            out,
            "wiredesk_http_connections_refused_total {}",
            get(&self.connections_refused)
        );
        for (name, help, v) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

/// The route label of a request path (bounded cardinality: tags collapse into one label).
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/" => "/",
        "/feed.atom" => "/feed.atom",
        "/feed.rss" => "/feed.rss",
        "/feed.json" => "/feed.json",
        "/sources.opml" => "/sources.opml",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        p if p.starts_with("/tags/") => "/tags/*",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FeedId;
    use crate::store::IngestStats;

    #[test]
    fn counts_show_up_in_the_text() {
        let m = Metrics::default();
        let report = |outcome, status| RefreshReport {
            feed: FeedId("a".into()),
            status,
            outcome,
            duration: std::time::Duration::ZERO,
        };
        m.refresh(&report(
            Outcome::Stored(IngestStats {
                new: 3,
                merged: 1,
                merged_by_text: 1,
                updated: 0,
                unchanged: 2,
            }),
            Some(200),
        ));
        m.refresh(&report(Outcome::Unchanged, Some(304)));
        m.refresh(&report(Outcome::Failed("x".into()), Some(500)));
        m.http(route_label("/tags/korea.atom"), 200);
        m.http(route_label("/tags/japan.atom"), 200);
        let text = m.render_text(&[("wiredesk_stories", "Stories stored.", 7.0)]);
        for line in [
            "wiredesk_refreshes_total{outcome=\"stored\"} 1",
            "wiredesk_refreshes_total{outcome=\"not_modified\"} 1",
            "wiredesk_refreshes_total{outcome=\"failed\"} 1",
            "wiredesk_items_total{kind=\"new\"} 3",
            "wiredesk_items_total{kind=\"merged_near_duplicate\"} 1",
            "wiredesk_items_total{kind=\"merged_same_url\"} 0",
            "wiredesk_http_requests_total{route=\"/tags/*\",status=\"200\"} 2",
            "wiredesk_stories 7",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
    }
}
