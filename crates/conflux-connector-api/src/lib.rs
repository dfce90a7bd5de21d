//! The connector trait and everything a connector author depends on.
//!
//! A connector is a [`Connector`] with a static [`ConnectorDescriptor`]; its
//! [`Connector::prepare`] checks a [`ConnectionConfig`] without I/O and returns a
//! [`Connection`] on which the engine invokes actions, polls polling triggers and
//! listens on push triggers. Failures are [`ConnectorError`]s classified by what
//! the caller should do; the engine's retry policy reads only the class.
//!
//! ```
//! use std::sync::Arc;
//! use conflux_connector_api::*;
//! use serde_json::{json, Value};
//!
//! static ECHO: ConnectorDescriptor = ConnectorDescriptor {
//!     id: "/serviceProviders/echo",
//!     name: "echo",
//!     display_name: "Echo",
//!     description: "Returns its inputs.",
//!     connection_parameters: &[],
//!     operations: &[OperationDescriptor {
//!         id: "echo",
//!         display_name: "Echo",
//!         description: "Returns the inputs unchanged.",
//!         kind: OperationKind::Action,
//!         inputs: &[],
//!         outputs_description: "The inputs.",
//!         example: "{}",
//!     }],
//! };
//!
//! struct Echo;
//! struct EchoConnection;
//!
//! impl Connector for Echo {
//!     fn descriptor(&self) -> &'static ConnectorDescriptor { &ECHO }
//!     fn prepare(&self, _: &ConnectionConfig) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
//!         Ok(Arc::new(EchoConnection))
//!     }
//! }
//!
//! #[async_trait::async_trait]
//! impl Connection for EchoConnection {
//!     fn check_inputs(&self, op: &str, _: &Value) -> Result<(), Vec<ConfigProblem>> {
//!         if op == "echo" { Ok(()) } else { Err(vec![ConfigProblem::new("operationId", "unknown")]) }
//!     }
//!     async fn test(&self, _: &ConnectorContext) -> Result<(), ConnectorError> { Ok(()) }
//!     async fn invoke(&self, _: &ConnectorContext, _: &str, inputs: Value) -> Result<Value, ConnectorError> {
//!         Ok(inputs)
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let connection = Echo.prepare(&ConnectionConfig::default()).unwrap();
//! let ctx = ConnectorContext::new(ShutdownSignal::never());
//! assert_eq!(connection.invoke(&ctx, "echo", json!({"a": 1})).await.unwrap(), json!({"a": 1}));
//! # });
//! ```

#![warn(missing_docs)]

mod config;
mod connector;
mod context;
mod descriptor;
mod error;

pub use async_trait::async_trait;
pub use config::{json_type, ConnectionConfig, ParamReader, Secret};
pub use connector::{Connection, Connector, PollOutcome, TriggerSink};
pub use context::{ConnectorContext, Shutdown, ShutdownSignal};
pub use descriptor::{
    ConnectorDescriptor, OperationDescriptor, OperationKind, ParameterDescriptor, ParameterKind,
};
pub use error::{ConfigProblem, ConnectorError, SinkError};
