//! Retention and maintenance: pruning old stories in small batches (each its own transaction,
//! so the writer is never held for long), tombstones, `PRAGMA optimize`, WAL checkpoints, and
//! online backups.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, params};

use super::{Db, StoreError, ts};

/// Stories deleted per transaction.
const PRUNE_BATCH: usize = 500;

/// What a prune removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub stories: usize,
    pub items: usize,
    pub tombstones_expired: usize,
}

impl Db {
    /// Deletes stories not updated for `retention_days`, with their items, in batches; each
    /// deleted item leaves a tombstone so that a source still listing it does not bring it
    /// back as new. Tombstones older than twice the retention are dropped (no source lists an
    /// item that long). Then `PRAGMA optimize` and a WAL checkpoint keep the files small.
    pub fn prune(&mut self, retention_days: u32, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        self.check_file()?;
        let cutoff = now - chrono::Duration::days(i64::from(retention_days));
        let mut pruned = Pruned::default();
        loop {
            let tx = self.conn.savepoint()?;
            let ids: Vec<String> = {
                let mut stmt =
                    tx.prepare_cached("SELECT id FROM stories WHERE updated < ?1 LIMIT ?2")?;
                stmt.query_map(params![ts(cutoff), PRUNE_BATCH as i64], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                tx.execute(
                    "INSERT OR REPLACE INTO tombstones (feed_id, key, deleted)
                     SELECT feed_id, key, ?2 FROM items WHERE story_id = ?1",
                    params![id, ts(now)],
                )?;
                pruned.items += tx.execute("DELETE FROM items WHERE story_id = ?1", [id])?;
                pruned.stories += tx.execute("DELETE FROM stories WHERE id = ?1", [id])?;
                tx.execute("DELETE FROM story_aliases WHERE story_id = ?1", [id])?;
            }
            tx.commit()?;
            // A long prune (the first after months away) must not grow the WAL by every page
            // it deletes from.
            self.between_transactions();
        }
        let expiry = now - chrono::Duration::days(2 * i64::from(retention_days));
        pruned.tombstones_expired = self
            .conn
            .execute("DELETE FROM tombstones WHERE deleted < ?1", [ts(expiry)])?;
        self.conn
            .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(pruned)
    }
}

/// Writes a consistent copy of the database at `source` to `dest` with SQLite's online backup
/// API, while a daemon may be writing to it (pages are copied in steps; a write in between
/// restarts the step, never corrupts the copy).
pub fn backup(source: &Path, dest: &Path) -> Result<(), StoreError> {
    if !source.is_file() {
        return Err(StoreError::Missing {
            path: source.to_owned(),
        });
    }
    let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
        |source_err| StoreError::Open {
            path: source.to_owned(),
            source: source_err,
        },
    )?;
    // A daemon writing and checkpointing meanwhile holds its locks for moments: wait them out
    // (without this, a backup under a heavy ingest once failed with "database is locked").
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    // The copy is created owner-only, and never over an existing file.
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| StoreError::Open {
            path: dest.to_owned(),
            source: rusqlite::Error::InvalidPath(PathBuf::from(format!(
                "{} ({e})",
                dest.display()
            ))),
        })?;
    let copied = copy_and_check(&src, dest);
    if copied.is_err() {
        // A copy that is not a good database is worse than none: never leave one behind.
        let _ = std::fs::remove_file(dest);
    }
    copied
}

/// The online backup into `dest`, then `PRAGMA integrity_check` on the copy.
fn copy_and_check(src: &Connection, dest: &Path) -> Result<(), StoreError> {
    let mut dst = Connection::open(dest).map_err(|e| StoreError::Open {
        path: dest.to_owned(),
        source: e,
    })?;
    let backup = rusqlite::backup::Backup::new(src, &mut dst)?;
    backup.run_to_completion(256, Duration::from_millis(5), None)?;
    drop(backup);
    let verdict: Vec<String> = {
        let mut stmt = dst.prepare("PRAGMA integrity_check")?;
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?
    };
    if verdict != ["ok"] {
        return Err(StoreError::Corrupt {
            path: dest.to_owned(),
            report: verdict.join("; "),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DedupConfig, FeedConfig, FeedId};
    use crate::parse::Entry;
    use crate::schedule::Schedule;
    use crate::store::FetchMeta;
    use chrono::TimeZone;

    fn entry(key: &str) -> Entry {
        Entry {
            key: key.into(),
            guid: Some(key.into()),
            link: Some(format!("https://n.example/{key}")),
            canonical_url: Some(format!("https://n.example/{key}")),
            title: format!("Story {key}"),
            summary_html: String::new(),
            text: String::new(),
            published: None,
            updated: None,
            content_hash: key.into(),
            media: Default::default(),
        }
    }

    #[test]
    fn old_stories_go_and_do_not_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DedupConfig {
            near_duplicates: false,
            window_hours: 48,
            threshold: 0.65,
            copy_window_hours: crate::config::DEFAULT_COPY_WINDOW_HOURS,
            max_indexed_items: crate::config::DEFAULT_MAX_INDEXED_ITEMS,
        };
        let mut db = Db::open(&dir.path().join("w.db"), &cfg).unwrap();
        db.sync_feeds(&[FeedConfig {
            id: FeedId("a".into()),
            name: "A".into(),
            url: url::Url::parse("https://a.example/rss").unwrap(),
            schedule: Schedule::parse("*/5 * * * *", "a").unwrap(),
            tags: vec![],
            priority: 0,
            enabled: true,
            headers: Vec::new(),
            filter: Default::default(),
            full_text: false,
            websub: false,
        }])
        .unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let feed = FeedId("a".into());
        let old: Vec<Entry> = (0..1200).map(|i| entry(&format!("old{i}"))).collect();
        db.ingest(&feed, "u", &old, &FetchMeta::default(), t0, None)
            .unwrap();
        let later = t0 + chrono::Duration::days(40);
        db.ingest(
            &feed,
            "u",
            &[entry("new")],
            &FetchMeta::default(),
            later,
            None,
        )
        .unwrap();
        let pruned = db.prune(30, later).unwrap();
        assert_eq!(
            (pruned.stories, pruned.items),
            (1200, 1200),
            "in three batches"
        );
        assert_eq!(db.counts().unwrap(), (1, 1));
        // The source still lists an old item: it is not re-added.
        let s = db
            .ingest(
                &feed,
                "u",
                &[entry("old7"), entry("new")],
                &FetchMeta::default(),
                later,
                None,
            )
            .unwrap();
        assert_eq!((s.new, s.unchanged), (0, 2));
        // Much later the tombstones expire too.
        let much_later = later + chrono::Duration::days(61);
        assert_eq!(db.prune(30, much_later).unwrap().tombstones_expired, 1200);

        let copy = dir.path().join("copy.db");
        backup(&dir.path().join("w.db"), &copy).unwrap();
        let c = Connection::open(&copy).unwrap();
        let ok: String = c
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        assert!(
            backup(&dir.path().join("w.db"), &copy).is_err(),
            "never overwrites"
        );
    }
}
