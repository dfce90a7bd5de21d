//! MQTT 3.1.1 brokers such as Mosquitto: publish with QoS 0 or 1, and a push
//! trigger on a topic filter that acknowledges QoS 1 messages only after the
//! run exists.

mod actions;
mod config;
mod triggers;

use std::sync::Arc;

use conflux_connector_api::{
    async_trait, ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext,
    ConnectorDescriptor, ConnectorError, OperationDescriptor, OperationKind, ParameterKind,
    TriggerSink,
};
use rumqttc::{ConnectReturnCode, ConnectionError};
use serde_json::Value;

use self::actions::Publish;
use self::config::MqttConfig;
use self::triggers::ReceiveMessages;
use crate::brokers::{param, problems_to_error, unknown_operation};

/// The MQTT connector (`/serviceProviders/mqtt`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MqttConnector;

/// The connector, for the registry.
pub fn connector() -> Arc<dyn Connector> {
    Arc::new(MqttConnector)
}

/// The static description of the MQTT connector.
pub static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
    id: "/serviceProviders/mqtt",
    name: "mqtt",
    display_name: "MQTT",
    description: "Publishes to and subscribes on an MQTT 3.1.1 broker such as Mosquitto.",
    connection_parameters: &[
        param(
            "connectionString",
            "Connection string",
            "`mqtt://[user:password@]host[:port]`.",
            ParameterKind::SecureString,
            true,
        ),
        param(
            "keepAliveSeconds",
            "Keep-alive (seconds)",
            "MQTT keep-alive interval; default 30.",
            ParameterKind::Integer,
            false,
        ),
    ],
    operations: &[
        OperationDescriptor {
            id: "publish",
            display_name: "Publish a message",
            description: "Publishes to a topic. With QoS 1 the action succeeds once the broker \
                          acknowledged the message.",
            kind: OperationKind::Action,
            inputs: actions::INPUTS,
            outputs_description: "`{\"topic\", \"qos\", \"retain\"}`.",
            example: r#"{"topic": "plant/line1/temperature", "message": {"celsius": 21.5}, "qos": 1}"#,
        },
        OperationDescriptor {
            id: "receiveMessages",
            display_name: "When a message is published to a topic",
            description:
                "Subscribes to a topic filter (`+` and `#` wildcards). QoS 1 messages are \
                          acknowledged only after their run was created. With a `clientId` the \
                          broker keeps the session while the trigger is stopped, so QoS 1 \
                          messages published meanwhile, or delivered but not acknowledged before \
                          a crash, arrive when it starts again.",
            kind: OperationKind::PushTrigger,
            inputs: triggers::INPUTS,
            outputs_description: "`{\"body\", \"headers\": {}, \"properties\": {\"qos\", \
                                  \"retain\", \"duplicate\"}, \"topic\"}`.",
            example: r#"{"topicFilter": "plant/+/temperature", "qos": 1, "clientId": "conflux-plant"}"#,
        },
    ],
};

impl Connector for MqttConnector {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &DESCRIPTOR
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let config = config::parse(config)?;
        Ok(Arc::new(MqttConnection { config }))
    }
}

/// A prepared MQTT connection. MQTT sessions are cheap and stateful, so each
/// action and each trigger listener opens its own.
#[derive(Debug)]
pub(crate) struct MqttConnection {
    config: MqttConfig,
}

impl MqttConnection {
    /// Classifies an MQTT error for the engine's retry policy.
    pub(crate) fn classify(&self, what: &str, error: &ConnectionError) -> ConnectorError {
        let message = format!("MQTT {what} on {} failed: {error}", self.config.address());
        match error {
            ConnectionError::ConnectionRefused(
                ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
            ) => ConnectorError::unauthorized(
                message + "; check the user and password in the connection string",
            ),
            ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId) => {
                ConnectorError::invalid_input(message + "; the broker rejected the client id")
            }
            ConnectionError::ConnectionRefused(ConnectReturnCode::RefusedProtocolVersion) => {
                ConnectorError::other(message + "; the broker does not speak MQTT 3.1.1")
            }
            _ => ConnectorError::transient(message),
        }
    }
}

/// A client id unique to this process and call: MQTT brokers disconnect the
/// older of two sessions with the same id.
pub(crate) fn fresh_client_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

#[async_trait]
impl Connection for MqttConnection {
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>> {
        match operation {
            "publish" => Publish::parse(inputs).map(drop),
            "receiveMessages" => ReceiveMessages::parse(inputs).map(drop),
            other => Err(unknown_operation(&DESCRIPTOR, other)),
        }
    }

    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        actions::connect_and_disconnect(self, ctx).await
    }

    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError> {
        if operation != "publish" {
            return Err(problems_to_error(unknown_operation(&DESCRIPTOR, operation)));
        }
        let publish = Publish::parse(&inputs).map_err(problems_to_error)?;
        ctx.timed("publish", publish.send(self)).await
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
