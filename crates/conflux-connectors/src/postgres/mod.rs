//! PostgreSQL: run queries and row operations, and poll a table for new or
//! modified rows.
//!
//! Built on `tokio-postgres`. Parameters are bound in the text format, so the
//! server converts each JSON value to the type it inferred for the placeholder
//! (integers, numerics, timestamps, UUIDs, JSON) exactly as it would a literal,
//! without Conflux guessing types.

mod actions;
mod config;
mod triggers;
mod values;

use std::sync::Arc;

use async_trait::async_trait;
use conflux_connector_api::{
    ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext, ConnectorDescriptor,
    ConnectorError, ParameterDescriptor, ParameterKind, PollOutcome,
};
use serde_json::Value;

use crate::sql;

/// The PostgreSQL connector.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(PostgresConnector)
}

const fn conn_param(
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    kind: ParameterKind,
    secret: bool,
) -> ParameterDescriptor {
    ParameterDescriptor {
        name,
        display_name,
        description,
        kind,
        required: false,
        secret,
    }
}

pub(crate) static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/postgres",
    name: "postgres",
    display_name: "PostgreSQL",
    description: "Query and change rows in a PostgreSQL database; trigger on inserted or modified rows.",
    connection_parameters: &[
        conn_param("connectionString", "Connection string", "`postgres://user:password@host:port/database` or `host=... user=...`; replaces the separate parameters.", ParameterKind::SecureString, true),
        conn_param("host", "Host", "Server host name or address.", ParameterKind::String, false),
        conn_param("port", "Port", "Server port (default 5432).", ParameterKind::Integer, false),
        conn_param("database", "Database", "Database name (default: the user name).", ParameterKind::String, false),
        conn_param("username", "User name", "Role to log in as.", ParameterKind::String, false),
        conn_param("password", "Password", "Password of the role.", ParameterKind::SecureString, true),
    ],
    operations: sql::OPERATIONS,
};

struct PostgresConnector;

impl Connector for PostgresConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::PgConfig::parse(config)?;
        Ok(Arc::new(actions::PgConnection::new(config)))
    }
}

#[async_trait]
impl Connection for actions::PgConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        sql::inputs::check(operation, inputs)
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.client(ctx).await.map(|_| ())
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        let operation =
            sql::SqlOperation::parse(operation, &inputs).map_err(crate::problems_error)?;
        sql::exec::invoke(self, ctx, operation).await
    }

    async fn poll(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        cursor: Option<Value>,
    ) -> Result<PollOutcome, ConnectorError> {
        triggers::poll(self, ctx, operation, &inputs, cursor).await
    }
}
