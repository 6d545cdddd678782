//! wiredesk: a wire desk daemon. It polls news feeds on cron schedules, recognises the same
//! story when several outlets run it, keeps everything in SQLite and republishes one merged feed.
//!
//! # Data flow
//! ```text
//! config → scheduler → fetch → parse (+ normalise) → dedup → store → publish → http
//! ```
//! Each arrow hands on a plain value. Only [`fetch`] talks to the network, only [`store`] to
//! SQLite, only [`parse`] to feed-rs; [`normalise`], [`dedup`] and [`publish`] do no I/O.
//! One feed's failure stays inside its own [`refresh::refresh_feed`].
//!
//! # Modules
//! - [`config`]: `feeds.toml` → validated [`config::Config`], every problem with line and column;
//!   every key declared once in [`config::keys`].
//! - [`schedule`]: 5/6-field cron with a stable per-feed offset.
//! - [`scheduler`]: tokio-cron-scheduler jobs, one per feed, guarded against its traps.
//! - [`backoff`]: when to try a feed again (failures, Retry-After, cache headers).
//! - [`model`]: plain values handed between stages (validators, digests).
//! - [`fetch`]: the shared HTTP client, conditional GET, limits.
//! - [`cpu`]: the refreshes' CPU work (decompress, parse, prepare text) on a few threads.
//! - [`charset`]: BOM, HTTP charset, XML declaration, detection → UTF-8 for feed-rs.
//! - [`parse`]: feed bytes → [`parse::Entry`] with our own stable keys, bounded.
//! - [`article`]: an article page's main text (`[[feed]] full_text`), by dom_smoothie.
//! - [`normalise`]: canonical URLs, text for matching, sanitised HTML, dates, redaction.
//! - [`dedup`]: which story a new item joins (same entry, same URL, near-duplicate text).
//! - [`store`]: the SQLite owner thread, migrations, one transaction per refresh.
//! - [`refresh`]: the orchestrator of one feed's refresh, given a narrow context.
//! - [`publish`]: stories → Atom, RSS, JSON Feed, OPML and the page, with ETags.
//! - [`metrics`]: counters for `/metrics` (Prometheus text format).
//! - [`app`]: the shared state: config, store, client, rendered documents, the render loop.
//! - [`http`]: serves the rendered documents from memory, with timeouts and a connection cap.
//! - [`daemon`]: start-up, reload, health and shutdown; [`run`] is the daemon's entry point.
//! - [`systemd`]: READY/RELOADING/STOPPING/STATUS and the watchdog (no-ops outside systemd).
//! - [`opml`]: reading OPML subscription lists into `[[feed]]` tables.
//! - [`commands`]: the other CLI subcommands (`check`, `poll-once`, `stories`, `status`…).

pub mod app;
pub mod article;
pub mod backoff;
pub mod charset;
pub mod commands;
pub mod config;
pub mod cpu;
pub mod daemon;
pub mod dedup;
pub mod fetch;
pub mod filter;
pub mod http;
pub mod metrics;
pub mod model;
pub mod normalise;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod publish;
pub mod refresh;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod systemd;
pub mod websub;

pub use config::Config;
pub use daemon::{Daemon, run};
