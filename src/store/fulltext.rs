//! `[[feed]] full_text` in the store: which items wait for their article's text, the text
//! stored and matched again (an item that started a story of its own for lack of text may now
//! join another), and failures counted per feed. The fetching and extracting are
//! `crate::refresh::fulltext`'s; an item is tried once, whatever the outcome.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, params};

use super::{Db, IndexLoad, StoreError, from_ts, search, ts};
use crate::config::FeedId;
use crate::dedup::{self, JoinLayer};
use crate::parse::Entry;

/// `items.full_text`: waiting for the article's text.
pub const PENDING: i64 = 0;
/// `items.full_text`: the article's text is the item's text.
pub const ENRICHED: i64 = 1;
/// `items.full_text`: the page failed; the feed's own text stays (never tried again).
pub const FAILED: i64 = 2;

/// Whether a new entry waits for its article's text: its feed asks for it (`below` is
/// `[poll] full_text_below` then), it links to a web page, and its text is shorter than that.
pub fn wanted(entry: &Entry, below: Option<usize>) -> bool {
    let Some(below) = below else {
        return false;
    };
    entry.link.as_deref().is_some_and(crate::parse::is_web_link)
        && entry.text.chars().count() < below
}

/// An item waiting for its article.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub item_id: i64,
    pub link: String,
}

/// What storing an article's text did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enriched {
    /// Stored. `moved_to`: the story the item joined once its text could be matched (its own
    /// one-item story is gone).
    Stored { moved_to: Option<String> },
    /// The item is gone (pruned) or no longer waiting: nothing written.
    NotWaiting,
}

impl Db {
    /// Up to `limit` items of `feed` waiting for their article, newest first.
    pub fn full_text_due(&self, feed: &FeedId, limit: usize) -> Result<Vec<Due>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, link FROM items WHERE feed_id = ?1 AND full_text = 0
             ORDER BY id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![feed.as_str(), limit], |r| {
            Ok(Due {
                item_id: r.get(0)?,
                link: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The item's page failed (`reason` names the URL and what went wrong): counted on its
    /// feed, the feed's own text kept, never tried again.
    pub fn full_text_failed(&mut self, item_id: i64, reason: &str) -> Result<(), StoreError> {
        self.check_file()?;
        let tx = self.conn.savepoint()?;
        let feed: Option<String> = tx
            .prepare_cached(
                "UPDATE items SET full_text = ?2 WHERE id = ?1 AND full_text = 0 RETURNING feed_id",
            )?
            .query_row(params![item_id, FAILED], |r| r.get(0))
            .optional()?;
        if let Some(feed) = feed {
            tx.prepare_cached(
                "UPDATE feeds SET full_text_failed = full_text_failed + 1, full_text_error = ?2
                 WHERE id = ?1",
            )?
            .execute(params![feed, reason])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores an item's article (`html` sanitised, `text` from it) in place of the feed's
    /// text, in the search index too, and matches the item again: an item alone in the story
    /// it started joins the story its full text matches (its own story is removed; nothing
    /// else ever pointed at it). In one transaction; the in-memory index follows the commit.
    pub fn full_text_store(
        &mut self,
        item_id: i64,
        html: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Enriched, StoreError> {
        self.check_file()?;
        let tx = self.conn.savepoint()?;
        let row = tx
            .prepare_cached(
                "SELECT feed_id, story_id, title, published, join_layer FROM items
                 WHERE id = ?1 AND full_text = 0",
            )?
            .query_row([item_id], |r| {
                Ok((
                    FeedId(r.get(0)?),
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    from_ts(r.get(3)?),
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()?;
        let Some((feed, story, title, published, layer)) = row else {
            return Ok(Enriched::NotWaiting);
        };
        tx.prepare_cached(
            "UPDATE items SET summary_html = ?2, text = ?3, full_text = ?4, updated = ?5
             WHERE id = ?1",
        )?
        .execute(params![item_id, html, text, ENRICHED, ts(now)])?;
        tx.prepare_cached(
            "UPDATE feeds SET full_text_enriched = full_text_enriched + 1 WHERE id = ?1",
        )?
        .execute([feed.as_str()])?;
        tx.prepare_cached("DELETE FROM items_fts WHERE rowid = ?1")?
            .execute([item_id])?;
        tx.prepare_cached("INSERT INTO items_fts (rowid, tokens) VALUES (?1, ?2)")?
            .execute(params![item_id, search::index_text(&title, text)])?;

        let mut final_story = story.clone();
        let mut doc = None;
        if self.near.enabled() {
            while self.index_load != IndexLoad::Done {
                Self::index_chunk(&tx, &mut self.near, &mut self.index_load, usize::MAX)?;
            }
            // Its feed-text doc must not answer for it (nor match it to itself).
            self.near.remove_item(item_id, &story);
            let (join, made) =
                self.near
                    .find_prepared(&feed, &dedup::prepare(&title, text), published);
            doc = made;
            let alone: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM items WHERE story_id = ?1")?
                .query_row([&story], |r| r.get(0))?;
            if let Some(j) = join.filter(|_| alone == 1 && layer == JoinLayer::First.as_str())
                && j.story_id != story
            {
                tx.prepare_cached(
                    "UPDATE items SET story_id = ?2, join_layer = ?3, join_score = ?4,
                       join_ref = ?5 WHERE id = ?1",
                )?
                .execute(params![
                    item_id,
                    j.story_id,
                    j.layer.as_str(),
                    j.score,
                    j.item_id
                ])?;
                tx.prepare_cached(
                    "UPDATE stories SET updated = ?2,
                       published = MIN(COALESCE(published, ?3), ?3) WHERE id = ?1",
                )?
                .execute(params![j.story_id, ts(now), ts(published)])?;
                // Nothing was owed for a story that no longer exists.
                tx.prepare_cached(
                    "DELETE FROM notifications WHERE story_id = ?1 AND state = 'pending'",
                )?
                .execute([&story])?;
                tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                    .execute([&story])?;
                final_story = j.story_id;
            }
        }
        if final_story == story {
            // Its story's documents change with its text.
            tx.prepare_cached("UPDATE stories SET updated = ?2 WHERE id = ?1")?
                .execute(params![story, ts(now)])?;
        }
        tx.commit()?;
        if let Some(doc) = doc {
            self.near.insert_doc(item_id, &feed, &final_story, doc);
        }
        Ok(Enriched::Stored {
            moved_to: (final_story != story).then_some(final_story),
        })
    }
}
