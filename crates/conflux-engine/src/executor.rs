//! The hook for action types the engine does not run itself (ServiceProvider,
//! ApiConnection, custom types): the CLI plugs in executors, the engine never
//! names a connector.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use conflux_definition::ActionDefinition;
use conflux_expr::Value;
use conflux_store::RunId;

/// What an executor receives: the evaluated inputs and where they come from.
pub struct ExecuteRequest<'a> {
    pub workflow: &'a str,
    pub run_id: &'a RunId,
    pub action: &'a ActionDefinition,
    /// The action's `type` as written (`ServiceProvider`).
    pub action_type: &'a str,
    pub kind: Option<&'a str>,
    /// `inputs` with every expression evaluated (retryPolicy removed).
    pub inputs: &'a Value,
    pub app_settings: &'a HashMap<String, Value>,
}

/// A failed execution, classified so the engine's retry policy can act on it.
#[derive(Debug, Clone)]
pub struct ExecutorError {
    /// Short code shown on the action (`BadRequest`, `ServiceUnavailable`).
    pub code: String,
    pub message: String,
    /// Transient failures (throttling, 5xx, connection loss) are retried.
    pub retryable: bool,
    /// The server's requested wait, when it gave one.
    pub retry_after: Option<Duration>,
    /// Outputs to keep on the failed action (e.g. an error response body).
    pub outputs: Option<Value>,
}

impl ExecutorError {
    /// A failure that retrying will not fix.
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> ExecutorError {
        ExecutorError {
            code: code.into(),
            message: message.into(),
            retryable: false,
            retry_after: None,
            outputs: None,
        }
    }

    /// A failure worth retrying under the action's retry policy.
    pub fn transient(code: impl Into<String>, message: impl Into<String>) -> ExecutorError {
        ExecutorError {
            code: code.into(),
            message: message.into(),
            retryable: true,
            retry_after: None,
            outputs: None,
        }
    }
}

/// Runs actions of the types it [`handles`](ActionExecutor::handles).
#[async_trait]
pub trait ActionExecutor: Send + Sync + 'static {
    /// Whether this executor runs actions of `action_type` (compare case-insensitively).
    fn handles(&self, action_type: &str) -> bool;

    /// Executes one attempt; the engine applies retries, timeouts and cancellation.
    async fn execute(&self, request: ExecuteRequest<'_>) -> Result<Value, ExecutorError>;
}

/// Applies a WDL `authentication` object (Basic, Raw, ClientCertificate,
/// ActiveDirectoryOAuth, ManagedServiceIdentity, ...) to an outbound request of
/// the Http action. The CLI plugs in the connectors' authenticator; the engine
/// never names it.
#[async_trait]
pub trait RequestAuthorizer: Send + Sync + 'static {
    /// A request builder for `method url` with the evaluated `authentication`
    /// applied; the engine adds headers and body. Errors are classified like an
    /// executor's (a refused token request is not retryable, an unreachable
    /// token endpoint is).
    async fn request(
        &self,
        authentication: &serde_json::Value,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ExecutorError>;
}
