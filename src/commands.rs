//! The CLI subcommands other than `run`: each takes a validated config and writes a report.

use std::io::Write;

use anyhow::Context as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::app::App;
use crate::config::Config;
use crate::refresh::{Outcome, Trigger};
use crate::store::{FeedHealth, Store, Story};

/// `wiredesk poll-once`: fetches every enabled feed once (concurrently, within the configured
/// limits), stores, prints one line per feed. Returns whether every feed succeeded.
pub async fn poll_once(config: Config, out: &mut impl Write) -> anyhow::Result<bool> {
    let app = App::open(config.clone()).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, feed) in config.enabled_feeds().cloned().enumerate() {
        let app = app.clone();
        tasks.spawn(async move { (i, app.refresh(&feed, Trigger::Manual).await) });
    }
    let mut reports = Vec::new();
    while let Some(r) = tasks.join_next().await {
        reports.push(r.context("a refresh task panicked")?);
    }
    reports.sort_by_key(|(i, _)| *i);
    let width = reports
        .iter()
        .map(|(_, r)| r.feed.as_str().len())
        .max()
        .unwrap_or(0);
    let mut all_ok = true;
    for (_, r) in &reports {
        let line = match &r.outcome {
            Outcome::Stored(s) if s.new > 0 || s.updated > 0 => format!(
                "new {}, updated {}, unchanged {}, merged {}",
                s.new, s.updated, s.unchanged, s.merged
            ),
            Outcome::Stored(s) => format!("unchanged ({} entries)", s.unchanged),
            Outcome::Unchanged => match r.status {
                Some(304) => "unchanged (304 Not Modified)".to_owned(),
                _ => "unchanged (same body)".to_owned(),
            },
            Outcome::Failed(e) => {
                all_ok = false;
                format!("error: {e}")
            }
            Outcome::Skipped => "skipped (already running)".to_owned(),
        };
        writeln!(out, "{:width$}  {line}", r.feed.as_str())?;
    }
    // Checkpointed and closed before the process exits (dropping the handle would leave the
    // store thread racing the exit).
    app.store.close().await;
    Ok(all_ok)
}

/// The configured database, opened read-only for a report: never created, never migrated,
/// and without the near-duplicate index the daemon builds at start. A missing database is an
/// error that says where it was looked for, by which rule, and how to point elsewhere.
fn open_store(config: &Config) -> anyhow::Result<Store> {
    let (path, rule) = config.storage.database_location();
    match Store::open_read_only(&path) {
        Ok(store) => Ok(store),
        Err(crate::store::StoreError::Missing { .. }) => Err(missing_database(config, &path, rule)),
        Err(e) => Err(anyhow::Error::new(e)
            .context(format!("opening database at {} ({rule})", path.display()))),
    }
}

fn missing_database(config: &Config, path: &std::path::Path, rule: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "no database at {} ({rule}); the daemon creates it on its first start. \
         For the service's database run as the service would (STATE_DIRECTORY=/var/lib/wiredesk), \
         or pass --database PATH, or set an absolute [storage] path in {}",
        path.display(),
        config.source.display()
    )
}

#[derive(Serialize)]
struct StoryJson<'a> {
    id: &'a str,
    title: &'a str,
    link: Option<&'a str>,
    published: String,
    updated: String,
    members: Vec<MemberJson<'a>>,
}

#[derive(Serialize)]
struct MemberJson<'a> {
    feed: &'a str,
    guid: Option<&'a str>,
    link: Option<&'a str>,
    title: &'a str,
    published: String,
    joined_by: &'a str,
    score: Option<f64>,
}

fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn story_json(s: &Story) -> StoryJson<'_> {
    let rep = s.representative();
    StoryJson {
        id: &s.id.0,
        title: &rep.title,
        link: rep.link.as_deref(),
        published: rfc3339(s.published),
        updated: rfc3339(s.updated),
        members: s
            .members
            .iter()
            .map(|m| MemberJson {
                feed: &m.feed,
                guid: m.guid.as_deref(),
                link: m.link.as_deref(),
                title: &m.title,
                published: rfc3339(m.published),
                joined_by: &m.joined_by,
                score: m.score,
            })
            .collect(),
    }
}

/// Which stories `wiredesk stories` prints.
#[derive(Clone, Debug, Default)]
pub struct StoryQuery {
    pub limit: usize,
    pub feed: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

/// `wiredesk stories`: the newest stories (by their own date), as JSON or as text, each with
/// its outlets once.
pub async fn stories(
    config: Config,
    json: bool,
    query: &StoryQuery,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let q = query.clone();
    let stories = store
        .call(move |db| db.newest_stories(q.limit, q.feed.as_deref(), q.since))
        .await;
    store.close().await;
    print_stories(&stories?, json, out)
}

/// `wiredesk search QUERY`: the stories with an item matching the query (every word, or a
/// phrase in double quotes; any script), newest first, like `stories`.
pub async fn search(
    config: Config,
    query: &str,
    json: bool,
    limit: usize,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if crate::store::search::fts_query(query).is_none() {
        anyhow::bail!("nothing to search for in {query:?}: give a word of two letters or more");
    }
    let store = open_store(&config)?;
    let q = query.to_owned();
    let stories = store.call(move |db| db.search(&q, limit, 0)).await;
    store.close().await;
    print_stories(&stories?, json, out)
}

/// Stories as `stories` and `search` print them: one line each, or a JSON array.
fn print_stories(stories: &[Story], json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        let list: Vec<_> = stories.iter().map(story_json).collect();
        serde_json::to_writer_pretty(&mut *out, &list)?;
        writeln!(out)?;
    } else {
        for s in stories {
            let rep = s.representative();
            let outlets: Vec<&str> = crate::publish::outlets(s)
                .iter()
                .map(|(id, _)| *id)
                .collect();
            writeln!(
                out,
                "{}  {}  {}  [{}]",
                s.id,
                s.published.format("%Y-%m-%d %H:%M"),
                rep.title,
                outlets.join(", ")
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// `wiredesk status`: every feed's health.
pub async fn status(config: Config, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    let health: Vec<FeedHealth> = store.call(|db| db.feed_health()).await?;
    let notify = store.call(|db| db.notify_summary()).await?;
    let websub = store.call(|db| db.websub_all()).await?;
    store.close().await;
    let configured: Vec<&str> = config.feeds.iter().map(|f| f.id.as_str()).collect();
    let health: Vec<FeedHealth> = health
        .into_iter()
        .filter(|h| configured.contains(&h.id.as_str()))
        .map(|mut h| {
            h.url = crate::normalise::redact_url_str(&h.url);
            h
        })
        .collect();
    if json {
        serde_json::to_writer_pretty(&mut *out, &health)?;
        writeln!(out)?;
        return Ok(());
    }
    let when = |d: Option<DateTime<Utc>>| {
        d.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "never".to_owned())
    };
    let width = health.iter().map(|h| h.id.len()).max().unwrap_or(2).max(4);
    writeln!(
        out,
        "{:width$}  {:19}  {:8}  {:19}  {:>6}  LAST ERROR",
        "FEED", "LAST SUCCESS", "FAILURES", "NEXT ATTEMPT", "ITEMS"
    )?;
    for h in &health {
        let next = if h.enabled {
            when(h.next_attempt)
        } else {
            "disabled".to_owned()
        };
        writeln!(
            out,
            "{:width$}  {:19}  {:8}  {:19}  {:>6}  {}",
            h.id,
            when(h.last_success),
            h.consecutive_failures,
            next,
            h.items,
            h.note().unwrap_or_else(|| "-".to_owned())
        )?;
    }
    let full_text: Vec<&FeedHealth> = health
        .iter()
        .filter(|h| {
            config
                .feeds
                .iter()
                .any(|f| f.full_text && f.id.as_str() == h.id)
        })
        .collect();
    if !full_text.is_empty() {
        let width = width.max("FULL TEXT".len());
        writeln!(out)?;
        writeln!(
            out,
            "{:width$}  {:>8}  {:>6}  LAST FAILED PAGE",
            "FULL TEXT", "ENRICHED", "FAILED"
        )?;
        for h in full_text {
            writeln!(
                out,
                "{:width$}  {:>8}  {:>6}  {}",
                h.id,
                h.full_text_enriched,
                h.full_text_failed,
                h.full_text_error.as_deref().unwrap_or("-")
            )?;
        }
    }
    if !websub.is_empty() {
        writeln!(out)?;
        writeln!(out, "WEBSUB  STATE  LEASE UNTIL  HUB  LAST ERROR")?;
        for w in &websub {
            writeln!(
                out,
                "{}  {}  {}  {}  {}",
                w.feed,
                w.state,
                when(w.lease_until),
                crate::normalise::redact_url_str(&w.hub),
                w.last_error.as_deref().unwrap_or("-")
            )?;
        }
    }
    if !notify.is_empty() {
        writeln!(out)?;
        writeln!(out, "NOTIFY  OWED  SENT  LAST ERROR")?;
        for n in &notify {
            writeln!(
                out,
                "{}  {}  {}  {}",
                n.target,
                n.owed,
                n.sent,
                n.last_error.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(())
}

/// `wiredesk explain STORY`: the members of a story and, for each, how it joined — the layer,
/// the verification score, and the item it was matched against.
pub async fn explain(
    config: Config,
    story: String,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let store = open_store(&config)?;
    let asked = story.trim_start_matches("urn:wiredesk:story:").to_owned();
    let id = asked.clone();
    let found = store
        .call(move |db| {
            let id = db.resolve_story(&id)?;
            Ok((db.story(&id)?, db.merges_into(&id)?))
        })
        .await?;
    store.close().await;
    let (Some(story), merges) = found else {
        writeln!(out, "no story with id {story}")?;
        return Ok(false);
    };
    if json {
        let mut doc = serde_json::to_value(story_json(&story))?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("merged".into(), serde_json::to_value(&merges)?);
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(true);
    }
    let rep = story.representative();
    if story.id.0 != asked {
        writeln!(out, "story {asked} was merged into {}", story.id)?;
    }
    writeln!(out, "story {}: {}", story.id, rep.title)?;
    for m in &merges {
        let bridge = m.item_ref.map_or_else(String::new, |i| {
            let score = m
                .score
                .map_or_else(String::new, |s| format!(", probability {s:.3}"));
            format!(" when item [{i}] matched both{score}")
        });
        writeln!(
            out,
            "merged {}: story {} (one story told twice){bridge}",
            rfc3339(m.merged),
            m.absorbed
        )?;
    }
    writeln!(
        out,
        "published {}, first seen {}, updated {}, {} member{}; represented by {} (priority {})",
        rfc3339(story.published),
        rfc3339(story.first_seen),
        rfc3339(story.updated),
        story.members.len(),
        if story.members.len() == 1 { "" } else { "s" },
        rep.feed,
        rep.priority
    )?;
    // Members in the order they joined.
    let mut members: Vec<_> = story.members.iter().collect();
    members.sort_by_key(|m| m.item_id);
    for m in members {
        writeln!(out)?;
        writeln!(out, "  [{}] {}: {}", m.item_id, m.feed, m.title)?;
        if let Some(link) = &m.link {
            writeln!(out, "      {}", crate::normalise::redact_url_str(link))?;
        }
        writeln!(
            out,
            "      published {}, first seen {}",
            rfc3339(m.published),
            rfc3339(m.first_seen)
        )?;
        let how = match m.joined_by.as_str() {
            "first" => "started the story".to_owned(),
            "same_url" => "joined: same canonical URL as".to_owned(),
            "near_duplicate" => format!(
                "joined: near-duplicate text, probability {:.3}, matched against",
                m.score.unwrap_or_default()
            ),
            other => format!("joined by {other}, matched against"),
        };
        match m
            .matched_item
            .and_then(|i| story.members.iter().find(|o| o.item_id == i))
        {
            Some(other) => writeln!(
                out,
                "      {how} [{}] {}: {}",
                other.item_id, other.feed, other.title
            )?,
            None if m.matched_item.is_some() => {
                writeln!(out, "      {how} an item no longer stored")?
            }
            None => writeln!(out, "      {how}")?,
        }
    }
    Ok(true)
}

/// `wiredesk explain --near ITEM_OR_STORY`: the best candidates of an item (or a story's
/// first member) and why each did or did not join.
pub async fn explain_near(
    config: Config,
    what: String,
    json: bool,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let store = open_store(&config)?;
    let dedup = config.dedup.clone();
    let asked = what.clone();
    let found = store
        .call(move |db| db.explain_near(&asked, &dedup, 10))
        .await?;
    store.close().await;
    let Some(near) = found else {
        writeln!(out, "no item or story {what}")?;
        return Ok(false);
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &near)?;
        writeln!(out)?;
        return Ok(true);
    }
    writeln!(
        out,
        "item [{}] {}: {} (story {})",
        near.item_id, near.feed, near.title, near.story_id
    )?;
    if near.rolling {
        writeln!(
            out,
            "a rolling format (live page, digest, gallery, media listing): never matched by text"
        )?;
        return Ok(true);
    }
    if near.candidates.is_empty() {
        writeln!(
            out,
            "no candidate: no other outlet's item in the window shares enough rare words with it"
        )?;
    }
    for c in &near.candidates {
        writeln!(
            out,
            "  {:.3}  [{}] {}: {} (story {})
         {}",
            c.found.probability, c.found.item_id, c.feed, c.title, c.found.story_id, c.found.why
        )?;
    }
    Ok(true)
}

/// `wiredesk backup DEST`: a consistent copy of the database, safe while the daemon runs.
pub fn backup(config: &Config, dest: &std::path::Path, out: &mut impl Write) -> anyhow::Result<()> {
    let (source, rule) = config.storage.database_location();
    if !source.is_file() {
        return Err(missing_database(config, &source, rule));
    }
    if dest.exists() {
        anyhow::bail!("{} exists already; choose a new file", dest.display());
    }
    crate::store::backup(&source, dest)
        .with_context(|| format!("backing up {} to {}", source.display(), dest.display()))?;
    writeln!(out, "backed up {} to {}", source.display(), dest.display())?;
    Ok(())
}
