//! The shared state of a running host.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use conflux_definition::{TriggerDefinition, Workflow, WorkflowKind};
use conflux_security::{AccessKeys, AdminKeyHash, MasterKey};
use conflux_store::Store;
use serde_json::Value;

use crate::access::AccessControl;
use crate::runtime::WorkflowRuntime;
use crate::Clock;

/// Settings of the HTTP host (snake_case, unit suffixes).
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Base URL printed in callback URLs and content links; default `http://<listen address>`.
    pub public_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long a caller waits for a Response action.
    pub response_timeout: Duration,
    /// How long content links stay valid.
    pub content_link_ttl: Duration,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            public_url: None,
            max_body_bytes: 100 * 1024 * 1024,
            response_timeout: Duration::from_secs(235),
            content_link_ttl: Duration::from_secs(3600),
        }
    }
}

/// One workflow as the host serves it.
pub struct HostedWorkflow {
    pub name: String,
    /// The `x-ms-*` headers of trigger answers, made once.
    pub answer_headers: crate::triggers::AnswerHeaders,
    pub kind: WorkflowKind,
    /// The `workflow.json` document as deployed.
    pub document: Value,
    pub workflow: Arc<Workflow>,
    pub access: AccessControl,
    /// Parameter values visible to trigger conditions (definition defaults
    /// overridden by parameters.json).
    pub parameters: HashMap<String, Value>,
    pub enabled: AtomicBool,
    /// Calls and runs are recorded in trigger history: always for a
    /// stateful workflow; for a stateless one only with the app setting
    /// `Workflows.<name>.OperationOptions: WithStatelessRunHistory`, as in
    /// Logic Apps (failures that start no run are recorded either way).
    pub keeps_run_history: bool,
    /// What a call of each Request (or webhook) trigger needs from its
    /// definition, read once at load.
    pub call_plans: Vec<crate::triggers::CallPlan>,
    /// A Response action answers asynchronously (202 and a location).
    pub asynchronous_response: bool,
}

impl HostedWorkflow {
    /// Standard workflows have exactly one trigger.
    pub fn trigger(&self) -> Option<&TriggerDefinition> {
        self.workflow.triggers.values().next()
    }

    /// Trigger names are matched case-insensitively, like workflow names.
    pub fn trigger_named(&self, name: &str) -> Option<&TriggerDefinition> {
        self.workflow
            .triggers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| t)
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::SeqCst)
    }
}

/// Everything handlers share.
pub struct HostState {
    pub runtime: Arc<dyn WorkflowRuntime>,
    pub store: Arc<dyn Store>,
    pub master_key: Arc<MasterKey>,
    pub access_keys: RwLock<Arc<AccessKeys>>,
    pub admin: AdminKeyHash,
    pub workflows: Vec<Arc<HostedWorkflow>>,
    pub app_settings: HashMap<String, String>,
    pub config: HostConfig,
    pub clock: Arc<dyn Clock>,
    /// Known once the listener is bound.
    pub base_url: OnceLock<String>,
    pub connections: Option<Arc<crate::connection_store::ConnectionStore>>,
    pub jwks: Option<Value>,
    /// HttpWebhook support, when the host was built with it.
    pub webhooks: OnceLock<Arc<crate::webhook::WebhookHosting>>,
    /// Key sets that bearer tokens for OAuth authorization policies are verified against.
    pub token_trust: crate::oauth_policy::TokenTrust,
    /// Applies an Http polling trigger's `authentication` (the engine's Http
    /// action uses the same one); without it only Basic and Raw are supported.
    pub authorizer: OnceLock<Arc<dyn conflux_engine::RequestAuthorizer>>,
    /// Answers of runs whose callers poll for them (asynchronous Response).
    pub async_responses: crate::async_response::AsyncResponses,
    /// Trigger history entries of stateless calls, written behind the answer.
    pub history_writes: crate::triggers::HistoryWrites,
}

impl HostState {
    /// Workflow names are matched case-insensitively, as in Logic Apps.
    pub fn workflow(&self, name: &str) -> Option<&Arc<HostedWorkflow>> {
        self.workflows
            .iter()
            .find(|wf| wf.name.eq_ignore_ascii_case(name))
    }

    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://localhost")
    }

    pub fn set_base_url(&self, local: SocketAddr) {
        let url = match &self.config.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{local}"),
        };
        let _ = self.base_url.set(url);
    }

    /// A snapshot of the access keys; the lock is never held across an await.
    pub fn keys(&self) -> Arc<AccessKeys> {
        self.access_keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
