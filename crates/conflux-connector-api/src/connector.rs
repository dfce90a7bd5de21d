//! The traits a connector implements and the sink a push trigger delivers to.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    ConfigProblem, ConnectionConfig, ConnectorContext, ConnectorDescriptor, ConnectorError,
    SinkError,
};

/// A kind of service Conflux can talk to (PostgreSQL, a file system, a broker).
///
/// A connector is stateless; [`Connector::prepare`] turns one connection's
/// configuration into a [`Connection`] that holds clients and pools.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The static description of the connector and its operations.
    fn descriptor(&self) -> &'static ConnectorDescriptor;

    /// Parses and checks connection parameters without I/O, reporting every
    /// problem at once. Connecting happens lazily on first use.
    fn prepare(&self, config: &ConnectionConfig)
        -> Result<Arc<dyn Connection>, Vec<ConfigProblem>>;
}

/// One configured connection: the unit on which operations run.
#[async_trait]
pub trait Connection: Send + Sync {
    /// Checks an operation's inputs without I/O, reporting every problem at once.
    /// An unknown `operation` is a problem too.
    fn check_inputs(&self, operation: &str, inputs: &Value) -> Result<(), Vec<ConfigProblem>>;

    /// Connects to the service and checks that the credentials work.
    async fn test(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError>;

    /// Runs an action and returns its outputs (the action's `body`).
    async fn invoke(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
    ) -> Result<Value, ConnectorError>;

    /// Polls a polling trigger once, starting after `cursor` (`None` on the
    /// first poll). The caller persists the returned cursor only after runs for
    /// all returned items are durably created, so a crash between the two
    /// re-delivers rather than loses items.
    async fn poll(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        cursor: Option<Value>,
    ) -> Result<PollOutcome, ConnectorError> {
        let _ = (ctx, inputs, cursor);
        Err(not_a_trigger(operation, "polling"))
    }

    /// Holds a push trigger's subscription open and hands each event to `sink`,
    /// until `ctx.shutdown` fires. A message is acknowledged to the service
    /// only after `sink.deliver` returned `Ok`.
    async fn listen(
        &self,
        ctx: &ConnectorContext,
        operation: &str,
        inputs: Value,
        sink: Arc<dyn TriggerSink>,
    ) -> Result<(), ConnectorError> {
        let _ = (ctx, inputs, sink);
        Err(not_a_trigger(operation, "push"))
    }
}

fn not_a_trigger(operation: &str, kind: &str) -> ConnectorError {
    ConnectorError::invalid_input(format!(
        "operation '{operation}' is not a {kind} trigger of this connector"
    ))
}

/// What one poll found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollOutcome {
    /// New items, oldest first; each becomes one run (or one batch, as the
    /// trigger documents).
    pub items: Vec<Value>,
    /// The cursor to persist once runs for `items` exist; `None` keeps the
    /// previous cursor.
    pub cursor: Option<Value>,
}

/// Where a push trigger delivers events.
#[async_trait]
pub trait TriggerSink: Send + Sync {
    /// Creates a run for `event`. Returns `Ok` only once the run is durably
    /// recorded; on error the connector must not acknowledge the message.
    async fn deliver(&self, event: Value) -> Result<(), SinkError>;
}
