//! The operations of the SQL connectors written once over a small driver
//! trait, so PostgreSQL and MySQL differ only in how they talk to the server.

use async_trait::async_trait;
use conflux_connector_api::{
    ConfigProblem, Connection, ConnectorContext, ConnectorError, PollOutcome,
};
use serde_json::{json, Map, Value};

use super::build::{self, Dialect, Statement};
use super::inputs::{Ident, SqlOperation, StartFrom, TableName, TriggerInputs};

/// A row as returned to workflows: column name → JSON value.
pub(crate) type Row = Map<String, Value>;

/// What a SQL driver provides; everything else is shared.
#[async_trait]
pub(crate) trait SqlDriver: Send + Sync {
    /// The dialect used for statements built by Conflux.
    fn dialect(&self) -> Dialect;
    /// Connects and checks the credentials (`Connection::test`).
    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError>;
    /// Runs a statement that returns rows.
    async fn query(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Vec<Row>, ConnectorError>;
    /// Runs a statement that returns no rows; the number of rows affected.
    async fn execute(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<u64, ConnectorError>;
    /// `executeQuery`: one user statement, whatever it returns.
    async fn execute_query(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Value, ConnectorError>;
    /// `insertRow`: the driver decides what it can report about the new row.
    async fn insert(
        &self,
        ctx: &ConnectorContext,
        statement: Statement,
    ) -> Result<Value, ConnectorError>;
    /// The columns of a table's primary key, in key order.
    async fn primary_key(
        &self,
        ctx: &ConnectorContext,
        table: &TableName,
    ) -> Result<Vec<String>, ConnectorError>;
}

/// A driver as a connection: the operations are the same for every driver.
#[derive(Debug)]
pub(crate) struct SqlConnection<D>(pub(crate) D);

#[async_trait]
impl<D: SqlDriver> Connection for SqlConnection<D> {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        super::inputs::check(operation, inputs)
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.0.test(ctx).await
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        let operation = SqlOperation::parse(operation, &inputs).map_err(crate::problems_error)?;
        invoke(&self.0, ctx, operation).await
    }

    /// The `whenRowInsertedOrModified` polling trigger.
    async fn poll(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        cursor: Option<Value>,
    ) -> Result<PollOutcome, ConnectorError> {
        if operation != super::WHEN_ROW {
            return Err(ConnectorError::invalid_input(format!(
                "operation '{operation}' is not a polling trigger of {}; use {}",
                self.0.dialect().product(),
                super::WHEN_ROW
            )));
        }
        let inputs = TriggerInputs::parse(&inputs).map_err(crate::problems_error)?;
        poll(&self.0, ctx, inputs, cursor).await
    }
}

/// Runs one parsed action.
pub(crate) async fn invoke(
    driver: &dyn SqlDriver,
    ctx: &ConnectorContext,
    operation: SqlOperation,
) -> Result<Value, ConnectorError> {
    let dialect = driver.dialect();
    match operation {
        SqlOperation::Execute { query, parameters } => {
            driver
                .execute_query(
                    ctx,
                    Statement {
                        sql: query,
                        params: parameters,
                    },
                )
                .await
        }
        SqlOperation::GetRows { table, filter, top } => {
            let rows = driver
                .query(ctx, build::select(dialect, &table, &filter, top))
                .await?;
            Ok(Value::Array(rows.into_iter().map(Value::Object).collect()))
        }
        SqlOperation::Insert { table, row } => {
            driver
                .insert(ctx, build::insert(dialect, &table, &row))
                .await
        }
        SqlOperation::Update {
            table,
            filter,
            values,
        } => {
            let n = driver
                .execute(ctx, build::update(dialect, &table, &filter, &values))
                .await?;
            Ok(json!({ "rowsAffected": n }))
        }
        SqlOperation::Delete { table, filter } => {
            let n = driver
                .execute(ctx, build::delete(dialect, &table, &filter))
                .await?;
            Ok(json!({ "rowsAffected": n }))
        }
    }
}

/// Polls `whenRowInsertedOrModified` once.
///
/// The cursor is `{"watermark": w, "key": k}` of the last row delivered;
/// `{"watermark": null}` means "from the beginning" (an empty table seen by a
/// trigger starting now). Rows are returned in (watermark, key) order and the
/// next poll starts strictly after the last one, so with the caller persisting
/// the cursor after creating the runs every row is delivered exactly once —
/// provided the watermark of a committed row never goes below one already
/// delivered (see docs/connectors.md).
pub(crate) async fn poll(
    driver: &dyn SqlDriver,
    ctx: &ConnectorContext,
    inputs: TriggerInputs,
    cursor: Option<Value>,
) -> Result<PollOutcome, ConnectorError> {
    let dialect = driver.dialect();
    let key = match inputs.key.clone() {
        Some(key) => key,
        None => single_key(driver, ctx, &inputs.table).await?,
    };
    let after = match cursor {
        Some(cursor) => parse_cursor(&cursor)?,
        None if inputs.start_from == StartFrom::Beginning => None,
        None => {
            let newest = driver
                .query(
                    ctx,
                    build::newest(dialect, &inputs.table, &inputs.watermark, &key),
                )
                .await?;
            let cursor = match newest.first() {
                Some(row) => cursor_of(row, &inputs.watermark, &key)?,
                None => json!({ "watermark": null, "key": null }),
            };
            return Ok(PollOutcome {
                items: Vec::new(),
                cursor: Some(cursor),
            });
        }
    };
    let limit = inputs
        .max_rows
        .unwrap_or(ctx.max_poll_items)
        .min(ctx.max_poll_items)
        .max(1);
    let after_ref = after.as_ref().map(|(w, k)| (w, k));
    let statement = build::changed_after(
        dialect,
        &inputs.table,
        (&inputs.watermark, &key),
        after_ref,
        limit,
    );
    let rows = driver.query(ctx, statement).await?;
    let Some(last) = rows.last() else {
        return Ok(PollOutcome {
            items: Vec::new(),
            cursor: None,
        });
    };
    let cursor = cursor_of(last, &inputs.watermark, &key)?;
    Ok(PollOutcome {
        items: rows.into_iter().map(Value::Object).collect(),
        cursor: Some(cursor),
    })
}

async fn single_key(
    driver: &dyn SqlDriver,
    ctx: &ConnectorContext,
    table: &TableName,
) -> Result<Ident, ConnectorError> {
    let key = driver.primary_key(ctx, table).await?;
    match key.as_slice() {
        [only] => Ident::parse(only).map_err(ConnectorError::invalid_input),
        [] => Err(ConnectorError::invalid_input(format!(
            "table {table} has no primary key to order rows with equal watermarks; set keyColumn to a unique column"
        ))),
        _ => Err(ConnectorError::invalid_input(format!(
            "table {table} has a primary key of {} columns; set keyColumn to a single unique column",
            key.len()
        ))),
    }
}

fn parse_cursor(cursor: &Value) -> Result<Option<(Value, Value)>, ConnectorError> {
    let watermark = cursor.get("watermark");
    match watermark {
        Some(Value::Null) => Ok(None),
        Some(w) => Ok(Some((
            w.clone(),
            cursor.get("key").cloned().unwrap_or(Value::Null),
        ))),
        None => Err(ConnectorError::other(format!(
            "the stored trigger cursor {cursor} has no 'watermark'; reset the trigger state"
        ))),
    }
}

fn column<'r>(row: &'r Row, name: &Ident) -> Option<&'r Value> {
    row.get(name.as_str()).or_else(|| {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_str()))
            .map(|(_, v)| v)
    })
}

fn cursor_of(row: &Row, watermark: &Ident, key: &Ident) -> Result<Value, ConnectorError> {
    let get = |ident: &Ident| {
        column(row, ident).cloned().ok_or_else(|| {
            ConnectorError::invalid_input(format!(
                "column '{}' is not in the table's rows",
                ident.as_str()
            ))
        })
    };
    Ok(json!({ "watermark": get(watermark)?, "key": get(key)? }))
}
