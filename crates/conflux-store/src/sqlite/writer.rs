//! The writer thread: the only owner of the write connection.
//!
//! Callers send jobs through a channel and await a oneshot reply. The thread
//! takes every job already waiting and commits all their batches in one
//! transaction (group commit). If a batch is refused, the group is applied
//! again with each batch inside its own savepoint, so that the refused batch
//! is rolled back alone. One fsync then covers many runs' steps.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::codec::{json, json_of, micros, opt_json, opt_micros};
use crate::batch::{KvWrite, RunTransition, TriggerStatePut};
use crate::model::{
    ActionRecord, ActionStatus, JournalEvent, RunRecord, RunStatus, TriggerHistoryRecord,
    WorkflowVersion,
};
use crate::{StoreError, WriteBatch};

/// Runs deleted per purge transaction, so commits are not held up for long.
const PURGE_CHUNK: i64 = 500;

/// Work for the writer thread.
pub(crate) enum Job {
    /// Commit a batch and report the outcome. A committed batch is handed
    /// back, so its memory is freed by the caller's thread that allocated it
    /// (freeing it here would make both threads contend for the allocator).
    Commit {
        batch: WriteBatch,
        reply: oneshot::Sender<Result<WriteBatch, StoreError>>,
    },
    /// Purge finished runs started before `cutoff`.
    Purge {
        cutoff: DateTime<Utc>,
        deleted: u64,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Finish the jobs queued before this one, refuse the rest, close the connection.
    Close {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Counters shared between the writer and [`crate::Store::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) batches_committed: AtomicU64,
    pub(crate) batches_failed: AtomicU64,
    pub(crate) transactions: AtomicU64,
    pub(crate) pending: AtomicU64,
}

/// Lets an operator (or a test) hold the writer before its next transaction.
#[derive(Debug, Default)]
pub(crate) struct PauseGate {
    holds: Mutex<u32>,
    released: Condvar,
}

impl PauseGate {
    pub(crate) fn hold(&self) {
        *self.holds.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    pub(crate) fn release(&self) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        *holds = holds.saturating_sub(1);
        self.released.notify_all();
    }

    fn wait_until_open(&self) {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        while *holds > 0 {
            holds = self.released.wait(holds).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The writer's state, living on its own thread.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) jobs: mpsc::Receiver<Job>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) gate: Arc<PauseGate>,
    pub(crate) max_group: usize,
}

impl Writer {
    /// Serves jobs until every sender is gone or a close is requested.
    pub(crate) fn run(mut self) {
        let mut queue: VecDeque<Job> = VecDeque::new();
        let close_reply = loop {
            if queue.is_empty() {
                match self.jobs.blocking_recv() {
                    Some(job) => queue.push_back(job),
                    None => break None,
                }
            }
            self.gate.wait_until_open();
            while let Ok(job) = self.jobs.try_recv() {
                queue.push_back(job);
            }
            let mut group = Vec::new();
            while group.len() < self.max_group && matches!(queue.front(), Some(Job::Commit { .. }))
            {
                if let Some(Job::Commit { batch, reply }) = queue.pop_front() {
                    group.push((batch, reply));
                }
            }
            if !group.is_empty() {
                self.commit_group(group);
                continue;
            }
            match queue.pop_front() {
                Some(Job::Purge {
                    cutoff,
                    deleted,
                    reply,
                }) => self.purge_step(&mut queue, cutoff, deleted, reply),
                Some(Job::Close { reply }) => {
                    self.reject_remaining(queue);
                    break Some(reply);
                }
                Some(Job::Commit { .. }) | None => {}
            }
        };
        // Close the connection before confirming, so a caller may reopen at once.
        drop(self.conn);
        if let Some(reply) = close_reply {
            self.counters.pending.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(Ok(()));
        }
        tracing::debug!("Store writer stopped");
    }

    /// One chunk of a purge; re-queues the purge behind waiting commits until done.
    fn purge_step(
        &mut self,
        queue: &mut VecDeque<Job>,
        cutoff: DateTime<Utc>,
        deleted: u64,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    ) {
        match self.purge_chunk(cutoff) {
            Ok(0) => {
                let result = if deleted > 0 {
                    self.reclaim_space().map(|()| deleted)
                } else {
                    Ok(deleted)
                };
                self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                let _ = reply.send(result);
            }
            Ok(n) => {
                while let Ok(job) = self.jobs.try_recv() {
                    queue.push_back(job);
                }
                queue.push_back(Job::Purge {
                    cutoff,
                    deleted: deleted + n,
                    reply,
                });
            }
            Err(e) => {
                self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                let _ = reply.send(Err(e));
            }
        }
    }

    /// Answers every job behind a close with `Closed`; nothing of them is written.
    fn reject_remaining(&mut self, mut queue: VecDeque<Job>) {
        self.jobs.close();
        while let Ok(job) = self.jobs.try_recv() {
            queue.push_back(job);
        }
        let closed = || StoreError::Closed {
            what: "the store was closed before this write; nothing was written".into(),
        };
        for job in queue {
            self.counters.pending.fetch_sub(1, Ordering::Relaxed);
            match job {
                Job::Commit { reply, .. } => {
                    let _ = reply.send(Err(closed()));
                }
                Job::Purge { reply, .. } => {
                    let _ = reply.send(Err(closed()));
                }
                Job::Close { reply } => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }

    fn commit_group(
        &mut self,
        group: Vec<(WriteBatch, oneshot::Sender<Result<WriteBatch, StoreError>>)>,
    ) {
        let count = group.len() as u64;
        let outcome = (|| {
            let mut tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| StoreError::sqlite("begin write transaction", e))?;
            // Batches are almost never refused, so first apply them all
            // straight into the transaction: a savepoint per batch costs a
            // copy of every page it touches. Only when one is refused is the
            // group redone with a savepoint per batch, so it fails alone.
            let straight = group
                .iter()
                .try_for_each(|(batch, _)| apply_batch(&tx, batch));
            let results = if straight.is_ok() {
                group.iter().map(|_| Ok(())).collect()
            } else {
                tx.rollback()
                    .map_err(|e| StoreError::sqlite("roll back write transaction", e))?;
                tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| StoreError::sqlite("begin write transaction", e))?;
                let mut results = Vec::with_capacity(group.len());
                for (batch, _) in &group {
                    results.push(apply_in_savepoint(&mut tx, batch));
                }
                results
            };
            tx.commit()
                .map_err(|e| StoreError::sqlite("commit write transaction", e))?;
            Ok::<_, StoreError>(results)
        })();
        self.counters
            .transactions
            .fetch_add(u64::from(outcome.is_ok()), Ordering::Relaxed);
        match outcome {
            Ok(results) => {
                for ((batch, reply), result) in group.into_iter().zip(results) {
                    let counter = if result.is_ok() {
                        &self.counters.batches_committed
                    } else {
                        &self.counters.batches_failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                    let _ = reply.send(result.map(|()| batch));
                }
            }
            Err(error) => {
                tracing::error!(%error, batches = count, "Store transaction failed; no batch of the group was written");
                self.counters
                    .batches_failed
                    .fetch_add(count, Ordering::Relaxed);
                for (_, reply) in group {
                    self.counters.pending.fetch_sub(1, Ordering::Relaxed);
                    let _ = reply.send(Err(copy_error(&error)));
                }
            }
        }
    }

    /// Deletes up to [`PURGE_CHUNK`] finished runs started before `cutoff`
    /// (with their actions, journals and trigger histories) in one transaction.
    fn purge_chunk(&mut self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let op = |e| StoreError::sqlite("purge old runs", e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(op)?;
        let finished = terminal_list(
            RunStatus::ALL
                .iter()
                .filter(|s| s.is_terminal())
                .map(|s| s.as_str()),
        );
        let chosen = format!("SELECT run_id FROM runs WHERE start_time < ?1 AND status IN ({finished}) ORDER BY run_id LIMIT ?2");
        let cutoff = micros(cutoff);
        tx.execute(
            &format!("DELETE FROM trigger_histories WHERE run_id IN ({chosen})"),
            params![cutoff, PURGE_CHUNK],
        )
        .map_err(op)?;
        let deleted = tx
            .execute(
                &format!("DELETE FROM runs WHERE run_id IN ({chosen})"),
                params![cutoff, PURGE_CHUNK],
            )
            .map_err(op)?;
        if deleted == 0 {
            // Entries without a run (skipped attempts) and entries whose run
            // is not kept (stateless runs are stored only when they fail) go
            // by age; an entry whose run is still stored goes with its run.
            tx.execute(
                "DELETE FROM trigger_histories WHERE start_time < ?1 AND (run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs WHERE runs.run_id = trigger_histories.run_id))",
                params![cutoff],
            )
            .map_err(op)?;
        }
        tx.commit().map_err(op)?;
        self.counters.transactions.fetch_add(1, Ordering::Relaxed);
        Ok(deleted as u64)
    }

    /// Returns pages freed by a purge to the file system, so the database
    /// file shrinks instead of only growing.
    fn reclaim_space(&mut self) -> Result<(), StoreError> {
        let op = |e| StoreError::sqlite("reclaim free pages", e);
        // The pragma frees one page per step, so it has to be stepped to the end.
        let mut stmt = self.conn.prepare("PRAGMA incremental_vacuum").map_err(op)?;
        let mut rows = stmt.query([]).map_err(op)?;
        while rows.next().map_err(op)?.is_some() {}
        Ok(())
    }
}

/// Applies one batch inside a savepoint of the group's transaction; on error
/// only this batch is rolled back.
fn apply_in_savepoint(tx: &mut Transaction<'_>, batch: &WriteBatch) -> Result<(), StoreError> {
    let sp = tx
        .savepoint()
        .map_err(|e| StoreError::sqlite("open batch savepoint", e))?;
    apply_batch(&sp, batch)?;
    sp.commit()
        .map_err(|e| StoreError::sqlite("release batch savepoint", e))
}

fn apply_batch(conn: &Connection, batch: &WriteBatch) -> Result<(), StoreError> {
    for version in &batch.workflow_versions {
        put_workflow_version(conn, version)?;
    }
    for run in &batch.new_runs {
        insert_run(conn, run)?;
    }
    for event in &batch.events {
        append_event(conn, event)?;
    }
    for action in &batch.actions {
        upsert_action(conn, action)?;
    }
    for transition in &batch.transitions {
        apply_transition(conn, transition)?;
    }
    for entry in &batch.trigger_histories {
        put_trigger_history(conn, entry)?;
    }
    for state in &batch.trigger_states {
        put_trigger_state(conn, state)?;
    }
    for write in &batch.kv {
        apply_kv(conn, write)?;
    }
    Ok(())
}

fn put_workflow_version(conn: &Connection, version: &WorkflowVersion) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO workflow_versions (workflow, version_id, definition, created) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (workflow, version_id) DO NOTHING",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![version.workflow.as_str(), version.version_id, json(&version.definition), micros(version.created)])
    })
    .map_err(|e| StoreError::sqlite(format!("store version {} of workflow {}", version.version_id, version.workflow), e))?;
    Ok(())
}

fn insert_run(conn: &Connection, run: &RunRecord) -> Result<(), StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO runs (run_id, workflow, version_id, trigger_name, status, code, error, start_time, end_time,
                               wait_end_time, client_tracking_id, trigger_record, outputs, response, stateless)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (run_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                run.run_id.as_str(),
                run.workflow.as_str(),
                run.version_id,
                run.trigger_name,
                run.status.as_str(),
                run.code,
                opt_json(run.error.as_ref()),
                micros(run.start_time),
                opt_micros(run.end_time),
                opt_micros(run.wait_end_time),
                run.client_tracking_id,
                json(&run.trigger),
                opt_json(run.outputs.as_ref()),
                opt_json(run.response.as_ref()),
                run.stateless,
            ])
        })
        .map_err(|e| StoreError::sqlite(format!("create run {}", run.run_id), e))?;
    if inserted == 0 {
        return Err(StoreError::Conflict {
            what: format!("run {} already exists", run.run_id),
        });
    }
    Ok(())
}

fn append_event(conn: &Connection, event: &JournalEvent) -> Result<(), StoreError> {
    let seq = i64::try_from(event.seq).map_err(|_| StoreError::InvalidInput {
        what: format!(
            "journal sequence number {} of run {} is too large",
            event.seq, event.run_id
        ),
    })?;
    conn.prepare_cached("INSERT INTO journal (run_id, seq, at, payload) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id, seq) DO NOTHING")
        .and_then(|mut stmt| stmt.execute(params![event.run_id.as_str(), seq, micros(event.at), json(&event.payload)]))
        .map_err(|e| missing_run(e, &event.run_id, || format!("append journal event {} of run {}", event.seq, event.run_id)))?;
    Ok(())
}

fn upsert_action(conn: &Connection, action: &ActionRecord) -> Result<(), StoreError> {
    let op = || {
        format!(
            "record action {} ({}) of run {}",
            action.name, action.repetition, action.run_id
        )
    };
    // Secured sections never reach the disk, whatever the caller passed.
    let inputs = if action.is_secured("inputs") {
        None
    } else {
        opt_json(action.inputs.as_ref())
    };
    let outputs = if action.is_secured("outputs") {
        None
    } else {
        opt_json(action.outputs.as_ref())
    };
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let final_statuses = terminal_list(ActionStatus::ALL.iter().filter(|s| s.is_terminal()).map(|s| s.as_str()));
        format!(
        "INSERT INTO actions ({cols}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT (run_id, name, repetition) DO UPDATE SET
             status = excluded.status, code = excluded.code, error = excluded.error,
             start_time = excluded.start_time, end_time = excluded.end_time,
             inputs = excluded.inputs, outputs = excluded.outputs, secured_sections = excluded.secured_sections,
             retry_history = excluded.retry_history, tracked_properties = excluded.tracked_properties,
             iteration_count = excluded.iteration_count, repetition_indexes = excluded.repetition_indexes,
             tracking_id = excluded.tracking_id
         WHERE actions.status NOT IN ({final_statuses})",
        cols = super::codec::ACTION_COLUMNS
    )
    });
    // A repetition written for the first time adds one to its summary's count
    // (kept incrementally: counting the rows on every write made a loop of n
    // items cost O(n²)).
    let new_repetition = !action.repetition.is_none()
        && conn
            .prepare_cached(
                "SELECT 1 FROM actions WHERE run_id = ?1 AND name = ?2 AND repetition = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![
                        action.run_id.as_str(),
                        action.name,
                        action.repetition.as_str()
                    ],
                    |_| Ok(()),
                )
                .optional()
            })
            .map_err(|e| StoreError::sqlite(op(), e))?
            .is_none();
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                action.run_id.as_str(),
                action.name,
                action.repetition.as_str(),
                action.status.as_str(),
                action.code,
                opt_json(action.error.as_ref()),
                opt_micros(action.start_time),
                opt_micros(action.end_time),
                inputs,
                outputs,
                json_of(&action.secured_sections),
                json_of(&action.retry_history),
                opt_json(action.tracked_properties.as_ref()),
                action.iteration_count,
                json_of(&action.repetition_indexes),
                action.tracking_id,
            ])
        })
        .map_err(|e| missing_run(e, &action.run_id, op))?;
    if changed == 0 || action.repetition.is_none() {
        return Ok(());
    }
    // The summary mirrors the repetition just written; its inputs and outputs stay empty.
    conn.prepare_cached(
        "INSERT INTO actions (run_id, name, repetition, status, code, error, start_time, end_time,
                              secured_sections, retry_history, iteration_count, repetition_indexes)
         VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, ?7, '[]', '[]', ?8, '[]')
         ON CONFLICT (run_id, name, repetition) DO UPDATE SET
             status = excluded.status, code = excluded.code, error = excluded.error,
             start_time = COALESCE(actions.start_time, excluded.start_time), end_time = excluded.end_time,
             iteration_count = COALESCE(actions.iteration_count, 0) + ?8",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            action.run_id.as_str(),
            action.name,
            action.status.as_str(),
            action.code,
            opt_json(action.error.as_ref()),
            opt_micros(action.start_time),
            opt_micros(action.end_time),
            i64::from(new_repetition),
        ])
    })
    .map_err(|e| StoreError::sqlite(format!("update summary of action {} of run {}", action.name, action.run_id), e))?;
    Ok(())
}

fn apply_transition(conn: &Connection, t: &RunTransition) -> Result<(), StoreError> {
    let op = || format!("change status of run {} to {}", t.run_id, t.to);
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let unfinished = terminal_list(
            RunStatus::ALL
                .iter()
                .filter(|s| !s.is_terminal())
                .map(|s| s.as_str()),
        );
        format!(
            "UPDATE runs SET status = ?2, code = COALESCE(?3, code), error = COALESCE(?4, error),
             end_time = COALESCE(?5, end_time), wait_end_time = COALESCE(?6, wait_end_time),
             outputs = COALESCE(?7, outputs), response = COALESCE(?8, response),
             trigger_record = COALESCE(?9, trigger_record)
         WHERE run_id = ?1 AND status IN ({unfinished})"
        )
    });
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                t.run_id.as_str(),
                t.to.as_str(),
                t.code,
                opt_json(t.error.as_ref()),
                opt_micros(t.end_time),
                opt_micros(t.wait_end_time),
                opt_json(t.outputs.as_ref()),
                opt_json(t.response.as_ref()),
                opt_json(t.trigger.as_ref()),
            ])
        })
        .map_err(|e| StoreError::sqlite(op(), e))?;
    if changed > 0 {
        return Ok(());
    }
    let current: Option<String> = conn
        .query_row(
            "SELECT status FROM runs WHERE run_id = ?1",
            params![t.run_id.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| StoreError::sqlite(op(), e))?;
    match current {
        None => Err(StoreError::NotFound {
            what: format!("run {}", t.run_id),
        }),
        Some(status) if status == t.to.as_str() => Ok(()),
        Some(status) => Err(StoreError::Conflict {
            what: format!(
                "run {} already finished as {status}; it cannot change to {}",
                t.run_id, t.to
            ),
        }),
    }
}

fn put_trigger_history(conn: &Connection, h: &TriggerHistoryRecord) -> Result<(), StoreError> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
        "INSERT INTO trigger_histories ({cols}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (workflow, trigger_name, id) DO UPDATE SET
             status = excluded.status, code = excluded.code, error = excluded.error, start_time = excluded.start_time,
             end_time = excluded.end_time, fired = excluded.fired, run_id = excluded.run_id,
             inputs = excluded.inputs, outputs = excluded.outputs",
        cols = super::codec::HISTORY_COLUMNS
        )
    });
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                h.workflow.as_str(),
                h.trigger,
                h.id.as_str(),
                h.status.as_str(),
                h.code,
                opt_json(h.error.as_ref()),
                micros(h.start_time),
                opt_micros(h.end_time),
                h.fired,
                h.run_id.as_ref().map(|r| r.as_str()),
                opt_json(h.inputs.as_ref()),
                opt_json(h.outputs.as_ref()),
            ])
        })
        .map_err(|e| {
            StoreError::sqlite(
                format!(
                    "record history {} of trigger {} of workflow {}",
                    h.id, h.trigger, h.workflow
                ),
                e,
            )
        })?;
    Ok(())
}

fn put_trigger_state(conn: &Connection, put: &TriggerStatePut) -> Result<(), StoreError> {
    let op = |e| {
        StoreError::sqlite(
            format!(
                "store state of trigger {} of workflow {}",
                put.trigger, put.workflow
            ),
            e,
        )
    };
    match &put.state {
        Some(state) => conn
            .prepare_cached(
                "INSERT INTO trigger_state (workflow, trigger_name, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workflow, trigger_name) DO UPDATE SET state = excluded.state",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![put.workflow.as_str(), put.trigger, json(state)])
            }),
        None => conn
            .prepare_cached("DELETE FROM trigger_state WHERE workflow = ?1 AND trigger_name = ?2")
            .and_then(|mut stmt| stmt.execute(params![put.workflow.as_str(), put.trigger])),
    }
    .map_err(op)?;
    Ok(())
}

fn apply_kv(conn: &Connection, write: &KvWrite) -> Result<(), StoreError> {
    match write {
        KvWrite::Put { ns, key, value } => conn
            .prepare_cached("INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value")
            .and_then(|mut stmt| stmt.execute(params![ns, key, value]))
            .map_err(|e| StoreError::sqlite(format!("store key {key} in namespace {ns}"), e)),
        KvWrite::Delete { ns, key } => conn
            .prepare_cached("DELETE FROM kv WHERE ns = ?1 AND key = ?2")
            .and_then(|mut stmt| stmt.execute(params![ns, key]))
            .map_err(|e| StoreError::sqlite(format!("delete key {key} in namespace {ns}"), e)),
    }?;
    Ok(())
}

/// `'A', 'B'` for an SQL `IN` list of status names (constants, never user input).
fn terminal_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A foreign-key failure means the run does not exist; anything else is a database error.
fn missing_run(
    error: rusqlite::Error,
    run_id: &crate::RunId,
    op: impl FnOnce() -> String,
) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &error {
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
            return StoreError::NotFound {
                what: format!("run {run_id} (while trying to {})", op()),
            };
        }
    }
    StoreError::sqlite(op(), error)
}

/// The same failure for each caller of a failed group (SQLite errors are not `Clone`).
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Sqlite {
            op,
            source: rusqlite::Error::SqliteFailure(code, message),
        } => StoreError::Sqlite {
            op: op.clone(),
            source: rusqlite::Error::SqliteFailure(*code, message.clone()),
        },
        other => StoreError::Closed {
            what: format!("the group transaction failed: {other}"),
        },
    }
}
