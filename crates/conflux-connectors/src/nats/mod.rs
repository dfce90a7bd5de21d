//! NATS and JetStream: core and stream publishing, a durable JetStream pull
//! consumer trigger (acknowledged after the run exists), and a core
//! subscription trigger.

mod actions;
mod config;
mod triggers;

use std::sync::Arc;

use conflux_connector_api::{
    async_trait, ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext,
    ConnectorDescriptor, ConnectorError, OperationDescriptor, OperationKind, ParameterKind,
    TriggerSink,
};
use serde_json::Value;
use tokio::sync::OnceCell;

use self::actions::NatsAction;
use self::config::NatsConfig;
use self::triggers::NatsTrigger;
use crate::brokers::{param, problems_to_error, unknown_operation};

/// The NATS connector (`/serviceProviders/nats`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsConnector;

/// The connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(NatsConnector)
}

/// The static description of the NATS connector.
pub static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/nats",
    name: "nats",
    display_name: "NATS and JetStream",
    description: "Publishes to NATS subjects and JetStream streams, and starts runs from stream \
                  messages (durable, acknowledged) or subject messages.",
    connection_parameters: &[param(
        "connectionString",
        "Connection string",
        "`nats://[user:password@ | token@]host[:port]`.",
        ParameterKind::SecureString,
        true,
    )],
    operations: &[
        OperationDescriptor {
            id: "publish",
            display_name: "Publish a message",
            description: "Publishes on a subject (core NATS, at most once) and flushes.",
            kind: OperationKind::Action,
            inputs: actions::PUBLISH_INPUTS,
            outputs_description: "`{\"subject\"}`.",
            example: r#"{"subject": "orders.created", "message": {"id": 42}}"#,
        },
        OperationDescriptor {
            id: "publishToStream",
            display_name: "Publish a message to a stream",
            description: "Publishes through JetStream and waits for the stream's acknowledgement. \
                          `messageId` lets the stream drop duplicates within its window.",
            kind: OperationKind::Action,
            inputs: actions::STREAM_INPUTS,
            outputs_description: "`{\"subject\", \"stream\", \"sequence\", \"duplicate\"}`.",
            example: r#"{"subject": "orders.created", "message": {"id": 42}, "messageId": "order-42"}"#,
        },
        OperationDescriptor {
            id: "receiveStreamMessages",
            display_name: "When a message arrives in a stream",
            description: "Reads a stream through a durable pull consumer (created if missing). A \
                          message is acknowledged only after its run was created; if that fails \
                          it is negatively acknowledged and redelivered at once, and if the host \
                          stops first it is redelivered after `ackWaitSeconds`.",
            kind: OperationKind::PushTrigger,
            inputs: triggers::STREAM_INPUTS,
            outputs_description: "`{\"body\", \"headers\", \"properties\": {\"stream\", \"consumer\", \
                                  \"streamSequence\", \"deliveryCount\", \"published\"}, \"subject\"}`.",
            example: r#"{"stream": "ORDERS", "durableName": "conflux-orders", "filterSubject": "orders.>"}"#,
        },
        OperationDescriptor {
            id: "receiveMessages",
            display_name: "When a message is published to a subject",
            description: "Subscribes to a subject (wildcards `*` and `>` allowed), optionally in a \
                          queue group. Core NATS is at most once: messages published while no \
                          listener is connected, or whose run cannot be created, are not redelivered.",
            kind: OperationKind::PushTrigger,
            inputs: triggers::CORE_INPUTS,
            outputs_description: "`{\"body\", \"headers\", \"properties\": {\"replyTo\"?}, \"subject\"}`.",
            example: r#"{"subject": "orders.*", "queueGroup": "conflux"}"#,
        },
    ],
};

impl Connector for NatsConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::parse(config)?;
        Ok(Arc::new(NatsConnection {
            config,
            client: OnceCell::new(),
        }))
    }
}

/// A prepared NATS connection: one client, connected on first use, shared by
/// actions and triggers (the client reconnects by itself).
#[derive(Debug)]
pub(crate) struct NatsConnection {
    config: NatsConfig,
    client: OnceCell<async_nats::Client>,
}

impl NatsConnection {
    pub(crate) async fn client(
        &self,
        ctx: &ConnectorContext,
    ) -> Result<async_nats::Client, ConnectorError> {
        self.client
            .get_or_try_init(|| {
                ctx.timed("connecting to NATS", async {
                    self.config
                        .options()
                        .connect(self.config.server.as_str())
                        .await
                        .map_err(|e| {
                            let message =
                                format!("NATS connect to {} failed: {e}", self.config.server);
                            match e.kind() {
                                async_nats::ConnectErrorKind::Authentication
                                | async_nats::ConnectErrorKind::AuthorizationViolation => {
                                    ConnectorError::unauthorized(
                                        message
                                            + "; check the credentials in the connection string",
                                    )
                                }
                                async_nats::ConnectErrorKind::ServerParse => {
                                    ConnectorError::invalid_input(message)
                                }
                                _ => ConnectorError::transient(message),
                            }
                        })
                })
            })
            .await
            .cloned()
    }

    /// A failure of the service or the network: worth retrying. Call sites
    /// that can tell "not found" or "refused" apart classify those first.
    pub(crate) fn transient(&self, what: &str, error: &dyn std::fmt::Display) -> ConnectorError {
        ConnectorError::transient(format!(
            "NATS {what} on {} failed: {error}",
            self.config.server
        ))
    }
}

#[async_trait]
impl Connection for NatsConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        match DESCRIPTOR.operation(operation).map(|o| o.kind) {
            Some(OperationKind::Action) => NatsAction::parse(operation, inputs).map(drop),
            Some(_) => NatsTrigger::parse(operation, inputs).map(drop),
            None => Err(unknown_operation(&DESCRIPTOR, operation)),
        }
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client(ctx).await?;
        ctx.timed("NATS flush", async {
            client
                .flush()
                .await
                .map_err(|e| self.transient("flush", &e))
        })
        .await
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        let action = NatsAction::parse(operation, &inputs).map_err(problems_to_error)?;
        let client = self.client(ctx).await?;
        ctx.timed(operation, action.run(self, client)).await
    }

    async fn listen(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        let trigger = NatsTrigger::parse(operation, &inputs).map_err(problems_to_error)?;
        let client = self.client(ctx).await?;
        trigger.listen(self, ctx, client, sink).await
    }
}
