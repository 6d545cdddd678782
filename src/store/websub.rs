//! WebSub subscriptions of source feeds (see `crate::websub::subscriber`): one row per feed,
//! so that a restart keeps verifying and accepting what the hubs send, and renews leases.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension as _, params};

use super::{Db, StoreError, from_ts, ts};
use crate::config::FeedId;

/// A feed's subscription.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Subscription {
    pub feed: String,
    pub hub: String,
    pub topic: String,
    #[serde(skip)]
    pub token: String,
    #[serde(skip)]
    pub secret: String,
    /// `requested` (waiting for the hub's verification), `active`, `failed` or
    /// `unsubscribing`.
    pub state: String,
    pub requested: DateTime<Utc>,
    pub lease_seconds: Option<i64>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "feed_id, hub, topic, token, secret, state, requested, lease_seconds,
  lease_until, last_error";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        feed: r.get(0)?,
        hub: r.get(1)?,
        topic: r.get(2)?,
        token: r.get(3)?,
        secret: r.get(4)?,
        state: r.get(5)?,
        requested: from_ts(r.get(6)?),
        lease_seconds: r.get(7)?,
        lease_until: r.get::<_, Option<i64>>(8)?.map(from_ts),
        last_error: r.get(9)?,
    })
}

impl Db {
    /// A feed's subscription, if it has one.
    pub fn websub(&self, feed: &FeedId) -> Result<Option<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM websub WHERE feed_id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([feed.as_str()], row)
            .optional()?)
    }

    /// Every subscription, by feed.
    pub fn websub_all(&self) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM websub ORDER BY feed_id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A subscription was asked of the hub (a new token and secret; the old ones stop working).
    pub fn websub_requested(
        &mut self,
        feed: &FeedId,
        hub: &str,
        topic: &str,
        token: &str,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached(
                "INSERT INTO websub (feed_id, hub, topic, token, secret, state, requested)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'requested', ?6)
                 ON CONFLICT (feed_id) DO UPDATE SET hub = ?2, topic = ?3, token = ?4,
                   secret = ?5, state = 'requested', requested = ?6, last_error = NULL",
            )?
            .execute(params![feed.as_str(), hub, topic, token, secret, ts(now)])?;
        Ok(())
    }

    /// A renewal was asked of the hub (same token and secret; the lease runs on meanwhile).
    pub fn websub_renewing(&mut self, feed: &FeedId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached("UPDATE websub SET requested = ?2 WHERE feed_id = ?1")?
            .execute(params![feed.as_str(), ts(now)])?;
        Ok(())
    }

    /// The hub verified the subscription: active for `lease_seconds`.
    pub fn websub_active(
        &mut self,
        feed: &FeedId,
        lease_seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached(
                "UPDATE websub SET state = 'active', lease_seconds = ?2, lease_until = ?3,
                   last_error = NULL WHERE feed_id = ?1",
            )?
            .execute(params![
                feed.as_str(),
                lease_seconds,
                ts(now) + lease_seconds
            ])?;
        Ok(())
    }

    /// The hub refused or could not be reached: `failed`, with why.
    pub fn websub_failed(&mut self, feed: &FeedId, error: &str) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached(
                "UPDATE websub SET state = 'failed', last_error = ?2 WHERE feed_id = ?1",
            )?
            .execute(params![feed.as_str(), error])?;
        Ok(())
    }

    /// An unsubscription was asked of the hub.
    pub fn websub_unsubscribing(&mut self, feed: &FeedId) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached("UPDATE websub SET state = 'unsubscribing' WHERE feed_id = ?1")?
            .execute([feed.as_str()])?;
        Ok(())
    }

    /// Forgets a feed's subscription.
    pub fn websub_delete(&mut self, feed: &FeedId) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn
            .prepare_cached("DELETE FROM websub WHERE feed_id = ?1")?
            .execute([feed.as_str()])?;
        Ok(())
    }
}
