//! The schema as an ordered list of migrations, checked against `PRAGMA user_version`.
//! Migration N (1-based) brings a database from version N-1 to N; each runs in a transaction
//! together with the version bump, so a crash mid-migration leaves the old version intact.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Times are Unix seconds (UTC). Items reference their story; a story's members are the items
/// that point at it. `tombstones` remember pruned items so that they do not come back as new.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE feeds (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        name TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        enabled INTEGER NOT NULL DEFAULT 1,
        title TEXT,
        fetched_url TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_status INTEGER,
        last_attempt INTEGER,
        last_success INTEGER,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER
    );
    CREATE TABLE feed_tags (
        feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (tag, feed_id)
    ) WITHOUT ROWID;
    CREATE TABLE stories (
        id TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        updated INTEGER NOT NULL
    );
    CREATE INDEX stories_first_seen ON stories(first_seen);
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id TEXT NOT NULL REFERENCES feeds(id),
        key TEXT NOT NULL,
        guid TEXT,
        link TEXT,
        canonical_url TEXT,
        title TEXT NOT NULL,
        summary_html TEXT NOT NULL,
        text TEXT NOT NULL,
        published INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        story_id TEXT NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
        join_layer TEXT NOT NULL,
        join_score REAL,
        join_ref INTEGER,
        UNIQUE (feed_id, key)
    );
    CREATE INDEX items_story ON items(story_id);
    CREATE INDEX items_canonical_url ON items(canonical_url) WHERE canonical_url IS NOT NULL;
    CREATE INDEX items_published ON items(published);
    CREATE TABLE tombstones (
        feed_id TEXT NOT NULL,
        key TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        PRIMARY KEY (feed_id, key)
    ) WITHOUT ROWID;",
    // 2: a note on the last good refresh (e.g. "read after repair: …"), shown by `status`.
    "ALTER TABLE feeds ADD COLUMN last_warning TEXT;",
    // 3: where a feed moved permanently (301/308), and from which configured URL: polled
    // there across restarts until feeds.toml names another URL.
    "ALTER TABLE feeds ADD COLUMN moved_from TEXT;
     ALTER TABLE feeds ADD COLUMN moved_to TEXT;",
    // 4: a story's time is its earliest member's own date (first seen only for items with no
    // date or a future one): merged feeds are ordered by it, so that a feed added later with an
    // old backlog never pushes current news off the top.
    "ALTER TABLE stories ADD COLUMN published INTEGER;
     UPDATE stories SET published = COALESCE(
       (SELECT MIN(i.published) FROM items i WHERE i.story_id = stories.id), first_seen);
     CREATE INDEX stories_published ON stories(published, id);",
    // 5: what an item carries besides text (enclosure, image, its own categories), as JSON
    // (`parse::Media`), NULL when nothing.
    "ALTER TABLE items ADD COLUMN media TEXT;",
    // 6: full-text search over items (see `store::search`): contentless FTS5 keyed by the
    // item's id, its row deleted with the item whatever deletes it. Filled by the store.
    "CREATE VIRTUAL TABLE items_fts USING fts5(
       tokens, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
     CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
       DELETE FROM items_fts WHERE rowid = old.id;
     END;",
    // 7: `[[notify]]` deliveries: per target and story, what is owed and what was sent, so
    // that a restart re-sends nothing delivered and loses nothing owed. `outlets` is the
    // story's outlet count the message is (or was) about; `state` is `pending`, `sent` or
    // `seeded` (in the output when the target was first configured: never sent);
    // `notify_targets` remembers which targets have had that first look.
    "CREATE TABLE notifications (
       notify_id TEXT NOT NULL,
       story_id TEXT NOT NULL,
       outlets INTEGER NOT NULL,
       state TEXT NOT NULL,
       attempts INTEGER NOT NULL DEFAULT 0,
       next_attempt INTEGER NOT NULL,
       last_error TEXT,
       created INTEGER NOT NULL,
       sent INTEGER,
       PRIMARY KEY (notify_id, story_id)
     ) WITHOUT ROWID;
     CREATE INDEX notifications_due ON notifications(notify_id, state, next_attempt);
     CREATE TABLE notify_targets (notify_id TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;",
    // 8: `[[feed]] full_text` (see `store::fulltext`). `items.full_text`: NULL not wanted,
    // 0 pending, 1 the article's text stored, 2 failed (never tried again). Per feed, how
    // many items were enriched and failed (counters: retention does not take them back) and
    // the last failure's reason.
    "ALTER TABLE items ADD COLUMN full_text INTEGER;
     CREATE INDEX items_full_text_pending ON items(feed_id, id) WHERE full_text = 0;
     ALTER TABLE feeds ADD COLUMN full_text_enriched INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE feeds ADD COLUMN full_text_failed INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE feeds ADD COLUMN full_text_error TEXT;",
    // 9: WebSub subscriptions (see `store::websub`): per feed the hub and topic, the callback
    // token and the HMAC secret wiredesk made for it (random, never shown; the only secret the
    // database holds, and one that is wiredesk's own), the state (`requested`, `active`,
    // `failed`, `unsubscribing`), the lease, and the last failure.
    "CREATE TABLE websub (
       feed_id TEXT PRIMARY KEY,
       hub TEXT NOT NULL,
       topic TEXT NOT NULL,
       token TEXT NOT NULL,
       secret TEXT NOT NULL,
       state TEXT NOT NULL,
       requested INTEGER NOT NULL,
       lease_seconds INTEGER,
       lease_until INTEGER,
       last_error TEXT
     ) WITHOUT ROWID;",
    // 10: the tokens changed (British spellings, dotted acronyms and number words read as
    // their American, undotted and digit forms): the search index is emptied here and built
    // again at open (see `SEARCH_TOKENS_VERSION`).
    "DELETE FROM items_fts;",
    // 11: stories merged into another (one story told twice, found when an item matched
    // both): the absorbed id, the story it lives on as, when, and the item and score that
    // bridged them. `explain` resolves an alias, and shows the merges.
    "CREATE TABLE story_aliases (
       alias TEXT PRIMARY KEY,
       story_id TEXT NOT NULL,
       merged INTEGER NOT NULL,
       item_ref INTEGER,
       score REAL
     ) WITHOUT ROWID;
     CREATE INDEX story_aliases_story ON story_aliases(story_id);",
    // 12: the search index gathers 4 MiB of new rows in memory before writing them out as a
    // segment (FTS5's default is 1 MiB): a catch-up's batch of a few thousand items then makes
    // one segment instead of three or four, and FTS5's flushing and merging of small segments
    // costs about half as much (part of it is now the commit's; BENCHMARKS.md, session 11:
    // about 5 % of the store thread in all). The index is ~2 % larger (25.5 -> 25.9 MB at
    // 100k items); the memory is held only while a batch is being written.
    "INSERT INTO items_fts (items_fts, rank) VALUES ('hashsize', 4194304);",
];

/// The version that added the search index (the upgrade test starts just before it).
#[cfg(test)]
pub const SEARCH_VERSION: i64 = 6;

/// The version whose search tokens this build makes: a database from before it is indexed
/// again at open.
pub const SEARCH_TOKENS_VERSION: i64 = 10;

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to [`current_version`], refusing one written by a newer wiredesk.
/// Returns the version found before migrating.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > current_version() {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: current_version(),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database migrated");
    }
    Ok(found)
}
