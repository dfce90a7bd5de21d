//! Redis: key/value actions, pub/sub publishing, and two push triggers (a
//! pub/sub channel and a reliable list queue).

mod actions;
mod config;
mod triggers;

use std::sync::{Arc, Mutex};

use conflux_connector_api::{
    async_trait, ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext,
    ConnectorDescriptor, ConnectorError, OperationDescriptor, OperationKind, ParameterDescriptor,
    ParameterKind, TriggerSink,
};

use crate::brokers::{param, problems_to_error, unknown_operation};
use serde_json::Value;

use self::actions::RedisAction;
use self::config::RedisConfig;
use self::triggers::RedisTrigger;

/// The Redis connector (`/serviceProviders/redis`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RedisConnector;

/// The connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(RedisConnector)
}

const KEY: ParameterDescriptor = param("key", "Key", "The Redis key.", ParameterKind::String, true);

/// The static description of the Redis connector.
pub static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/redis",
    name: "redis",
    display_name: "Redis",
    description: "Reads and writes Redis keys, publishes to channels, and starts runs from \
                  channel messages or list items.",
    connection_parameters: &[param(
        "connectionString",
        "Connection string",
        "`redis://[:password@]host[:port][/database]`.",
        ParameterKind::SecureString,
        true,
    )],
    operations: &[
        OperationDescriptor {
            id: "get",
            display_name: "Get a value",
            description: "Reads a string key.",
            kind: OperationKind::Action,
            inputs: &[KEY],
            outputs_description: "`{\"key\", \"exists\": bool, \"value\": string or null}`.",
            example: r#"{"key": "orders:42"}"#,
        },
        OperationDescriptor {
            id: "set",
            display_name: "Set a value",
            description: "Writes a string key, optionally with an expiry and a condition.",
            kind: OperationKind::Action,
            inputs: &[
                KEY,
                param(
                    "value",
                    "Value",
                    "Text is stored as is; any other JSON value is stored as its JSON text.",
                    ParameterKind::String,
                    true,
                ),
                param(
                    "expirySeconds",
                    "Expiry (seconds)",
                    "Time to live; absent means the key does not expire.",
                    ParameterKind::Integer,
                    false,
                ),
                param(
                    "condition",
                    "Condition",
                    "`always` (default), `ifNotExists` (SET NX) or `ifExists` (SET XX).",
                    ParameterKind::String,
                    false,
                ),
            ],
            outputs_description: "`{\"key\", \"written\": bool}`; `written` is false when the \
                                  condition did not hold.",
            example: r#"{"key": "orders:42", "value": {"state": "paid"}, "expirySeconds": 3600}"#,
        },
        OperationDescriptor {
            id: "delete",
            display_name: "Delete keys",
            description: "Deletes one key (`key`) or several (`keys`).",
            kind: OperationKind::Action,
            inputs: &[
                param(
                    "key",
                    "Key",
                    "One key to delete.",
                    ParameterKind::String,
                    false,
                ),
                param(
                    "keys",
                    "Keys",
                    "Several keys to delete.",
                    ParameterKind::Array,
                    false,
                ),
            ],
            outputs_description: "`{\"deleted\": number of keys that existed}`.",
            example: r#"{"keys": ["a", "b"]}"#,
        },
        OperationDescriptor {
            id: "increment",
            display_name: "Increment a counter",
            description: "Adds an integer to a key (INCRBY); a missing key counts as 0.",
            kind: OperationKind::Action,
            inputs: &[
                KEY,
                param(
                    "by",
                    "By",
                    "The amount, default 1; may be negative.",
                    ParameterKind::Integer,
                    false,
                ),
            ],
            outputs_description: "`{\"key\", \"value\": the new integer value}`.",
            example: r#"{"key": "visits", "by": 1}"#,
        },
        OperationDescriptor {
            id: "publish",
            display_name: "Publish to a channel",
            description: "Publishes a message on a pub/sub channel.",
            kind: OperationKind::Action,
            inputs: &[
                param(
                    "channel",
                    "Channel",
                    "The channel name.",
                    ParameterKind::String,
                    true,
                ),
                param(
                    "message",
                    "Message",
                    "Text is sent as is; any other JSON value as its JSON text.",
                    ParameterKind::String,
                    true,
                ),
            ],
            outputs_description:
                "`{\"channel\", \"receivers\": number of subscribers that got it}`.",
            example: r#"{"channel": "orders", "message": {"id": 42}}"#,
        },
        OperationDescriptor {
            id: "receiveChannelMessages",
            display_name: "When a message is published to a channel",
            description:
                "Subscribes to channels (`channel`) or glob patterns (`pattern`). Pub/sub \
                          is fire-and-forget: messages published while no listener is connected \
                          are not seen.",
            kind: OperationKind::PushTrigger,
            inputs: &[
                param(
                    "channel",
                    "Channel",
                    "A channel name.",
                    ParameterKind::String,
                    false,
                ),
                param(
                    "pattern",
                    "Pattern",
                    "A glob pattern (PSUBSCRIBE), e.g. `orders.*`.",
                    ParameterKind::String,
                    false,
                ),
            ],
            outputs_description:
                "`{\"body\", \"headers\": {}, \"properties\": {\"pattern\"?}, \"channel\"}`.",
            example: r#"{"channel": "orders"}"#,
        },
        OperationDescriptor {
            id: "receiveListItems",
            display_name: "When an item is added to a list",
            description: "Takes items from a list used as a queue. Each item is moved atomically \
                          (BLMOVE) into a processing list and removed from there only after the \
                          run was created, so a crash never loses an item; items left in the \
                          processing list are delivered again when the trigger starts.",
            kind: OperationKind::PushTrigger,
            inputs: &[
                param(
                    "list",
                    "List",
                    "The list key producers push to.",
                    ParameterKind::String,
                    true,
                ),
                param(
                    "processingList",
                    "Processing list",
                    "Where items wait while their run is created; default `<list>:processing`. \
                     Give each trigger its own.",
                    ParameterKind::String,
                    false,
                ),
                param(
                    "end",
                    "End",
                    "`left` or `right` (default): the end items are taken from. Producers that \
                     LPUSH pair with `right` for first-in, first-out.",
                    ParameterKind::String,
                    false,
                ),
            ],
            outputs_description: "`{\"body\", \"headers\": {}, \"properties\": {}, \"list\"}`.",
            example: r#"{"list": "jobs"}"#,
        },
    ],
};

impl Connector for RedisConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::parse(config)?;
        Ok(Arc::new(RedisConnection {
            config,
            shared: Mutex::new(None),
        }))
    }
}

/// A prepared Redis connection: one multiplexed connection shared by actions,
/// opened on first use and reopened after it breaks; each trigger listener
/// opens its own, because blocking commands and subscriptions monopolise it.
#[derive(Debug)]
pub(crate) struct RedisConnection {
    config: RedisConfig,
    shared: Mutex<Option<::redis::aio::MultiplexedConnection>>,
}

impl RedisConnection {
    async fn shared(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<::redis::aio::MultiplexedConnection, ConnectorError> {
        let existing = self.shared.lock().map_err(|_| poisoned())?.clone();
        if let Some(connection) = existing {
            return Ok(connection);
        }
        let connection = self.dedicated(ctx).await?;
        *self.shared.lock().map_err(|_| poisoned())? = Some(connection.clone());
        Ok(connection)
    }

    /// A new connection that only the caller uses.
    async fn dedicated(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<::redis::aio::MultiplexedConnection, ConnectorError> {
        ctx.timed("connecting to Redis", async {
            self.config
                .client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| self.classify("connect", &e))
        })
        .await
    }

    /// Forgets the shared connection after an I/O failure so the next call reconnects.
    fn reset_if_broken(&self, error: &::redis::RedisError) {
        if error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error() {
            if let Ok(mut shared) = self.shared.lock() {
                *shared = None;
            }
        }
    }

    /// Classifies a Redis error for the engine's retry policy.
    fn classify(&self, what: &str, error: &::redis::RedisError) -> ConnectorError {
        use ::redis::ErrorKind;
        let message = format!("Redis {what} on {} failed: {error}", self.config.address);
        let code = error.code().unwrap_or_default();
        match error.kind() {
            _ if code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM" => {
                ConnectorError::unauthorized(
                    message + "; check the password in the connection string",
                )
            }
            // The server refusing the handshake means AUTH or SELECT failed.
            ErrorKind::AuthenticationFailed => ConnectorError::unauthorized(
                message + "; check the password in the connection string",
            ),
            ErrorKind::ResponseError if what == "connect" => ConnectorError::unauthorized(
                message + "; check the password in the connection string",
            ),
            ErrorKind::IoError
            | ErrorKind::BusyLoadingError
            | ErrorKind::TryAgain
            | ErrorKind::MasterDown
            | ErrorKind::ClusterDown => ConnectorError::transient(message),
            _ if error.is_timeout()
                || error.is_connection_dropped()
                || error.is_connection_refusal() =>
            {
                ConnectorError::transient(message)
            }
            _ if code == "WRONGTYPE" => ConnectorError::invalid_input(message),
            ErrorKind::TypeError | ErrorKind::ResponseError => {
                ConnectorError::invalid_input(message)
            }
            _ => ConnectorError::other(message),
        }
    }
}

fn poisoned() -> ConnectorError {
    ConnectorError::other("the Redis connection state was poisoned by a panic; restart the host")
}

#[async_trait]
impl Connection for RedisConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        match DESCRIPTOR.operation(operation).map(|o| o.kind) {
            Some(OperationKind::Action) => RedisAction::parse(operation, inputs).map(drop),
            Some(_) => RedisTrigger::parse(operation, inputs).map(drop),
            None => Err(unknown_operation(&DESCRIPTOR, operation)),
        }
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let mut connection = self.shared(ctx).await?;
        ctx.timed("PING", async {
            ::redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
                .map_err(|e| {
                    self.reset_if_broken(&e);
                    self.classify("PING", &e)
                })
        })
        .await
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        let action = RedisAction::parse(operation, &inputs).map_err(problems_to_error)?;
        let mut connection = self.shared(ctx).await?;
        ctx.timed(operation, async {
            action.run(&mut connection).await.map_err(|e| {
                self.reset_if_broken(&e);
                self.classify(operation, &e)
            })
        })
        .await
    }

    async fn listen(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        let trigger = RedisTrigger::parse(operation, &inputs).map_err(problems_to_error)?;
        trigger.listen(self, ctx, sink).await
    }
}
