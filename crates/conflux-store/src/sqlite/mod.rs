//! The embedded SQLite backend.

mod codec;
mod read;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::model::{
    ActionRecord, JournalEvent, RepetitionKey, RunId, RunRecord, RunStatus, TriggerHistoryRecord,
    TriggerState, WorkflowName, WorkflowVersion,
};
use crate::query::{HistoryQuery, Page, RunQuery, StoreStats};
use crate::{Store, StoreError, WriteBatch};
use read::ReadPool;
use writer::{Counters, Job, PauseGate, Writer};

/// When SQLite waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the write-ahead log at every commit: a committed batch survives
    /// power loss. The default, because callers act on a commit (e.g. answer
    /// an HTTP request with the run id) and group commit shares each fsync
    /// among every batch waiting at that moment.
    #[default]
    Full,
    /// fsync only at checkpoints: survives a crash of the process but may
    /// lose the last commits on power loss. Faster on slow disks.
    Normal,
}

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Read connections used at the same time (default 4).
    pub read_connections: usize,
    /// Most batches committed in one transaction (default 512).
    pub max_group_batches: usize,
    /// Batches that may wait for the writer before `commit` callers wait to enqueue (default 4096).
    pub queue_capacity: usize,
    /// How long a connection waits for a lock held by another, in milliseconds (default 5000).
    pub busy_timeout_ms: u64,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            read_connections: 4,
            max_group_batches: 512,
            queue_capacity: 4096,
            busy_timeout_ms: 5000,
        }
    }
}

/// Where the database lives; every connection of a store opens the same one.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    File(PathBuf),
    /// A named in-memory database shared by this store's connections
    /// (SQLite's `memdb` VFS), gone when the last connection closes.
    Memory(String),
}

impl Location {
    fn connect(&self) -> Result<Connection, StoreError> {
        let conn = match self {
            Location::File(path) => Connection::open(path),
            Location::Memory(name) => Connection::open_with_flags(
                format!("file:/{name}?vfs=memdb"),
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            ),
        }
        .map_err(|e| StoreError::sqlite(format!("open database {}", self.describe()), e))?;
        Ok(conn)
    }

    fn describe(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Memory(name) => format!("in memory ({name})"),
        }
    }
}

/// The embedded store: one SQLite file in WAL mode, written by one thread
/// with group commit, read through a small connection pool.
///
/// Cheap to share behind an `Arc`; dropping the last handle lets the writer
/// finish what is queued and close the database.
pub struct SqliteStore {
    location: Location,
    jobs: mpsc::Sender<Job>,
    reads: Arc<ReadPool>,
    counters: Arc<Counters>,
    gate: Arc<PauseGate>,
}

/// Holds the writer before its next transaction while it lives; see
/// [`SqliteStore::pause_writer`].
#[must_use = "the writer resumes as soon as the pause is dropped"]
pub struct WriterPause {
    gate: Arc<PauseGate>,
}

impl Drop for WriterPause {
    fn drop(&mut self) {
        self.gate.release();
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location.describe())
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the database
    /// at `path` and brings its schema up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteConfig::default()).await
    }

    /// [`SqliteStore::open`] with explicit settings.
    pub async fn open_with(
        path: impl AsRef<Path>,
        config: SqliteConfig,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|source| StoreError::Io {
                    op: format!("create directory {}", parent.display()),
                    source,
                })?;
        }
        Self::start(Location::File(path), config).await
    }

    /// A fresh, private in-memory database (for tests and `conflux run`).
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "conflux-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self::start(Location::Memory(name), SqliteConfig::default()).await
    }

    async fn start(location: Location, config: SqliteConfig) -> Result<Self, StoreError> {
        let writer_location = location.clone();
        let cfg = config.clone();
        let conn = tokio::task::spawn_blocking(move || open_writer(&writer_location, &cfg))
            .await
            .map_err(|e| StoreError::Closed {
                what: format!("opening the database stopped: {e}"),
            })??;

        let (jobs, receiver) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let gate = Arc::new(PauseGate::default());
        let writer = Writer {
            conn,
            jobs: receiver,
            counters: Arc::clone(&counters),
            gate: Arc::clone(&gate),
            max_group: config.max_group_batches.max(1),
        };
        std::thread::Builder::new()
            .name("conflux-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|source| StoreError::Io {
                op: "start the store writer thread".into(),
                source,
            })?;

        let reads = Arc::new(ReadPool::new(location.clone(), config.read_connections));
        tracing::info!(database = %location.describe(), "Opened store");
        Ok(Self {
            location,
            jobs,
            reads,
            counters,
            gate,
        })
    }

    /// Holds the writer before its next transaction until the returned guard
    /// is dropped; batches committed meanwhile queue up and are then written
    /// together. Useful to copy the database file consistently, and to
    /// observe group commit.
    pub fn pause_writer(&self) -> WriterPause {
        self.gate.hold();
        WriterPause {
            gate: Arc::clone(&self.gate),
        }
    }

    /// The database file, or `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(path) => Some(path),
            Location::Memory(_) => None,
        }
    }

    async fn submit<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        // Counted before sending so the writer's decrement never comes first;
        // the guard undoes it if the job never reaches the writer (send
        // failed, or the caller gave up while the queue was full).
        let mut unsent = PendingGuard::new(&self.counters.pending);
        if self.jobs.send(job(reply)).await.is_err() {
            return Err(StoreError::Closed {
                what: "the writer has stopped; restart Conflux".into(),
            });
        }
        unsent.disarm();
        answer.await.map_err(|_| StoreError::Closed {
            what: "the writer stopped before answering; the outcome is unknown".into(),
        })?
    }
}

/// Counts a job as pending until disarmed (the writer then owns the count).
struct PendingGuard<'a> {
    pending: &'a AtomicU64,
    armed: bool,
}

impl<'a> PendingGuard<'a> {
    fn new(pending: &'a AtomicU64) -> Self {
        pending.fetch_add(1, Ordering::Relaxed);
        Self {
            pending,
            armed: true,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Opens the write connection: pragmas first (auto_vacuum must precede the
/// first table), then migrations.
fn open_writer(location: &Location, config: &SqliteConfig) -> Result<Connection, StoreError> {
    let mut conn = location.connect()?;
    let synchronous = match config.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    let journal = match location {
        // The write-ahead log lets readers proceed while the writer commits.
        Location::File(_) => "PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 67108864;",
        Location::Memory(_) => "",
    };
    conn.execute_batch(&format!(
        "PRAGMA auto_vacuum = INCREMENTAL; {journal} PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON;"
    ))
    .map_err(|e| StoreError::sqlite(format!("configure database {}", location.describe()), e))?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms))
        .map_err(|e| StoreError::sqlite("set busy timeout", e))?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let spent = self.submit(|reply| Job::Commit { batch, reply }).await?;
        drop(spent);
        Ok(())
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<RunRecord>, StoreError> {
        let run_id = run_id.clone();
        self.reads
            .run(move |conn| read::get_run(conn, &run_id))
            .await
    }

    async fn list_runs(
        &self,
        workflow: &WorkflowName,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>, StoreError> {
        let (workflow, query) = (workflow.clone(), query.clone());
        self.reads
            .run(move |conn| read::list_runs(conn, &workflow, &query))
            .await
    }

    async fn count_runs(
        &self,
        workflow: &WorkflowName,
        status: Option<RunStatus>,
    ) -> Result<u64, StoreError> {
        let workflow = workflow.clone();
        self.reads
            .run(move |conn| read::count_runs(conn, &workflow, status))
            .await
    }

    async fn incomplete_runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        self.reads.run(read::incomplete_runs).await
    }

    async fn list_actions(&self, run_id: &RunId) -> Result<Vec<ActionRecord>, StoreError> {
        let run_id = run_id.clone();
        self.reads
            .run(move |conn| read::list_actions(conn, &run_id))
            .await
    }

    async fn list_repetitions(
        &self,
        run_id: &RunId,
        name: &str,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let (run_id, name) = (run_id.clone(), name.to_owned());
        self.reads
            .run(move |conn| read::list_repetitions(conn, &run_id, &name))
            .await
    }

    async fn get_repetition(
        &self,
        run_id: &RunId,
        name: &str,
        repetition: &RepetitionKey,
    ) -> Result<Option<ActionRecord>, StoreError> {
        let (run_id, name, repetition) = (run_id.clone(), name.to_owned(), repetition.clone());
        self.reads
            .run(move |conn| read::get_repetition(conn, &run_id, &name, &repetition))
            .await
    }

    async fn load_journal(&self, run_id: &RunId) -> Result<Vec<JournalEvent>, StoreError> {
        let run_id = run_id.clone();
        self.reads
            .run(move |conn| read::load_journal(conn, &run_id))
            .await
    }

    async fn list_trigger_histories(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        query: &HistoryQuery,
    ) -> Result<Page<TriggerHistoryRecord>, StoreError> {
        let (workflow, trigger, query) = (workflow.clone(), trigger.to_owned(), query.clone());
        self.reads
            .run(move |conn| read::list_trigger_histories(conn, &workflow, &trigger, &query))
            .await
    }

    async fn get_trigger_history(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        id: &RunId,
    ) -> Result<Option<TriggerHistoryRecord>, StoreError> {
        let (workflow, trigger, id) = (workflow.clone(), trigger.to_owned(), id.clone());
        self.reads
            .run(move |conn| read::get_trigger_history(conn, &workflow, &trigger, &id))
            .await
    }

    async fn get_trigger_state(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
    ) -> Result<Option<Value>, StoreError> {
        let (workflow, trigger) = (workflow.clone(), trigger.to_owned());
        self.reads
            .run(move |conn| read::get_trigger_state(conn, &workflow, &trigger))
            .await
    }

    async fn list_trigger_states(&self) -> Result<Vec<TriggerState>, StoreError> {
        self.reads.run(read::list_trigger_states).await
    }

    async fn get_workflow_version(
        &self,
        workflow: &WorkflowName,
        version_id: &str,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        let (workflow, version_id) = (workflow.clone(), version_id.to_owned());
        self.reads
            .run(move |conn| read::get_workflow_version(conn, &workflow, &version_id))
            .await
    }

    async fn list_workflow_versions(
        &self,
        workflow: &WorkflowName,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let workflow = workflow.clone();
        self.reads
            .run(move |conn| read::list_workflow_versions(conn, &workflow))
            .await
    }

    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (ns, key) = (ns.to_owned(), key.to_owned());
        self.reads
            .run(move |conn| read::kv_get(conn, &ns, &key))
            .await
    }

    async fn kv_list(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let ns = ns.to_owned();
        self.reads.run(move |conn| read::kv_list(conn, &ns)).await
    }

    async fn purge_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let deleted = self
            .submit(|reply| Job::Purge {
                cutoff,
                deleted: 0,
                reply,
            })
            .await?;
        if deleted > 0 {
            tracing::info!(deleted, %cutoff, "Purged finished runs");
        }
        Ok(deleted)
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (size, free) = self.reads.run(read::sizes).await?;
        let c = &self.counters;
        Ok(StoreStats {
            batches_committed: c.batches_committed.load(Ordering::Relaxed),
            batches_failed: c.batches_failed.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            pending: c.pending.load(Ordering::Relaxed),
            size_bytes: Some(size),
            free_bytes: Some(free),
        })
    }

    async fn close(&self) -> Result<(), StoreError> {
        let result = self.submit(|reply| Job::Close { reply }).await;
        self.reads.close();
        match result {
            Ok(()) | Err(StoreError::Closed { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }
}
