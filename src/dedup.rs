//! Deciding which story a new item belongs to.
//!
//! Layer 1 (same feed, same key: a revision) and layer 2 (same canonical URL) are lookups the
//! store does in SQL. Layer 3 (near-duplicate text from another outlet) lives here: an in-memory
//! index over the items inside the matching window, owned by the store thread.

use chrono::{DateTime, Utc};

use crate::config::{DedupConfig, FeedId};
use crate::parse::Entry;

/// How an item joined its story.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinLayer {
    /// It started the story.
    First,
    /// Its canonical URL equals an earlier member's.
    SameUrl,
    /// Its text is a near duplicate of an earlier member's.
    NearDuplicate,
}

impl JoinLayer {
    pub fn as_str(self) -> &'static str {
        match self {
            JoinLayer::First => "first",
            JoinLayer::SameUrl => "same_url",
            JoinLayer::NearDuplicate => "near_duplicate",
        }
    }
}

/// A decision to put a new item into an existing story.
#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    pub story_id: String,
    /// The stored item it matched.
    pub item_id: i64,
    pub layer: JoinLayer,
    pub score: Option<f64>,
}

/// The near-duplicate layer: an index of recent items and the rule that decides a match.
pub struct NearDuplicates {
    config: DedupConfig,
}

impl NearDuplicates {
    pub fn new(config: DedupConfig) -> NearDuplicates {
        NearDuplicates { config }
    }

    pub fn enabled(&self) -> bool {
        self.config.near_duplicates
    }

    pub fn window_hours(&self) -> u32 {
        self.config.window_hours
    }

    /// The story an entry from `feed` should join, if any (not built yet: never matches).
    pub fn find(
        &self,
        _feed: &FeedId,
        _entry: &Entry,
        _published: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Option<Join> {
        None
    }

    /// Adds a stored item to the index.
    pub fn insert(
        &mut self,
        item_id: i64,
        feed: &FeedId,
        story_id: &str,
        entry: &Entry,
        published: DateTime<Utc>,
    ) {
        self.insert_text(
            item_id,
            feed,
            story_id,
            &entry.key,
            &entry.title,
            &entry.text,
            published,
        );
    }

    /// Adds a stored item to the index from its stored fields.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_text(
        &mut self,
        _item_id: i64,
        _feed: &FeedId,
        _story_id: &str,
        _key: &str,
        _title: &str,
        _text: &str,
        _published: DateTime<Utc>,
    ) {
    }
}
