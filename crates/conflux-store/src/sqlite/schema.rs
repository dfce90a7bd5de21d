//! The SQLite schema and its numbered migrations.
//!
//! Timestamps are integer microseconds since the Unix epoch (`BIGINT`), JSON
//! is stored as text, and statuses as their PascalCase names, so the same
//! statements work on PostgreSQL with only column types changed.

use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

/// Migrations in order; migration `n` (1-based) brings the schema to version `n`.
/// Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "
    CREATE TABLE workflow_versions (
        workflow    TEXT   NOT NULL,
        version_id  TEXT   NOT NULL,
        definition  TEXT   NOT NULL,
        created     BIGINT NOT NULL,
        PRIMARY KEY (workflow, version_id)
    );

    CREATE TABLE runs (
        run_id             TEXT    NOT NULL PRIMARY KEY,
        workflow           TEXT    NOT NULL,
        version_id         TEXT    NOT NULL,
        trigger_name       TEXT    NOT NULL,
        status             TEXT    NOT NULL,
        code               TEXT,
        error              TEXT,
        start_time         BIGINT  NOT NULL,
        end_time           BIGINT,
        wait_end_time      BIGINT,
        client_tracking_id TEXT,
        trigger_record     TEXT    NOT NULL,
        outputs            TEXT,
        response           TEXT,
        stateless          INTEGER NOT NULL
    );
    CREATE INDEX runs_by_workflow ON runs (workflow, run_id);
    CREATE INDEX runs_by_workflow_status ON runs (workflow, status, run_id);
    CREATE INDEX runs_by_status ON runs (status, run_id);
    CREATE INDEX runs_by_start ON runs (start_time);

    CREATE TABLE actions (
        run_id             TEXT    NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        name               TEXT    NOT NULL,
        repetition         TEXT    NOT NULL,
        status             TEXT    NOT NULL,
        code               TEXT,
        error              TEXT,
        start_time         BIGINT,
        end_time           BIGINT,
        inputs             TEXT,
        outputs            TEXT,
        secured_sections   TEXT    NOT NULL,
        retry_history      TEXT    NOT NULL,
        tracked_properties TEXT,
        iteration_count    BIGINT,
        repetition_indexes TEXT    NOT NULL,
        tracking_id        TEXT,
        PRIMARY KEY (run_id, name, repetition)
    );

    CREATE TABLE journal (
        run_id  TEXT   NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        seq     BIGINT NOT NULL,
        at      BIGINT NOT NULL,
        payload TEXT   NOT NULL,
        PRIMARY KEY (run_id, seq)
    );

    CREATE TABLE trigger_histories (
        workflow     TEXT    NOT NULL,
        trigger_name TEXT    NOT NULL,
        id           TEXT    NOT NULL,
        status       TEXT    NOT NULL,
        code         TEXT,
        error        TEXT,
        start_time   BIGINT  NOT NULL,
        end_time     BIGINT,
        fired        INTEGER NOT NULL,
        run_id       TEXT,
        inputs       TEXT,
        outputs      TEXT,
        PRIMARY KEY (workflow, trigger_name, id)
    );
    CREATE INDEX trigger_histories_by_run ON trigger_histories (run_id);
    CREATE INDEX trigger_histories_by_start ON trigger_histories (start_time);

    CREATE TABLE trigger_state (
        workflow     TEXT   NOT NULL,
        trigger_name TEXT   NOT NULL,
        state        TEXT   NOT NULL,
        PRIMARY KEY (workflow, trigger_name)
    );

    CREATE TABLE kv (
        ns    TEXT NOT NULL,
        key   TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (ns, key)
    );
    ",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`SCHEMA_VERSION`], applying each missing migration
/// in its own transaction. Refuses a database written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER NOT NULL PRIMARY KEY,
            applied BIGINT  NOT NULL
        )",
    )
    .map_err(|e| StoreError::sqlite("create schema_version table", e))?;
    let current: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()
        .map_err(|e| StoreError::sqlite("read schema version", e))?
        .flatten()
        .unwrap_or(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            what: format!("schema version {current} is newer than the {SCHEMA_VERSION} this build knows; upgrade Conflux"),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let op = || format!("apply schema migration {version}");
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::sqlite(op(), e))?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::sqlite(op(), e))?;
        tx.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)",
            params![version, Utc::now().timestamp_micros()],
        )
        .map_err(|e| StoreError::sqlite(op(), e))?;
        tx.commit().map_err(|e| StoreError::sqlite(op(), e))?;
        tracing::debug!(version, "Applied store schema migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_newer_schemas_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let versions: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions, SCHEMA_VERSION);

        conn.execute(
            "INSERT INTO schema_version (version, applied) VALUES (?1, 0)",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
