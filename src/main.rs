//! The `wiredesk` binary: parses arguments, sets up logging, loads the config and hands over to
//! the library. Exit codes: 0 success, 1 runtime error, 2 invalid config, 3 `poll-once` with a
//! failed feed or `explain` of an unknown story.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wiredesk::config::{Config, DEFAULT_CONFIG};

#[derive(Parser)]
#[command(
    name = "wiredesk",
    version,
    about = "Polls wire feeds, merges the same story across outlets, republishes one feed"
)]
struct Cli {
    /// The config file.
    #[arg(long, short, global = true, default_value = DEFAULT_CONFIG, env = "WIREDESK_CONFIG")]
    config: PathBuf,
    /// The database file, instead of the one `[storage] path` names (see README: "Where the
    /// database is").
    #[arg(long, global = true, env = "WIREDESK_DATABASE")]
    database: Option<PathBuf>,
    /// Log format: `plain` or `json`.
    #[arg(long, global = true, default_value = "plain", value_parser = ["plain", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (the default).
    Run,
    /// Validate the config and exit.
    Check,
    /// Fetch every enabled feed once, store, print a line per feed, exit.
    PollOnce,
    /// Print the newest stories with their outlets, newest first.
    Stories {
        /// Print JSON instead: an array of stories, each with its members (feed, guid, link,
        /// title, published, how it joined and with what score).
        #[arg(long)]
        json: bool,
        /// At most this many stories.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Only stories that this feed (by id) carries.
        #[arg(long)]
        feed: Option<String>,
        /// Only stories published since this time: an RFC 3339 date (2026-11-28T09:00:00Z) or
        /// a duration back from now (90m, 24h, 7d).
        #[arg(long, value_parser = parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Print the stories with an item matching QUERY (every word must match; "a phrase" in
    /// double quotes; Korean, Japanese and Chinese by any two characters), newest first.
    Search {
        query: String,
        /// Print JSON instead, as `stories --json` does.
        #[arg(long)]
        json: bool,
        /// At most this many stories.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print every feed's health.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Print `[[feed]]` tables for the subscriptions of an OPML file (to add to feeds.toml).
    ImportOpml { file: PathBuf },
    /// Write a consistent copy of the database to DEST (safe while the daemon runs).
    Backup { dest: PathBuf },
    /// Explain a story: its members and how each joined (layer, score, matched item), and the
    /// stories merged into it.
    Explain {
        /// The story id (as in `stories`, or the Atom entry id); with --near, an item id too.
        story: String,
        #[arg(long)]
        json: bool,
        /// The best candidates that did not join and why: "why did these two not merge?"
        /// (reads the stored items around it).
        #[arg(long)]
        near: bool,
    },
}

fn init_tracing(format: &str) {
    use tracing_subscriber::EnvFilter;
    // The scheduler library logs every job it creates at INFO: quiet by default.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_cron_scheduler=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else if std::env::var_os("JOURNAL_STREAM").is_some() {
        // Under systemd the journal adds its own timestamps; colours would be noise.
        builder.without_time().with_ansi(false).init();
    } else {
        use std::io::IsTerminal;
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    // import-opml needs no config: it writes config.
    if let Some(Command::ImportOpml { file }) = &cli.command {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        };
        return match wiredesk::opml::import(&text) {
            Ok(found) => {
                print!("{}", wiredesk::opml::to_feeds_toml(&found.subscriptions));
                eprintln!("{}", found.summary());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e:#}", file.display());
                ExitCode::FAILURE
            }
        };
    }
    let mut config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(db) = &cli.database {
        config.storage.path = std::path::absolute(db).unwrap_or_else(|_| db.clone());
    }
    let command = cli.command.unwrap_or(Command::Run);
    if let Command::Check = command {
        if config.enabled_feeds().count() == 0 {
            eprintln!(
                "warning: {} enables no feed: a daemon started on it polls nothing, and a running daemon refuses it on reload unless [poll] allow_mass_removal = true",
                cli.config.display()
            );
        }
        println!(
            "{}: ok, {} feeds ({} enabled)",
            cli.config.display(),
            config.feeds.len(),
            config.enabled_feeds().count()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        // Buffered: a long report is a few writes, not one per line.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let result = match command {
            Command::Run | Command::Check => serve(config).await.map(|_| true),
            Command::PollOnce => wiredesk::commands::poll_once(config, &mut out).await,
            Command::Stories {
                json,
                limit,
                feed,
                since,
            } => {
                let query = wiredesk::commands::StoryQuery { limit, feed, since };
                wiredesk::commands::stories(config, json, &query, &mut out)
                    .await
                    .map(|_| true)
            }
            Command::Search { query, json, limit } => {
                wiredesk::commands::search(config, &query, json, limit, &mut out)
                    .await
                    .map(|_| true)
            }
            Command::Status { json } => wiredesk::commands::status(config, json, &mut out)
                .await
                .map(|_| true),
            Command::ImportOpml { .. } => Ok(true),
            Command::Backup { dest } => {
                wiredesk::commands::backup(&config, &dest, &mut out).map(|_| true)
            }
            Command::Explain {
                story,
                json,
                near: true,
            } => wiredesk::commands::explain_near(config, story, json, &mut out).await,
            Command::Explain { story, json, .. } => {
                wiredesk::commands::explain(config, story, json, &mut out).await
            }
        };
        let flushed = std::io::Write::flush(&mut out);
        result.and_then(|ok| flushed.map(|()| ok).map_err(anyhow::Error::from))
    });
    // Work still running on the blocking pool (a parse of a hostile document, say) must not
    // hold the process past a SIGTERM: give it a moment, then exit regardless. Everything
    // committed is already on disk.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        // `wiredesk stories | head`: the reader has what it wanted.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an error is a write to a closed pipe (a reader such as `head` that stopped reading).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == std::io::ErrorKind::BrokenPipe)
    })
}

/// `--since`: an RFC 3339 date, or a duration back from now (`90m`, `24h`, `7d`).
fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&chrono::Utc));
    }
    let back = humantime::parse_duration(s)
        .map_err(|_| format!("`{s}` is neither an RFC 3339 date nor a duration such as 24h"))?;
    chrono::Duration::from_std(back)
        .ok()
        .and_then(|b| chrono::Utc::now().checked_sub_signed(b))
        .ok_or_else(|| format!("`{s}` reaches too far back"))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let shutdown = shutdown_signal();
    let listen = config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    wiredesk::daemon::run_with_reload(config, listener, shutdown).await
}

/// Completes on SIGTERM or SIGINT. The handlers are installed now, when this is called (not
/// when the future is first polled): a SIGTERM that arrives while the daemon is still starting
/// must stop it cleanly, not kill it with the signal's default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("cannot listen for SIGTERM/SIGINT: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
