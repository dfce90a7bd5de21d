//! What the PostgreSQL and MySQL/MariaDB integration tests share: a connection
//! from a connection string, a context, and one poll of the row trigger.

use std::sync::Arc;

use conflux_connector_api::{
    Connection, ConnectionConfig, ConnectorContext, Secret, ShutdownSignal,
};
use serde_json::Value;

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
