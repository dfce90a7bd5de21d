//! A host over real HTTP for tests that bring their own runtime: the host
//! options those tests share, the host bound to a free port on 127.0.0.1
//! and served until the test drops it, and calls of its management API.

#![allow(dead_code)] // each test binary uses a part

use std::collections::HashMap;
use std::sync::Arc;

use conflux_definition::{Workflow, WorkflowKind};
use conflux_server::{
    Host, HostConfig, HostOptions, MasterKey, Secret, SystemClock, WorkflowRuntime, WorkflowSpec,
};
use conflux_store::{SqliteStore, Store};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The admin key of the management API.
pub const ADMIN_KEY: &str = "admin-key";

pub async fn memory_store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in_memory().await.unwrap())
}

/// A workflow named `name` of `kind`, from its document.
pub fn spec(name: &str, kind: WorkflowKind, doc: Value) -> WorkflowSpec {
    WorkflowSpec {
        name: name.into(),
        kind,
        workflow: Arc::new(Workflow::from_json(&doc).unwrap()),
        document: doc,
        parameters: HashMap::new(),
    }
}

/// Host options with a fixed master key, [`ADMIN_KEY`], the default
/// configuration and the system clock, no app settings, no API connections
/// and no identity key set.
pub fn options(
    runtime: Arc<dyn WorkflowRuntime>,
    store: Arc<dyn Store>,
    workflows: Vec<WorkflowSpec>,
) -> HostOptions {
    HostOptions {
        runtime,
        store,
        master_key: Arc::new(MasterKey::from_keys(&[[7; 32]])),
        workflows,
        app_settings: HashMap::new(),
        host_json: json!({}),
        admin_key: Some(Secret::new(ADMIN_KEY)),
        config: HostConfig::default(),
        clock: Arc::new(SystemClock),
        connections: None,
        jwks: None,
    }
}

/// A host listening on 127.0.0.1; it stops serving when dropped.
pub struct Served {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// `(workflow, signed callback URL)` of each Request trigger.
    pub callbacks: Vec<(String, String)>,
    pub client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

/// Starts a host with `options` and serves it on a free port.
pub async fn serve(options: HostOptions) -> Served {
    let host = Host::start(options).await.unwrap();
    let bound = host.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", bound.local_addr());
    let callbacks = bound
        .callback_urls()
        .into_iter()
        .map(|c| (c.workflow, c.url))
        .collect();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(bound.serve(async move {
        let _ = stopped.await;
    }));
    Served {
        base,
        callbacks,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Served {
    /// The signed callback URL of the Request trigger of `workflow`.
    pub fn callback(&self, workflow: &str) -> String {
        self.callbacks
            .iter()
            .find(|(name, _)| name == workflow)
            .map(|(_, url)| url.clone())
            .unwrap_or_else(|| panic!("no callback URL for {workflow}"))
    }

    /// A call of the management API with [`ADMIN_KEY`]: status and JSON
    /// body (null if none).
    pub async fn management(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self
            .client
            .request(
                method,
                format!(
                    "{}/runtime/webhooks/workflow/api/management/{path}",
                    self.base
                ),
            )
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
