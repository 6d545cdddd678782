//! Reading stories back: a story with its members, the representative first.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, ToSql, params};
use serde::Serialize;

use super::{Db, StoreError, from_ts};

/// A story's stable id (`s` and 16 hex digits). Never changes once given, never reused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct StoryId(pub String);

impl fmt::Display for StoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One outlet's item inside a story.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    pub item_id: i64,
    pub feed: String,
    pub feed_name: String,
    #[serde(skip)]
    pub priority: i64,
    pub key: String,
    pub guid: Option<String>,
    pub link: Option<String>,
    pub title: String,
    #[serde(skip)]
    pub summary_html: String,
    #[serde(skip)]
    pub text: String,
    pub published: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// How it joined the story: `first`, `same_entry`, `same_url` or `near_duplicate`.
    pub joined_by: String,
    /// The verification score, for near-duplicate joins.
    pub score: Option<f64>,
    /// The item it was matched against.
    pub matched_item: Option<i64>,
    /// Its enclosure, image and categories.
    #[serde(skip_serializing_if = "crate::parse::Media::is_empty")]
    pub media: crate::parse::Media,
}

/// A story: one piece of news and every outlet's item that carries it.
/// A story merged into another: the absorbed id, when, and the item (and its score) that
/// matched both.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Merge {
    pub absorbed: String,
    pub merged: DateTime<Utc>,
    pub item_ref: Option<i64>,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Story {
    pub id: StoryId,
    /// The earliest member's own date (its first-seen time when it had no date or a future
    /// one): what the story is ordered and dated by in every output.
    pub published: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// Never empty; the representative first (highest feed priority, then the earliest).
    pub members: Vec<Member>,
}

impl Story {
    /// The member whose title and link stand for the story.
    pub fn representative(&self) -> &Member {
        &self.members[0]
    }
}

const MEMBER_COLUMNS: &str = "i.id, i.feed_id, f.name, f.priority, i.key, i.guid, i.link, i.title,
    i.summary_html, i.text, i.published, i.first_seen, i.updated, i.join_layer, i.join_score,
    i.join_ref, i.media";

impl Db {
    /// The newest stories (by their earliest member's own date, ties by id), optionally only
    /// those with a member from a feed tagged `tag`.
    pub fn latest_stories(
        &self,
        limit: usize,
        tag: Option<&str>,
    ) -> Result<Vec<Story>, StoreError> {
        let limit = limit as i64;
        match tag {
            None => self.load(
                "SELECT id, first_seen, updated, published FROM stories
                 ORDER BY published DESC, id DESC LIMIT ?1",
                &[&limit],
            ),
            Some(tag) => self.load(
                "SELECT s.id, s.first_seen, s.updated, s.published FROM stories s
                 WHERE EXISTS (SELECT 1 FROM items i JOIN feed_tags t ON t.feed_id = i.feed_id
                               WHERE i.story_id = s.id AND t.tag = ?2)
                 ORDER BY s.published DESC, s.id DESC LIMIT ?1",
                &[&limit, &tag],
            ),
        }
    }

    /// One page of the newest stories (`limit` of them after skipping `offset`), for `/`,
    /// optionally only those with a member from a feed tagged `tag`.
    pub fn stories_page(
        &self,
        limit: usize,
        offset: usize,
        tag: Option<&str>,
    ) -> Result<Vec<Story>, StoreError> {
        let (limit, offset) = (limit as i64, offset as i64);
        let tag = tag.unwrap_or("");
        self.load(
            "SELECT s.id, s.first_seen, s.updated, s.published FROM stories s
             WHERE ?3 = '' OR EXISTS (SELECT 1 FROM items i JOIN feed_tags t ON t.feed_id = i.feed_id
                                      WHERE i.story_id = s.id AND t.tag = ?3)
             ORDER BY s.published DESC, s.id DESC LIMIT ?1 OFFSET ?2",
            &[&limit, &offset, &tag],
        )
    }

    /// The newest stories for `wiredesk stories`: at most `limit`, newest first (by their own
    /// date, ties by id), optionally only those with a member from `feed`, or published since
    /// `since`.
    pub fn newest_stories(
        &self,
        limit: usize,
        feed: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Story>, StoreError> {
        let limit = limit as i64;
        let since = since.map_or(i64::MIN, |d| d.timestamp());
        let feed = feed.unwrap_or("");
        self.load(
            "SELECT s.id, s.first_seen, s.updated, s.published FROM stories s
             WHERE COALESCE(s.published, s.first_seen) >= ?2
               AND (?3 = '' OR EXISTS (SELECT 1 FROM items i
                                       WHERE i.story_id = s.id AND i.feed_id = ?3))
             ORDER BY s.published DESC, s.id DESC LIMIT ?1",
            &[&limit, &since, &feed],
        )
    }

    /// The stories an `[[output]]` may carry, newest first (by their own date): carried by a
    /// feed with one of `tags` and by one of `feeds` (each when not empty), by at least
    /// `min_outlets` distinct feeds, published since `since`, matching `query` (a search);
    /// at most `limit`. Keyword filters and the order by outlets are the caller's.
    #[allow(clippy::too_many_arguments)]
    pub fn output_candidates(
        &self,
        tags: &[String],
        feeds: &[String],
        min_outlets: usize,
        since: Option<DateTime<Utc>>,
        query: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Story>, StoreError> {
        let fts = match query {
            Some(q) => match crate::store::search::fts_query(q) {
                Some(f) => Some(f),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let tags = serde_json::to_string(tags).unwrap_or_else(|_| "[]".into());
        let feeds = serde_json::to_string(feeds).unwrap_or_else(|_| "[]".into());
        let (min, since, limit) = (
            min_outlets as i64,
            since.map_or(i64::MIN, |d| d.timestamp()),
            limit as i64,
        );
        self.load(
            "SELECT s.id, s.first_seen, s.updated, s.published FROM stories s
             WHERE s.published >= ?5
               AND (json_array_length(?2) = 0 OR EXISTS (
                     SELECT 1 FROM items i JOIN feed_tags t ON t.feed_id = i.feed_id
                     WHERE i.story_id = s.id AND t.tag IN (SELECT value FROM json_each(?2))))
               AND (json_array_length(?3) = 0 OR EXISTS (
                     SELECT 1 FROM items i WHERE i.story_id = s.id
                       AND i.feed_id IN (SELECT value FROM json_each(?3))))
               AND (?4 <= 1 OR (SELECT COUNT(DISTINCT i.feed_id) FROM items i
                                WHERE i.story_id = s.id) >= ?4)
               AND (?6 IS NULL OR s.id IN (
                     SELECT i.story_id FROM items_fts JOIN items i ON i.id = items_fts.rowid
                     WHERE items_fts MATCH ?6))
             ORDER BY s.published DESC, s.id DESC LIMIT ?1",
            &[&limit, &tags, &feeds, &min, &since, &fts],
        )
    }

    /// Every story, oldest first.
    pub fn all_stories(&self) -> Result<Vec<Story>, StoreError> {
        self.load(
            "SELECT id, first_seen, updated, published FROM stories ORDER BY first_seen, id",
            &[],
        )
    }

    /// One story by id.
    pub fn story(&self, id: &str) -> Result<Option<Story>, StoreError> {
        Ok(self
            .load(
                "SELECT id, first_seen, updated, published FROM stories WHERE id = ?1",
                &[&id],
            )?
            .pop())
    }

    /// The story an id names now: itself, or the story it was merged into.
    pub fn resolve_story(&self, id: &str) -> Result<String, StoreError> {
        let alias: Option<String> = self
            .conn
            .prepare_cached("SELECT story_id FROM story_aliases WHERE alias = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        Ok(alias.unwrap_or_else(|| id.to_owned()))
    }

    /// The stories merged into `id`: (absorbed id, when, the bridging item, its score).
    pub fn merges_into(&self, id: &str) -> Result<Vec<Merge>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT alias, merged, item_ref, score FROM story_aliases WHERE story_id = ?1
             ORDER BY merged, alias",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Merge {
                absorbed: r.get(0)?,
                merged: from_ts(r.get(1)?),
                item_ref: r.get(2)?,
                score: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many stories and items are stored.
    pub fn counts(&self) -> Result<(i64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM stories), (SELECT COUNT(*) FROM items)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    pub(super) fn load(
        &self,
        story_sql: &str,
        args: &[&dyn ToSql],
    ) -> Result<Vec<Story>, StoreError> {
        let mut stmt = self.conn.prepare_cached(story_sql)?;
        let heads = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut members_stmt = self.conn.prepare_cached(&format!(
            "SELECT {MEMBER_COLUMNS} FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE i.story_id = ?1
             ORDER BY f.priority DESC, i.published, i.id"
        ))?;
        let mut stories = Vec::with_capacity(heads.len());
        for (id, first_seen, updated, published) in heads {
            let members = members_stmt
                .query_map(params![id], |r| {
                    Ok(Member {
                        item_id: r.get(0)?,
                        feed: r.get(1)?,
                        feed_name: r.get(2)?,
                        priority: r.get(3)?,
                        key: r.get(4)?,
                        guid: r.get(5)?,
                        // Only http(s) links leave wiredesk; an item stored before that
                        // rule with a `javascript:` or `data:` link is shown without one.
                        link: r
                            .get::<_, Option<String>>(6)?
                            .filter(|l| crate::parse::is_web_link(l)),
                        title: r.get(7)?,
                        summary_html: r.get(8)?,
                        text: r.get(9)?,
                        published: from_ts(r.get(10)?),
                        first_seen: from_ts(r.get(11)?),
                        updated: from_ts(r.get(12)?),
                        joined_by: r.get(13)?,
                        score: r.get(14)?,
                        matched_item: r.get(15)?,
                        // Unreadable media (never written so) is no media.
                        media: r
                            .get::<_, Option<String>>(16)?
                            .and_then(|j| serde_json::from_str(&j).ok())
                            .unwrap_or_default(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            // A story whose members were all pruned is not shown.
            if members.is_empty() {
                continue;
            }
            stories.push(Story {
                id: StoryId(id),
                published: from_ts(published.unwrap_or(first_seen)),
                first_seen: from_ts(first_seen),
                updated: from_ts(updated),
                members,
            });
        }
        Ok(stories)
    }
}

/// `explain --near`: an item and the best candidates the near-duplicate layer finds for it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Near {
    pub item_id: i64,
    pub feed: String,
    pub story_id: String,
    pub title: String,
    /// A rolling format (live page, digest, media stub): never matched by text.
    pub rolling: bool,
    pub candidates: Vec<NearCandidate>,
}

/// One candidate, with its item's feed and title.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NearCandidate {
    pub feed: String,
    pub title: String,
    #[serde(flatten)]
    pub found: crate::dedup::NearCandidate,
}

impl Db {
    /// The best candidates (up to `limit`) of an item — or of a story's first member — and
    /// why each did or did not join, from an index of the items stored around it (built here,
    /// so this reads the window's items: a diagnostic, not a hot path).
    pub fn explain_near(
        &self,
        what: &str,
        config: &crate::config::DedupConfig,
        limit: usize,
    ) -> Result<Option<Near>, StoreError> {
        let by_item = what.parse::<i64>().ok();
        let story = self.resolve_story(what.trim_start_matches("urn:wiredesk:story:"))?;
        let row = self
            .conn
            .prepare(
                "SELECT id, feed_id, story_id, title, text, published FROM items
                 WHERE id = ?1 OR (?1 IS NULL AND story_id = ?2) ORDER BY id LIMIT 1",
            )?
            .query_row(params![by_item, story], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .optional()?;
        let Some((item_id, feed, story_id, title, text, published)) = row else {
            return Ok(None);
        };
        let horizon = i64::from((2 * config.window_hours).max(config.copy_window_hours)) * 3600;
        let mut near = crate::dedup::NearDuplicates::new(crate::config::DedupConfig {
            near_duplicates: true,
            ..config.clone()
        });
        let mut stmt = self.conn.prepare(
            "SELECT id, feed_id, story_id, title, text, published FROM items
             WHERE published BETWEEN ?1 AND ?2 AND id != ?3 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![published - horizon, published + horizon, item_id])?;
        while let Some(r) = rows.next()? {
            near.insert_text(
                r.get(0)?,
                &crate::config::FeedId(r.get(1)?),
                &r.get::<_, String>(2)?,
                &r.get::<_, String>(3)?,
                &r.get::<_, String>(4)?,
                from_ts(r.get(5)?),
            );
        }
        let prepared = crate::dedup::prepare(&title, &text);
        let found = near.near_candidates(
            &crate::config::FeedId(feed.clone()),
            &prepared,
            from_ts(published),
            &story_id,
            limit,
        );
        let mut candidates = Vec::new();
        for f in found {
            let (feed, title): (String, String) = self.conn.query_row(
                "SELECT feed_id, title FROM items WHERE id = ?1",
                [f.item_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            candidates.push(NearCandidate {
                feed,
                title,
                found: f,
            });
        }
        Ok(Some(Near {
            item_id,
            feed,
            story_id,
            title,
            rolling: prepared.is_rolling(),
            candidates,
        }))
    }
}
