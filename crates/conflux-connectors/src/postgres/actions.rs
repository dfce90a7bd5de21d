//! The PostgreSQL connection: the lazily opened client, statement execution
//! and error classification. The operations themselves are shared with MySQL
//! (see `crate::sql::exec`).

use std::sync::Arc;

use async_trait::async_trait;
use conflux_connector_api::{ConnectorContext, ConnectorError};
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

use super::config::PgConfig;
use super::values::{PgValue, TextParam};
use crate::scrub;
use crate::sql::{Dialect, Row, SqlDriver, Statement, TableName};

/// One configured PostgreSQL connection. The client is opened on first use
/// and reopened if the server closed it.
pub(crate) struct PgConnection {
    config: PgConfig,
    client: Mutex<Option<Arc<Client>>>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PgConnection {
    pub(crate) fn new(config: PgConfig) -> Self {
        Self {
            config,
            client: Mutex::new(None),
        }
    }

    /// The open client, connecting if needed.
    pub(crate) async fn client(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<Arc<Client>, ConnectorError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(Arc::clone(client));
        }
        let connect = async {
            self.config
                .config
                .connect(NoTls)
                .await
                .map_err(|e| self.classify(&e, "connecting to PostgreSQL"))
        };
        let (client, connection) = ctx.timed("connecting to PostgreSQL", connect).await?;
        // The connection task drives the socket; when it ends the client
        // reports closed and the next call reconnects.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let client = Arc::new(client);
        *slot = Some(Arc::clone(&client));
        Ok(client)
    }

    /// Prepares and runs `statement`, returning the column names and rows, or
    /// the affected-row count when the statement returns no columns.
    async fn run(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Outcome, ConnectorError> {
        let client = self.client(ctx).await?;
        let work = async {
            let prepared = client
                .prepare(&statement.sql)
                .await
                .map_err(|e| self.classify(&e, "preparing the statement"))?;
            if prepared.params().len() != statement.params.len() {
                return Err(ConnectorError::invalid_input(format!(
                    "the statement has {} placeholders but {} parameters were given",
                    prepared.params().len(),
                    statement.params.len()
                )));
            }
            let params: Vec<TextParam> =
                statement.params.iter().map(TextParam::from_json).collect();
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            if prepared.columns().is_empty() {
                let n = client
                    .execute(&prepared, &refs)
                    .await
                    .map_err(|e| self.classify(&e, "running the statement"))?;
                return Ok(Outcome::Affected(n));
            }
            let rows = client
                .query(&prepared, &refs)
                .await
                .map_err(|e| self.classify(&e, "running the query"))?;
            rows.iter()
                .map(to_json_row)
                .collect::<Result<Vec<_>, _>>()
                .map(Outcome::Rows)
        };
        ctx.timed("the PostgreSQL statement", work).await
    }

    /// Classifies a driver error by SQLSTATE; messages never carry the password.
    fn classify(&self, error: &tokio_postgres::Error, what: &str) -> ConnectorError {
        let secret = self.config.password.as_ref();
        let Some(db) = error.as_db_error() else {
            let mut message = error.to_string();
            if let Some(source) = std::error::Error::source(error) {
                message = format!("{message}: {source}");
            }
            return ConnectorError::transient(scrub(&format!("{what}: {message}"), secret));
        };
        let code = db.code().code();
        let mut message = format!("{what}: {} (SQLSTATE {code})", db.message());
        if let Some(detail) = db.detail() {
            message = format!("{message}; {detail}");
        }
        let message = scrub(&message, secret);
        match code {
            "42P01" | "3D000" | "3F000" => ConnectorError::not_found(message),
            "42501" => ConnectorError::unauthorized(message),
            "53300" | "53400" => ConnectorError::throttled(message, None),
            "55P03" => ConnectorError::transient(message),
            _ => match &code[..2.min(code.len())] {
                "28" => ConnectorError::unauthorized(message),
                "08" | "40" | "53" | "57" | "58" => ConnectorError::transient(message),
                "22" | "23" | "42" | "2B" | "0A" | "21" | "44" => {
                    ConnectorError::invalid_input(message)
                }
                _ => ConnectorError::other(message),
            },
        }
    }
}

enum Outcome {
    Rows(Vec<Row>),
    Affected(u64),
}

fn to_json_row(row: &tokio_postgres::Row) -> Result<Row, ConnectorError> {
    let mut out = Map::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = row.try_get::<_, PgValue>(i).map_err(|e| {
            ConnectorError::other(format!(
                "reading column '{}' of type {}: {e}",
                column.name(),
                column.type_()
            ))
        })?;
        out.insert(column.name().to_owned(), value.0);
    }
    Ok(out)
}

#[async_trait]
impl SqlDriver for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.client(ctx).await.map(|_| ())
    }

    async fn query(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Vec<Row>, ConnectorError> {
        match self.run(ctx, statement).await? {
            Outcome::Rows(rows) => Ok(rows),
            Outcome::Affected(_) => Ok(Vec::new()),
        }
    }

    async fn execute(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<u64, ConnectorError> {
        match self.run(ctx, statement).await? {
            Outcome::Rows(rows) => Ok(rows.len() as u64),
            Outcome::Affected(n) => Ok(n),
        }
    }

    async fn execute_query(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Value, ConnectorError> {
        Ok(match self.run(ctx, statement).await? {
            Outcome::Rows(rows) => {
                let n = rows.len();
                json!({ "rows": rows, "rowsAffected": n })
            }
            Outcome::Affected(n) => json!({ "rows": [], "rowsAffected": n }),
        })
    }

    async fn insert(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Value, ConnectorError> {
        let rows = self.query(ctx, statement).await?;
        Ok(json!({ "rowsAffected": rows.len(), "row": rows.into_iter().next() }))
    }

    async fn primary_key(
        &self,
        ctx: &ConnectorContext,
        table: &TableName,
    ) -> Result<Vec<String>, ConnectorError> {
        let name = match &table.schema {
            Some(schema) => format!("\"{}\".\"{}\"", schema.as_str(), table.table.as_str()),
            None => format!("\"{}\"", table.table.as_str()),
        };
        // to_regclass resolves the name as the server would (search_path),
        // and yields NULL rather than an error for a missing table.
        let statement = Statement {
            sql: "SELECT a.attname::text AS name, to_regclass($1) IS NOT NULL AS found \
                  FROM (SELECT to_regclass($1) AS oid) t \
                  LEFT JOIN pg_index i ON i.indrelid = t.oid AND i.indisprimary \
                  LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
                  LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                  ORDER BY k.ord"
                .to_owned(),
            params: vec![Value::String(name)],
        };
        let rows = self.query(ctx, statement).await?;
        if rows.first().and_then(|r| r.get("found")) != Some(&Value::Bool(true)) {
            return Err(ConnectorError::not_found(format!(
                "table {table} does not exist"
            )));
        }
        Ok(rows
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }
}
