//! RabbitMQ and other AMQP 0.9.1 brokers: send a message with publisher
//! confirms, and a peek-lock queue trigger (manual acknowledgement after the
//! run exists).

mod actions;
mod config;
mod triggers;

use std::sync::{Arc, Mutex};

use conflux_connector_api::{
    async_trait, ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext,
    ConnectorDescriptor, ConnectorError, OperationDescriptor, OperationKind, ParameterKind,
    TriggerSink,
};
use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use serde_json::Value;

use self::actions::SendMessage;
use self::config::AmqpConfig;
use self::triggers::ReceiveMessages;
use crate::brokers::{param, problems_to_error, unknown_operation};

/// The AMQP connector (`/serviceProviders/amqp`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AmqpConnector;

/// The connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(AmqpConnector)
}

/// The static description of the AMQP connector.
pub static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/amqp",
    name: "amqp",
    display_name: "RabbitMQ (AMQP 0.9.1)",
    description: "Sends messages to exchanges and queues of an AMQP 0.9.1 broker such as \
                  RabbitMQ, and starts runs from queue messages with peek-lock semantics.",
    connection_parameters: &[param(
        "connectionString",
        "Connection string",
        "`amqp://user:password@host[:port][/vhost]`; the default vhost `/` is written `%2f`.",
        ParameterKind::SecureString,
        true,
    )],
    operations: &[
        OperationDescriptor {
            id: "sendMessage",
            display_name: "Send message",
            description: "Publishes a message to an exchange with a routing key, or straight to a \
                          queue, and waits for the broker's confirmation. A message no queue \
                          receives is reported as not found.",
            kind: OperationKind::Action,
            inputs: actions::INPUTS,
            outputs_description:
                "`{\"exchange\", \"routingKey\", \"messageId\"?}` once the broker \
                                  confirmed the message.",
            example: r#"{"queue": "orders", "body": {"id": 42}, "messageId": "order-42", "headers": {"source": "web"}}"#,
        },
        OperationDescriptor {
            id: "receiveMessages",
            display_name: "When a message arrives in a queue (peek-lock)",
            description: "Consumes a queue with manual acknowledgement. A message is acknowledged \
                          only after its run was created; if that fails, or the host stops first, \
                          the broker delivers it again. At most `prefetchCount` messages are in \
                          flight at once.",
            kind: OperationKind::PushTrigger,
            inputs: triggers::INPUTS,
            outputs_description: "`{\"body\", \"headers\", \"properties\": {\"contentType\", \
                                  \"correlationId\", \"messageId\", \"exchange\", \"routingKey\", \
                                  \"redelivered\", ...}, \"queue\"}`.",
            example: r#"{"queue": "orders", "prefetchCount": 10}"#,
        },
    ],
};

impl Connector for AmqpConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::parse(config)?;
        Ok(Arc::new(AmqpConnection {
            config,
            publisher: Mutex::new(None),
        }))
    }
}

/// A prepared AMQP connection. Actions share one broker connection and one
/// confirming channel, opened on first use and reopened after a failure; every
/// trigger listener opens its own connection, so that stopping or losing a
/// listener returns exactly its unacknowledged messages to the queue.
pub(crate) struct AmqpConnection {
    config: AmqpConfig,
    publisher: Mutex<Option<Publisher>>,
}

impl std::fmt::Debug for AmqpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConnection")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The connection and channel actions publish on.
#[derive(Clone)]
struct Publisher {
    // Kept so the connection lives as long as its channel.
    _connection: Arc<lapin::Connection>,
    channel: lapin::Channel,
}

impl AmqpConnection {
    /// Opens a new broker connection.
    pub(crate) async fn connect(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<lapin::Connection, ConnectorError> {
        let properties = lapin::ConnectionProperties::default()
            .with_connection_name("conflux".into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        ctx.timed("connecting to the AMQP broker", async {
            lapin::Connection::connect_uri(self.config.uri.clone(), properties)
                .await
                .map_err(|e| self.classify("connect", &e))
        })
        .await
    }

    async fn publisher(&self, ctx: &ConnectorContext) -> Result<Publisher, ConnectorError> {
        let existing = self.publisher.lock().map_err(|_| poisoned())?.clone();
        if let Some(publisher) = existing {
            if publisher.channel.status().connected() {
                return Ok(publisher);
            }
        }
        let connection = self.connect(ctx).await?;
        let channel = ctx
            .timed("opening an AMQP channel", async {
                let channel = connection
                    .create_channel()
                    .await
                    .map_err(|e| self.classify("open a channel", &e))?;
                channel
                    .confirm_select(lapin::options::ConfirmSelectOptions::default())
                    .await
                    .map_err(|e| self.classify("enable publisher confirms", &e))?;
                Ok(channel)
            })
            .await?;
        let publisher = Publisher {
            _connection: Arc::new(connection),
            channel,
        };
        *self.publisher.lock().map_err(|_| poisoned())? = Some(publisher.clone());
        Ok(publisher)
    }

    /// Classifies a broker error for the engine's retry policy.
    pub(crate) fn classify(&self, what: &str, error: &lapin::Error) -> ConnectorError {
        let address = &self.config.address;
        match error.kind() {
            lapin::ErrorKind::ProtocolError(amqp) => {
                let message = format!(
                    "AMQP {what} on {address} was refused: {} {}",
                    amqp.get_id(),
                    amqp.get_message()
                );
                match amqp.kind() {
                    AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) => {
                        ConnectorError::not_found(message)
                    }
                    AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)
                    | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED) => {
                        ConnectorError::unauthorized(
                            message
                                + "; check the user, password and vhost in the connection string",
                        )
                    }
                    AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
                    | AMQPErrorKind::Soft(AMQPSoftError::CONTENTTOOLARGE) => {
                        ConnectorError::invalid_input(message)
                    }
                    AMQPErrorKind::Soft(AMQPSoftError::RESOURCELOCKED)
                    | AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED)
                    | AMQPErrorKind::Hard(AMQPHardError::RESOURCEERROR) => {
                        ConnectorError::transient(message)
                    }
                    _ => ConnectorError::other(message),
                }
            }
            lapin::ErrorKind::IOError(_)
            | lapin::ErrorKind::MissingHeartbeatError
            | lapin::ErrorKind::InvalidConnectionState(_)
            | lapin::ErrorKind::InvalidChannelState(..)
            | lapin::ErrorKind::ChannelsLimitReached => {
                ConnectorError::transient(format!("AMQP {what} on {address} failed: {error}"))
            }
            _ => ConnectorError::other(format!("AMQP {what} on {address} failed: {error}")),
        }
    }
}

fn poisoned() -> ConnectorError {
    ConnectorError::other("the AMQP publisher state was poisoned by a panic; restart the host")
}

#[async_trait]
impl Connection for AmqpConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        match operation {
            "sendMessage" => SendMessage::parse(inputs).map(drop),
            "receiveMessages" => ReceiveMessages::parse(inputs).map(drop),
            other => Err(unknown_operation(&DESCRIPTOR, other)),
        }
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        self.publisher(ctx).await.map(drop)
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        if operation != "sendMessage" {
            return Err(problems_to_error(unknown_operation(&DESCRIPTOR, operation)));
        }
        let message = SendMessage::parse(&inputs).map_err(problems_to_error)?;
        let publisher = self.publisher(ctx).await?;
        ctx.timed("sendMessage", message.send(self, &publisher.channel))
            .await
    }

    async fn listen(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        if operation != "receiveMessages" {
            return Err(problems_to_error(unknown_operation(&DESCRIPTOR, operation)));
        }
        let trigger = ReceiveMessages::parse(&inputs).map_err(problems_to_error)?;
        trigger.listen(self, ctx, sink).await
    }
}
