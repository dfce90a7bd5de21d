//! MySQL and MariaDB: run queries and row operations, and poll a table for new
//! or modified rows.
//!
//! Built on `mysql_async` (pure Rust, no TLS or compression features
//! compiled in): it is far lighter than `sqlx`, which would bring a query
//! macro system and its own runtime abstraction that Conflux does not use.
//! Statements are prepared, so parameters travel in the binary protocol and are
//! never spliced into SQL.

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

/// The MySQL/MariaDB connector.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(MySqlConnector)
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
    id: "/serviceProviders/mysql",
    name: "mysql",
    display_name: "MySQL / MariaDB",
    description: "Query and change rows in a MySQL or MariaDB database; trigger on inserted or modified rows.",
    connection_parameters: &[
        conn_param("connectionString", "Connection string", "`mysql://user:password@host:port/database`; replaces the separate parameters.", ParameterKind::SecureString, true),
        conn_param("host", "Host", "Server host name or address.", ParameterKind::String, false),
        conn_param("port", "Port", "Server port (default 3306).", ParameterKind::Integer, false),
        conn_param("database", "Database", "Default database.", ParameterKind::String, false),
        conn_param("username", "User name", "User to log in as.", ParameterKind::String, false),
        conn_param("password", "Password", "Password of the user.", ParameterKind::SecureString, true),
    ],
    operations: sql::OPERATIONS,
};

struct MySqlConnector;

impl Connector for MySqlConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::MyConfig::parse(config)?;
        Ok(Arc::new(actions::MyConnection::new(config)))
    }
}

#[async_trait]
impl Connection for actions::MyConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        sql::inputs::check(operation, inputs)
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.ping(ctx).await
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
