//! PostgreSQL: run queries and row operations, and poll a table for new or
//! modified rows.
//!
//! Built on `tokio-postgres`. Parameters are bound in the text format, so the
//! server converts each JSON value to the type it inferred for the placeholder
//! (integers, numerics, timestamps, UUIDs, JSON) exactly as it would a literal,
//! without Conflux guessing types.

mod actions;
mod config;
mod values;

use std::sync::Arc;

use conflux_connector_api::{
    ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorDescriptor, ParameterKind,
};

use crate::{param, sql};

/// The PostgreSQL connector.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(PostgresConnector)
}

pub(crate) static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/postgres",
    name: "postgres",
    display_name: "PostgreSQL",
    description: "Query and change rows in a PostgreSQL database; trigger on inserted or modified rows.",
    connection_parameters: &[
        param("connectionString", "Connection string", "`postgres://user:password@host:port/database` or `host=... user=...`; replaces the separate parameters.", ParameterKind::SecureString, false),
        param("host", "Host", "Server host name or address.", ParameterKind::String, false),
        param("port", "Port", "Server port (default 5432).", ParameterKind::Integer, false),
        param("database", "Database", "Database name (default: the user name).", ParameterKind::String, false),
        param("username", "User name", "Role to log in as.", ParameterKind::String, false),
        param("password", "Password", "Password of the role.", ParameterKind::SecureString, false),
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
        let connection = actions::PgConnection::new(config::PgConfig::parse(config)?);
        Ok(Arc::new(sql::SqlConnection(connection)))
    }
}
