//! Every key of `feeds.toml`, declared once: its section, name, default, accepted range and
//! what it means. The reader takes defaults and ranges from here, the unknown-key check takes
//! the valid names from here, and a test holds README's and the shipped `feeds.toml`'s key
//! lists against it.

/// A key's default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// The key must be given (`[[feed]] id`, `url`).
    Required,
    /// No default value; absent means "not set" (or a value derived at run time).
    Unset,
    /// A whole number, with the range accepted.
    Int {
        value: i64,
        min: i64,
        max: i64,
    },
    /// A number, with the range accepted.
    Float {
        value: f64,
        min: f64,
        max: f64,
    },
    Bool(bool),
    /// A string, or a duration or cron expression as written in the file.
    Text(&'static str),
}

/// One key of one section.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Key {
    pub section: &'static str,
    pub name: &'static str,
    pub default: Default,
    /// What the key means, as the README says it.
    pub doc: &'static str,
}

impl Key {
    /// The default of a whole-number key (0 for any other kind).
    pub const fn int(&self) -> i64 {
        match self.default {
            Default::Int { value, .. } => value,
            _ => 0,
        }
    }

    /// The default of a number key (0.0 for any other kind).
    pub const fn float(&self) -> f64 {
        match self.default {
            Default::Float { value, .. } => value,
            _ => 0.0,
        }
    }

    /// The default of a text key ("" for any other kind).
    pub const fn text(&self) -> &'static str {
        match self.default {
            Default::Text(t) => t,
            _ => "",
        }
    }
}

const fn int(
    section: &'static str,
    name: &'static str,
    value: i64,
    min: i64,
    max: i64,
    doc: &'static str,
) -> Key {
    Key {
        section,
        name,
        default: Default::Int { value, min, max },
        doc,
    }
}

const fn text(
    section: &'static str,
    name: &'static str,
    value: &'static str,
    doc: &'static str,
) -> Key {
    Key {
        section,
        name,
        default: Default::Text(value),
        doc,
    }
}

const fn boolean(section: &'static str, name: &'static str, value: bool, doc: &'static str) -> Key {
    Key {
        section,
        name,
        default: Default::Bool(value),
        doc,
    }
}

const fn unset(section: &'static str, name: &'static str, doc: &'static str) -> Key {
    Key {
        section,
        name,
        default: Default::Unset,
        doc,
    }
}

const fn required(section: &'static str, name: &'static str, doc: &'static str) -> Key {
    Key {
        section,
        name,
        default: Default::Required,
        doc,
    }
}

// [server]
pub const LISTEN: Key = text("server", "listen", "127.0.0.1:8080", "address to serve on");
pub const BASE_URL: Key = unset(
    "server",
    "base_url",
    "public URL for self links (default http://LISTEN/)",
);
pub const TITLE: Key = text("server", "title", "wiredesk", "title of the merged feed");
pub const FEED_SIZE: Key = int(
    "server",
    "feed_size",
    100,
    1,
    10_000,
    "stories per merged feed",
);
pub const MAX_CONNECTIONS: Key = int(
    "server",
    "max_connections",
    512,
    1,
    1_000_000,
    "connections served at once; more are closed unanswered",
);
pub const WEBSUB_HUBS: Key = unset(
    "server",
    "websub_hubs",
    "WebSub hubs: feeds name them, and each is told when a feed changes",
);
pub const HEADER_TIMEOUT: Key = text(
    "server",
    "header_timeout",
    "10s",
    "time to send a request's headers, and to idle between requests",
);

// [storage]
pub const PATH: Key = text(
    "storage",
    "path",
    "wiredesk.db",
    "the database file (see \"Where the database is\")",
);
pub const RETENTION_DAYS: Key = int(
    "storage",
    "retention_days",
    30,
    1,
    36_500,
    "days a story is kept after its last change",
);

// [poll]
pub const POLL_SCHEDULE: Key = text(
    "poll",
    "schedule",
    "*/5 * * * *",
    "default schedule: 5-field cron (or 6 fields, seconds first), in UTC",
);
pub const TIMEOUT: Key = text("poll", "timeout", "30s", "total time for one fetch");
pub const CONNECT_TIMEOUT: Key = text("poll", "connect_timeout", "10s", "time to connect");
pub const MAX_BODY_BYTES: Key = int(
    "poll",
    "max_body_bytes",
    16 << 20,
    1024,
    1 << 34,
    "largest body accepted, after decompression",
);
pub const CONCURRENCY: Key = int("poll", "concurrency", 32, 1, 10_000, "fetches at once");
pub const PER_HOST: Key = int(
    "poll",
    "per_host",
    2,
    1,
    1_000,
    "fetches at once against one host",
);
pub const USER_AGENT: Key = unset(
    "poll",
    "user_agent",
    "the User-Agent (default wiredesk/VERSION with a project link)",
);
pub const MAX_BACKOFF: Key = text(
    "poll",
    "max_backoff",
    "4h",
    "longest wait between attempts of a failing feed",
);
pub const MAX_ITEMS: Key = int(
    "poll",
    "max_items",
    1000,
    1,
    100_000,
    "most entries one refresh takes from a feed (newest first)",
);
pub const REFRESH_TIMEOUT: Key = text(
    "poll",
    "refresh_timeout",
    "2m",
    "longest one refresh may take, fetch to commit",
);
pub const MAX_AGE: Key = unset(
    "poll",
    "max_age",
    "items older than this when first seen are not stored (older than retention never are)",
);
pub const FULL_TEXT_BELOW: Key = int(
    "poll",
    "full_text_below",
    400,
    1,
    1_000_000,
    "[[feed]] full_text: items with fewer characters of text than this get the article's",
);
pub const POLL_WEBSUB: Key = boolean(
    "poll",
    "websub",
    false,
    "subscribe to the WebSub hub a feed names (needs [server] base_url); polling goes on",
);
pub const ALLOW_MASS_REMOVAL: Key = boolean(
    "poll",
    "allow_mass_removal",
    false,
    "let a reload stop polling all feeds, or most of them",
);

// [dedup]
pub const NEAR_DUPLICATES: Key =
    boolean("dedup", "near_duplicates", true, "the near-duplicate layer");
pub const WINDOW_HOURS: Key = int(
    "dedup",
    "window_hours",
    48,
    1,
    24 * 365,
    "how far apart two items may be published and still be matched",
);
pub const THRESHOLD: Key = Key {
    section: "dedup",
    name: "threshold",
    default: Default::Float {
        value: 0.64,
        min: 0.0,
        max: 1.0,
    },
    doc: "probability that two items are one story; higher merges less",
};
pub const COPY_WINDOW_HOURS: Key = int(
    "dedup",
    "copy_window_hours",
    96,
    1,
    24 * 365,
    "how far apart a near-verbatim copy may be published and still join (a late republication)",
);
pub const MAX_INDEXED_ITEMS: Key = int(
    "dedup",
    "max_indexed_items",
    100_000,
    1_000,
    100_000_000,
    "the index's size limit (about 3 KB each); the oldest go first",
);

// [[feed]]
pub const ID: Key = required(
    "feed",
    "id",
    "stable key: letters, digits, - _ . (renaming it makes a new source)",
);
pub const NAME: Key = unset("feed", "name", "the outlet's name (default: the id)");
pub const URL: Key = required("feed", "url", "the feed's http(s) URL");
pub const FEED_SCHEDULE: Key = unset(
    "feed",
    "schedule",
    "this feed's schedule (default: [poll] schedule)",
);
pub const TAGS: Key = unset("feed", "tags", "per-tag merged feeds at /tags/TAG.atom");
pub const PRIORITY: Key = int(
    "feed",
    "priority",
    0,
    -1_000_000,
    1_000_000,
    "higher represents a story (original wire > republisher)",
);
pub const ENABLED: Key = boolean("feed", "enabled", true, "polled or not");
pub const INCLUDE: Key = unset(
    "feed",
    "include",
    "store only items whose title or text has one of these words or \"phrases\"",
);
pub const EXCLUDE: Key = unset(
    "feed",
    "exclude",
    "never store items whose title or text has one of these words or \"phrases\"",
);
pub const FULL_TEXT: Key = boolean(
    "feed",
    "full_text",
    false,
    "fetch the article page of items with little text and keep its main text",
);
pub const FEED_WEBSUB: Key = unset(
    "feed",
    "websub",
    "this feed's WebSub subscription on or off (default: [poll] websub)",
);
pub const HEADERS: Key = unset(
    "feed",
    "headers",
    "extra request headers for paid feeds (never logged or shown)",
);

pub const OUTPUT_ID: Key = required(
    "output",
    "id",
    "served at /outputs/ID.atom, .rss and .json (letters, digits, - _ .)",
);
pub const OUTPUT_TITLE: Key = unset("output", "title", "the output's title (default: its id)");
pub const OUTPUT_TAGS: Key = unset(
    "output",
    "tags",
    "only stories carried by a feed with one of these tags",
);
pub const OUTPUT_FEEDS: Key = unset(
    "output",
    "feeds",
    "only stories carried by one of these feeds (by id)",
);
pub const OUTPUT_INCLUDE: Key = unset(
    "output",
    "include",
    "only stories with a member mentioning one of these words or \"phrases\"",
);
pub const OUTPUT_EXCLUDE: Key = unset(
    "output",
    "exclude",
    "no story with a member mentioning one of these",
);
pub const OUTPUT_QUERY: Key = unset(
    "output",
    "query",
    "a saved search (as /search?q=): only stories matching it",
);
pub const MIN_OUTLETS: Key = int(
    "output",
    "min_outlets",
    1,
    1,
    1000,
    "only stories carried by at least this many distinct outlets",
);
pub const OUTPUT_MAX_AGE: Key = unset(
    "output",
    "max_age",
    "only stories published within this long (e.g. \"12h\")",
);
pub const ORDER: Key = text(
    "output",
    "order",
    "newest",
    "\"newest\", or \"outlets\" (most outlets first, then newest)",
);
pub const SIZE: Key = int("output", "size", 50, 1, 1000, "stories in the output");

pub const NOTIFY_ID: Key = required("notify", "id", "names the target in logs and `status`");
pub const NOTIFY_OUTPUT: Key = required(
    "notify",
    "output",
    "the [[output]] whose new stories are sent, one message each",
);
pub const NOTIFY_URL: Key = required(
    "notify",
    "url",
    "where messages are POSTed (a secret: redacted everywhere)",
);
pub const NOTIFY_FORMAT: Key = text(
    "notify",
    "format",
    "json",
    "\"json\", \"slack\", \"ntfy\" or \"matrix\" (an m.room.message body)",
);
pub const NOTIFY_SECRET: Key = unset(
    "notify",
    "secret",
    "signs each body: X-Wiredesk-Signature: sha256=HMAC",
);
pub const NOTIFY_ON: Key = text(
    "notify",
    "on",
    "enter",
    "\"enter\" (once per story) or \"outlets\" (again each time it gains outlets)",
);

/// The sections and their keys, in the order the README lists them.
pub const SECTIONS: &[(&str, &[&Key])] = &[
    (
        "server",
        &[
            &LISTEN,
            &BASE_URL,
            &TITLE,
            &FEED_SIZE,
            &MAX_CONNECTIONS,
            &HEADER_TIMEOUT,
            &WEBSUB_HUBS,
        ],
    ),
    ("storage", &[&PATH, &RETENTION_DAYS]),
    (
        "poll",
        &[
            &POLL_SCHEDULE,
            &TIMEOUT,
            &CONNECT_TIMEOUT,
            &MAX_BODY_BYTES,
            &CONCURRENCY,
            &PER_HOST,
            &USER_AGENT,
            &MAX_BACKOFF,
            &MAX_ITEMS,
            &REFRESH_TIMEOUT,
            &MAX_AGE,
            &FULL_TEXT_BELOW,
            &POLL_WEBSUB,
            &ALLOW_MASS_REMOVAL,
        ],
    ),
    (
        "dedup",
        &[
            &NEAR_DUPLICATES,
            &WINDOW_HOURS,
            &THRESHOLD,
            &COPY_WINDOW_HOURS,
            &MAX_INDEXED_ITEMS,
        ],
    ),
    (
        "feed",
        &[
            &ID,
            &NAME,
            &URL,
            &FEED_SCHEDULE,
            &TAGS,
            &PRIORITY,
            &ENABLED,
            &HEADERS,
            &INCLUDE,
            &EXCLUDE,
            &FULL_TEXT,
            &FEED_WEBSUB,
        ],
    ),
    (
        "output",
        &[
            &OUTPUT_ID,
            &OUTPUT_TITLE,
            &OUTPUT_TAGS,
            &OUTPUT_FEEDS,
            &OUTPUT_INCLUDE,
            &OUTPUT_EXCLUDE,
            &OUTPUT_QUERY,
            &MIN_OUTLETS,
            &OUTPUT_MAX_AGE,
            &ORDER,
            &SIZE,
        ],
    ),
    (
        "notify",
        &[
            &NOTIFY_ID,
            &NOTIFY_OUTPUT,
            &NOTIFY_URL,
            &NOTIFY_FORMAT,
            &NOTIFY_SECRET,
            &NOTIFY_ON,
        ],
    ),
];

/// The names of a section's keys.
pub fn names(section: &str) -> Vec<&'static str> {
    SECTIONS
        .iter()
        .filter(|(s, _)| *s == section)
        .flat_map(|(_, keys)| keys.iter().map(|k| k.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_valid_for_its_key() {
        for (section, keys) in SECTIONS {
            for k in *keys {
                assert_eq!(k.section, *section, "{}", k.name);
                match k.default {
                    Default::Int { value, min, max } => {
                        assert!((min..=max).contains(&value), "{}", k.name)
                    }
                    Default::Float { value, min, max } => {
                        assert!((min..=max).contains(&value), "{}", k.name)
                    }
                    Default::Text(t) if k.name.contains("timeout") || k.name == "max_backoff" => {
                        assert!(humantime::parse_duration(t).is_ok(), "{}", k.name)
                    }
                    Default::Text(t) if k.name == "schedule" => {
                        assert!(crate::schedule::Schedule::parse(t, "k").is_ok())
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn the_readme_and_the_shipped_config_name_every_key() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for (_, keys) in SECTIONS {
            for k in *keys {
                let written = format!("\n{} = ", k.name);
                let commented = format!("\n# {} = ", k.name);
                assert!(
                    readme.contains(&written) || readme.contains(&commented),
                    "README's feeds.toml block lacks `{}` ({})",
                    k.name,
                    k.doc
                );
            }
        }
    }
}
