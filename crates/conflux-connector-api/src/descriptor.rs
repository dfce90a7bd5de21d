//! Static descriptions of connectors and their operations.
//!
//! Descriptors are `'static` data so that listing connectors (`conflux connectors`),
//! validating definitions and splitting secret parameters never needs a live
//! connection.

use serde::Serialize;

/// Describes one connector: its identity, its connection parameters and its operations.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorDescriptor {
    /// The `serviceProviderId` used in `connections.json` and definitions,
    /// for example `/serviceProviders/postgres`.
    pub id: &'static str,
    /// Short machine name, for example `postgres`.
    pub name: &'static str,
    /// Human-readable name, for example `PostgreSQL`.
    pub display_name: &'static str,
    /// One or two sentences on what the connector talks to.
    pub description: &'static str,
    /// Parameters of `parameterValues` in a service-provider connection.
    pub connection_parameters: &'static [ParameterDescriptor],
    /// Every action and trigger the connector offers.
    pub operations: &'static [OperationDescriptor],
}

impl ConnectorDescriptor {
    /// The operation with this `operationId`, if the connector offers it.
    pub fn operation(&self, id: &str) -> Option<&'static OperationDescriptor> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// The connection parameter with this name, if declared.
    pub fn connection_parameter(&self, name: &str) -> Option<&'static ParameterDescriptor> {
        self.connection_parameters.iter().find(|p| p.name == name)
    }
}

/// Describes one parameter of a connection or of an operation's inputs.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParameterDescriptor {
    /// The JSON property name.
    pub name: &'static str,
    /// Human-readable name.
    pub display_name: &'static str,
    /// What the parameter means, including units and defaults.
    pub description: &'static str,
    /// The JSON type the parameter expects.
    pub kind: ParameterKind,
    /// Whether the parameter must be present.
    pub required: bool,
    /// Whether the value is a secret: it is kept in [`crate::Secret`] form and
    /// never appears in logs, errors or API responses.
    pub secret: bool,
}

/// The JSON type a parameter expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ParameterKind {
    /// A JSON string.
    String,
    /// A JSON string that is a secret (password, key, connection string).
    SecureString,
    /// A JSON integer.
    Integer,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
}

/// Describes one action or trigger of a connector.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDescriptor {
    /// The `operationId` used in a definition's `serviceProviderConfiguration`.
    pub id: &'static str,
    /// Human-readable name.
    pub display_name: &'static str,
    /// What the operation does.
    pub description: &'static str,
    /// Action, polling trigger or push trigger.
    pub kind: OperationKind,
    /// The operation's `inputs.parameters`.
    pub inputs: &'static [ParameterDescriptor],
    /// The shape of the outputs (`body`) in prose.
    pub outputs_description: &'static str,
    /// A JSON object of example inputs; it is valid input for the operation.
    pub example: &'static str,
}

/// How an operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationKind {
    /// Invoked by a workflow action through [`crate::Connection::invoke`].
    Action,
    /// A trigger the engine polls on its recurrence through [`crate::Connection::poll`].
    PollingTrigger,
    /// A trigger that holds a subscription open through [`crate::Connection::listen`].
    PushTrigger,
}

impl OperationKind {
    /// Whether this operation is a trigger (polling or push).
    pub fn is_trigger(self) -> bool {
        !matches!(self, OperationKind::Action)
    }
}
