//! What the PostgreSQL and MySQL/MariaDB integration tests share: a connection
//! from a connection string, a context, queries, throw-away tables, and polls
//! of the row trigger.

use std::sync::Arc;

use conflux_connector_api::{
    Connection, ConnectionConfig, ConnectorContext, ConnectorError, Secret, ShutdownSignal,
};
use serde_json::{json, Value};

/// The database a test file runs against: its connector, and the variable
/// that names its connection string (with a loopback default).
pub struct Database {
    pub provider: &'static str,
    pub var: &'static str,
    pub default_url: &'static str,
}

impl Database {
    pub fn url(&self) -> String {
        std::env::var(self.var).unwrap_or_else(|_| self.default_url.into())
    }

    /// A new connection to the test database.
    pub fn connect(&self) -> Arc<dyn Connection> {
        self.connect_with(&self.url())
    }

    pub fn connect_with(&self, connection_string: &str) -> Arc<dyn Connection> {
        connect_to(self.provider, connection_string)
    }

    /// The test database's connection string with `user` and `password`.
    pub fn url_as(&self, user: &str, password: &str) -> String {
        let url = self.url();
        let (scheme, rest) = url.split_once("://").expect("scheme://...");
        let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
        format!("{scheme}://{user}:{password}@{rest}")
    }
}

/// A prepared connection of the connector `provider_id` to `connection_string`.
pub fn connect_to(provider_id: &str, connection_string: &str) -> Arc<dyn Connection> {
    let connector = conflux_connectors::find(provider_id).expect("connector is registered");
    let mut config = ConnectionConfig {
        name: "sql".into(),
        connector_id: connector.descriptor().id.into(),
        ..Default::default()
    };
    config
        .secrets
        .insert("connectionString".into(), Secret::new(connection_string));
    connector.prepare(&config).expect("valid config")
}

pub fn ctx() -> ConnectorContext {
    ConnectorContext::new(ShutdownSignal::never())
}

/// Polls `whenRowInsertedOrModified` once: the `id`s delivered and the cursor
/// to store (the previous one when the poll returned none).
pub async fn poll(
    conn: &Arc<dyn Connection>,
    inputs: &Value,
    cursor: Option<Value>,
) -> (Vec<i64>, Option<Value>) {
    let outcome = conn
        .poll(
            &ctx(),
            "whenRowInsertedOrModified",
            inputs.clone(),
            cursor.clone(),
        )
        .await
        .expect("poll");
    let ids = outcome
        .items
        .iter()
        .map(|row| row["id"].as_i64().expect("id"))
        .collect();
    (ids, outcome.cursor.or(cursor))
}

/// Invokes `operation` with `inputs`; it must succeed.
pub async fn invoke(conn: &Arc<dyn Connection>, operation: &str, inputs: Value) -> Value {
    conn.invoke(&ctx(), operation, inputs)
        .await
        .unwrap_or_else(|e| panic!("{operation}: {e}"))
}

/// Runs `executeQuery` with positional `parameters`; the query must succeed.
pub async fn exec(conn: &Arc<dyn Connection>, query: &str, parameters: Value) -> Value {
    conn.invoke(
        &ctx(),
        "executeQuery",
        json!({"query": query, "parameters": parameters}),
    )
    .await
    .expect(query)
}

/// Reading a missing table fails as not found, and a query that does not
/// parse as invalid input.
pub async fn assert_missing_table_and_syntax_errors(conn: &Arc<dyn Connection>) {
    let missing = conn
        .invoke(&ctx(), "getRows", json!({"table": "conflux_no_such_table"}))
        .await
        .expect_err("missing");
    assert!(
        matches!(missing, ConnectorError::NotFound { .. }),
        "{missing:?}"
    );
    assert_invalid_query(conn, json!({"query": "selec 1"})).await;
}

/// `executeQuery` with `inputs` fails as invalid input.
pub async fn assert_invalid_query(conn: &Arc<dyn Connection>, inputs: Value) {
    let err = conn
        .invoke(&ctx(), "executeQuery", inputs.clone())
        .await
        .expect_err("an invalid query");
    assert!(
        matches!(err, ConnectorError::InvalidInput { .. }),
        "{inputs}: {err:?}"
    );
}

/// The connection test of `conn` fails as unauthorized, and `secret` (its
/// password) is in neither the error's text nor its debug form.
pub async fn assert_refused_keeping_secret(conn: &Arc<dyn Connection>, secret: &str) {
    let err = conn.test(&ctx()).await.expect_err("wrong credentials");
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{err:?}").contains(secret));
}

/// The connection test of `conn`, where nothing listens, fails retryably.
pub async fn assert_unreachable(conn: &Arc<dyn Connection>) {
    let err = conn
        .test(&ctx())
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.is_retryable(), "{err:?}");
}

/// A uniquely named table, dropped when the test ends.
pub struct Table {
    pub name: String,
    database: &'static Database,
}

impl Table {
    /// Creates the table with `columns` through `conn`, a connection to `database`.
    pub async fn create(
        conn: &Arc<dyn Connection>,
        database: &'static Database,
        columns: &str,
    ) -> Self {
        let name = format!("conflux_test_{}", uuid::Uuid::new_v4().simple());
        exec(conn, &format!("CREATE TABLE {name} ({columns})"), json!([])).await;
        Self { name, database }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let (name, database) = (self.name.clone(), self.database);
        // Drop cannot await: drop the table on a fresh runtime with its own
        // connection (the test's client is driven by the blocked test runtime).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let query = json!({"query": format!("DROP TABLE IF EXISTS {name}")});
                let _ = database
                    .connect()
                    .invoke(&ctx(), "executeQuery", query)
                    .await;
            });
        })
        .join();
    }
}

/// Inserts one row `{id, changed: at}` into `table` for each of `ids`.
pub async fn insert_changed(conn: &Arc<dyn Connection>, table: &str, ids: &[i64], at: &str) {
    for id in ids {
        conn.invoke(
            &ctx(),
            "insertRow",
            json!({"table": table, "row": {"id": id, "changed": at}}),
        )
        .await
        .expect("insert");
    }
}

/// A cursor as a host keeps it: written out as JSON and read back.
pub fn persisted(cursor: &Option<Value>) -> Option<Value> {
    serde_json::from_str(&serde_json::to_string(cursor).expect("json")).expect("json")
}

/// Polls from `cursor` until a poll delivers nothing, adding the delivered
/// `id`s to `seen`; returns the cursor then stored.
pub async fn poll_until_empty(
    conn: &Arc<dyn Connection>,
    inputs: &Value,
    mut cursor: Option<Value>,
    seen: &mut Vec<i64>,
) -> Option<Value> {
    loop {
        let (ids, next) = poll(conn, inputs, cursor.clone()).await;
        if ids.is_empty() {
            return cursor;
        }
        seen.extend(ids);
        cursor = next;
    }
}
