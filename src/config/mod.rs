//! `feeds.toml`: the operator's contract, read once into a validated [`Config`].
//!
//! The file is parsed into toml's spanned document tree and walked by hand instead of being
//! deserialised with serde: serde stops at the first error, and the design promises that
//! `wiredesk check` reports *every* problem at once, each with line and column. The walk records
//! unknown keys (with the closest valid name), wrong types, duplicate ids, bad URLs, bad cron
//! expressions and bad durations, then either returns a fully built [`Config`] or all problems.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use url::Url;

use crate::schedule::Schedule;

pub mod keys;
use keys::Key;

/// The name of the default config file, looked up in the current directory.
pub const DEFAULT_CONFIG: &str = "feeds.toml";

/// A stable feed identifier from `feeds.toml` (`[[feed]] id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub String);

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FeedId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the config was read from (for messages and reloads).
    pub source: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub poll: PollConfig,
    pub dedup: DedupConfig,
    pub feeds: Vec<FeedConfig>,
    /// `[[output]]`: filtered merged feeds at `/outputs/ID.atom` (and `.rss`, `.json`).
    pub outputs: Vec<OutputConfig>,
    /// `[[notify]]`: a message per story entering an output.
    pub notify: Vec<NotifyConfig>,
}

/// How a `[[notify]]` message is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyFormat {
    Json,
    Slack,
    Ntfy,
    Matrix,
}

/// One `[[notify]]` target.
#[derive(Clone, PartialEq)]
pub struct NotifyConfig {
    pub id: String,
    pub output: String,
    pub url: Url,
    pub format: NotifyFormat,
    pub secret: Option<String>,
    /// Again each time the story gains outlets (`on = "outlets"`), not only when it enters.
    pub on_outlets: bool,
}

/// By hand, so that no log line or panic message shows the URL's secrets or the signing key.
impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("id", &self.id)
            .field("output", &self.output)
            // Webhook URLs carry their secret in the path (Slack's do): the host only.
            .field("host", &self.url.host_str())
            .field("format", &self.format)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("on_outlets", &self.on_outlets)
            .finish()
    }
}

/// One `[[output]]`: which stories it carries, in what order, how many.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputConfig {
    pub id: String,
    pub title: String,
    /// Stories carried by a feed with one of these tags (none: any).
    pub tags: Vec<String>,
    /// Stories carried by one of these feeds (none: any).
    pub feeds: Vec<FeedId>,
    /// Stories with a member mentioning one of `include` (if given) and none mentioning
    /// `exclude`.
    pub filter: FeedFilter,
    /// A saved search: stories matching it (see `store::search`).
    pub query: Option<String>,
    pub min_outlets: usize,
    /// Stories published within this long.
    pub max_age: Option<Duration>,
    /// Most outlets first (then newest), instead of newest first.
    pub by_outlets: bool,
    pub size: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public base URL of the merged feed (used for self links); defaults to `http://LISTEN`.
    pub base_url: Url,
    pub title: String,
    /// How many stories the merged feeds carry.
    pub feed_size: usize,
    /// Connections served at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may wait idle for its next request.
    pub header_timeout: Duration,
    /// WebSub hubs (`websub_hubs`): every Atom and RSS document names them, and each is sent
    /// `hub.mode=publish` when a document changes.
    pub websub_hubs: Vec<Url>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StorageConfig {
    /// The path as written; see [`StorageConfig::database_path`].
    pub path: PathBuf,
    pub retention_days: u32,
}

/// Where a service install keeps its state (`StateDirectory=wiredesk` in the unit).
pub const SERVICE_STATE_DIR: &str = "/var/lib/wiredesk";

impl StorageConfig {
    /// The database file. An absolute `[storage] path` is used as written; a relative one
    /// resolves against `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`), else against
    /// [`SERVICE_STATE_DIR`] when that directory exists (so that an operator's `wiredesk status`
    /// from a shell finds the service's database), else against the current directory.
    pub fn database_path(&self) -> PathBuf {
        self.database_location().0
    }

    /// [`StorageConfig::database_path`] with the rule that gave it, for messages.
    pub fn database_location(&self) -> (PathBuf, &'static str) {
        let state = std::env::var_os("STATE_DIRECTORY");
        resolve_database_path(
            &self.path,
            state.as_deref(),
            Path::new(SERVICE_STATE_DIR).is_dir(),
        )
    }
}

/// The rule of [`StorageConfig::database_path`], given the environment it depends on.
pub fn resolve_database_path(
    path: &Path,
    state_directory: Option<&std::ffi::OsStr>,
    service_dir_exists: bool,
) -> (PathBuf, &'static str) {
    if path.is_absolute() {
        return (path.to_owned(), "the absolute [storage] path");
    }
    match state_directory {
        // systemd may pass several colon-separated directories; the first is ours.
        Some(dirs) if !dirs.is_empty() => {
            let dirs = dirs.to_string_lossy().into_owned();
            let first = dirs.split(':').next().unwrap_or_default().to_owned();
            (
                Path::new(&first).join(path),
                "the relative [storage] path under $STATE_DIRECTORY",
            )
        }
        _ if service_dir_exists => (
            Path::new(SERVICE_STATE_DIR).join(path),
            "the relative [storage] path under /var/lib/wiredesk (the service's state directory)",
        ),
        _ => (
            path.to_owned(),
            "the relative [storage] path under the current directory",
        ),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PollConfig {
    /// The schedule of feeds that name none.
    pub schedule: Schedule,
    /// Total time allowed for one fetch (connect, headers and body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_body_bytes: u64,
    /// How many fetches run at once, over all feeds.
    pub concurrency: usize,
    /// How many fetches run at once against one host.
    pub per_host: usize,
    pub user_agent: String,
    /// The longest wait between attempts of a failing feed.
    pub max_backoff: Duration,
    /// The most entries one refresh takes from a feed (newest first); the rest are left out
    /// with a warning on the feed's status row, so one huge feed cannot stall the store.
    pub max_items: usize,
    /// The longest one refresh may take from start to commit, after which it fails with a
    /// clear error (the fetch has its own, shorter `timeout`).
    pub refresh_timeout: Duration,
    /// A reload that would stop polling every feed, or most of them, is applied only when the
    /// new file says this (an emptied or truncated feeds.toml is otherwise refused).
    pub allow_mass_removal: bool,
    /// Items whose own date is older than this when first seen are not stored.
    pub max_age: Option<Duration>,
    /// `[[feed]] full_text`: a new item with fewer characters of text than this gets the
    /// article page's main text.
    pub full_text_below: usize,
    /// The default of `[[feed]] websub`.
    pub websub: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DedupConfig {
    /// Layer 3 (near-duplicate text) on or off; layers 1 and 2 always run.
    pub near_duplicates: bool,
    /// How far apart two items may be published and still be matched as one story.
    pub window_hours: u32,
    /// Verification score at or above which two items are the same story.
    pub threshold: f64,
    /// How far apart a near-verbatim copy (the same body) may be published and still join:
    /// a wire story republished days later, or sent with a stale date. At least `window_hours`.
    pub copy_window_hours: u32,
    /// The most items the near-duplicate index holds; past it the oldest are forgotten first
    /// (memory is bounded by this, whatever the window and the feeds' volume).
    pub max_indexed_items: usize,
}

#[derive(Clone, PartialEq)]
pub struct FeedConfig {
    pub id: FeedId,
    pub name: String,
    pub url: Url,
    pub schedule: Schedule,
    pub tags: Vec<String>,
    pub priority: i64,
    pub enabled: bool,
    /// Extra request headers (e.g. `Authorization` for a paid wire). Never logged or shown.
    pub headers: Vec<(String, String)>,
    /// Which of the feed's items are stored (`include` / `exclude`).
    pub filter: FeedFilter,
    /// Items with little text get their article page's main text (`[poll] full_text_below`).
    pub full_text: bool,
    /// Subscribe to the WebSub hub the feed names (`[[feed]] websub`, else `[poll] websub`).
    pub websub: bool,
}

/// `[[feed]] include` and `exclude`: an item is stored when its title or text mentions one of
/// `include` (if given) and none of `exclude`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub include: Option<crate::filter::Keywords>,
    pub exclude: Option<crate::filter::Keywords>,
}

impl FeedFilter {
    /// Whether an item with this title and text is stored.
    pub fn keeps(&self, title: &str, text: &str) -> bool {
        let texts = [title, text];
        self.include.as_ref().is_none_or(|k| k.matches_any(&texts))
            && self.exclude.as_ref().is_none_or(|k| !k.matches_any(&texts))
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    /// A value that changes when the filter does (items left out under one filter are looked
    /// at again under another).
    pub fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.include.as_ref().map(|k| &k.source).hash(&mut h);
        self.exclude.as_ref().map(|k| &k.source).hash(&mut h);
        h.finish()
    }
}

/// Written by hand so that a `Debug` print (a log line, a panic message, a test failure)
/// never shows a feed's credentials: the URL is redacted and header values are hidden.
impl fmt::Debug for FeedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("FeedConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &crate::normalise::redact_url(&self.url))
            .field("schedule", &self.schedule)
            .field("tags", &self.tags)
            .field("priority", &self.priority)
            .field("enabled", &self.enabled)
            .field("full_text", &self.full_text)
            .field("websub", &self.websub)
            .field("headers (values hidden)", &header_names)
            .finish()
    }
}

/// One problem found in a config file, at a line and column (both 1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A file that cannot be read has no position to give: just say why.
        if let [only] = self.problems.as_slice()
            && only.line == 0
        {
            return f.write_str(&only.message);
        }
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}",
            self.path.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(
                f,
                "\n  {}:{}:{}: {}",
                self.path.display(),
                p.line,
                p.column,
                p.message
            )?;
        }
        Ok(())
    }
}

/// The default schedule: every five minutes.
pub const DEFAULT_SCHEDULE: &str = keys::POLL_SCHEDULE.text();
/// The default verification threshold of the near-duplicate layer (see `dedup`).
pub const DEFAULT_THRESHOLD: f64 = keys::THRESHOLD.float();
/// The default of `[poll] max_items`: the most entries one refresh takes from a feed.
pub const DEFAULT_MAX_ITEMS: usize = keys::MAX_ITEMS.int() as usize;
/// The default of `[dedup] max_indexed_items`.
pub const DEFAULT_MAX_INDEXED_ITEMS: usize = keys::MAX_INDEXED_ITEMS.int() as usize;
/// The default of `[dedup] copy_window_hours`.
pub const DEFAULT_COPY_WINDOW_HOURS: u32 = keys::COPY_WINDOW_HOURS.int() as u32;

/// Why a new config is not applied/// Why a new config is not applied to a running daemon although it is valid: it would stop
/// polling every feed, or more than half of at least four, without saying so.
pub fn mass_removal(old: &Config, new: &Config) -> Option<String> {
    let before = old.enabled_feeds().count();
    let kept = new
        .enabled_feeds()
        .filter(|f| old.enabled_feeds().any(|o| o.id == f.id))
        .count();
    let dropped = before - kept;
    let most = kept == 0 || (before >= 4 && dropped * 2 > before);
    (before > 0 && dropped > 0 && most && !new.poll.allow_mass_removal).then(|| {
        format!(
            "{} would stop polling {dropped} of the {before} feeds now polled; if that is meant, \
             set `allow_mass_removal = true` in [poll]",
            new.source.display()
        )
    })
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            problems: vec![Problem {
                line: 0,
                column: 0,
                message: format!("cannot read {}: {e}", path.display()),
            }],
        })?;
        Config::parse(&text, path)
    }

    /// Validates config text; `path` only names it in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut r = Reader {
            src: text,
            line_starts: line_starts(text),
            problems: Vec::new(),
            base_url_given: false,
        };
        let config = r.document(path);
        if r.problems.is_empty()
            && let Some(config) = config
        {
            return Ok(config);
        }
        r.problems.sort_by_key(|p| (p.line, p.column));
        Err(ConfigError {
            path: path.to_owned(),
            problems: r.problems,
        })
    }

    /// The enabled feeds.
    pub fn enabled_feeds(&self) -> impl Iterator<Item = &FeedConfig> {
        self.feeds.iter().filter(|f| f.enabled)
    }

    /// Every tag used by a feed, sorted, without repeats.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.feeds.iter().flat_map(|f| f.tags.clone()).collect();
        tags.sort();
        tags.dedup();
        tags
    }
}

/// Walks the spanned document, collecting problems.
struct Reader<'s> {
    src: &'s str,
    /// Byte offsets where each line starts, so that a problem's position costs a binary search
    /// (rescanning the file per problem made `check` quadratic in the number of problems).
    line_starts: Vec<usize>,
    problems: Vec<Problem>,
    /// Whether `[server] base_url` was written (WebSub needs a URL hubs can reach).
    base_url_given: bool,
}

type Table<'i> = DeTable<'i>;

const WEBSUB_NEEDS_BASE_URL: &str =
    "`websub` needs `[server] base_url`: the public URL at which hubs reach /websub/…";

impl<'s> Reader<'s> {
    fn problem(&mut self, span: Range<usize>, message: String) {
        let (line, column) = line_column(self.src, &self.line_starts, span.start);
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    fn document(&mut self, path: &Path) -> Option<Config> {
        let doc = match DeTable::parse(self.src) {
            Ok(doc) => doc,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                self.problem(span, format!("invalid TOML: {}", e.message().trim()));
                return None;
            }
        };
        let doc = doc.get_ref();
        let sections: Vec<&str> = keys::SECTIONS.iter().map(|(s, _)| *s).collect();
        self.unknown_keys(doc, &sections, "the top level");

        let empty = Table::default();
        let server_t = self.section(doc, "server").unwrap_or(&empty);
        let storage_t = self.section(doc, "storage").unwrap_or(&empty);
        let poll_t = self.section(doc, "poll").unwrap_or(&empty);
        let dedup_t = self.section(doc, "dedup").unwrap_or(&empty);
        let server = self.server(server_t);
        let storage = self.storage(storage_t);
        self.base_url_given = server_t.get(keys::BASE_URL.name).is_some();
        let poll = self.poll(poll_t);
        if let Some(v) = poll_t.get(keys::POLL_WEBSUB.name)
            && matches!(v.get_ref(), DeValue::Boolean(true))
            && !self.base_url_given
        {
            self.problem(v.span(), WEBSUB_NEEDS_BASE_URL.to_owned());
        }
        let dedup = self.dedup(dedup_t);

        let mut feeds = Vec::new();
        let mut seen = HashSet::new();
        for (t, span) in self.tables(doc, "feed", "each feed must be a") {
            if let Some(feed) = self.feed(t, span, poll.as_ref(), &mut seen) {
                feeds.push(feed);
            }
        }
        let mut outputs = Vec::new();
        let mut seen_outputs = HashSet::new();
        for (t, span) in self.tables(doc, "output", "each output must be an") {
            if let Some(o) = self.output(t, span, &feeds, &mut seen_outputs) {
                outputs.push(o);
            }
        }
        let mut notify = Vec::new();
        let mut seen_notify = HashSet::new();
        for (t, span) in self.tables(doc, "notify", "each target must be a") {
            if let Some(n) = self.notify(t, span, &outputs, &mut seen_notify) {
                notify.push(n);
            }
        }
        Some(Config {
            source: path.to_owned(),
            server: server?,
            storage: storage?,
            poll: poll?,
            dedup: dedup?,
            feeds,
            outputs,
            notify,
        })
    }

    /// The `id` of an `[[output]]` or `[[notify]]` table: valid, and the only one of its kind.
    fn table_id(
        &mut self,
        t: &Table<'_>,
        key: &Key,
        kind: &str,
        span: Range<usize>,
        seen: &mut HashSet<String>,
    ) -> Option<String> {
        match self.string(t, key.name) {
            Some(s) if !valid_id(s.get_ref()) => {
                self.problem(
                    s.span(),
                    format!(
                        "invalid {kind} id `{}`: use 1 to 64 letters, digits, `-`, `_` or `.`",
                        s.get_ref()
                    ),
                );
                None
            }
            Some(s) if !seen.insert(s.get_ref().clone()) => {
                self.problem(
                    s.span(),
                    format!(
                        "duplicate {kind} id `{}`: each [[{kind}]] needs its own id",
                        s.get_ref()
                    ),
                );
                None
            }
            Some(s) => Some(s.into_inner()),
            None => {
                if t.get(key.name).is_none() {
                    self.problem(span, format!("[[{kind}]] is missing `id`"));
                }
                None
            }
        }
    }

    fn notify(
        &mut self,
        t: &Table<'_>,
        span: Range<usize>,
        outputs: &[OutputConfig],
        seen: &mut HashSet<String>,
    ) -> Option<NotifyConfig> {
        self.unknown_keys(t, &keys::names("notify"), "[[notify]]");
        let id = self.table_id(t, &keys::NOTIFY_ID, "notify", span.clone(), seen);
        let output = match self.string(t, keys::NOTIFY_OUTPUT.name) {
            Some(o) if outputs.iter().any(|x| &x.id == o.get_ref()) => Some(o.into_inner()),
            Some(o) => {
                self.problem(
                    o.span(),
                    format!("no [[output]] has the id `{}`", o.get_ref()),
                );
                None
            }
            None => {
                if t.get(keys::NOTIFY_OUTPUT.name).is_none() {
                    self.problem(span.clone(), "[[notify]] is missing `output`".to_owned());
                }
                None
            }
        };
        let label = format!("[[notify]] {}", id.as_deref().unwrap_or("target"));
        let url = match self.string(t, keys::NOTIFY_URL.name) {
            Some(s) => self.url(&s, &label),
            None => {
                if t.get(keys::NOTIFY_URL.name).is_none() {
                    self.problem(span, format!("{label} is missing `url`"));
                }
                None
            }
        };
        let format = self.text(t, &keys::NOTIFY_FORMAT);
        let format = match format.get_ref().as_str() {
            "json" => Some(NotifyFormat::Json),
            "slack" => Some(NotifyFormat::Slack),
            "ntfy" => Some(NotifyFormat::Ntfy),
            "matrix" => Some(NotifyFormat::Matrix),
            other => {
                self.problem(
                    format.span(),
                    format!(
                        "invalid format `{other}`: use \"json\", \"slack\", \"ntfy\" or \"matrix\""
                    ),
                );
                None
            }
        };
        let on = self.text(t, &keys::NOTIFY_ON);
        let on_outlets = match on.get_ref().as_str() {
            "enter" => Some(false),
            "outlets" => Some(true),
            other => {
                self.problem(
                    on.span(),
                    format!("invalid on `{other}`: use \"enter\" or \"outlets\""),
                );
                None
            }
        };
        let secret = self
            .string(t, keys::NOTIFY_SECRET.name)
            .map(Spanned::into_inner);
        Some(NotifyConfig {
            id: id?,
            output: output?,
            url: url?,
            format: format?,
            secret,
            on_outlets: on_outlets?,
        })
    }

    fn output(
        &mut self,
        t: &Table<'_>,
        span: Range<usize>,
        feeds: &[FeedConfig],
        seen: &mut HashSet<String>,
    ) -> Option<OutputConfig> {
        self.unknown_keys(t, &keys::names("output"), "[[output]]");
        let id = self.table_id(t, &keys::OUTPUT_ID, "output", span, seen);
        let title = self
            .string(t, keys::OUTPUT_TITLE.name)
            .map(Spanned::into_inner);
        let tags = self.tags(t);
        let known_tags: HashSet<&str> = feeds
            .iter()
            .flat_map(|f| f.tags.iter().map(String::as_str))
            .collect();
        if let Some(v) = t.get(keys::OUTPUT_TAGS.name)
            && let DeValue::Array(items) = v.get_ref()
        {
            for item in items.iter() {
                if let DeValue::String(tag) = item.get_ref()
                    && !known_tags.contains(tag.as_ref())
                {
                    self.problem(item.span(), format!("no [[feed]] has the tag `{tag}`"));
                }
            }
        }
        let mut feed_ids = Vec::new();
        if let Some(v) = t.get(keys::OUTPUT_FEEDS.name) {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(f)
                                if feeds.iter().any(|c| c.id.as_str() == f.as_ref()) =>
                            {
                                feed_ids.push(FeedId(f.to_string()));
                            }
                            DeValue::String(f) => {
                                self.problem(item.span(), format!("no [[feed]] has the id `{f}`"))
                            }
                            other => self.problem(
                                item.span(),
                                format!("`feeds` must hold feed ids, found {}", other.type_str()),
                            ),
                        }
                    }
                }
                other => self.problem(
                    v.span(),
                    format!(
                        "`feeds` must be an array of feed ids, found {}",
                        other.type_str()
                    ),
                ),
            }
        }
        let filter = FeedFilter {
            include: self.keywords(t, &keys::OUTPUT_INCLUDE),
            exclude: self.keywords(t, &keys::OUTPUT_EXCLUDE),
        };
        let query = match self.string(t, keys::OUTPUT_QUERY.name) {
            // (Which words count is the search's business; here: is there any word at all.)
            Some(q) if !q.get_ref().chars().any(char::is_alphanumeric) => {
                self.problem(
                    q.span(),
                    "`query` has nothing to search for: give a word".to_owned(),
                );
                None
            }
            q => q.map(Spanned::into_inner),
        };
        let min_outlets = self.int(t, &keys::MIN_OUTLETS) as usize;
        let max_age = match t.get(keys::OUTPUT_MAX_AGE.name) {
            None => Some(None),
            Some(_) => self.duration(t, &keys::OUTPUT_MAX_AGE).map(Some),
        };
        let order = self.text(t, &keys::ORDER);
        let by_outlets = match order.get_ref().as_str() {
            "newest" => false,
            "outlets" => true,
            other => {
                self.problem(
                    order.span(),
                    format!("invalid order `{other}`: use \"newest\" or \"outlets\""),
                );
                false
            }
        };
        let size = self.int(t, &keys::SIZE) as usize;
        let id = id?;
        Some(OutputConfig {
            title: title.unwrap_or_else(|| id.clone()),
            id,
            tags,
            feeds: feed_ids,
            filter,
            query,
            min_outlets,
            max_age: max_age?,
            by_outlets,
            size,
        })
    }

    /// The tables of an array of tables (`[[feed]]`, `[[output]]`, `[[notify]]`) with their
    /// spans; anything else in their place is a problem ("{each} [[NAME]] table, found …").
    fn tables<'t, 'i>(
        &mut self,
        doc: &'t Table<'i>,
        name: &str,
        each: &str,
    ) -> Vec<(&'t Table<'i>, Range<usize>)> {
        let Some(v) = doc.get(name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.problem(
                v.span(),
                format!(
                    "`{name}` must be an array of [[{name}]] tables, found {}",
                    v.get_ref().type_str()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                other => self.problem(
                    item.span(),
                    format!("{each} [[{name}]] table, found {}", other.type_str()),
                ),
            }
        }
        out
    }

    fn section<'t, 'i>(&mut self, doc: &'t Table<'i>, name: &str) -> Option<&'t Table<'i>> {
        let v = doc.get(name)?;
        match v.get_ref() {
            DeValue::Table(t) => {
                self.unknown_keys(t, &keys::names(name), &format!("[{name}]"));
                Some(t)
            }
            other => {
                self.problem(
                    v.span(),
                    format!("[{name}] must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self, t: &Table<'_>, known: &[&str], place: &str) {
        for (k, _) in t.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                continue;
            }
            let hint = closest(key, known)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            self.problem(
                k.span(),
                format!(
                    "unknown key `{key}` in {place}{hint}; valid keys: {}",
                    known.join(", ")
                ),
            );
        }
    }

    fn server(&mut self, t: &Table<'_>) -> Option<ServerConfig> {
        let listen_text = self.text(t, &keys::LISTEN);
        let listen = match listen_text.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(
                    listen_text.span(),
                    format!(
                        "invalid listen address `{}`: expected IP:PORT such as 127.0.0.1:8080",
                        listen_text.get_ref()
                    ),
                );
                None
            }
        };
        let base_url = match self.string(t, keys::BASE_URL.name) {
            Some(s) => self.url(&s, "base_url"),
            None => listen.and_then(|a| Url::parse(&format!("http://{a}/")).ok()),
        };
        let header_timeout = self.duration(t, &keys::HEADER_TIMEOUT);
        let mut websub_hubs = Vec::new();
        if let Some(v) = t.get(keys::WEBSUB_HUBS.name) {
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref() {
                            DeValue::String(u) => {
                                let spanned = Spanned::new(item.span(), u.to_string());
                                if let Some(url) = self.url(&spanned, "a WebSub hub") {
                                    websub_hubs.push(url);
                                }
                            }
                            other => self.problem(
                                item.span(),
                                format!("hubs must be URLs, found {}", other.type_str()),
                            ),
                        }
                    }
                }
                other => self.problem(
                    v.span(),
                    format!(
                        "`websub_hubs` must be an array of URLs, found {}",
                        other.type_str()
                    ),
                ),
            }
        }
        Some(ServerConfig {
            websub_hubs,
            title: self.text(t, &keys::TITLE).into_inner(),
            feed_size: self.int(t, &keys::FEED_SIZE) as usize,
            max_connections: self.int(t, &keys::MAX_CONNECTIONS) as usize,
            header_timeout: header_timeout?,
            listen: listen?,
            base_url: base_url?,
        })
    }

    fn storage(&mut self, t: &Table<'_>) -> Option<StorageConfig> {
        let path = self.text(t, &keys::PATH);
        if path.get_ref().trim().is_empty() {
            self.problem(path.span(), "storage path must not be empty".to_owned());
        }
        Some(StorageConfig {
            path: PathBuf::from(path.into_inner()),
            retention_days: self.int(t, &keys::RETENTION_DAYS) as u32,
        })
    }

    fn poll(&mut self, t: &Table<'_>) -> Option<PollConfig> {
        let schedule = self.text(t, &keys::POLL_SCHEDULE);
        let user_agent = self
            .string(t, keys::USER_AGENT.name)
            .map(Spanned::into_inner)
            .unwrap_or_else(default_user_agent);
        // Every key is read before any `?`, so that every problem is reported.
        let schedule = self.schedule(&schedule, "poll");
        let timeout = self.duration(t, &keys::TIMEOUT);
        let connect_timeout = self.duration(t, &keys::CONNECT_TIMEOUT);
        let max_backoff = self.duration(t, &keys::MAX_BACKOFF);
        let refresh_timeout = self.duration(t, &keys::REFRESH_TIMEOUT);
        let max_age = match t.get(keys::MAX_AGE.name) {
            None => Some(None),
            Some(_) => self.duration(t, &keys::MAX_AGE).map(Some),
        };
        Some(PollConfig {
            max_age: max_age?,
            max_body_bytes: self.int(t, &keys::MAX_BODY_BYTES) as u64,
            concurrency: self.int(t, &keys::CONCURRENCY) as usize,
            per_host: self.int(t, &keys::PER_HOST) as usize,
            user_agent,
            max_items: self.int(t, &keys::MAX_ITEMS) as usize,
            full_text_below: self.int(t, &keys::FULL_TEXT_BELOW) as usize,
            websub: self.boolean(t, &keys::POLL_WEBSUB),
            allow_mass_removal: self.boolean(t, &keys::ALLOW_MASS_REMOVAL),
            schedule: schedule?,
            timeout: timeout?,
            connect_timeout: connect_timeout?,
            max_backoff: max_backoff?,
            refresh_timeout: refresh_timeout?,
        })
    }

    fn dedup(&mut self, t: &Table<'_>) -> Option<DedupConfig> {
        Some(DedupConfig {
            near_duplicates: self.boolean(t, &keys::NEAR_DUPLICATES),
            window_hours: self.int(t, &keys::WINDOW_HOURS) as u32,
            threshold: self.float(t, &keys::THRESHOLD),
            copy_window_hours: self.int(t, &keys::COPY_WINDOW_HOURS) as u32,
            max_indexed_items: self.int(t, &keys::MAX_INDEXED_ITEMS) as usize,
        })
    }

    fn feed(
        &mut self,
        t: &Table<'_>,
        span: Range<usize>,
        poll: Option<&PollConfig>,
        seen: &mut HashSet<String>,
    ) -> Option<FeedConfig> {
        self.unknown_keys(t, &keys::names("feed"), "[[feed]]");
        let id = match self.string(t, keys::ID.name) {
            Some(s) => {
                let id = s.get_ref().clone();
                if !valid_id(&id) {
                    self.problem(
                        s.span(),
                        format!(
                            "invalid feed id `{id}`: use 1 to 64 letters, digits, `-`, `_` or `.`"
                        ),
                    );
                    None
                } else if !seen.insert(id.clone()) {
                    self.problem(
                        s.span(),
                        format!("duplicate feed id `{id}`: each [[feed]] needs its own id"),
                    );
                    None
                } else {
                    Some(FeedId(id))
                }
            }
            None => {
                if t.get(keys::ID.name).is_none() {
                    self.problem(span.clone(), "[[feed]] is missing `id`".to_owned());
                }
                None
            }
        };
        // The schedule's stable offset derives from the id.
        let key = id.as_ref().map_or("feed", |i| i.as_str()).to_owned();
        // Messages name the feed by its id; a [[feed]] without a valid id by its line.
        let label = match &id {
            Some(i) => format!("feed \"{i}\""),
            None => format!(
                "the [[feed]] at line {}",
                line_column(self.src, &self.line_starts, span.start).0
            ),
        };
        let url = match self.string(t, keys::URL.name) {
            Some(s) => self.url(&s, &label),
            None => {
                if t.get(keys::URL.name).is_none() {
                    self.problem(span, format!("{label} is missing `url`"));
                }
                None
            }
        };
        let schedule = match self.string(t, keys::FEED_SCHEDULE.name) {
            Some(s) => self.schedule(&s, &key),
            None => poll.map(|p| p.schedule.with_key(&key)),
        };
        let name = self.string(t, keys::NAME.name).map(Spanned::into_inner);
        let tags = self.tags(t);
        let priority = self.int(t, &keys::PRIORITY);
        let enabled = self.boolean(t, &keys::ENABLED);
        let full_text = self.boolean(t, &keys::FULL_TEXT);
        let websub = match t.get(keys::FEED_WEBSUB.name) {
            Some(v) => {
                let on = self.boolean(t, &keys::FEED_WEBSUB);
                if on && !self.base_url_given {
                    self.problem(v.span(), WEBSUB_NEEDS_BASE_URL.to_owned());
                }
                on
            }
            None => poll.is_some_and(|p| p.websub),
        };
        let headers = self.headers(t);
        let filter = FeedFilter {
            include: self.keywords(t, &keys::INCLUDE),
            exclude: self.keywords(t, &keys::EXCLUDE),
        };
        let id = id?;
        Some(FeedConfig {
            name: name.unwrap_or_else(|| id.0.clone()),
            id,
            url: url?,
            schedule: schedule?,
            tags,
            priority,
            enabled,
            headers,
            filter,
            full_text,
            websub,
        })
    }

    /// A list of words and phrases (`include`, `exclude`): strings, each with something to match.
    fn keywords(&mut self, t: &Table<'_>, key: &keys::Key) -> Option<crate::filter::Keywords> {
        let v = t.get(key.name)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.problem(
                v.span(),
                format!(
                    "`{}` must be an array of words or phrases, e.g. [\"earthquake\", \"\\\"north korea\\\"\"]",
                    key.name
                ),
            );
            return None;
        };
        let mut terms = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => match crate::filter::Keywords::parse(&[s.to_string()]) {
                    Ok(_) => terms.push(s.to_string()),
                    Err(e) => self.problem(item.span(), format!("`{}`: {e}", key.name)),
                },
                other => self.problem(
                    item.span(),
                    format!(
                        "`{}` must hold strings, found {}",
                        key.name,
                        other.type_str()
                    ),
                ),
            }
        }
        if terms.is_empty() {
            return None;
        }
        crate::filter::Keywords::parse(&terms).ok()
    }

    fn headers(&mut self, t: &Table<'_>) -> Vec<(String, String)> {
        let Some(v) = t.get(keys::HEADERS.name) else {
            return Vec::new();
        };
        let DeValue::Table(table) = v.get_ref() else {
            self.problem(
                v.span(),
                "`headers` must be a table, e.g. headers = { Authorization = \"Bearer …\" }"
                    .to_owned(),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, val) in table.iter() {
            let name: &str = k.get_ref();
            let valid_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
            match val.get_ref() {
                DeValue::String(value)
                    if valid_name && reqwest::header::HeaderValue::from_str(value).is_ok() =>
                {
                    out.push((name.to_owned(), value.to_string()));
                }
                DeValue::String(_) if !valid_name => {
                    self.problem(k.span(), format!("invalid HTTP header name `{name}`"))
                }
                // The value is not echoed: it may be a secret.
                DeValue::String(_) => self.problem(
                    val.span(),
                    format!("invalid value for header `{name}` (control characters?)"),
                ),
                other => self.problem(
                    val.span(),
                    format!(
                        "header `{name}` must be a string, found {}",
                        other.type_str()
                    ),
                ),
            }
        }
        out
    }

    fn tags(&mut self, t: &Table<'_>) -> Vec<String> {
        let Some(v) = t.get(keys::TAGS.name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.problem(
                v.span(),
                "`tags` must be an array of strings, e.g. [\"korea\", \"wire\"]".to_owned(),
            );
            return Vec::new();
        };
        let mut tags = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) if valid_id(s) => tags.push(s.to_string()),
                DeValue::String(s) => self.problem(
                    item.span(),
                    format!("invalid tag `{s}`: use letters, digits, `-`, `_` or `.` (it becomes a URL path)"),
                ),
                other => self.problem(
                    item.span(),
                    format!("tags must be strings, found {}", other.type_str()),
                ),
            }
        }
        tags
    }

    fn string(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<String>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            other => {
                self.problem(
                    v.span(),
                    format!("`{key}` must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// A text key, or its default (spanned where the file gives it).
    fn text(&mut self, t: &Table<'_>, key: &Key) -> Spanned<String> {
        self.string(t, key.name)
            .unwrap_or_else(|| Spanned::new(0..0, key.text().to_owned()))
    }

    /// A true/false key, or its default (also after a problem, which fails the whole file).
    fn boolean(&mut self, t: &Table<'_>, key: &Key) -> bool {
        let default = matches!(key.default, keys::Default::Bool(true));
        let Some(v) = t.get(key.name) else {
            return default;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => *b,
            other => {
                self.problem(
                    v.span(),
                    format!(
                        "`{}` must be true or false, found {}",
                        key.name,
                        other.type_str()
                    ),
                );
                default
            }
        }
    }

    /// A whole-number key within its range, or its default.
    fn int(&mut self, t: &Table<'_>, key: &Key) -> i64 {
        let keys::Default::Int { value, min, max } = key.default else {
            return 0;
        };
        let Some(v) = t.get(key.name) else {
            return value;
        };
        let n = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problem(
                    v.span(),
                    format!("`{}` must be a whole number from {min} to {max}", key.name),
                );
                value
            }
        }
    }

    /// A number key within its range, or its default.
    fn float(&mut self, t: &Table<'_>, key: &Key) -> f64 {
        let keys::Default::Float { value, min, max } = key.default else {
            return 0.0;
        };
        let Some(v) = t.get(key.name) else {
            return value;
        };
        let n = match v.get_ref() {
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            DeValue::Integer(i) => i.as_str().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => n,
            _ => {
                self.problem(
                    v.span(),
                    format!("`{}` must be a number from {min:.1} to {max:.1}", key.name),
                );
                value
            }
        }
    }

    /// A duration key (`"30s"`, `"2m"`, `"1h"`), or its default.
    fn duration(&mut self, t: &Table<'_>, key: &Key) -> Option<Duration> {
        let s = self.text(t, key);
        match humantime::parse_duration(s.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                self.problem(
                    s.span(),
                    format!(
                        "invalid duration `{}` for `{}`: write e.g. \"30s\", \"2m\" or \"1h\"",
                        s.get_ref(),
                        key.name
                    ),
                );
                None
            }
        }
    }

    fn url(&mut self, s: &Spanned<String>, what: &str) -> Option<Url> {
        match Url::parse(s.get_ref()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(u) => {
                self.problem(
                    s.span(),
                    format!(
                        "invalid URL for {what}: scheme `{}` is not http or https",
                        u.scheme()
                    ),
                );
                None
            }
            Err(e) => {
                self.problem(s.span(), format!("invalid URL for {what}: {e}"));
                None
            }
        }
    }

    fn schedule(&mut self, s: &Spanned<String>, key: &str) -> Option<Schedule> {
        match Schedule::parse(s.get_ref(), key) {
            Ok(sch) => Some(sch),
            Err(e) => {
                self.problem(s.span(), format!("invalid schedule `{}`: {e}", s.get_ref()));
                None
            }
        }
    }
}

/// The User-Agent sent when `[poll] user_agent` is not set.
pub fn default_user_agent() -> String {
    format!(
        "wiredesk/{} (+https://github.com/wiredesk/wiredesk; feed aggregator)",
        env!("CARGO_PKG_VERSION")
    )
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The valid name closest to a misspelt one, if any is close enough to be a likely typo.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The byte offset where each line of `src` starts.
fn line_starts(src: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(src.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// 1-based line and column (in characters) of a byte offset, given [`line_starts`].
fn line_column(src: &str, starts: &[usize], offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let line = starts.partition_point(|&s| s <= offset).max(1);
    let line_start = starts[line - 1];
    let column = src
        .get(line_start..offset)
        .map_or(0, |text| text.chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_and_exclude_are_lists_of_words_checked_with_positions() {
        let c = Config::parse(
            "[[feed]]\nid = \"a\"\nurl = \"https://a.example/\"\ninclude = [\"quake\", \"\\\"north korea\\\"\"]\nexclude = [\"sponsored\"]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let f = &c.feeds[0].filter;
        assert!(f.keeps("Quake hits", ""));
        assert!(f.keeps("", "talks with North Korea"));
        assert!(!f.keeps("Sponsored: quake insurance", ""));
        assert!(!f.keeps("Weather", ""));
        assert_eq!(
            problems(
                "[[feed]]\nid = \"a\"\nurl = \"https://a.example/\"\ninclude = \"quake\"\nexclude = [\"ok\", 5, \"  \"]\n"
            ),
            [
                "4:11 `include` must be an array of words or phrases, e.g. [\"earthquake\", \"\\\"north korea\\\"\"]",
                "5:18 `exclude` must hold strings, found integer",
                "5:21 `exclude`: the term \"  \" holds nothing to match",
            ]
        );
    }

    #[test]
    fn outputs_are_read_and_their_references_checked_with_positions() {
        let base = "[[feed]]\nid = \"a\"\nurl = \"https://a.example/\"\ntags = [\"korea\"]\n";
        let c = Config::parse(
            &format!("{base}[[output]]\nid = \"big\"\nfeeds = [\"a\"]\ntags = [\"korea\"]\nmin_outlets = 3\nmax_age = \"12h\"\norder = \"outlets\"\nsize = 20\nquery = \"missile\"\n"),
            Path::new("t.toml"),
        )
        .unwrap();
        let o = &c.outputs[0];
        assert_eq!((o.id.as_str(), o.title.as_str()), ("big", "big"));
        assert_eq!((o.min_outlets, o.size, o.by_outlets), (3, 20, true));
        assert_eq!(o.max_age, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(o.query.as_deref(), Some("missile"));
        assert_eq!(o.feeds, [FeedId("a".into())]);
        assert_eq!(
            problems(&format!(
                "{base}[[output]]\nid = \"x\"\nfeeds = [\"a\", \"nope\"]\ntags = [\"world\"]\norder = \"best\"\n[[output]]\nid = \"x\"\n"
            )),
            [
                "7:15 no [[feed]] has the id `nope`",
                "8:9 no [[feed]] has the tag `world`",
                "9:9 invalid order `best`: use \"newest\" or \"outlets\"",
                "11:6 duplicate output id `x`: each [[output]] needs its own id",
            ]
        );
    }

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .iter()
                .map(|p| format!("{}:{} {}", p.line, p.column, p.message))
                .collect(),
        }
    }

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"
title = "Desk"

[poll]
schedule = "*/10 * * * *"
timeout = "20s"

[[feed]]
id = "yonhap"
url = "https://en.yna.co.kr/RSS/news.xml"
tags = ["korea", "wire"]
priority = 10

[[feed]]
id = "bbc"
name = "BBC News"
url = "https://feeds.bbci.co.uk/news/world/rss.xml"
schedule = "30 */2 * * * *"
enabled = false
"#;

    #[test]
    fn a_valid_config_is_read_with_defaults() {
        let c = Config::parse(GOOD, Path::new("t.toml")).expect("valid");
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.server.base_url.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(c.poll.timeout, Duration::from_secs(20));
        assert_eq!(c.storage.path, PathBuf::from("wiredesk.db"));
        assert_eq!(c.feeds.len(), 2);
        assert_eq!(c.feeds[0].name, "yonhap");
        assert_eq!(c.feeds[0].priority, 10);
        assert_eq!(c.feeds[1].name, "BBC News");
        assert!(!c.feeds[1].enabled);
        assert_eq!(c.enabled_feeds().count(), 1);
        assert_eq!(c.tags(), vec!["korea", "wire"]);
        // The feed without a schedule inherits [poll]'s, with its own seconds offset.
        assert!(c.feeds[0].schedule.cron6().ends_with("-59/10 * * * *"));
        assert_eq!(c.feeds[1].schedule.cron6(), "30 */2 * * * *");
    }

    #[test]
    fn every_problem_is_reported_with_line_and_column() {
        let text = r#"[poll]
schedual = "*/5 * * * *"

[[feed]]
id = "a"
url = "not a url"

[[feed]]
id = "a"
url = "https://example.com/rss"
schedule = "*/5 * * *"

[[feed]]
url = "ftp://example.com/x"
priority = "high"
"#;
        let p = problems(text);
        assert_eq!(
            p,
            vec![
                "2:1 unknown key `schedual` in [poll] (did you mean `schedule`?); valid keys: schedule, timeout, connect_timeout, max_body_bytes, concurrency, per_host, user_agent, max_backoff, max_items, refresh_timeout, max_age, full_text_below, websub, allow_mass_removal",
                "6:7 invalid URL for feed \"a\": relative URL without a base",
                "9:6 duplicate feed id `a`: each [[feed]] needs its own id",
                "11:12 invalid schedule `*/5 * * *`: expected 5 fields (minute hour day month weekday) or 6 (with seconds first), found 4",
                "13:1 [[feed]] is missing `id`",
                "14:7 invalid URL for the [[feed]] at line 13: scheme `ftp` is not http or https",
                "15:12 `priority` must be a whole number from -1000000 to 1000000",
            ]
        );
    }

    #[test]
    fn bad_durations_and_types_are_named() {
        let p = problems("[poll]\ntimeout = \"soon\"\nconcurrency = 0\n[dedup]\nthreshold = 2.0\n");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("2:11 invalid duration `soon` for `timeout`"));
        assert!(p[1].starts_with("3:15 `concurrency` must be a whole number"));
        assert!(p[2].starts_with("5:13 `threshold` must be a number"));
    }

    #[test]
    fn invalid_toml_syntax_is_located() {
        let p = problems("[server]\nlisten = \"127.0.0.1:80\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("2:"), "{p:?}");
        assert!(p[0].contains("invalid TOML"), "{p:?}");
    }

    #[test]
    fn feed_headers_are_read_and_checked() {
        let c = Config::parse(
            "[[feed]]\nid = \"w\"\nurl = \"https://user:pw@wire.example/rss\"\nheaders = { Authorization = \"Bearer abc\", X-Api = \"1\" }\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let mut h = c.feeds[0].headers.clone();
        h.sort();
        assert_eq!(
            h,
            vec![
                ("Authorization".into(), "Bearer abc".into()),
                ("X-Api".into(), "1".into())
            ]
        );
        let p = problems(
            "[[feed]]\nid = \"w\"\nurl = \"https://w.example/\"\nheaders = { \"Bad Name\" = \"x\", Ok = 5 }\n",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("invalid HTTP header name `Bad Name`"),
            "{p:?}"
        );
        assert!(p[1].contains("header `Ok` must be a string"), "{p:?}");
    }

    #[test]
    fn missing_url_is_reported() {
        let p = problems("[[feed]]\nid = \"x\"\n");
        assert_eq!(p, vec!["1:1 feed \"x\" is missing `url`"]);
    }

    #[test]
    fn a_feed_printed_for_debugging_shows_no_credential() {
        let text = "[[feed]]\nid = \"paid\"\nurl = \"https://user:pa55word@wire.example/rss?apikey=k3y&s=1\"\nheaders = { Authorization = \"Bearer t0ken\" }\n";
        let cfg = Config::parse(text, Path::new("t.toml")).unwrap();
        let shown = format!("{:?} {:#?}", cfg.feeds[0], cfg);
        for secret in ["pa55word", "k3y", "t0ken"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("Authorization"), "{shown}");
    }

    #[test]
    fn reloads_that_drop_most_feeds_must_say_so() {
        let conf = |ids: &[&str], extra: &str| {
            let mut text = format!("[poll]\n{extra}\n");
            for id in ids {
                text.push_str(&format!(
                    "[[feed]]\nid = \"{id}\"\nurl = \"https://{id}.example/rss\"\n"
                ));
            }
            Config::parse(&text, Path::new("f.toml")).unwrap()
        };
        let old = conf(&["a", "b", "c", "d", "e"], "");
        assert!(mass_removal(&old, &conf(&[], "")).is_some(), "all gone");
        assert!(
            mass_removal(&old, &conf(&["a", "b"], "")).is_some(),
            "3 of 5 gone"
        );
        assert!(
            mass_removal(&old, &conf(&["a", "b", "c"], "")).is_none(),
            "2 of 5"
        );
        assert!(mass_removal(&old, &conf(&["a", "b", "c", "d", "e", "f"], "")).is_none());
        assert!(mass_removal(&old, &conf(&[], "allow_mass_removal = true")).is_none());
        let two = conf(&["a", "b"], "");
        assert!(
            mass_removal(&two, &conf(&["a"], "")).is_none(),
            "few feeds: one may go"
        );
        assert!(mass_removal(&two, &conf(&["x"], "")).is_some(), "none kept");
        let msg = mass_removal(&old, &conf(&[], "")).unwrap();
        assert!(msg.contains("stop polling 5 of the 5 feeds"), "{msg}");
    }

    #[test]
    fn database_paths_resolve_by_the_documented_rule() {
        let rel = Path::new("wiredesk.db");
        let state = std::ffi::OsStr::new("/run/state/wiredesk:/other");
        assert_eq!(
            resolve_database_path(Path::new("/data/w.db"), Some(state), true).0,
            PathBuf::from("/data/w.db")
        );
        assert_eq!(
            resolve_database_path(rel, Some(state), true).0,
            PathBuf::from("/run/state/wiredesk/wiredesk.db")
        );
        assert_eq!(
            resolve_database_path(rel, None, true).0,
            PathBuf::from("/var/lib/wiredesk/wiredesk.db")
        );
        assert_eq!(
            resolve_database_path(rel, Some(std::ffi::OsStr::new("")), false).0,
            PathBuf::from("wiredesk.db")
        );
    }

    #[test]
    fn line_column_counts_characters() {
        let at = |src: &str, offset| line_column(src, &line_starts(src), offset);
        assert_eq!(at("ab\n한글x", 9), (2, 3));
        assert_eq!(at("ab\n한글x", 3), (2, 1));
        assert_eq!(at("ab\n한글x", 2), (1, 3));
        assert_eq!(at("", 0), (1, 1));
        assert_eq!(at("a\n\n", 4), (3, 1));
    }
}
