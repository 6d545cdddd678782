//! Delivery state of `[[notify]]` targets (see `crate::notify` for the sending): one row per
//! target and story, so that every story entering an output is sent exactly once per target
//! whatever restarts or failures happen in between.

use rusqlite::{OptionalExtension as _, params};

use super::{Db, StoreError, ts};

/// A message owed to a target: its story, the outlet count it is about, attempts so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owed {
    pub story_id: String,
    pub outlets: i64,
    pub attempts: i64,
}

/// A `[[notify]]` target's deliveries: owed, sent, and the last failure of what is owed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotifySummary {
    pub target: String,
    pub owed: i64,
    pub sent: i64,
    pub last_error: Option<String>,
}

impl Db {
    /// Every target's deliveries (for `status` and `/metrics`).
    pub fn notify_summary(&self) -> Result<Vec<NotifySummary>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT notify_id,
               SUM(state = 'pending'), SUM(state = 'sent'),
               (SELECT n2.last_error FROM notifications n2
                 WHERE n2.notify_id = n.notify_id AND n2.state = 'pending'
                   AND n2.last_error IS NOT NULL ORDER BY n2.next_attempt DESC LIMIT 1)
             FROM notifications n GROUP BY notify_id ORDER BY notify_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(NotifySummary {
                target: r.get(0)?,
                owed: r.get(1)?,
                sent: r.get(2)?,
                last_error: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the stories an output holds now for `notify_id` as (id, outlet count, the
    /// story's own date): a story not seen before is owed a message, unless it was published
    /// before the target was first configured (`seeded`: a backlog, or what the output held
    /// then, is not news — a new desk's first wave sends nothing old); with `on_outlets`, a
    /// story sent with fewer outlets than it has now is owed another. Returns how many
    /// messages became owed.
    pub fn note_output_stories(
        &mut self,
        notify_id: &str,
        stories: &[(String, i64, chrono::DateTime<chrono::Utc>)],
        on_outlets: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        self.check_file()?;
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT OR IGNORE INTO notify_targets (notify_id, since) VALUES (?1, ?2)",
            params![notify_id, ts(now)],
        )?;
        let since: i64 = tx.query_row(
            "SELECT since FROM notify_targets WHERE notify_id = ?1",
            [notify_id],
            |r| r.get(0),
        )?;
        let mut owed = 0;
        for (story, outlets, published) in stories {
            // Published before the target existed: a backlog, not news.
            let first_look = ts(*published) < since;
            let known: Option<(i64, String)> = tx
                .prepare_cached(
                    "SELECT outlets, state FROM notifications WHERE notify_id = ?1 AND story_id = ?2",
                )?
                .query_row(params![notify_id, story], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match known {
                None => {
                    let state = if first_look { "seeded" } else { "pending" };
                    tx.prepare_cached(
                        "INSERT INTO notifications (notify_id, story_id, outlets, state,
                           next_attempt, created) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    )?
                    .execute(params![
                        notify_id,
                        story,
                        outlets,
                        state,
                        ts(now)
                    ])?;
                    owed += usize::from(!first_look);
                }
                Some((was, state)) if on_outlets && *outlets > was && state != "pending" => {
                    tx.prepare_cached(
                        "UPDATE notifications SET outlets = ?3, state = 'pending', attempts = 0,
                           next_attempt = ?4, last_error = NULL
                         WHERE notify_id = ?1 AND story_id = ?2",
                    )?
                    .execute(params![notify_id, story, outlets, ts(now)])?;
                    owed += 1;
                }
                Some((was, _)) if on_outlets && *outlets > was => {
                    // Still owed: the message will say the newer count.
                    tx.prepare_cached(
                        "UPDATE notifications SET outlets = ?3 WHERE notify_id = ?1 AND story_id = ?2",
                    )?
                    .execute(params![notify_id, story, outlets])?;
                }
                Some(_) => {}
            }
        }
        tx.commit()?;
        Ok(owed)
    }

    /// The messages owed to `notify_id` and due by `now`, oldest first.
    pub fn owed_messages(
        &self,
        notify_id: &str,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> Result<Vec<Owed>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT story_id, outlets, attempts FROM notifications
             WHERE notify_id = ?1 AND state = 'pending' AND next_attempt <= ?2
             ORDER BY created, story_id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![notify_id, ts(now), limit as i64], |r| {
            Ok(Owed {
                story_id: r.get(0)?,
                outlets: r.get(1)?,
                attempts: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next owed message of `notify_id` is due, if any is owed.
    pub fn next_owed(
        &self,
        notify_id: &str,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        let at: Option<i64> = self.conn.query_row(
            "SELECT MIN(next_attempt) FROM notifications WHERE notify_id = ?1 AND state = 'pending'",
            [notify_id],
            |r| r.get(0),
        )?;
        Ok(at.map(super::from_ts))
    }

    /// A message delivered (about `outlets` outlets).
    pub fn message_sent(
        &mut self,
        notify_id: &str,
        story_id: &str,
        outlets: i64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        // A newer count noted while this one was in flight stays owed.
        self.conn.execute(
            "UPDATE notifications SET state = CASE WHEN outlets > ?3 THEN 'pending' ELSE 'sent' END,
               sent = ?4, attempts = 0, last_error = NULL
             WHERE notify_id = ?1 AND story_id = ?2",
            params![notify_id, story_id, outlets, ts(now)],
        )?;
        Ok(())
    }

    /// A delivery that failed: tried again at `next_attempt`.
    pub fn message_failed(
        &mut self,
        notify_id: &str,
        story_id: &str,
        error: &str,
        next_attempt: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, last_error = ?3, next_attempt = ?4
             WHERE notify_id = ?1 AND story_id = ?2",
            params![notify_id, story_id, error, ts(next_attempt)],
        )?;
        Ok(())
    }
}
