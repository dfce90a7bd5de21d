//! Read queries, run on pooled read-only connections inside blocking tasks.

use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, Row};
use tokio::sync::Semaphore;

use super::codec::{
    decode_action, decode_event, decode_run, decode_stored_trigger_state, decode_trigger_history,
    decode_trigger_state, decode_workflow_version, micros, ACTION_COLUMNS, HISTORY_COLUMNS,
    RUN_COLUMNS,
};
use super::Location;
use crate::model::{
    ActionRecord, JournalEvent, RepetitionKey, RunId, RunRecord, RunStatus, TriggerHistoryRecord,
    TriggerState, WorkflowName, WorkflowVersion,
};
use crate::query::{page_size, ContinuationToken, HistoryQuery, Page, RunQuery};
use crate::StoreError;

/// Read connections kept open between queries, opened lazily.
pub(crate) struct ReadPool {
    location: Location,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn new(location: Location, size: usize) -> Self {
        Self {
            location,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Runs `query` on a read connection in a blocking task, at most `size` at a time.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed {
                what: "the store was closed".into(),
            })?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.take()?;
            let result = query(&conn);
            // A read that outlived close() drops its connection instead of keeping it.
            if !pool.permits.is_closed() {
                pool.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Closed {
            what: format!("read task stopped: {e}"),
        })?
    }

    /// Refuses further reads and closes the idle connections.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = self.location.connect()?;
        conn.execute_batch("PRAGMA query_only = ON")
            .map_err(|e| StoreError::sqlite("configure read connection", e))?;
        Ok(conn)
    }
}

/// Collects the rows of a query through `decode`.
fn collect<T>(
    conn: &Connection,
    op: &str,
    sql: &str,
    params: impl rusqlite::Params,
    decode: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let fail = |e| StoreError::sqlite(op, e);
    let mut stmt = conn.prepare_cached(sql).map_err(fail)?;
    let mut rows = stmt.query(params).map_err(fail)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(fail)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Turns `top + 1` fetched rows into a page and the token for the next one.
fn into_page<T>(mut items: Vec<T>, size: u32, id_of: fn(&T) -> &RunId) -> Page<T> {
    let more = items.len() > size as usize;
    items.truncate(size as usize);
    let next = if more {
        items
            .last()
            .map(|last| ContinuationToken::after(id_of(last)))
    } else {
        None
    };
    Page { items, next }
}

pub(crate) fn get_run(conn: &Connection, run_id: &RunId) -> Result<Option<RunRecord>, StoreError> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?1");
    Ok(collect(
        conn,
        &format!("read run {run_id}"),
        &sql,
        params![run_id.as_str()],
        decode_run,
    )?
    .pop())
}

pub(crate) fn list_runs(
    conn: &Connection,
    workflow: &WorkflowName,
    query: &RunQuery,
) -> Result<Page<RunRecord>, StoreError> {
    let size = page_size(query.top);
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE workflow = ?");
    let mut args = vec![SqlValue::Text(workflow.as_str().to_owned())];
    if let Some(status) = query.status {
        sql.push_str(" AND status = ?");
        args.push(SqlValue::Text(status.as_str().to_owned()));
    }
    if let Some(after) = query.started_after {
        sql.push_str(" AND start_time >= ?");
        args.push(SqlValue::Integer(micros(after)));
    }
    if let Some(before) = query.started_before {
        sql.push_str(" AND start_time < ?");
        args.push(SqlValue::Integer(micros(before)));
    }
    if let Some(token) = &query.continuation {
        sql.push_str(" AND run_id > ?");
        args.push(SqlValue::Text(token.last_id()?.as_str().to_owned()));
    }
    sql.push_str(" ORDER BY run_id LIMIT ?");
    args.push(SqlValue::Integer(i64::from(size) + 1));
    let runs = collect(
        conn,
        &format!("list runs of workflow {workflow}"),
        &sql,
        params_from_iter(args),
        decode_run,
    )?;
    Ok(into_page(runs, size, |run| &run.run_id))
}

pub(crate) fn count_runs(
    conn: &Connection,
    workflow: &WorkflowName,
    status: Option<RunStatus>,
) -> Result<u64, StoreError> {
    let sql = "SELECT COUNT(*) FROM runs WHERE workflow = ?1 AND (?2 IS NULL OR status = ?2)";
    let op = format!("count runs of workflow {workflow}");
    let count: i64 = conn
        .query_row(
            sql,
            params![workflow.as_str(), status.map(|s| s.as_str())],
            |row| row.get(0),
        )
        .map_err(|e| StoreError::sqlite(op, e))?;
    Ok(count.max(0) as u64)
}

pub(crate) fn incomplete_runs(conn: &Connection) -> Result<Vec<RunRecord>, StoreError> {
    let sql =
        format!("SELECT {RUN_COLUMNS} FROM runs WHERE status IN (?1, ?2) ORDER BY run_id DESC");
    collect(
        conn,
        "list incomplete runs",
        &sql,
        params![RunStatus::Waiting.as_str(), RunStatus::Running.as_str()],
        decode_run,
    )
}

pub(crate) fn list_actions(
    conn: &Connection,
    run_id: &RunId,
) -> Result<Vec<ActionRecord>, StoreError> {
    let sql = format!("SELECT {ACTION_COLUMNS} FROM actions WHERE run_id = ?1 AND repetition = '' ORDER BY start_time ASC NULLS LAST, name");
    collect(
        conn,
        &format!("list actions of run {run_id}"),
        &sql,
        params![run_id.as_str()],
        decode_action,
    )
}

pub(crate) fn list_repetitions(
    conn: &Connection,
    run_id: &RunId,
    name: &str,
) -> Result<Vec<ActionRecord>, StoreError> {
    let sql = format!("SELECT {ACTION_COLUMNS} FROM actions WHERE run_id = ?1 AND name = ?2 AND repetition <> '' ORDER BY repetition");
    collect(
        conn,
        &format!("list repetitions of action {name} of run {run_id}"),
        &sql,
        params![run_id.as_str(), name],
        decode_action,
    )
}

pub(crate) fn get_repetition(
    conn: &Connection,
    run_id: &RunId,
    name: &str,
    repetition: &RepetitionKey,
) -> Result<Option<ActionRecord>, StoreError> {
    let sql = format!(
        "SELECT {ACTION_COLUMNS} FROM actions WHERE run_id = ?1 AND name = ?2 AND repetition = ?3"
    );
    let op = format!("read action {name} ({repetition}) of run {run_id}");
    Ok(collect(
        conn,
        &op,
        &sql,
        params![run_id.as_str(), name, repetition.as_str()],
        decode_action,
    )?
    .pop())
}

pub(crate) fn load_journal(
    conn: &Connection,
    run_id: &RunId,
) -> Result<Vec<JournalEvent>, StoreError> {
    let sql = "SELECT run_id, seq, at, payload FROM journal WHERE run_id = ?1 ORDER BY seq";
    collect(
        conn,
        &format!("load journal of run {run_id}"),
        sql,
        params![run_id.as_str()],
        decode_event,
    )
}

pub(crate) fn list_trigger_histories(
    conn: &Connection,
    workflow: &WorkflowName,
    trigger: &str,
    query: &HistoryQuery,
) -> Result<Page<TriggerHistoryRecord>, StoreError> {
    let size = page_size(query.top);
    let after = match &query.continuation {
        Some(token) => Some(token.last_id()?),
        None => None,
    };
    let sql = format!(
        "SELECT {HISTORY_COLUMNS} FROM trigger_histories
         WHERE workflow = ?1 AND trigger_name = ?2 AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?4"
    );
    let op = format!("list histories of trigger {trigger} of workflow {workflow}");
    let args = params![
        workflow.as_str(),
        trigger,
        after.as_ref().map(|a| a.as_str()),
        i64::from(size) + 1
    ];
    let entries = collect(conn, &op, &sql, args, decode_trigger_history)?;
    Ok(into_page(entries, size, |entry| &entry.id))
}

pub(crate) fn get_trigger_history(
    conn: &Connection,
    workflow: &WorkflowName,
    trigger: &str,
    id: &RunId,
) -> Result<Option<TriggerHistoryRecord>, StoreError> {
    let sql = format!("SELECT {HISTORY_COLUMNS} FROM trigger_histories WHERE workflow = ?1 AND trigger_name = ?2 AND id = ?3");
    let op = format!("read history {id} of trigger {trigger} of workflow {workflow}");
    Ok(collect(
        conn,
        &op,
        &sql,
        params![workflow.as_str(), trigger, id.as_str()],
        decode_trigger_history,
    )?
    .pop())
}

pub(crate) fn get_trigger_state(
    conn: &Connection,
    workflow: &WorkflowName,
    trigger: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let sql =
        "SELECT trigger_name, state FROM trigger_state WHERE workflow = ?1 AND trigger_name = ?2";
    let op = format!("read state of trigger {trigger} of workflow {workflow}");
    Ok(collect(
        conn,
        &op,
        sql,
        params![workflow.as_str(), trigger],
        decode_trigger_state,
    )?
    .pop())
}

pub(crate) fn list_trigger_states(conn: &Connection) -> Result<Vec<TriggerState>, StoreError> {
    let sql =
        "SELECT workflow, trigger_name, state FROM trigger_state ORDER BY workflow, trigger_name";
    collect(
        conn,
        "list trigger states",
        sql,
        [],
        decode_stored_trigger_state,
    )
}

pub(crate) fn get_workflow_version(
    conn: &Connection,
    workflow: &WorkflowName,
    version_id: &str,
) -> Result<Option<WorkflowVersion>, StoreError> {
    let sql = "SELECT workflow, version_id, definition, created FROM workflow_versions WHERE workflow = ?1 AND version_id = ?2";
    let op = format!("read version {version_id} of workflow {workflow}");
    Ok(collect(
        conn,
        &op,
        sql,
        params![workflow.as_str(), version_id],
        decode_workflow_version,
    )?
    .pop())
}

pub(crate) fn list_workflow_versions(
    conn: &Connection,
    workflow: &WorkflowName,
) -> Result<Vec<WorkflowVersion>, StoreError> {
    let sql = "SELECT workflow, version_id, definition, created FROM workflow_versions WHERE workflow = ?1 ORDER BY created DESC, version_id DESC";
    let op = format!("list versions of workflow {workflow}");
    collect(
        conn,
        &op,
        sql,
        params![workflow.as_str()],
        decode_workflow_version,
    )
}

pub(crate) fn kv_get(
    conn: &Connection,
    ns: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let op = format!("read key {key} in namespace {ns}");
    let mut found = collect(
        conn,
        &op,
        "SELECT value FROM kv WHERE ns = ?1 AND key = ?2",
        params![ns, key],
        |row| {
            row.get::<_, Vec<u8>>(0).map_err(|e| StoreError::Corrupt {
                what: format!("kv.value: {e}"),
            })
        },
    )?;
    Ok(found.pop())
}

pub(crate) fn kv_list(conn: &Connection, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let op = format!("list namespace {ns}");
    collect(
        conn,
        &op,
        "SELECT key, value FROM kv WHERE ns = ?1 ORDER BY key",
        params![ns],
        |row| {
            let key: String = row.get(0).map_err(|e| StoreError::Corrupt {
                what: format!("kv.key: {e}"),
            })?;
            let value: Vec<u8> = row.get(1).map_err(|e| StoreError::Corrupt {
                what: format!("kv.value of {key}: {e}"),
            })?;
            Ok((key, value))
        },
    )
}

/// `(size, free)` of the database in bytes.
pub(crate) fn sizes(conn: &Connection) -> Result<(u64, u64), StoreError> {
    let pragma = |name: &str| -> Result<u64, StoreError> {
        conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| StoreError::sqlite(format!("read {name}"), e))
    };
    let page_size = pragma("page_size")?;
    Ok((
        pragma("page_count")? * page_size,
        pragma("freelist_count")? * page_size,
    ))
}
