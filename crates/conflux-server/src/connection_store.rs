//! Connections as managed resources, with their secrets encrypted at rest.
//!
//! A connection is stored in the kv namespace [`KV_NAMESPACE`] under its name:
//! the connector id and non-secret parameters as plain JSON, and every secret
//! parameter (as flagged by the connector's descriptor) together in one blob
//! sealed with the master key. The seal's associated data is the connection
//! name, so a blob copied onto another connection fails to open instead of
//! handing that connection someone else's password.
//!
//! Connections change while the host runs: every create, replace or delete
//! bumps a change counter ([`ConnectionStore::changes`]), and
//! [`ConnectionStore::current`] tells a holder of an opened connection whether
//! its copy is still the stored one, so the runtime uses a changed connection
//! from the next call on without a restart.
//!
//! Master-key rotation: the operator sets `CONFLUX_MASTER_KEY=new,old`, and
//! [`ConnectionStore::rotate`] re-wraps every blob still made with the old key.
//! Reads keep working throughout because every loaded key decrypts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use conflux_connector_api::{
    ConfigProblem, ConnectionConfig, Connector, ConnectorContext, ConnectorError, Secret,
    ShutdownSignal,
};
use conflux_security::MasterKey;
use conflux_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{watch, Mutex};

/// kv namespace holding one record per connection.
pub const KV_NAMESPACE: &str = "connections";
/// How long `test` lets a connector try to reach its service.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_NAME_LEN: usize = 80;

/// Everything that can go wrong managing connections. Messages never contain
/// secret values.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection name `{name}` is not valid: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("no connector has id `{connector_id}`; known connectors: {known}")]
    UnknownConnector { connector_id: String, known: String },
    #[error("connection `{name}` is not valid: {}", join_problems(.problems))]
    Invalid {
        name: String,
        problems: Vec<ConfigProblem>,
    },
    #[error("connection `{name}` does not exist")]
    NotFound { name: String },
    #[error("connection `{name}` failed its test ({}): {error}", .error.code())]
    TestFailed { name: String, error: ConnectorError },
    #[error("the stored record of connection `{name}` is unreadable: {reason}; delete it and create it again")]
    Corrupt { name: String, reason: String },
    #[error("the secrets of connection `{name}` could not be decrypted: {error}")]
    Sealed {
        name: String,
        error: conflux_security::SecurityError,
    },
    #[error("the connection store failed: {0}")]
    Store(#[from] StoreError),
}

fn join_problems(problems: &[ConfigProblem]) -> String {
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

/// A connection as the management API shows it: secret parameters by name only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    pub name: String,
    pub connector_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Non-secret parameter values.
    pub parameter_values: Map<String, Value>,
    /// Names of the secret parameters that have a value; never the values.
    pub secret_parameters: Vec<String>,
}

/// What to store for one connection.
#[derive(Debug, Clone)]
pub struct ConnectionSpec {
    pub name: String,
    pub connector_id: String,
    pub display_name: Option<String>,
    pub parameter_values: Map<String, Value>,
}

/// One stored version of a connection: two revisions are equal exactly when
/// the stored records are. Every save seals the secrets afresh, so saving a
/// connection again always makes a new revision.
#[derive(Clone, PartialEq, Eq)]
pub struct Revision(Arc<[u8]>);

impl std::fmt::Debug for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The record holds sealed secrets: show its size only.
        write!(f, "Revision({} bytes)", self.0.len())
    }
}

/// What [`ConnectionStore::current`] found.
#[derive(Debug)]
pub enum Current {
    /// The stored record is still the revision the caller knows.
    Unchanged,
    /// The connection's current configuration (secrets decrypted) and revision.
    Changed {
        config: ConnectionConfig,
        revision: Revision,
    },
}

/// The stored form of a connection.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredConnection {
    connector_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    parameters: Map<String, Value>,
    secret_names: Vec<String>,
    /// Base64 of the sealed JSON object of secret values; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_secrets: Option<String>,
}

/// Creates, reads and tests connections; hands decrypted configurations to
/// the runtime.
pub struct ConnectionStore {
    store: Arc<dyn Store>,
    master_key: Arc<MasterKey>,
    registry: Vec<Arc<dyn Connector>>,
    /// Serialises read-modify-write of records so `rotate` never overwrites a
    /// connection changed while it was re-wrapping it.
    writes: Mutex<()>,
    /// Counts creates, replaces and deletes since the store was made.
    changes: watch::Sender<u64>,
}

impl std::fmt::Debug for ConnectionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionStore")
            .field("connectors", &self.registry.len())
            .finish_non_exhaustive()
    }
}

impl ConnectionStore {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        registry: Vec<Arc<dyn Connector>>,
    ) -> ConnectionStore {
        ConnectionStore {
            store,
            master_key,
            registry,
            writes: Mutex::new(()),
            changes: watch::channel(0).0,
        }
    }

    /// Observes changes: the value counts the creates, replaces and deletes
    /// made through this store, and is bumped after the change is stored, so
    /// whoever reads a new value and then [`current`](Self::current) sees the
    /// change. Cheap to read with `borrow()`; `changed()` wakes long-running
    /// users such as trigger listeners.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// The connectors connections can be made for.
    pub fn connectors(&self) -> &[Arc<dyn Connector>] {
        &self.registry
    }

    /// Creates or replaces a connection without a display name.
    pub async fn put(
        &self,
        name: &str,
        connector_id: &str,
        parameter_values: Map<String, Value>,
    ) -> Result<ConnectionInfo, ConnectionError> {
        self.put_spec(ConnectionSpec {
            name: name.to_string(),
            connector_id: connector_id.to_string(),
            display_name: None,
            parameter_values,
        })
        .await
    }

    /// Validates `spec` with its connector (every problem at once), then
    /// stores it with its secrets sealed.
    ///
    /// A secret parameter the request leaves out keeps its stored value (the
    /// API never returns secrets, so a client editing a connection cannot
    /// send them back); `null` removes a parameter.
    pub async fn put_spec(&self, spec: ConnectionSpec) -> Result<ConnectionInfo, ConnectionError> {
        check_name(&spec.name)?;
        let connector = self.connector(&spec.connector_id)?;
        let descriptor = connector.descriptor();
        let mut values = spec.parameter_values;
        let removed: Vec<String> = values
            .iter()
            .filter(|(_, value)| value.is_null())
            .map(|(key, _)| key.clone())
            .collect();
        values.retain(|_, value| !value.is_null());
        // Undeclared names are refused: a misspelt secret parameter would
        // otherwise be stored, and shown, as a plain one.
        let mut problems: Vec<ConfigProblem> = values
            .keys()
            .filter(|key| descriptor.connection_parameter(key).is_none())
            .map(|key| {
                let declared: Vec<&str> = descriptor
                    .connection_parameters
                    .iter()
                    .map(|p| p.name)
                    .collect();
                ConfigProblem::new(
                    format!("parameterValues.{key}"),
                    format!(
                        "is not a parameter of {}; declared parameters: {}",
                        descriptor.display_name,
                        declared.join(", ")
                    ),
                )
            })
            .collect();
        let _guard = self.writes.lock().await;
        let mut config = ConnectionConfig::from_parameter_values(&spec.name, descriptor, values);
        for (key, secret) in self.kept_secrets(&spec.name, descriptor.id).await? {
            let mentioned = config.secrets.contains_key(&key)
                || config.parameters.contains_key(&key)
                || removed.contains(&key);
            if !mentioned
                && descriptor
                    .connection_parameter(&key)
                    .is_some_and(|p| p.secret)
            {
                config.secrets.insert(key, secret);
            }
        }
        if let Err(found) = connector.prepare(&config) {
            problems.extend(found);
        }
        if !problems.is_empty() {
            return Err(ConnectionError::Invalid {
                name: spec.name,
                problems,
            });
        }
        let record = self.seal_record(&config, spec.display_name)?;
        let bytes = serde_json::to_vec(&record).map_err(|err| ConnectionError::Corrupt {
            name: spec.name.clone(),
            reason: err.to_string(),
        })?;
        self.store.kv_put(KV_NAMESPACE, &spec.name, bytes).await?;
        self.changed();
        tracing::info!(connection = %spec.name, connector = %record.connector_id, "Connection saved.");
        Ok(info(spec.name, record))
    }

    /// The stored secrets of an existing connection of the same connector,
    /// or none. Secrets that no longer decrypt are dropped, so a request
    /// that supplies them again still succeeds.
    async fn kept_secrets(
        &self,
        name: &str,
        connector_id: &str,
    ) -> Result<BTreeMap<String, Secret>, ConnectionError> {
        let Some(bytes) = self.store.kv_get(KV_NAMESPACE, name).await? else {
            return Ok(BTreeMap::new());
        };
        let Ok(record) = parse_record(name, &bytes) else {
            return Ok(BTreeMap::new());
        };
        match &record.sealed_secrets {
            Some(sealed) if record.connector_id.eq_ignore_ascii_case(connector_id) => {
                Ok(self.open_secrets(name, sealed).unwrap_or_default())
            }
            _ => Ok(BTreeMap::new()),
        }
    }

    /// A connection without its secret values.
    pub async fn get(&self, name: &str) -> Result<ConnectionInfo, ConnectionError> {
        let record = self.load(name).await?;
        Ok(info(name.to_string(), record))
    }

    /// Every connection, by name.
    pub async fn list(&self) -> Result<Vec<ConnectionInfo>, ConnectionError> {
        let mut out = Vec::new();
        for (name, bytes) in self.store.kv_list(KV_NAMESPACE).await? {
            let record = parse_record(&name, &bytes)?;
            out.push(info(name, record));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Removes a connection; removing one that does not exist is an error so
    /// a typo is noticed.
    pub async fn delete(&self, name: &str) -> Result<(), ConnectionError> {
        let _guard = self.writes.lock().await;
        self.load(name).await?;
        self.store.kv_delete(KV_NAMESPACE, name).await?;
        self.changed();
        tracing::info!(connection = %name, "Connection deleted.");
        Ok(())
    }

    /// The full, decrypted configuration, for the runtime.
    pub async fn config(&self, name: &str) -> Result<ConnectionConfig, ConnectionError> {
        let record = self.load(name).await?;
        self.open_record(name, record)
    }

    fn open_record(
        &self,
        name: &str,
        record: StoredConnection,
    ) -> Result<ConnectionConfig, ConnectionError> {
        let secrets = match &record.sealed_secrets {
            None => BTreeMap::new(),
            Some(sealed) => self.open_secrets(name, sealed)?,
        };
        Ok(ConnectionConfig {
            name: name.to_string(),
            connector_id: record.connector_id,
            parameters: record.parameters,
            secrets,
        })
    }

    /// The connection as stored now, compared with the revision the caller
    /// holds: [`Current::Unchanged`] when it is still that one (nothing is
    /// decrypted), otherwise its decrypted configuration and new revision.
    /// A connection that does not exist (any more) is
    /// [`ConnectionError::NotFound`].
    pub async fn current(
        &self,
        name: &str,
        known: Option<&Revision>,
    ) -> Result<Current, ConnectionError> {
        check_name(name)?;
        let Some(bytes) = self.store.kv_get(KV_NAMESPACE, name).await? else {
            return Err(ConnectionError::NotFound {
                name: name.to_string(),
            });
        };
        if known.is_some_and(|known| *known.0 == *bytes) {
            return Ok(Current::Unchanged);
        }
        let record = parse_record(name, &bytes)?;
        let config = self.open_record(name, record)?;
        Ok(Current::Changed {
            config,
            revision: Revision(bytes.into()),
        })
    }

    /// Prepares the connection and asks the connector to reach its service.
    pub async fn test(&self, name: &str) -> Result<(), ConnectionError> {
        let config = self.config(name).await?;
        let connector = self.connector(&config.connector_id)?;
        let connection =
            connector
                .prepare(&config)
                .map_err(|problems| ConnectionError::Invalid {
                    name: name.to_string(),
                    problems,
                })?;
        let ctx =
            ConnectorContext::new(ShutdownSignal::never()).with_operation_timeout(TEST_TIMEOUT);
        let result = ctx
            .timed("the connection test", connection.test(&ctx))
            .await;
        match result {
            Ok(()) => {
                tracing::info!(connection = %name, "Connection test passed.");
                Ok(())
            }
            Err(error) => {
                tracing::info!(connection = %name, code = error.code(), "Connection test failed.");
                Err(ConnectionError::TestFailed {
                    name: name.to_string(),
                    error,
                })
            }
        }
    }

    /// Re-wraps, under the current encrypting key, every sealed blob made
    /// with an older one, and returns how many were re-wrapped. Safe to run
    /// while the host serves requests.
    pub async fn rotate(&self) -> Result<usize, ConnectionError> {
        let mut count = 0;
        for (name, _) in self.store.kv_list(KV_NAMESPACE).await? {
            let _guard = self.writes.lock().await;
            // Re-read under the lock: the listed bytes may be stale.
            let Some(bytes) = self.store.kv_get(KV_NAMESPACE, &name).await? else {
                continue;
            };
            let mut record = parse_record(&name, &bytes)?;
            let Some(sealed) = record.sealed_secrets.as_deref() else {
                continue;
            };
            let blob = decode_blob(&name, sealed)?;
            if !self.master_key.needs_rewrap(&blob) {
                continue;
            }
            let rewrapped = self
                .master_key
                .rewrap(&blob, name.as_bytes())
                .map_err(|error| ConnectionError::Sealed {
                    name: name.clone(),
                    error,
                })?;
            record.sealed_secrets = Some(BASE64.encode(rewrapped));
            let bytes = serde_json::to_vec(&record).map_err(|err| ConnectionError::Corrupt {
                name: name.clone(),
                reason: err.to_string(),
            })?;
            self.store.kv_put(KV_NAMESPACE, &name, bytes).await?;
            count += 1;
        }
        if count > 0 {
            tracing::info!(
                count,
                "Connection secrets re-wrapped under the current master key."
            );
        }
        Ok(count)
    }

    fn connector(&self, connector_id: &str) -> Result<&Arc<dyn Connector>, ConnectionError> {
        self.registry
            .iter()
            .find(|c| c.descriptor().id.eq_ignore_ascii_case(connector_id))
            .ok_or_else(|| {
                let known: Vec<&str> = self.registry.iter().map(|c| c.descriptor().id).collect();
                ConnectionError::UnknownConnector {
                    connector_id: connector_id.to_string(),
                    known: if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    },
                }
            })
    }

    async fn load(&self, name: &str) -> Result<StoredConnection, ConnectionError> {
        check_name(name)?;
        match self.store.kv_get(KV_NAMESPACE, name).await? {
            Some(bytes) => parse_record(name, &bytes),
            None => Err(ConnectionError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    fn seal_record(
        &self,
        config: &ConnectionConfig,
        display_name: Option<String>,
    ) -> Result<StoredConnection, ConnectionError> {
        let secret_names: Vec<String> = config.secrets.keys().cloned().collect();
        let sealed_secrets = if config.secrets.is_empty() {
            None
        } else {
            let plain: BTreeMap<&str, &str> = config
                .secrets
                .iter()
                .map(|(key, secret)| (key.as_str(), secret.expose()))
                .collect();
            let plain = serde_json::to_vec(&plain).map_err(|err| ConnectionError::Corrupt {
                name: config.name.clone(),
                reason: err.to_string(),
            })?;
            let sealed = self.master_key.seal(&plain, config.name.as_bytes());
            Some(BASE64.encode(sealed))
        };
        Ok(StoredConnection {
            connector_id: config.connector_id.clone(),
            display_name,
            parameters: config.parameters.clone(),
            secret_names,
            sealed_secrets,
        })
    }

    fn open_secrets(
        &self,
        name: &str,
        sealed: &str,
    ) -> Result<BTreeMap<String, Secret>, ConnectionError> {
        let blob = decode_blob(name, sealed)?;
        let plain = self
            .master_key
            .open(&blob, name.as_bytes())
            .map_err(|error| ConnectionError::Sealed {
                name: name.to_string(),
                error,
            })?;
        let values: BTreeMap<String, String> =
            serde_json::from_slice(&plain).map_err(|_| ConnectionError::Corrupt {
                name: name.to_string(),
                reason: "the decrypted secrets are not a JSON object of strings".to_string(),
            })?;
        Ok(values
            .into_iter()
            .map(|(key, value)| (key, Secret::new(value)))
            .collect())
    }
}

fn info(name: String, record: StoredConnection) -> ConnectionInfo {
    ConnectionInfo {
        name,
        connector_id: record.connector_id,
        display_name: record.display_name,
        parameter_values: record.parameters,
        secret_parameters: record.secret_names,
    }
}

fn parse_record(name: &str, bytes: &[u8]) -> Result<StoredConnection, ConnectionError> {
    serde_json::from_slice(bytes).map_err(|err| ConnectionError::Corrupt {
        name: name.to_string(),
        reason: err.to_string(),
    })
}

fn decode_blob(name: &str, sealed: &str) -> Result<Vec<u8>, ConnectionError> {
    BASE64.decode(sealed).map_err(|_| ConnectionError::Corrupt {
        name: name.to_string(),
        reason: "the sealed secrets are not base64".to_string(),
    })
}

/// Names become URL path segments and store keys: keep them to the
/// characters Logic Apps allows in connection names.
fn check_name(name: &str) -> Result<(), ConnectionError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 80 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Some("use only letters, digits, `-`, `_` and `.`")
    } else if name.starts_with('.') {
        Some("it must not start with `.`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ConnectionError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["sql", "my-db_1", "a.b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "a b", "..", &"x".repeat(81), "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
