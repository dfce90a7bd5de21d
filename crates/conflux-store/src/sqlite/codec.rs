//! Conversions between records and SQL columns.
//!
//! Decoding failures become [`StoreError::Corrupt`] naming the table, column
//! and record, never the stored content.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use serde_json::Value;

use crate::model::{
    ActionRecord, JournalEvent, RepetitionKey, RunId, RunRecord, TriggerHistoryRecord,
    TriggerState, WorkflowName, WorkflowVersion,
};
use crate::StoreError;

/// Columns of `runs`, in the order [`decode_run`] reads them.
pub(crate) const RUN_COLUMNS: &str =
    "run_id, workflow, version_id, trigger_name, status, code, error, start_time, end_time, \
     wait_end_time, client_tracking_id, trigger_record, outputs, response, stateless";

/// Columns of `actions`, in the order [`decode_action`] reads them.
pub(crate) const ACTION_COLUMNS: &str = "run_id, name, repetition, status, code, error, start_time, end_time, inputs, outputs, \
     secured_sections, retry_history, tracked_properties, iteration_count, repetition_indexes, tracking_id";

/// Columns of `trigger_histories`, in the order [`decode_trigger_history`] reads them.
pub(crate) const HISTORY_COLUMNS: &str =
    "workflow, trigger_name, id, status, code, error, start_time, end_time, fired, run_id, inputs, outputs";

/// Microseconds since the epoch, the stored form of every instant.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Optional instant as stored.
pub(crate) fn opt_micros(at: Option<DateTime<Utc>>) -> Option<i64> {
    at.map(micros)
}

/// JSON text of a value. `to_string` would go through `Display`, which
/// writes piece by piece through a formatter and is measurably slower.
pub(crate) fn json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// JSON text of an optional value.
pub(crate) fn opt_json(value: Option<&Value>) -> Option<String> {
    value.map(json)
}

/// JSON text of any serialisable list (our own column formats).
pub(crate) fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Reads columns of one row, turning every failure into a `Corrupt` error
/// that names the table, the record and the column.
pub(crate) struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    table: &'static str,
    record: String,
}

impl<'a, 'r> Columns<'a, 'r> {
    fn new(row: &'a Row<'r>, table: &'static str, key_column: usize) -> Self {
        let record = row
            .get::<_, String>(key_column)
            .unwrap_or_else(|_| "?".to_owned());
        Self { row, table, record }
    }

    fn corrupt(&self, column: usize, problem: impl std::fmt::Display) -> StoreError {
        let name = self.row.as_ref().column_name(column).unwrap_or("?");
        StoreError::Corrupt {
            what: format!("{}.{} of {}: {problem}", self.table, name, self.record),
        }
    }

    fn get<T: rusqlite::types::FromSql>(&self, column: usize) -> Result<T, StoreError> {
        self.row.get(column).map_err(|e| self.corrupt(column, e))
    }

    fn text(&self, column: usize) -> Result<String, StoreError> {
        self.get(column)
    }

    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        self.get(column)
    }

    fn parsed<T: std::str::FromStr>(&self, column: usize) -> Result<T, StoreError> {
        let text = self.text(column)?;
        text.parse()
            .map_err(|_| self.corrupt(column, "unknown value"))
    }

    fn time(&self, column: usize) -> Result<DateTime<Utc>, StoreError> {
        let micros: i64 = self.get(column)?;
        DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| self.corrupt(column, "timestamp out of range"))
    }

    fn opt_time(&self, column: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self.get::<Option<i64>>(column)? {
            None => Ok(None),
            Some(micros) => DateTime::from_timestamp_micros(micros)
                .map(Some)
                .ok_or_else(|| self.corrupt(column, "timestamp out of range")),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, column: usize) -> Result<T, StoreError> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|e| {
            self.corrupt(
                column,
                format!("invalid JSON at line {} column {}", e.line(), e.column()),
            )
        })
    }

    fn opt_json(&self, column: usize) -> Result<Option<Value>, StoreError> {
        match self.opt_text(column)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                self.corrupt(
                    column,
                    format!("invalid JSON at line {} column {}", e.line(), e.column()),
                )
            }),
        }
    }

    fn flag(&self, column: usize) -> Result<bool, StoreError> {
        Ok(self.get::<i64>(column)? != 0)
    }
}

/// A `runs` row selected with [`RUN_COLUMNS`].
pub(crate) fn decode_run(row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let c = Columns::new(row, "runs", 0);
    Ok(RunRecord {
        run_id: RunId::new(c.text(0)?),
        workflow: WorkflowName::new(c.text(1)?),
        version_id: c.text(2)?,
        trigger_name: c.text(3)?,
        status: c.parsed(4)?,
        code: c.opt_text(5)?,
        error: c.opt_json(6)?,
        start_time: c.time(7)?,
        end_time: c.opt_time(8)?,
        wait_end_time: c.opt_time(9)?,
        client_tracking_id: c.opt_text(10)?,
        trigger: c.json(11)?,
        outputs: c.opt_json(12)?,
        response: c.opt_json(13)?,
        stateless: c.flag(14)?,
    })
}

/// An `actions` row selected with [`ACTION_COLUMNS`].
pub(crate) fn decode_action(row: &Row<'_>) -> Result<ActionRecord, StoreError> {
    let c = Columns::new(row, "actions", 1);
    let iteration_count = match c.get::<Option<i64>>(13)? {
        None => None,
        Some(n) => {
            Some(u32::try_from(n).map_err(|_| c.corrupt(13, "iteration count out of range"))?)
        }
    };
    Ok(ActionRecord {
        run_id: RunId::new(c.text(0)?),
        name: c.text(1)?,
        repetition: RepetitionKey::parse(&c.text(2)?)
            .map_err(|_| c.corrupt(2, "malformed repetition key"))?,
        status: c.parsed(3)?,
        code: c.opt_text(4)?,
        error: c.opt_json(5)?,
        start_time: c.opt_time(6)?,
        end_time: c.opt_time(7)?,
        inputs: c.opt_json(8)?,
        outputs: c.opt_json(9)?,
        secured_sections: c.json(10)?,
        retry_history: c.json(11)?,
        tracked_properties: c.opt_json(12)?,
        iteration_count,
        repetition_indexes: c.json(14)?,
        tracking_id: c.opt_text(15)?,
    })
}

/// A `journal` row selected as `run_id, seq, at, payload`.
pub(crate) fn decode_event(row: &Row<'_>) -> Result<JournalEvent, StoreError> {
    let c = Columns::new(row, "journal", 0);
    let seq: i64 = c.get(1)?;
    Ok(JournalEvent {
        run_id: RunId::new(c.text(0)?),
        seq: u64::try_from(seq).map_err(|_| c.corrupt(1, "negative sequence number"))?,
        at: c.time(2)?,
        payload: c.json(3)?,
    })
}

/// A `trigger_histories` row selected with [`HISTORY_COLUMNS`].
pub(crate) fn decode_trigger_history(row: &Row<'_>) -> Result<TriggerHistoryRecord, StoreError> {
    let c = Columns::new(row, "trigger_histories", 2);
    Ok(TriggerHistoryRecord {
        workflow: WorkflowName::new(c.text(0)?),
        trigger: c.text(1)?,
        id: RunId::new(c.text(2)?),
        status: c.parsed(3)?,
        code: c.opt_text(4)?,
        error: c.opt_json(5)?,
        start_time: c.time(6)?,
        end_time: c.opt_time(7)?,
        fired: c.flag(8)?,
        run_id: c.opt_text(9)?.map(RunId::new),
        inputs: c.opt_json(10)?,
        outputs: c.opt_json(11)?,
    })
}

/// A `workflow_versions` row selected as `workflow, version_id, definition, created`.
pub(crate) fn decode_workflow_version(row: &Row<'_>) -> Result<WorkflowVersion, StoreError> {
    let c = Columns::new(row, "workflow_versions", 1);
    Ok(WorkflowVersion {
        workflow: WorkflowName::new(c.text(0)?),
        version_id: c.text(1)?,
        definition: c.json(2)?,
        created: c.time(3)?,
    })
}

/// A `trigger_state` row selected as `workflow, trigger_name, state`.
pub(crate) fn decode_stored_trigger_state(row: &Row<'_>) -> Result<TriggerState, StoreError> {
    let c = Columns::new(row, "trigger_state", 1);
    Ok(TriggerState {
        workflow: WorkflowName::new(c.text(0)?),
        trigger: c.text(1)?,
        state: c.json(2)?,
    })
}

/// A `trigger_state` row selected as `trigger_name, state`.
pub(crate) fn decode_trigger_state(row: &Row<'_>) -> Result<Value, StoreError> {
    Columns::new(row, "trigger_state", 0).json(1)
}
