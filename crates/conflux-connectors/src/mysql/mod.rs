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
mod values;

use std::sync::Arc;

use conflux_connector_api::{
    ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorDescriptor, ParameterKind,
};

use crate::{param, sql};

/// The MySQL/MariaDB connector.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(MySqlConnector)
}

pub(crate) static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/mysql",
    name: "mysql",
    display_name: "MySQL / MariaDB",
    description: "Query and change rows in a MySQL or MariaDB database; trigger on inserted or modified rows.",
    connection_parameters: &[
        param("connectionString", "Connection string", "`mysql://user:password@host:port/database`; replaces the separate parameters.", ParameterKind::SecureString, false),
        param("host", "Host", "Server host name or address.", ParameterKind::String, false),
        param("port", "Port", "Server port (default 3306).", ParameterKind::Integer, false),
        param("database", "Database", "Default database.", ParameterKind::String, false),
        param("username", "User name", "User to log in as.", ParameterKind::String, false),
        param("password", "Password", "Password of the user.", ParameterKind::SecureString, false),
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
        let connection = actions::MyConnection::new(config::MyConfig::parse(config)?);
        Ok(Arc::new(sql::SqlConnection(connection)))
    }
}
