//! Built-in connectors: PostgreSQL, MySQL/MariaDB, a local file system, and
//! the message brokers (Redis, AMQP, MQTT, NATS), each in its own folder
//! behind a cargo feature of the same name, plus outbound authentication for
//! HTTP requests ([`auth`]).
//!
//! [`all`] is the one registry: the CLI hands it to the engine, which finds a
//! connector by its `serviceProviderId`.
//!
//! ```
//! let ids: Vec<&str> = conflux_connectors::all().iter().map(|c| c.descriptor().id).collect();
//! # #[cfg(feature = "postgres")]
//! assert!(ids.contains(&"/serviceProviders/postgres"));
//! ```

use std::sync::Arc;

use conflux_connector_api::{
    ConfigProblem, Connector, ConnectorError, ParameterDescriptor, ParameterKind,
};

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod auth;
#[cfg(any(
    feature = "redis",
    feature = "amqp",
    feature = "mqtt",
    feature = "nats"
))]
mod brokers;
#[cfg(feature = "filesystem")]
pub mod filesystem;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod sql;

/// Every connector compiled into this build, in display order.
pub fn all() -> Vec<Arc<dyn Connector>> {
    vec![
        #[cfg(feature = "postgres")]
        postgres::connector(),
        #[cfg(feature = "mysql")]
        mysql::connector(),
        #[cfg(feature = "filesystem")]
        filesystem::connector(),
        #[cfg(feature = "redis")]
        redis::connector(),
        #[cfg(feature = "amqp")]
        amqp::connector(),
        #[cfg(feature = "mqtt")]
        mqtt::connector(),
        #[cfg(feature = "nats")]
        nats::connector(),
    ]
}

/// The connector with this `serviceProviderId` (case-insensitive, as Logic Apps
/// compares resource ids), if compiled in.
pub fn find(service_provider_id: &str) -> Option<Arc<dyn Connector>> {
    all()
        .into_iter()
        .find(|c| c.descriptor().id.eq_ignore_ascii_case(service_provider_id))
}

/// A parameter descriptor, as every connector describes its parameters;
/// secure strings are secret.
#[allow(dead_code)] // unused when no connector feature is enabled
pub(crate) const fn param(
    name: &'static str,
    display_name: &'static str,
    description: &'static str,
    kind: ParameterKind,
    required: bool,
) -> ParameterDescriptor {
    ParameterDescriptor {
        name,
        display_name,
        description,
        kind,
        required,
        secret: matches!(kind, ParameterKind::SecureString),
    }
}

/// Folds input problems into one invalid-input error, for operations invoked
/// without a prior `check_inputs`.
#[allow(dead_code)] // unused when only broker features are enabled
pub(crate) fn problems_error(problems: Vec<ConfigProblem>) -> ConnectorError {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    ConnectorError::invalid_input(text.join("; "))
}

/// Replaces every occurrence of the secret in `message` with `***`, for
/// messages from drivers that might echo what they were given.
#[allow(dead_code)] // unused when no SQL feature is enabled
pub(crate) fn scrub(message: &str, secret: Option<&conflux_connector_api::Secret>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => message.replace(secret.expose(), "***"),
        _ => message.to_owned(),
    }
}
