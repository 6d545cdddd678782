//! SQLite storage: the only module that talks to rusqlite.
//!
//! One thread owns the connection and runs jobs sent to it over a channel ([`Store::call`]).
//! Why a thread and not a pool or a mutex: SQLite allows one writer at a time anyway, rusqlite
//! 0.43 has no maintained pool, and a single owner makes every refresh's transaction strictly
//! sequential without lock juggling in async code. The near-duplicate index lives on the same
//! thread, so a dedup decision and the write it leads to can never interleave with another
//! feed's refresh.
//!
//! Durability: WAL with `synchronous=NORMAL`; each refresh is one savepoint (entries and the
//! feed's fetch state together), and the refreshes queued together share one commit
//! ([`Store::write`]), each answered only after it. An answered refresh survives kill -9; after a power loss the
//! last refreshes before it may be gone, but never half of one and never the file's integrity
//! (SQLite's WAL guarantee), and a refresh lost that way lost its validators too, so the next
//! poll fetches the same items again. `FULL` fsynced every refresh: 2,000 fsyncs per wave of
//! 2,000 feeds, for items the feeds still carry.
//!
//! The near-duplicate index is not built at open: see `IndexLoad`.

pub mod fulltext;
mod housekeeping;
mod notify;
mod schema;
pub mod search;
mod stories;
pub mod websub;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use crate::config::{FeedConfig, FeedId};
use crate::dedup::{self, JoinLayer, NearDuplicates};
use crate::model::Validators;
use crate::parse::Entry;

pub use housekeeping::{Pruned, backup};
pub use notify::{NotifySummary, Owed};
pub use stories::{Member, Merge, Near, Story, StoryId};

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database {path} has schema version {found}, newer than this wiredesk understands ({known}); use a newer wiredesk"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "database {path} is not writable ({reason}): wiredesk needs to write its database and the -wal and -shm files beside it; check the mount and permissions"
    )]
    ReadOnly { path: PathBuf, reason: String },
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database thread has stopped")]
    Closed,
    #[error("database: committing a batch of writes: {0}")]
    Commit(String),
    #[error("no database at {}", path.display())]
    Missing { path: PathBuf },
    #[error("the database thread has finished no job for {secs} s while {pending} wait")]
    Stalled { pending: usize, secs: i64 },
    #[error(
        "database {} {what} while wiredesk was running: nothing more is written to it; restart wiredesk (it starts a new database there, or restore a backup first)",
        path.display()
    )]
    Vanished { path: PathBuf, what: &'static str },
    #[error(
        "database {} is in use by another wiredesk process (it holds {}): run one daemon per database; `poll-once` cannot run beside a running daemon, which polls on its own schedule (`systemctl reload wiredesk` re-reads feeds.toml)",
        path.display(),
        lock.display()
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error(
        "the copy at {} fails SQLite's integrity check ({report}); the source database is damaged: nothing was written",
        path.display()
    )]
    Corrupt { path: PathBuf, report: String },
    #[error(
        "database {} has schema version {found}, older than this wiredesk's; start the daemon once to migrate it",
        path.display()
    )]
    Outdated { path: PathBuf, found: i64 },
    /// Code of ours panicked while handling one unit of work; that work was rolled back and
    /// the store carries on (the message says which feed and item, where known).
    #[error("internal error {0}")]
    Internal(String),
}

/// The message a panic carried, for errors and logs.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic with no message".to_owned())
}

/// What a refresh's fetch learnt about the feed, stored with its entries.
#[derive(Clone, Debug, Default)]
pub struct FetchMeta {
    pub status: u16,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body_hash: Option<String>,
    pub feed_title: Option<String>,
    /// Something the operator should know although the refresh succeeded.
    pub warning: Option<String>,
    /// `[[feed]] full_text`: new items with fewer characters of text than this (and a link)
    /// are marked for the article's text (see `store::fulltext`).
    pub full_text_below: Option<usize>,
}

/// What one refresh did to the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Entries not seen before (each a new story or a new member of one).
    pub new: usize,
    /// New entries that joined an existing story (a subset of `new`).
    pub merged: usize,
    /// Of those, the ones joined by near-duplicate text (layer 3) rather than by URL.
    pub merged_by_text: usize,
    /// Entries seen before whose title or text changed.
    pub updated: usize,
    pub unchanged: usize,
}

impl IngestStats {
    /// Whether the merged feeds need rendering again.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.updated > 0
    }
}

/// A feed's health, as `wiredesk status` and the HTML page show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FeedHealth {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub last_status: Option<u16>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// A note on the last good refresh, e.g. that the feed was read after repair.
    pub last_warning: Option<String>,
    /// Where the feed moved permanently, while feeds.toml still names the old URL.
    pub moved_to: Option<String>,
    pub consecutive_failures: u32,
    pub next_attempt: Option<DateTime<Utc>>,
    pub items: i64,
    /// `[[feed]] full_text`: items given their article's text, items whose page failed
    /// (since the feed was added), and the last failure.
    pub full_text_enriched: i64,
    pub full_text_failed: i64,
    pub full_text_error: Option<String>,
}

impl FeedHealth {
    /// What to tell an operator besides the numbers: the last error; else that the feed moved
    /// (feeds.toml should follow) and the last warning; else nothing.
    pub fn note(&self) -> Option<String> {
        if let Some(e) = &self.last_error {
            return Some(e.clone());
        }
        let moved = self.moved_to.as_deref().map(|to| {
            format!(
                "moved permanently to {}; update its url in feeds.toml",
                crate::normalise::redact_url_str(to)
            )
        });
        let notes: Vec<String> = moved.into_iter().chain(self.last_warning.clone()).collect();
        (!notes.is_empty()).then(|| notes.join("; "))
    }
}

/// The database and everything that must change with it in step.
pub struct Db {
    conn: Connection,
    /// Checkpoints the WAL on its own connection and thread (see [`Checkpointer`]); dropped
    /// after `conn`, before the lock.
    checkpointer: Option<Checkpointer>,
    /// The database file, and its device and inode when opened: a file deleted or replaced
    /// under a running daemon is noticed (see [`Db::check_file`]) instead of written into.
    path: PathBuf,
    identity: Option<(u64, u64)>,
    /// The lock that keeps a second writer (another daemon, `poll-once`) off this database;
    /// released when the store thread ends (or the process dies).
    _lock: Option<DbLock>,
    near: NearDuplicates,
    /// How far the near-duplicate index has been loaded from the database (see
    /// [`Db::load_index_chunk`]).
    index_load: IndexLoad,
    /// Set when a panic was caught part-way through a job: the in-memory index may no longer
    /// match the database, so it is rebuilt before the next job.
    needs_recovery: bool,
    /// Inside a batch of writes ([`Store::write`]): one transaction around several jobs, each
    /// job in a savepoint of its own.
    in_batch: bool,
    /// New items' search tokens, written to the full-text index once per batch, just before
    /// its commit: FTS5 flushes its pending terms to disk at every savepoint, which with one
    /// savepoint per refresh was most of the commit's cost. (One feed's items are written by
    /// one job per batch: a feed's refreshes wait for each other's answers, which come after
    /// the commit, so no pending row is revised or deleted before it is written.)
    pending_search: Vec<(i64, String)>,
}

/// Writes search rows (item id, tokens) to the full-text index.
fn insert_search(conn: &Connection, rows: &[(i64, String)]) -> Result<(), StoreError> {
    let mut insert =
        conn.prepare_cached("INSERT INTO items_fts (rowid, tokens) VALUES (?1, ?2)")?;
    for (id, tokens) in rows {
        insert.execute(params![id, tokens])?;
    }
    Ok(())
}

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// A write job of a batch: runs, and returns what answers its caller once the batch is
/// committed (given the commit's error, if it failed).
type BatchJob = Box<dyn FnOnce(&mut Db) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// The transaction of one refresh's writes: a savepoint of the batch it is part of, or, when
/// it runs alone, its own — taking the write lock first. (A savepoint alone begins a deferred
/// transaction, which reads, then upgrades to writing, and SQLite does not wait (busy_timeout)
/// for that upgrade: a backup or reader holding the lock at that moment failed the refresh with
/// "database is locked", tests/stress.rs, about once in a hundred runs under load.) Dropped
/// uncommitted, either rolls back.
enum RefreshTx<'c> {
    Own(rusqlite::Transaction<'c>),
    InBatch(rusqlite::Savepoint<'c>),
}

impl<'c> RefreshTx<'c> {
    fn begin(conn: &'c mut Connection) -> rusqlite::Result<RefreshTx<'c>> {
        Ok(if conn.is_autocommit() {
            RefreshTx::Own(
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?,
            )
        } else {
            RefreshTx::InBatch(conn.savepoint()?)
        })
    }

    fn commit(self) -> rusqlite::Result<()> {
        match self {
            RefreshTx::Own(t) => t.commit(),
            RefreshTx::InBatch(s) => s.commit(),
        }
    }
}

impl std::ops::Deref for RefreshTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            RefreshTx::Own(t) => t,
            RefreshTx::InBatch(s) => s,
        }
    }
}

/// The earliest item with a canonical URL.
const SAME_URL_SQL: &str =
    "SELECT id, story_id FROM items WHERE canonical_url = ?1 ORDER BY id LIMIT 1";

/// At most this many write jobs share one commit, and a batch takes on no more jobs after
/// this long: a refresh's answer waits for its batch's commit.
const MAX_BATCH_JOBS: usize = 256;
const MAX_BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(300);

/// WAL pages after which a commit asks for a checkpoint (SQLite's own automatic default).
const CHECKPOINT_PAGES: i32 = 1000;

/// WAL pages after which the writer, between two batches, waits for a checkpoint of
/// everything it has committed, so that its next transaction starts the WAL again from its
/// beginning (see [`Checkpointer::wait_for_restart`]).
const RESTART_PAGES: i32 = 8192;

/// The longest the writer waits for that checkpoint.
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Folds the WAL back into the database on a thread and connection of its own. SQLite's
/// automatic checkpoint runs inside the committing thread: here that is the one store thread,
/// where it cost 7 % of ingest (copying pages and an fsync) while the second core idled. The
/// writer's commit hook only signals; a PASSIVE checkpoint never blocks the writer or readers.
/// The writer also waits for it now and then (see [`Checkpointer::wait_for_restart`]). The
/// thread ends when the writer's connection (whose commit hook holds a sender) and this are
/// dropped.
struct Checkpointer {
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<CheckpointShared>,
    ask: std::sync::mpsc::SyncSender<()>,
}

/// What the writer and the checkpoint thread know of each other.
struct CheckpointShared {
    /// [`CHECKPOINT_PAGES`] and [`RESTART_PAGES`] (tests change them).
    checkpoint_pages: AtomicI32,
    restart_pages: AtomicI32,
    /// Pages in the WAL after the writer's last commit.
    wal_pages: AtomicI32,
    /// Checkpoints the writer has waited for, counted; each covers every commit before it.
    asked: AtomicU64,
    /// The highest `asked` a finished checkpoint covered.
    done: std::sync::Mutex<u64>,
    finished: std::sync::Condvar,
}

impl Checkpointer {
    /// Hooks `conn`'s commits and starts the checkpoint thread on its own connection to `path`.
    fn start(conn: &mut Connection, path: &Path) -> Result<Checkpointer, StoreError> {
        let own = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        own.execute_batch("PRAGMA busy_timeout=5000;")?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let shared = Arc::new(CheckpointShared {
            checkpoint_pages: AtomicI32::new(CHECKPOINT_PAGES),
            restart_pages: AtomicI32::new(RESTART_PAGES),
            wal_pages: AtomicI32::new(0),
            asked: Default::default(),
            done: Default::default(),
            finished: Default::default(),
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("wiredesk-checkpoint".into())
            .spawn(move || {
                for () in rx {
                    // Read before checkpointing: every commit before this number was asked
                    // for is in the WAL this checkpoint folds back.
                    let covers = theirs.asked.load(Ordering::Acquire);
                    if let Err(e) = own.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!("checkpointing the database: {e}");
                    }
                    if let Ok(mut done) = theirs.done.lock() {
                        *done = (*done).max(covers);
                    }
                    theirs.finished.notify_all();
                }
            })
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the checkpoint thread: {e}"))
            })?;
        // Replaces SQLite's automatic checkpoint (which is itself a WAL hook).
        let hook_tx = tx.clone();
        let hook_shared = shared.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            hook_shared.wal_pages.store(pages, Ordering::Relaxed);
            if pages >= hook_shared.checkpoint_pages.load(Ordering::Relaxed) {
                // Full: a checkpoint is already asked for.
                let _ = hook_tx.try_send(());
            }
            Ok(())
        }))?;
        Ok(Checkpointer {
            thread: Some(thread),
            shared,
            ask: tx,
        })
    }

    /// Called by the writer between batches. While the writer commits batch after batch (a
    /// catch-up), the checkpoint thread never finds the WAL fully folded back, and SQLite
    /// starts the WAL over only then: the file grew by every page written (~475 MB for 100k
    /// new items, where the database ends at 150 MB), and each new frame made the kernel
    /// allocate and zero page-cache pages (7 % of a catch-up's CPU samples, all on the store
    /// thread). Past [`RESTART_PAGES`], the writer waits for a checkpoint of everything it
    /// committed (most of it folded back already, concurrently), and its next transaction
    /// writes the WAL from its start, over pages the kernel holds. A reader on an older
    /// snapshot keeps that checkpoint from folding back everything (then the WAL grows on, as
    /// before); the wait is for the checkpoint to end, at most `limit` (a slow disk's fsync).
    fn wait_for_restart(&self, limit: std::time::Duration) {
        if self.shared.wal_pages.load(Ordering::Relaxed)
            < self.shared.restart_pages.load(Ordering::Relaxed)
        {
            return;
        }
        let want = self.shared.asked.fetch_add(1, Ordering::AcqRel) + 1;
        // Full: a checkpoint is asked for and has not started, so it will cover `want`.
        if let Err(std::sync::mpsc::TrySendError::Disconnected(())) = self.ask.try_send(()) {
            return;
        }
        let Ok(done) = self.shared.done.lock() else {
            return;
        };
        let _ = self
            .shared
            .finished
            .wait_timeout_while(done, limit, |done| *done < want);
        self.shared.wal_pages.store(0, Ordering::Relaxed);
    }
}

impl Db {
    /// To be called by a writer between two of its transactions, when more follow at once (a
    /// catch-up's batches, the retention prune's): see [`Checkpointer::wait_for_restart`].
    fn between_transactions(&self) {
        if let Some(c) = &self.checkpointer {
            c.wait_for_restart(RESTART_WAIT);
        }
    }
}

#[cfg(test)]
impl Db {
    /// How many times the writer has waited for a checkpoint to start the WAL over.
    pub(crate) fn restart_waits(&self) -> u64 {
        self.checkpointer
            .as_ref()
            .map_or(0, |c| c.shared.asked.load(Ordering::Relaxed))
    }

    /// Sets the WAL sizes, in pages, at which a commit asks for a checkpoint and after which
    /// the writer waits for one between batches.
    pub(crate) fn set_checkpoint_pages(&self, checkpoint: i32, restart: i32) {
        if let Some(c) = &self.checkpointer {
            c.shared
                .checkpoint_pages
                .store(checkpoint, Ordering::Relaxed);
            c.shared.restart_pages.store(restart, Ordering::Relaxed);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // The thread ends when every sender is gone: this one, and the hook's (with `conn`).
        let (gone, _) = std::sync::mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.ask, gone));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The near-duplicate index is not built when the database opens (that would make every start,
/// `poll-once` and 304 wave pay for reading and tokenising the whole window): it is loaded in
/// chunks of items by id, by the daemon in the background between other jobs, and at the
/// latest, all at once, when an ingest first needs to look an item up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexLoad {
    /// Items of the window with an id above `after_id` are still to be indexed.
    Pending {
        since: i64,
        after_id: i64,
    },
    Done,
}

/// A new item for the index: id, story, publication time, the doc its lookup made, and its
/// search tokens (written by [`Db::ingest_prepared`], see [`Db::pending_search`]).
type NewItem = (
    i64,
    String,
    DateTime<Utc>,
    Option<dedup::score::Doc>,
    String,
);

/// Items read per chunk of the index load: small enough that a render or a health check queued
/// behind a chunk waits a fraction of a second.
const INDEX_CHUNK: usize = 4000;

/// What the store thread is sent: a job, or the request to close.
enum Msg {
    Job(Job),
    /// A write that may share its commit with the writes queued behind it.
    Batched(BatchJob),
    Close(oneshot::Sender<()>),
}

/// In test builds, an entry with this key makes `ingest` panic, to test containment.
#[cfg(test)]
pub(crate) const PANIC_KEY: &str = "wiredesk-test-panic";

/// A handle to the store thread. Cloning shares the thread; it stops when the last handle drops.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Msg>,
    progress: Arc<Progress>,
    /// The database file and its device and inode when opened (for [`Store::health`]).
    file: Arc<(PathBuf, Option<(u64, u64)>)>,
    /// A second thread with a read-only connection of its own, for [`Store::read`].
    reader: Option<Arc<Store>>,
}

/// How the store thread is doing, readable without waiting in its queue: health must mean
/// "alive and making progress", not "the queue happens to be empty" (during a catch-up of
/// thousands of refreshes the queue is long for minutes, and the watchdog must not kill a
/// daemon that is working through it).
#[derive(Default)]
struct Progress {
    /// Jobs sent and not yet finished.
    pending: AtomicUsize,
    /// When the thread last finished a job (or started), in milliseconds since the epoch.
    last_done_ms: AtomicI64,
    /// The thread has let go of the database.
    closed: AtomicBool,
    /// Batches of writes committed (see [`run_batch`]).
    batches: AtomicUsize,
}

/// How long the store may go without finishing a job, while jobs wait, and still be healthy.
pub const STALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl Store {
    /// Opens (creating if needed) and migrates the database, then starts its owner thread.
    pub fn open(path: &Path, dedup: &crate::config::DedupConfig) -> Result<Store, StoreError> {
        let db = Db::open(path, dedup)?;
        let reader = Store::spawn(Db::open_read_only(path)?, "wiredesk-read");
        let mut store = Store::spawn(db, "wiredesk-store");
        store.reader = Some(Arc::new(reader));
        Ok(store)
    }

    fn spawn(mut db: Db, name: &str) -> Store {
        let (tx, rx) = mpsc::channel::<Msg>();
        let progress = Arc::new(Progress::default());
        progress.last_done_ms.store(now_ms(), Ordering::Relaxed);
        let file = Arc::new((db.path.clone(), db.identity));
        let seen = progress.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut closed_by = None;
                let mut next = None;
                loop {
                    let Some(msg) = next.take().or_else(|| rx.recv().ok()) else {
                        break;
                    };
                    match msg {
                        Msg::Job(job) => {
                            run_job(&mut db, job);
                            seen.last_done_ms.store(now_ms(), Ordering::Relaxed);
                            seen.pending.fetch_sub(1, Ordering::Relaxed);
                        }
                        Msg::Batched(first) => next = run_batch(&mut db, first, &rx, &seen),
                        Msg::Close(done) => {
                            closed_by = Some(done);
                            break;
                        }
                    }
                }
                // Closed, or every handle dropped: checkpoint so the -wal file does not outlive
                // us, then let go of the database and its lock before saying so.
                if !db.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
                    let _ = db
                        .conn
                        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;");
                }
                drop(db);
                seen.closed.store(true, Ordering::Relaxed);
                if let Some(done) = closed_by {
                    let _ = done.send(());
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the database thread: {e}"));
        Store {
            jobs: tx,
            progress,
            file,
            reader: None,
        }
    }

    /// Whether the store is healthy, answered at once (never queued behind other jobs): the
    /// database file is still the one opened, and the thread is idle or has finished a job
    /// within [`STALL_LIMIT`].
    pub fn health(&self) -> Result<(), StoreError> {
        self.health_within(STALL_LIMIT)
    }

    /// [`Store::health`] with another stall limit.
    pub fn health_within(&self, stall: std::time::Duration) -> Result<(), StoreError> {
        if self.progress.closed.load(Ordering::Relaxed) {
            return Err(StoreError::Closed);
        }
        let (path, opened) = &*self.file;
        if let Some(opened) = opened {
            match file_identity(path) {
                Some(now) if now == *opened => {}
                found => {
                    return Err(StoreError::Vanished {
                        path: path.clone(),
                        what: if found.is_some() {
                            "was replaced by another file"
                        } else {
                            "was deleted"
                        },
                    });
                }
            }
        }
        let pending = self.progress.pending.load(Ordering::Relaxed);
        let idle_ms = now_ms() - self.progress.last_done_ms.load(Ordering::Relaxed);
        if pending > 0 && idle_ms >= stall.as_millis() as i64 {
            return Err(StoreError::Stalled {
                pending,
                secs: idle_ms / 1000,
            });
        }
        Ok(())
    }

    /// Opens an existing database read-only (see [`Db::open_read_only`]) on its own thread.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::spawn(Db::open_read_only(path)?, "wiredesk-store"))
    }

    /// Runs `f` on the store thread; a panic in it is caught and returned as an error.
    async fn submit<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.progress.pending.fetch_add(1, Ordering::Relaxed);
        self.jobs
            .send(Msg::Job(Box::new(move |db| {
                let _ = tx.send(contained(db, f));
            })))
            .map_err(|_| {
                self.progress.pending.fetch_sub(1, Ordering::Relaxed);
                StoreError::Closed
            })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// How many batches of writes the thread has committed.
    #[cfg(test)]
    pub(crate) fn batches_committed(&self) -> usize {
        self.progress.batches.load(Ordering::Relaxed)
    }

    /// Runs a write `f` on the store thread like [`Store::call`], in a savepoint, sharing one
    /// commit with the writes queued behind it (see `run_batch`); answers once committed.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
    {
        self.write_holding((), f).await
    }

    /// [`Store::write`], holding `held` until the job has run rather than until its batch
    /// commits: a refresh's back-pressure slot (`Fetcher::refresh_slot`). Held to the commit,
    /// every slot ended up waiting inside one batch, and the store thread stood idle after
    /// each commit while the next refreshes fetched, parsed and prepared (a fifth of its time
    /// in a catch-up). The job's input (the entries) is gone once it has run, so what waits
    /// for the commit is small.
    pub async fn write_holding<R, F, H>(&self, held: H, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
        H: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.progress.pending.fetch_add(1, Ordering::Relaxed);
        let job: BatchJob = Box::new(move |db: &mut Db| {
            let result = contained(db, f).and_then(|r| r);
            drop(held);
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = tx.send(committed.and(result));
            }) as Reply
        });
        self.jobs.send(Msg::Batched(job)).map_err(|_| {
            self.progress.pending.fetch_sub(1, Ordering::Relaxed);
            StoreError::Closed
        })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on the store thread and returns its result: one `Result`, whether the job
    /// failed, panicked ([`StoreError::Internal`]) or the thread is gone ([`StoreError::Closed`]).
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
    {
        self.submit(f).await?
    }

    /// Runs a job that only reads on the reader thread: its own read-only connection, which WAL
    /// lets read while the writer writes, so renders and pages never queue behind a catch-up's
    /// refreshes (and a job that tried to write would fail). It sees everything committed before
    /// it starts. Without a reader (a read-only store), the one thread runs it.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R, StoreError> + Send + 'static,
    {
        match &self.reader {
            Some(reader) => reader.call(f).await,
            None => self.call(f).await,
        }
    }

    /// Loads the near-duplicate index chunk by chunk, each chunk a job of its own so that
    /// renders, reads and health checks are answered in between (the first ingest that needs
    /// the index loads the rest at once). Returns how many items it holds when complete.
    pub async fn load_index(&self) -> Result<usize, StoreError> {
        loop {
            if let Some(n) = self
                .call(|db| Ok(db.load_index_chunk()?.then(|| db.near.len())))
                .await?
            {
                return Ok(n);
            }
        }
    }

    /// Runs every job sent so far, then closes the database (releasing its lock) whatever
    /// other handles exist: their later calls fail with [`StoreError::Closed`]. Returns once
    /// the database is closed.
    pub async fn close(&self) {
        if let Some(reader) = &self.reader {
            Box::pin(reader.close()).await;
        }
        let (tx, rx) = oneshot::channel::<()>();
        if self.jobs.send(Msg::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Runs `f` on the database, a panic in it (our bug, reached by some input) caught and returned
/// as [`StoreError::Internal`], with the index marked for a rebuild before the next job.
fn contained<R>(db: &mut Db, f: impl FnOnce(&mut Db) -> R) -> Result<R, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(db))).map_err(|payload| {
        db.needs_recovery = true;
        StoreError::Internal(format!(
            "in the database thread: {}",
            panic_message(payload.as_ref())
        ))
    })
}

/// Runs one job; a panic in it (our bug, reached by some input) fails that job only: the
/// thread, and every feed that depends on it, carries on.
fn run_job(db: &mut Db, job: Job) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(db)));
    if let Err(payload) = outcome {
        tracing::error!(
            "internal error in a database job: {}",
            panic_message(payload.as_ref())
        );
        db.needs_recovery = true;
    }
    if db.needs_recovery {
        db.recover();
    }
}

/// Group commit: runs `first` and the write jobs queued behind it (at most
/// [`MAX_BATCH_JOBS`], for at most [`MAX_BATCH_TIME`]) in one transaction, each in a savepoint
/// of its own so that a failing job rolls back alone, then commits once and answers them all.
/// During a catch-up, one commit per refresh wrote the same B-tree and full-text pages over and
/// over (commits were 16 % of the store thread). Nobody hears of a write before its commit, so a
/// render that follows an answer sees it, and kill -9 loses only writes nobody was told of.
/// Returns the message that ended the batch, if it was not a write.
fn run_batch(
    db: &mut Db,
    first: BatchJob,
    rx: &mpsc::Receiver<Msg>,
    seen: &Progress,
) -> Option<Msg> {
    let began = db.conn.execute_batch("BEGIN IMMEDIATE");
    db.in_batch = began.is_ok();
    let started = std::time::Instant::now();
    let mut replies: Vec<Reply> = Vec::new();
    let mut job = Some(first);
    let mut next = None;
    while let Some(j) = job.take() {
        // Each job contains its own panics (`Store::write`): its caller is answered with one.
        replies.push(j(db));
        if db.needs_recovery {
            db.recover();
        }
        seen.last_done_ms.store(now_ms(), Ordering::Relaxed);
        if !db.in_batch || replies.len() >= MAX_BATCH_JOBS || started.elapsed() >= MAX_BATCH_TIME {
            break;
        }
        match rx.try_recv() {
            Ok(Msg::Batched(j)) => job = Some(j),
            Ok(other) => next = Some(other),
            Err(_) => {}
        }
    }
    let committed = if db.in_batch {
        db.in_batch = false;
        let pending = std::mem::take(&mut db.pending_search);
        insert_search(&db.conn, &pending)
            .and_then(|()| Ok(db.conn.execute_batch("COMMIT")?))
            .inspect_err(|_| {
                let _ = db.conn.execute_batch("ROLLBACK");
                // The index learnt of items that are not stored after all.
                db.recover();
            })
    } else {
        Ok(())
    };
    if let Err(e) = &began {
        tracing::warn!("cannot begin a batch of writes, writing them one by one: {e}");
    }
    tracing::trace!(jobs = replies.len(), "batch of writes committed");
    seen.batches.fetch_add(1, Ordering::Relaxed);
    for reply in replies {
        reply(
            committed
                .as_ref()
                .map(|_| ())
                .map_err(|e| StoreError::Commit(e.to_string())),
        );
        seen.pending.fetch_sub(1, Ordering::Relaxed);
    }
    db.between_transactions();
    seen.last_done_ms.store(now_ms(), Ordering::Relaxed);
    next
}

/// The device and inode of a file, if it exists.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The lock file, held locked; unlocked explicitly when dropped. An `flock` belongs to the
/// open file, which a child process shares from its fork until its exec closes it: merely
/// closing our descriptor while another thread was starting a process left the lock held by
/// the child for that moment, and a daemon restarted at once in the same process was refused
/// (`tests/faults.rs`, about once in a hundred loaded runs). Unlocking releases it for every
/// holder of the open file.
struct DbLock(std::fs::File);

impl Drop for DbLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Takes the exclusive lock beside the database (`PATH.lock`, an advisory `flock`): a second
/// daemon, or `poll-once` beside a running daemon, is refused with a clear message instead of
/// both writing and failing each other's refreshes with "database is locked".
fn lock_database(path: &Path) -> Result<DbLock, StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| StoreError::ReadOnly {
            path: path.to_owned(),
            reason: format!("cannot create the lock file {}: {e}", lock_path.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(DbLock(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: path.to_owned(),
            lock: lock_path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Open {
            path: path.to_owned(),
            source: rusqlite::Error::InvalidPath(PathBuf::from(format!(
                "{} ({e})",
                lock_path.display()
            ))),
        }),
    }
}

/// Takes away the database file's permissions for others (a database from before this rule
/// may be world-readable); the owner's and group's stay.
fn restrict_mode(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o007 != 0 {
            let restricted = std::fs::Permissions::from_mode(mode & 0o770);
            match std::fs::set_permissions(path, restricted) {
                Ok(()) => tracing::warn!(
                    "{} was readable by other users; its mode is now {:o}",
                    path.display(),
                    mode & 0o770
                ),
                Err(e) => tracing::warn!(
                    "{} is readable by other users and could not be restricted: {e}",
                    path.display()
                ),
            }
        }
        for side in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(side);
            if let Ok(meta) = std::fs::metadata(&p)
                && meta.permissions().mode() & 0o007 != 0
            {
                let _ = std::fs::set_permissions(
                    &p,
                    std::fs::Permissions::from_mode(meta.permissions().mode() & 0o770),
                );
            }
        }
    }
}

/// The database keeps no credential: feed URLs are stored redacted (feeds.toml is the only
/// place secrets live). Rows written by an older wiredesk are redacted here, with
/// `secure_delete` so that the old text is overwritten rather than left in free pages.
fn redact_stored_urls(conn: &Connection) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT id, url, fetched_url, moved_from, moved_to FROM feeds")?;
    let rows: Vec<(String, [Option<String>; 4])> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
        })?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    let redact = |u: &Option<String>| {
        u.as_deref().map(|u| match url::Url::parse(u) {
            Ok(parsed) => crate::normalise::redact_url(&parsed),
            Err(_) => u.to_owned(),
        })
    };
    let stale: Vec<_> = rows
        .into_iter()
        .filter_map(|(id, urls)| {
            let redacted = urls.clone().map(|u| redact(&u));
            (redacted != urls).then_some((id, redacted))
        })
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    conn.execute_batch("PRAGMA secure_delete = ON;")?;
    for (id, [url, fetched, from, to]) in &stale {
        // A stored move whose target held a credential is forgotten (it is learnt again).
        let keep_move = to.as_deref().is_none_or(|t| !t.contains("REDACTED"));
        conn.execute(
            "UPDATE feeds SET url = COALESCE(?2, url), fetched_url = ?3, moved_from = ?4,
               moved_to = ?5 WHERE id = ?1",
            params![
                id,
                url,
                fetched,
                from.as_ref().filter(|_| keep_move),
                to.as_ref().filter(|_| keep_move)
            ],
        )?;
    }
    conn.execute_batch("PRAGMA secure_delete = OFF; PRAGMA wal_checkpoint(TRUNCATE);")?;
    tracing::info!(feeds = stale.len(), "stored feed URLs redacted");
    Ok(())
}

/// An entry's media as stored: JSON, or NULL when it has none.
fn media_json(media: &crate::parse::Media) -> Option<String> {
    (!media.is_empty())
        .then(|| serde_json::to_string(media).ok())
        .flatten()
}

fn ts(d: DateTime<Utc>) -> i64 {
    d.timestamp()
}

fn from_ts(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

impl Db {
    /// Opens and migrates a database file.
    pub fn open(path: &Path, dedup: &crate::config::DedupConfig) -> Result<Db, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            return Err(open_err(rusqlite::Error::InvalidPath(dir.to_owned())));
        }
        // SQLite's own message for this case is "unable to open database file": say what it is.
        // A new database is created owner-only; SQLite gives its -wal and -shm files the same
        // mode as the database file.
        use std::os::unix::fs::OpenOptionsExt as _;
        let writable = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path);
        if let Err(e) = writable
            && matches!(
                e.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            )
        {
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
        restrict_mode(path);
        let lock = lock_database(path)?;
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
        )
        .map_err(open_err)?;
        // Plans that never depend on the values bound: otherwise SQLite re-prepared the cached
        // canonical-URL lookup at every execution (2.5 % of the store thread in a catch-up;
        // `store::tests::cached_statements_are_not_re_prepared`).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(open_err)?;
        let found = schema::migrate(&mut conn, path)?;
        if found < schema::SEARCH_TOKENS_VERSION {
            // The search index (or its tokens) came with a later version: index what is
            // already stored.
            let started = std::time::Instant::now();
            let tx = conn.savepoint()?;
            let n = search::backfill(&tx)?;
            tx.commit()?;
            if n > 0 {
                tracing::info!(
                    items = n,
                    ms = started.elapsed().as_millis() as u64,
                    "search index built"
                );
            }
        }
        redact_stored_urls(&conn)?;
        let checkpointer = Checkpointer::start(&mut conn, path)?;
        let mut db = Db {
            conn,
            checkpointer: Some(checkpointer),
            path: path.to_owned(),
            identity: file_identity(path),
            _lock: Some(lock),
            near: NearDuplicates::new(dedup.clone()),
            index_load: IndexLoad::Done,
            needs_recovery: false,
            in_batch: false,
            pending_search: Vec::new(),
        };
        db.restart_index_load(Utc::now());
        Ok(db)
    }

    /// Opens an existing database for reading only, as the admin commands (`status`,
    /// `stories`, `explain`) do: nothing is created or migrated, and the near-duplicate index
    /// (which only the daemon's ingest needs) is not built. A missing file is an error that
    /// says where it was looked for.
    pub fn open_read_only(path: &Path) -> Result<Db, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.execute_batch("PRAGMA busy_timeout=5000;")?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > schema::current_version() {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found,
                known: schema::current_version(),
            });
        }
        if found < schema::current_version() {
            return Err(StoreError::Outdated {
                path: path.to_owned(),
                found,
            });
        }
        Ok(Db {
            conn,
            checkpointer: None,
            path: path.to_owned(),
            identity: file_identity(path),
            _lock: None,
            near: NearDuplicates::new(crate::config::DedupConfig {
                near_duplicates: false,
                window_hours: 48,
                threshold: crate::config::DEFAULT_THRESHOLD,
                copy_window_hours: crate::config::DEFAULT_COPY_WINDOW_HOURS,
                max_indexed_items: crate::config::DEFAULT_MAX_INDEXED_ITEMS,
            }),
            index_load: IndexLoad::Done,
            needs_recovery: false,
            in_batch: false,
            pending_search: Vec::new(),
        })
    }

    /// After a panic part-way through a job: rolls back a transaction left open and rebuilds
    /// the near-duplicate index from what is committed, so that the next job starts clean.
    fn recover(&mut self) {
        self.needs_recovery = false;
        // In a batch, the failed job's savepoint is rolled back already; the batch's other
        // writes stand.
        if !self.in_batch
            && !self.conn.is_autocommit()
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!("rolling back after an internal error: {e}");
        }
        self.near = self.near.emptied();
        self.restart_index_load(Utc::now());
        match self.finish_index_load() {
            Ok(()) => tracing::warn!(
                items = self.near.len(),
                "near-duplicate index rebuilt after an internal error"
            ),
            Err(e) => tracing::error!("rebuilding the near-duplicate index: {e}"),
        }
    }

    /// The raw connection, for read-only reports and tests.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Replaces the dedup settings (on reload) and rebuilds the index.
    pub fn set_dedup_config(&mut self, cfg: crate::config::DedupConfig) -> Result<(), StoreError> {
        self.near = NearDuplicates::new(cfg);
        self.restart_index_load(Utc::now());
        self.finish_index_load()
    }

    /// Replaces the dedup settings and the verification model's weights (for evaluation), and
    /// rebuilds the index.
    pub fn set_dedup_model(
        &mut self,
        cfg: crate::config::DedupConfig,
        weights: [f64; crate::dedup::score::N_FEATURES + 1],
    ) -> Result<(), StoreError> {
        self.near = NearDuplicates::with_weights(cfg, weights);
        self.restart_index_load(Utc::now());
        self.finish_index_load()
    }

    /// Makes the `feeds` rows match the config: new feeds added, names, URLs, priorities, tags
    /// and `enabled` updated. Feeds no longer configured keep their row (their stories stay
    /// until retention removes them) but are marked disabled.
    pub fn sync_feeds(&mut self, feeds: &[FeedConfig]) -> Result<(), StoreError> {
        self.check_file()?;
        let tx = self.conn.savepoint()?;
        tx.execute("UPDATE feeds SET enabled = 0", [])?;
        tx.execute("DELETE FROM feed_tags", [])?;
        for f in feeds {
            tx.execute(
                "INSERT INTO feeds (id, url, name, priority, enabled) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET url = excluded.url, name = excluded.name,
                   priority = excluded.priority, enabled = excluded.enabled",
                params![
                    f.id.as_str(),
                    crate::normalise::redact_url(&f.url),
                    f.name,
                    f.priority,
                    f.enabled
                ],
            )?;
            for tag in &f.tags {
                tx.execute(
                    "INSERT OR IGNORE INTO feed_tags (feed_id, tag) VALUES (?1, ?2)",
                    params![f.id.as_str(), tag],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops a feed's stored validators and body hash, so that its next poll fetches and reads
    /// the whole feed again (after its item filter changed).
    pub fn forget_validators(&mut self, feed: &FeedId) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE feeds SET etag = NULL, last_modified = NULL, body_hash = NULL WHERE id = ?1",
            [feed.as_str()],
        )?;
        Ok(())
    }

    /// The content hashes of a feed's stored items (see `FeedRuntime::unseen`).
    pub fn content_hashes(&self, feed: &FeedId) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT content_hash FROM items WHERE feed_id = ?1")?;
        let rows = stmt.query_map([feed.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored validators of a feed (none if it was never fetched or its URL changed).
    pub fn validators(&self, feed: &FeedId) -> Result<Validators, StoreError> {
        let v = self
            .conn
            .query_row(
                "SELECT fetched_url, etag, last_modified, body_hash, consecutive_failures,
                   next_attempt FROM feeds WHERE id = ?1",
                [feed.as_str()],
                |r| {
                    Ok(Validators {
                        url: r.get(0)?,
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                        body_hash: r.get(3)?,
                        consecutive_failures: r.get(4)?,
                        next_attempt: r.get::<_, Option<i64>>(5)?.map(from_ts),
                    })
                },
            )
            .optional()?;
        Ok(v.unwrap_or_default())
    }

    /// Records that a feed configured at `from` moved permanently to `to`.
    pub fn record_move(&mut self, feed: &FeedId, from: &str, to: &str) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn.execute(
            "UPDATE feeds SET moved_from = ?2, moved_to = ?3 WHERE id = ?1",
            params![feed.as_str(), from, to],
        )?;
        Ok(())
    }

    /// Every recorded permanent move: (feed id, configured URL it moved from, new URL).
    pub fn moves(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, moved_from, moved_to FROM feeds
             WHERE moved_from IS NOT NULL AND moved_to IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records a refresh that changed nothing (304, or the same body again).
    pub fn record_unchanged(
        &mut self,
        feed: &FeedId,
        status: u16,
        now: DateTime<Utc>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn.execute(
            "UPDATE feeds SET last_status = ?2, last_attempt = ?3, last_success = ?3,
               last_error = NULL, consecutive_failures = 0, next_attempt = ?4 WHERE id = ?1",
            params![feed.as_str(), status, ts(now), next_attempt.map(ts)],
        )?;
        Ok(())
    }

    /// Records a failed refresh; returns the number of consecutive failures so far.
    pub fn record_failure(
        &mut self,
        feed: &FeedId,
        status: Option<u16>,
        error: &str,
        now: DateTime<Utc>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<u32, StoreError> {
        self.check_file()?;
        let n = self
            .conn
            .query_row(
                "UPDATE feeds SET last_status = ?2, last_attempt = ?3, last_error = ?4,
               consecutive_failures = consecutive_failures + 1, next_attempt = ?5
             WHERE id = ?1 RETURNING consecutive_failures",
                params![feed.as_str(), status, ts(now), error, next_attempt.map(ts)],
                |r| r.get::<_, u32>(0),
            )
            .optional()?;
        Ok(n.unwrap_or(1))
    }

    /// Stores one refresh's entries and the feed's fetch state in one transaction, running the
    /// dedup layers on every new entry. A panic while storing one entry (a bug of ours that
    /// some input reached) fails this refresh only, with the entry's key in the error: the
    /// transaction is rolled back and the index rebuilt before the next job.
    pub fn ingest(
        &mut self,
        feed: &FeedId,
        fetched_url: &str,
        entries: &[Entry],
        meta: &FetchMeta,
        now: DateTime<Utc>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<IngestStats, StoreError> {
        self.ingest_prepared(feed, fetched_url, entries, &[], meta, now, next_attempt)
    }

    /// [`Db::ingest`] with each entry's text already prepared for matching
    /// ([`dedup::prepare`], run off this thread), by position; an entry without (`None`, or
    /// past the end of `prepared`) is prepared here if it turns out to be new.
    #[allow(clippy::too_many_arguments)]
    pub fn ingest_prepared(
        &mut self,
        feed: &FeedId,
        fetched_url: &str,
        entries: &[Entry],
        prepared: &[Option<dedup::Prepared>],
        meta: &FetchMeta,
        now: DateTime<Utc>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<IngestStats, StoreError> {
        self.check_file()?;
        let tx = RefreshTx::begin(&mut self.conn)?;
        let near = &mut self.near;
        let load = &mut self.index_load;
        let mut stats = IngestStats::default();
        let mut searchable = Vec::new();
        // Whether the index has learnt of this refresh's items (or of a story merge): if the
        // transaction then fails, the index must be rebuilt from what is committed.
        let mut index_ahead = false;
        for (i, entry) in entries.iter().enumerate() {
            let prepared = prepared.get(i).and_then(Option::as_ref);
            let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Self::ingest_entry(
                    &tx,
                    near,
                    load,
                    feed,
                    entry,
                    prepared,
                    meta.full_text_below,
                    now,
                    &mut stats,
                )
            }));
            match stored {
                Ok(Ok(Some((item_id, story_id, published, doc, tokens)))) => {
                    searchable.push((item_id, tokens));
                    // The index learns of the item at once, so that the entries after it in
                    // this fetch are compared with it (one feed carrying one story twice).
                    // While the index is still loading, the load reads it from the database
                    // (this transaction's rows included) with the rest.
                    if *load == IndexLoad::Done {
                        index_ahead = true;
                        match doc {
                            Some(doc) => near.insert_doc(item_id, feed, &story_id, doc),
                            None => near.insert(item_id, feed, &story_id, entry, published),
                        }
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    // The index learnt of this refresh's items and merges: rebuilt now.
                    self.needs_recovery = true;
                    return Err(e);
                }
                Err(payload) => {
                    self.needs_recovery = true;
                    return Err(StoreError::Internal(format!(
                        "while storing feed {feed}: item {:?}: {}",
                        crate::parse::truncate_on_char_boundary(&entry.key, 200),
                        panic_message(payload.as_ref())
                    )));
                }
            }
        }
        let finished = Self::record_success(&tx, feed, fetched_url, meta, now, next_attempt)
            .and_then(|()| {
                if !self.in_batch {
                    insert_search(&tx, &searchable)?;
                }
                Ok(tx.commit()?)
            });
        if let Err(e) = finished {
            // Rolled back: the index learnt of items that are not stored after all.
            self.needs_recovery |= index_ahead;
            return Err(e);
        }
        if self.in_batch {
            self.pending_search.extend(searchable);
        }
        Ok(stats)
    }

    /// One entry of a refresh, inside its transaction: unchanged, a revision of an item seen
    /// before, tombstoned, or new (joined to a story by URL or text, or starting one). Returns
    /// the new item's id, story and date for the index, with the doc the lookup made (`None`
    /// when nothing new was stored).
    #[allow(clippy::too_many_arguments)]
    fn ingest_entry(
        tx: &Connection,
        near: &mut NearDuplicates,
        load: &mut IndexLoad,
        feed: &FeedId,
        entry: &Entry,
        prepared: Option<&dedup::Prepared>,
        full_text_below: Option<usize>,
        now: DateTime<Utc>,
        stats: &mut IngestStats,
    ) -> Result<Option<NewItem>, StoreError> {
        #[cfg(test)]
        if entry.key == PANIC_KEY {
            panic!("a test entry that makes ingest panic");
        }
        let existing = tx
            .prepare_cached(
                "SELECT id, story_id, content_hash FROM items WHERE feed_id = ?1 AND key = ?2",
            )?
            .query_row(params![feed.as_str(), entry.key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        if let Some((item_id, story_id, hash)) = existing {
            if hash == entry.content_hash {
                stats.unchanged += 1;
                return Ok(None);
            }
            // An item given its article's text keeps it while the feed sends less; the text
            // kept is what search indexes.
            let text: String = tx
                .prepare_cached(
                    "UPDATE items SET title = ?2,
                   summary_html = CASE WHEN full_text = 1 AND length(?4) < length(text)
                     THEN summary_html ELSE ?3 END,
                   text = CASE WHEN full_text = 1 AND length(?4) < length(text)
                     THEN text ELSE ?4 END,
                   link = ?5, canonical_url = ?6, content_hash = ?7, updated = ?8, media = ?9
                 WHERE id = ?1 RETURNING text",
                )?
                .query_row(
                    params![
                        item_id,
                        entry.title,
                        entry.summary_html,
                        entry.text,
                        entry.link,
                        entry.canonical_url,
                        entry.content_hash,
                        ts(now),
                        media_json(&entry.media)
                    ],
                    |r| r.get(0),
                )?;
            tx.prepare_cached("UPDATE stories SET updated = ?2 WHERE id = ?1")?
                .execute(params![story_id, ts(now)])?;
            tx.prepare_cached("DELETE FROM items_fts WHERE rowid = ?1")?
                .execute([item_id])?;
            tx.prepare_cached("INSERT INTO items_fts (rowid, tokens) VALUES (?1, ?2)")?
                .execute(params![item_id, search::index_text(&entry.title, &text)])?;
            stats.updated += 1;
            return Ok(None);
        }
        let tombstoned: bool = tx
            .prepare_cached("SELECT 1 FROM tombstones WHERE feed_id = ?1 AND key = ?2")?
            .query_row(params![feed.as_str(), entry.key], |_| Ok(true))
            .optional()?
            .unwrap_or(false);
        if tombstoned {
            stats.unchanged += 1;
            return Ok(None);
        }

        let published = entry.published.unwrap_or(now);
        let mut doc = None;
        let joined = match Self::same_url(tx, entry)? {
            Some(j) => Some(j),
            None if near.enabled() => {
                while *load != IndexLoad::Done {
                    Self::index_chunk(tx, near, load, usize::MAX)?;
                }
                let (join, made) = match prepared {
                    Some(p) => near.find_prepared(feed, p, published),
                    None => near.find_prepared(
                        feed,
                        &dedup::prepare(&entry.title, &entry.text),
                        published,
                    ),
                };
                doc = made;
                join
            }
            None => None,
        };
        let (story_id, layer, score, join_ref) = match joined {
            Some(mut j) => {
                if !j.merge.is_empty() {
                    j.story_id = Self::merge_stories(tx, near, &j, now)?;
                }
                tx.prepare_cached(
                    "UPDATE stories SET updated = ?2, published = MIN(COALESCE(published, ?3), ?3)
                     WHERE id = ?1",
                )?
                .execute(params![j.story_id, ts(now), ts(published)])?;
                stats.merged += 1;
                if j.layer == JoinLayer::NearDuplicate {
                    stats.merged_by_text += 1;
                }
                (j.story_id, j.layer, j.score, Some(j.item_id))
            }
            None => {
                let id = Self::insert_story(tx, feed, &entry.key, now, published)?;
                (id, JoinLayer::First, None, None)
            }
        };
        tx.prepare_cached(
            "INSERT INTO items (feed_id, key, guid, link, canonical_url, title, summary_html,
               text, published, updated, first_seen, content_hash, story_id, join_layer,
               join_score, join_ref, media, full_text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
               ?18)",
        )?
        .execute(params![
            feed.as_str(),
            entry.key,
            entry.guid,
            entry.link,
            entry.canonical_url,
            entry.title,
            entry.summary_html,
            entry.text,
            ts(published),
            ts(entry.updated.unwrap_or(published)),
            ts(now),
            entry.content_hash,
            story_id,
            layer.as_str(),
            score,
            join_ref,
            media_json(&entry.media),
            fulltext::wanted(entry, full_text_below).then_some(fulltext::PENDING)
        ])?;
        let item_id = tx.last_insert_rowid();
        let tokens = match prepared {
            Some(p) if !p.is_rolling() => p.search_text(),
            _ => search::index_text(&entry.title, &entry.text),
        };
        stats.new += 1;
        Ok(Some((item_id, story_id, published, doc, tokens)))
    }

    /// One story told twice (see `dedup::NearDuplicates::decide`): the stories of `join` are
    /// merged into the oldest of them, which keeps its id; each absorbed id becomes an alias of
    /// it (explain and stored references resolve through it), and what was owed to a
    /// notification target for an absorbed story is owed for the survivor (once). The index
    /// follows at once (later entries of this refresh must not join a story that is gone); a
    /// failed transaction rebuilds it. Returns the survivor.
    fn merge_stories(
        tx: &Connection,
        near: &mut NearDuplicates,
        join: &dedup::Join,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let mut all: Vec<(i64, String)> = Vec::new();
        for id in std::iter::once(&join.story_id).chain(join.merge.iter()) {
            let first_seen: Option<i64> = tx
                .prepare_cached("SELECT first_seen FROM stories WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            if let Some(f) = first_seen {
                all.push((f, id.clone()));
            }
        }
        all.sort();
        let Some((_, survivor)) = all.first().cloned() else {
            return Ok(join.story_id.clone());
        };
        for (_, absorbed) in all.iter().skip(1) {
            tx.prepare_cached("UPDATE items SET story_id = ?2 WHERE story_id = ?1")?
                .execute(params![absorbed, survivor])?;
            tx.prepare_cached(
                "UPDATE stories SET updated = ?2, published = MIN(COALESCE(published, ?3),
                   COALESCE((SELECT published FROM stories WHERE id = ?4), ?3))
                 WHERE id = ?1",
            )?
            .execute(params![survivor, ts(now), i64::MAX, absorbed])?;
            tx.prepare_cached(
                "UPDATE OR IGNORE notifications SET story_id = ?2 WHERE story_id = ?1",
            )?
            .execute(params![absorbed, survivor])?;
            tx.prepare_cached("DELETE FROM notifications WHERE story_id = ?1")?
                .execute([absorbed])?;
            tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                .execute([absorbed])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO story_aliases (alias, story_id, merged, item_ref, score)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                absorbed,
                survivor,
                ts(now),
                join.item_id,
                join.score
            ])?;
            // Aliases of the absorbed story now name the survivor.
            tx.prepare_cached("UPDATE story_aliases SET story_id = ?2 WHERE story_id = ?1")?
                .execute(params![absorbed, survivor])?;
            near.merge_story(absorbed, &survivor);
        }
        Ok(survivor)
    }

    /// The feed's row after a good refresh: health reset, validators and warning stored.
    fn record_success(
        tx: &Connection,
        feed: &FeedId,
        fetched_url: &str,
        meta: &FetchMeta,
        now: DateTime<Utc>,
        next_attempt: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        tx.prepare_cached(
            "UPDATE feeds SET last_status = ?2, last_attempt = ?3, last_success = ?3,
               last_error = NULL, consecutive_failures = 0, next_attempt = ?4,
               fetched_url = ?5, etag = ?6, last_modified = ?7, body_hash = ?8,
               title = COALESCE(?9, title), last_warning = ?10
             WHERE id = ?1",
        )?
        .execute(params![
            feed.as_str(),
            meta.status,
            ts(now),
            next_attempt.map(ts),
            fetched_url,
            meta.etag,
            meta.last_modified,
            meta.body_hash,
            meta.feed_title,
            meta.warning
        ])?;
        Ok(())
    }

    /// Layer 2: an item elsewhere with the same canonical URL.
    fn same_url(tx: &Connection, entry: &Entry) -> Result<Option<dedup::Join>, StoreError> {
        let Some(url) = &entry.canonical_url else {
            return Ok(None);
        };
        let hit = tx
            .prepare_cached(SAME_URL_SQL)?
            .query_row([url], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .optional()?;
        Ok(hit.map(|(item_id, story_id)| dedup::Join {
            story_id,
            item_id,
            layer: JoinLayer::SameUrl,
            score: None,
            merge: Vec::new(),
        }))
    }

    /// A new story whose id derives from its first item (stable, and the same if the database
    /// is ever rebuilt from the same feeds).
    fn insert_story(
        tx: &Connection,
        feed: &FeedId,
        key: &str,
        now: DateTime<Utc>,
        published: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        for attempt in 0u32.. {
            let salt = attempt.to_string();
            let digest = crate::model::hex_digest(&[feed.as_str(), key, &salt]);
            let id = format!("s{}", &digest[..16]);
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO stories (id, first_seen, updated, published)
                 VALUES (?1, ?2, ?2, ?3)",
                )?
                .execute(params![id, ts(now), ts(published)])?;
            if inserted == 1 {
                return Ok(id);
            }
        }
        unreachable!("u32 attempts exhausted")
    }

    /// Starts loading the near-duplicate index afresh: the items published since the horizon
    /// before `now` are read by [`Db::load_index_chunk`] (or all at once when needed).
    fn restart_index_load(&mut self, now: DateTime<Utc>) {
        self.index_load = if self.near.enabled() {
            IndexLoad::Pending {
                since: ts(now - chrono::Duration::seconds(self.near.horizon_secs())),
                after_id: 0,
            }
        } else {
            IndexLoad::Done
        };
    }

    /// Indexes the next chunk of stored items; returns whether the index is complete. The
    /// daemon calls it in the background until it is.
    pub fn load_index_chunk(&mut self) -> Result<bool, StoreError> {
        Self::index_chunk(
            &self.conn,
            &mut self.near,
            &mut self.index_load,
            INDEX_CHUNK,
        )?;
        Ok(self.index_load == IndexLoad::Done)
    }

    /// Loads whatever of the index is still to load.
    fn finish_index_load(&mut self) -> Result<(), StoreError> {
        while self.index_load != IndexLoad::Done {
            Self::index_chunk(&self.conn, &mut self.near, &mut self.index_load, usize::MAX)?;
        }
        Ok(())
    }

    /// Indexes up to `limit` more items of the window, in id order.
    fn index_chunk(
        conn: &Connection,
        near: &mut NearDuplicates,
        load: &mut IndexLoad,
        limit: usize,
    ) -> Result<(), StoreError> {
        let IndexLoad::Pending { since, after_id } = *load else {
            return Ok(());
        };
        let mut stmt = conn.prepare_cached(
            "SELECT id, feed_id, story_id, title, text, published FROM items
             WHERE id > ?1 AND published >= ?2 ORDER BY id LIMIT ?3",
        )?;
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![after_id, since, limit_sql])?;
        let mut n = 0usize;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let feed = FeedId(r.get(1)?);
            let story: String = r.get(2)?;
            let title: String = r.get(3)?;
            let text: String = r.get(4)?;
            let published = from_ts(r.get(5)?);
            // Advanced item by item: an error part-way leaves no item indexed twice.
            *load = IndexLoad::Pending {
                since,
                after_id: id,
            };
            near.insert_text(id, &feed, &story, &title, &text, published);
            n += 1;
        }
        if n < limit {
            *load = IndexLoad::Done;
        }
        Ok(())
    }

    /// Every configured feed's health, in id order.
    pub fn feed_health(&self) -> Result<Vec<FeedHealth>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT f.id, f.name, f.url, f.enabled, f.last_status, f.last_attempt,
               f.last_success, f.last_error, f.consecutive_failures, f.next_attempt,
               (SELECT COUNT(*) FROM items i WHERE i.feed_id = f.id), f.last_warning,
               CASE WHEN f.moved_from = f.url THEN f.moved_to END,
               f.full_text_enriched, f.full_text_failed, f.full_text_error
             FROM feeds f ORDER BY f.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FeedHealth {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                enabled: r.get(3)?,
                last_status: r.get(4)?,
                last_attempt: r.get::<_, Option<i64>>(5)?.map(from_ts),
                last_success: r.get::<_, Option<i64>>(6)?.map(from_ts),
                last_error: r.get(7)?,
                consecutive_failures: r.get(8)?,
                next_attempt: r.get::<_, Option<i64>>(9)?.map(from_ts),
                items: r.get(10)?,
                last_warning: r.get(11)?,
                moved_to: r.get(12)?,
                full_text_enriched: r.get(13)?,
                full_text_failed: r.get(14)?,
                full_text_error: r.get(15)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Folds the WAL into the database file and truncates it (at shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Quick liveness check for `/healthz` and the watchdog: the database answers, and its
    /// file is still the one opened.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.check_file()?;
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Whether the database file is still the one this connection opened. SQLite keeps
    /// writing into a deleted (unlinked) file without complaint, so every write first checks
    /// that the path still names the same device and inode.
    pub fn check_file(&self) -> Result<(), StoreError> {
        let Some(opened) = self.identity else {
            return Ok(());
        };
        match file_identity(&self.path) {
            Some(now) if now == opened => Ok(()),
            Some(_) => Err(StoreError::Vanished {
                path: self.path.clone(),
                what: "was replaced by another file",
            }),
            None => Err(StoreError::Vanished {
                path: self.path.clone(),
                what: "was deleted",
            }),
        }
    }
}

#[cfg(test)]
mod tests;
