//! The MySQL connection: a lazily created pool, statement execution and
//! error classification. The operations are shared with PostgreSQL (see
//! `crate::sql::exec`).

use async_trait::async_trait;
use conflux_connector_api::{ConnectorContext, ConnectorError};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool};
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

use super::config::MyConfig;
use super::values::{to_json, to_param};
use crate::scrub;
use crate::sql::{Dialect, Row, SqlDriver, Statement, TableName};

/// One configured MySQL connection with its pool, created on first use.
pub(crate) struct MyConnection {
    config: MyConfig,
    pool: Mutex<Option<Pool>>,
}

impl std::fmt::Debug for MyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Rows(Vec<Row>),
    Affected {
        rows: u64,
        last_insert_id: Option<u64>,
    },
}

impl MyConnection {
    pub(crate) fn new(config: MyConfig) -> Self {
        Self {
            config,
            pool: Mutex::new(None),
        }
    }

    async fn conn(&self, ctx: &ConnectorContext) -> Result<Conn, ConnectorError> {
        let pool = {
            let mut slot = self.pool.lock().await;
            slot.get_or_insert_with(|| Pool::new(self.config.opts.clone()))
                .clone()
        };
        ctx.timed("connecting to MySQL", async {
            pool.get_conn()
                .await
                .map_err(|e| self.classify(e, "connecting to MySQL"))
        })
        .await
    }

    pub(crate) async fn ping(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let mut conn = self.conn(ctx).await?;
        ctx.timed("pinging MySQL", async {
            conn.ping()
                .await
                .map_err(|e| self.classify(e, "pinging MySQL"))
        })
        .await
    }

    async fn run(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Outcome, ConnectorError> {
        let mut conn = self.conn(ctx).await?;
        let work = async {
            let prepared = conn
                .prep(&statement.sql)
                .await
                .map_err(|e| self.classify(e, "preparing the statement"))?;
            if usize::from(prepared.num_params()) != statement.params.len() {
                return Err(ConnectorError::invalid_input(format!(
                    "the statement has {} placeholders but {} parameters were given",
                    prepared.num_params(),
                    statement.params.len()
                )));
            }
            let params = if statement.params.is_empty() {
                Params::Empty
            } else {
                Params::Positional(statement.params.iter().map(to_param).collect())
            };
            if prepared.columns().is_empty() {
                conn.exec_drop(&prepared, params)
                    .await
                    .map_err(|e| self.classify(e, "running the statement"))?;
                return Ok(Outcome::Affected {
                    rows: conn.affected_rows(),
                    last_insert_id: conn.last_insert_id(),
                });
            }
            let rows: Vec<mysql_async::Row> = conn
                .exec(&prepared, params)
                .await
                .map_err(|e| self.classify(e, "running the query"))?;
            Ok(Outcome::Rows(rows.into_iter().map(to_json_row).collect()))
        };
        ctx.timed("the MySQL statement", work).await
    }

    /// Classifies a driver error by server error code; messages never carry the password.
    fn classify(&self, error: mysql_async::Error, what: &str) -> ConnectorError {
        use mysql_async::{DriverError, Error};
        let secret = self.config.password.as_ref();
        let message = scrub(&format!("{what}: {error}"), secret);
        match &error {
            Error::Server(server) => match server.code {
                1044 | 1045 | 1142 | 1143 | 1227 | 1698 => ConnectorError::unauthorized(message),
                1049 | 1146 => ConnectorError::not_found(message),
                1040 | 1203 | 1226 => ConnectorError::throttled(message, None),
                1205 | 1213 | 2006 | 2013 => ConnectorError::transient(message),
                _ if matches!(
                    server.state.get(..2),
                    Some("22" | "23" | "42" | "21" | "HY")
                ) =>
                {
                    ConnectorError::invalid_input(message)
                }
                _ => ConnectorError::other(message),
            },
            Error::Io(_) => ConnectorError::transient(message),
            Error::Driver(DriverError::StmtParamsMismatch { .. }) => {
                ConnectorError::invalid_input(message)
            }
            Error::Driver(DriverError::ConnectionClosed | DriverError::PoolDisconnected) => {
                ConnectorError::transient(message)
            }
            Error::Url(_) => ConnectorError::invalid_input(message),
            _ => ConnectorError::other(message),
        }
    }
}

fn to_json_row(row: mysql_async::Row) -> Row {
    let columns = row.columns();
    let values = row.unwrap();
    let mut out = Map::with_capacity(values.len());
    for (column, value) in columns.iter().zip(values) {
        out.insert(column.name_str().into_owned(), to_json(column, value));
    }
    out
}

#[async_trait]
impl SqlDriver for MyConnection {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.ping(ctx).await
    }

    async fn query(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Vec<Row>, ConnectorError> {
        match self.run(ctx, statement).await? {
            Outcome::Rows(rows) => Ok(rows),
            Outcome::Affected { .. } => Ok(Vec::new()),
        }
    }

    async fn execute(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<u64, ConnectorError> {
        match self.run(ctx, statement).await? {
            Outcome::Rows(rows) => Ok(rows.len() as u64),
            Outcome::Affected { rows, .. } => Ok(rows),
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
            Outcome::Affected { rows, .. } => json!({ "rows": [], "rowsAffected": rows }),
        })
    }

    async fn insert(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Value, ConnectorError> {
        match self.run(ctx, statement).await? {
            Outcome::Affected {
                rows,
                last_insert_id,
            } => Ok(
                json!({ "rowsAffected": rows, "lastInsertId": last_insert_id.filter(|id| *id != 0) }),
            ),
            Outcome::Rows(rows) => Ok(json!({ "rowsAffected": rows.len() })),
        }
    }

    async fn primary_key(
        &self,
        ctx: &ConnectorContext,
        table: &TableName,
    ) -> Result<Vec<String>, ConnectorError> {
        let schema = table
            .schema
            .as_ref()
            .map(|s| Value::String(s.as_str().to_owned()))
            .unwrap_or(Value::Null);
        let name = Value::String(table.table.as_str().to_owned());
        let exists = self
            .query(
                ctx,
                Statement {
                    sql: "SELECT COUNT(*) AS n FROM information_schema.TABLES \
                          WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?"
                        .to_owned(),
                    params: vec![schema.clone(), name.clone()],
                },
            )
            .await?;
        if exists
            .first()
            .and_then(|r| r.get("n"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0
        {
            return Err(ConnectorError::not_found(format!(
                "table {table} does not exist"
            )));
        }
        let rows = self
            .query(
                ctx,
                Statement {
                    sql: "SELECT COLUMN_NAME AS name FROM information_schema.KEY_COLUMN_USAGE \
                          WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
                          AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION"
                        .to_owned(),
                    params: vec![schema, name],
                },
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }
}
