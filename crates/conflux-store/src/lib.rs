//! Run history, journal and trigger state storage for Conflux.
//!
//! The [`Store`] trait is everything the engine and the server know about
//! persistence: the engine commits one [`WriteBatch`] per step (new runs,
//! journal events, action results, checked run status changes, trigger
//! histories and trigger state) and the server reads run history back. The
//! embedded backend is [`SqliteStore`]: one writer thread that group-commits
//! every batch waiting for it in a single transaction, and a small pool of
//! read connections used from blocking tasks. A PostgreSQL backend implements
//! the same trait.
//!
//! Choices every backend keeps:
//!
//! - **Ids sort newest first.** [`RunId::generate`] inverts the start time, so
//!   listing by ascending id is listing by descending start time, and a
//!   [`ContinuationToken`] is just the last id of a page.
//! - **Finished is final.** A [`RunTransition`] applies only to a `Waiting` or
//!   `Running` run (checked in the `UPDATE`), and an action record with a
//!   terminal status ignores later upserts; repeating the same final status
//!   is accepted, so replaying a step after a crash is harmless.
//! - **A batch is atomic.** A refused part rolls back the whole batch and only
//!   that batch, even when the writer commits it together with others.
//! - **Journals are append-only and idempotent** per `(run_id, seq)`.
//! - **Looped actions** are written per repetition; the store maintains their
//!   summary record (see [`WriteBatch::upsert_action`]).
//! - **Secured sections** (`secured_sections`) are dropped before writing.
//! - Instants are stored as integer microseconds since the epoch, JSON as text.
//!
//! ```
//! use std::sync::Arc;
//! use chrono::Utc;
//! use conflux_store::{
//!     RunId, RunRecord, RunStatus, RunTransition, SqliteStore, Store, WorkflowName, WriteBatch,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), conflux_store::StoreError> {
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await?);
//! let now = Utc::now();
//! let run_id = RunId::generate(now);
//!
//! let mut batch = WriteBatch::new();
//! batch.create_run(RunRecord::new(run_id.clone(), WorkflowName::new("orders"), "v1", "manual", now));
//! batch.transition(RunTransition::new(run_id.clone(), RunStatus::Succeeded));
//! store.commit(batch).await?;
//!
//! let run = store.get_run(&run_id).await?.expect("the run was committed");
//! assert_eq!(run.status, RunStatus::Succeeded);
//!
//! // A finished run never changes status again.
//! let mut late = WriteBatch::new();
//! late.transition(RunTransition::new(run_id.clone(), RunStatus::Failed));
//! assert!(store.commit(late).await.is_err());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod batch;
mod error;
mod model;
mod query;
mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use batch::{KvWrite, RunTransition, TriggerStatePut, WriteBatch};
pub use error::StoreError;
pub use model::{
    ActionRecord, ActionStatus, JournalEvent, RepetitionKey, RunId, RunRecord, RunStatus,
    TriggerHistoryRecord, TriggerState, WorkflowName, WorkflowVersion,
};
pub use query::{
    page_size, ContinuationToken, HistoryQuery, Page, RunQuery, StoreStats, DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
};
pub use sqlite::{SqliteConfig, SqliteStore, Synchronous, WriterPause};

/// Default retention of finished runs, in days (see [`Store::purge_older_than`]).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Persistent state of Conflux: run history, journals, trigger histories and
/// state, workflow versions and a key-value area. Shared as `Arc<dyn Store>`.
///
/// Reads return `Ok(None)` (or an empty list) for records that do not exist.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Writes `batch` atomically and returns once it is durable.
    ///
    /// Errors roll back the whole batch (other callers' batches are not
    /// affected): [`StoreError::Conflict`] for a refused [`RunTransition`] or
    /// an already existing run id, [`StoreError::NotFound`] for a transition,
    /// event or action of a run that does not exist.
    async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// One run by id.
    async fn get_run(&self, run_id: &RunId) -> Result<Option<RunRecord>, StoreError>;

    /// Runs of `workflow`, newest first, filtered and paged by `query`.
    async fn list_runs(
        &self,
        workflow: &WorkflowName,
        query: &RunQuery,
    ) -> Result<Page<RunRecord>, StoreError>;

    /// How many runs `workflow` has, optionally only those with `status`
    /// (e.g. `Waiting` runs, to enforce the waiting-runs limit).
    async fn count_runs(
        &self,
        workflow: &WorkflowName,
        status: Option<RunStatus>,
    ) -> Result<u64, StoreError>;

    /// Every run still `Waiting` or `Running` (any workflow), oldest first:
    /// what to resume at start-up.
    async fn incomplete_runs(&self) -> Result<Vec<RunRecord>, StoreError>;

    /// The top-level action records of a run (empty repetition key: actions
    /// outside loops and the summaries of looped actions), by start time.
    async fn list_actions(&self, run_id: &RunId) -> Result<Vec<ActionRecord>, StoreError>;

    /// The top-level record of one action.
    async fn get_action(
        &self,
        run_id: &RunId,
        name: &str,
    ) -> Result<Option<ActionRecord>, StoreError> {
        self.get_repetition(run_id, name, &RepetitionKey::none())
            .await
    }

    /// The repetition records of an action inside loops, in repetition-key order.
    async fn list_repetitions(
        &self,
        run_id: &RunId,
        name: &str,
    ) -> Result<Vec<ActionRecord>, StoreError>;

    /// One record of an action by repetition key (the empty key gives the top-level record).
    async fn get_repetition(
        &self,
        run_id: &RunId,
        name: &str,
        repetition: &RepetitionKey,
    ) -> Result<Option<ActionRecord>, StoreError>;

    /// The journal of a run in `seq` order.
    async fn load_journal(&self, run_id: &RunId) -> Result<Vec<JournalEvent>, StoreError>;

    /// History entries of one trigger, newest first.
    async fn list_trigger_histories(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        query: &HistoryQuery,
    ) -> Result<Page<TriggerHistoryRecord>, StoreError>;

    /// One trigger history entry.
    async fn get_trigger_history(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        id: &RunId,
    ) -> Result<Option<TriggerHistoryRecord>, StoreError>;

    /// The stored state of a trigger (polling cursor, next occurrence, ...).
    async fn get_trigger_state(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
    ) -> Result<Option<Value>, StoreError>;

    /// Every stored trigger state, of hosted workflows and of any others the
    /// store still has (a workflow folder removed since), by workflow and trigger.
    async fn list_trigger_states(&self) -> Result<Vec<TriggerState>, StoreError>;

    /// Sets (`Some`) or clears (`None`) a trigger's state; a one-item [`WriteBatch`].
    async fn put_trigger_state(
        &self,
        workflow: &WorkflowName,
        trigger: &str,
        state: Option<Value>,
    ) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.put_trigger_state(workflow.clone(), trigger, state);
        self.commit(batch).await
    }

    /// Records a workflow version (keeping an existing one with the same id).
    async fn put_workflow_version(&self, version: WorkflowVersion) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.put_workflow_version(version);
        self.commit(batch).await
    }

    /// One workflow version.
    async fn get_workflow_version(
        &self,
        workflow: &WorkflowName,
        version_id: &str,
    ) -> Result<Option<WorkflowVersion>, StoreError>;

    /// Every stored version of `workflow`, newest first (by when each was
    /// first stored; ties by descending version id).
    async fn list_workflow_versions(
        &self,
        workflow: &WorkflowName,
    ) -> Result<Vec<WorkflowVersion>, StoreError>;

    /// The value stored under `(ns, key)`.
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under `(ns, key)`; a one-item [`WriteBatch`].
    async fn kv_put(&self, ns: &str, key: &str, value: Vec<u8>) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.kv_put(ns, key, value);
        self.commit(batch).await
    }

    /// Removes `(ns, key)` if present; a one-item [`WriteBatch`].
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        batch.kv_delete(ns, key);
        self.commit(batch).await
    }

    /// Every entry of a namespace, ordered by key.
    async fn kv_list(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;

    /// Deletes finished runs started before `cutoff`, with their actions,
    /// journals and trigger histories (and unfired trigger histories older
    /// than `cutoff`), then returns freed space to the file system. Returns
    /// the number of runs deleted. Call periodically, e.g. with
    /// now − [`DEFAULT_RETENTION_DAYS`].
    async fn purge_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Counters and sizes for monitoring.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Finishes the writes submitted so far, then closes the database; later
    /// calls fail with [`StoreError::Closed`]. Call at shutdown. Closing twice is fine.
    async fn close(&self) -> Result<(), StoreError>;
}
