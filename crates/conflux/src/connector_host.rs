//! Built-in connectors wired into a project: the `serviceProviderConnections`
//! of `connections.json` and the connections created through the management
//! API become opened connections, `ServiceProvider` actions run through them,
//! and `ServiceProvider` triggers poll or listen and start runs.
//!
//! Connections of `connections.json` are fixed for the life of the host.
//! Connections of the management API are live: each is opened on first use and
//! cached, and the cached one is used only while the store says it is still
//! the stored revision, so a created, replaced or deleted connection takes
//! effect from the next action on. Trigger listeners restart with the changed
//! connection, and wait for it while it does not exist.
//!
//! This is the one place where the engine meets concrete connectors; the engine
//! only knows the [`ActionExecutor`] hook and the connectors only know their API.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use conflux_connector_api::{
    Connection, Connector, ConnectorContext, ConnectorError, OperationKind, Shutdown,
    ShutdownSignal, SinkError, TriggerSink,
};
use conflux_connector_api::{ConnectionConfig, ConnectorDescriptor};
use conflux_definition::project::Project;
use conflux_engine::{
    ActionExecutor, Engine, EngineError, ExecuteRequest, ExecutorError, StartRun,
};
use conflux_expr::Value;
use conflux_server::connection_store::{ConnectionError, ConnectionStore, Current, Revision};
use conflux_server::connections_api::MANAGEMENT_PREFIX;
use conflux_store::{Store, WorkflowName};
use serde_json::{json, Value as Json};
use tokio::sync::watch;

/// The `type` of actions and triggers that invoke built-in connectors.
const SERVICE_PROVIDER: &str = "ServiceProvider";

/// An opened connection and the connector it belongs to.
#[derive(Clone)]
struct Opened {
    connector: Arc<dyn Connector>,
    connection: Arc<dyn Connection>,
}

/// A management-API connection as last opened.
struct Cached {
    opened: Opened,
    revision: Revision,
    /// The store's change count when `revision` was last confirmed current.
    seen: u64,
}

/// The connections created through the management API.
struct Managed {
    store: Arc<ConnectionStore>,
    changes: watch::Receiver<u64>,
    cache: RwLock<HashMap<String, Cached>>,
}

/// The project's connections, ready to run operations.
pub struct ConnectorHost {
    registry: Vec<Arc<dyn Connector>>,
    /// `connections.json`: opened at load, fixed for the life of the host.
    fixed: HashMap<String, Opened>,
    /// The management API's connections, when the host has a store.
    managed: Option<Managed>,
}

/// A problem found while wiring connectors, with the file and JSON path it is about.
#[derive(Debug, Clone)]
pub struct WiringProblem {
    pub location: String,
    pub message: String,
    /// Whether the workflow the problem is in cannot be served. A problem
    /// that a connection created through the management API can fix later
    /// (an unknown connection name, say) does not block: the workflow is
    /// served and its affected actions fail with a clear error until then.
    pub blocking: bool,
}

impl WiringProblem {
    fn blocking(location: String, message: String) -> WiringProblem {
        WiringProblem {
            location,
            message,
            blocking: true,
        }
    }

    fn warning(location: String, message: String) -> WiringProblem {
        WiringProblem {
            location,
            message,
            blocking: false,
        }
    }

    /// Whether the problem is in the given workflow's own workflow.json.
    pub fn in_workflow_file(&self, workflow: &str) -> bool {
        self.location.contains(&format!(
            "{workflow}{}workflow.json",
            std::path::MAIN_SEPARATOR
        ))
    }

    /// Whether the problem keeps the given workflow from being served: a
    /// blocking problem in its own workflow.json.
    pub fn blocks_workflow(&self, workflow: &str) -> bool {
        self.blocking && self.in_workflow_file(workflow)
    }

    /// Whether the problem is in the given workflow's file or in the shared
    /// connections.json (which every workflow depends on).
    pub fn concerns_workflow(&self, workflow: &str) -> bool {
        let own = format!("{}workflow.json", std::path::MAIN_SEPARATOR);
        !self.location.contains(&own)
            || self.location.contains(&format!(
                "{workflow}{}workflow.json",
                std::path::MAIN_SEPARATOR
            ))
    }
}

impl std::fmt::Display for WiringProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Why a connection could not be opened. Messages name the connection and
/// never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OpenError {
    /// Neither in connections.json nor (when the host has a store) created
    /// through the management API.
    NotFound { name: String, managed: bool },
    /// Stored, but not usable as stored (unknown connector, invalid
    /// parameters, secrets that no longer decrypt).
    Unusable { name: String, message: String },
    /// The store could not be read; trying again may work.
    Store { name: String, message: String },
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotFound {
                name,
                managed: true,
            } => write!(
                f,
                "connection '{name}' does not exist: it is neither in connections.json \
                 (serviceProviderConnections) nor created through the management API \
                 (PUT {MANAGEMENT_PREFIX}/connections/{name})"
            ),
            OpenError::NotFound {
                name,
                managed: false,
            } => write!(
                f,
                "connection '{name}' is not defined in connections.json serviceProviderConnections"
            ),
            OpenError::Unusable { name, message } => {
                write!(f, "connection '{name}' is not usable: {message}")
            }
            OpenError::Store { name, message } => {
                write!(f, "connection '{name}' could not be read: {message}")
            }
        }
    }
}

impl OpenError {
    fn is_transient(&self) -> bool {
        matches!(self, OpenError::Store { .. })
    }

    fn executor_error(&self) -> ExecutorError {
        let message = self.to_string();
        match self {
            OpenError::NotFound { .. } => ExecutorError::permanent("ConnectionNotFound", message),
            OpenError::Unusable { .. } => ExecutorError::permanent("InvalidConnection", message),
            OpenError::Store { .. } => ExecutorError::transient("ServiceUnavailable", message),
        }
    }
}

impl Managed {
    /// The connection as stored now: the cached one while the store has not
    /// changed (no I/O), else re-checked against the store and re-opened when
    /// its stored revision differs.
    async fn open(&self, name: &str, registry: &[Arc<dyn Connector>]) -> Result<Opened, OpenError> {
        // Read before the store is: a change after this point bumps the count
        // again, so an entry tagged with it is re-checked on the next call.
        let now = *self.changes.borrow();
        let known = {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            match cache.get(name) {
                Some(cached) if cached.seen == now => return Ok(cached.opened.clone()),
                Some(cached) => Some(cached.revision.clone()),
                None => None,
            }
        };
        let found = self.store.current(name, known.as_ref()).await;
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        match found {
            Ok(Current::Unchanged) => match cache.get_mut(name) {
                Some(cached) => {
                    if Some(&cached.revision) == known.as_ref() {
                        cached.seen = cached.seen.max(now);
                    }
                    Ok(cached.opened.clone())
                }
                // Removed by a call that found it deleted meanwhile.
                None => Err(OpenError::NotFound {
                    name: name.to_string(),
                    managed: true,
                }),
            },
            Ok(Current::Changed { config, revision }) => {
                let opened = match prepare(registry, &config) {
                    Ok(opened) => opened,
                    Err(message) => {
                        cache.remove(name);
                        return Err(OpenError::Unusable {
                            name: name.to_string(),
                            message,
                        });
                    }
                };
                // A concurrent call may have stored a newer revision already.
                if cache.get(name).is_none_or(|cached| cached.seen <= now) {
                    cache.insert(
                        name.to_string(),
                        Cached {
                            opened: opened.clone(),
                            revision,
                            seen: now,
                        },
                    );
                }
                Ok(opened)
            }
            Err(ConnectionError::NotFound { .. }) => {
                cache.remove(name);
                Err(OpenError::NotFound {
                    name: name.to_string(),
                    managed: true,
                })
            }
            Err(ConnectionError::Store(err)) => Err(OpenError::Store {
                name: name.to_string(),
                message: err.to_string(),
            }),
            Err(err) => {
                cache.remove(name);
                Err(OpenError::Unusable {
                    name: name.to_string(),
                    message: err.to_string(),
                })
            }
        }
    }
}

/// Prepares a stored connection with its connector.
fn prepare(registry: &[Arc<dyn Connector>], config: &ConnectionConfig) -> Result<Opened, String> {
    let connector = find_connector(registry, &config.connector_id)
        .ok_or_else(|| format!("no built-in connector '{}'", config.connector_id))?;
    let connection = connector.prepare(config).map_err(|problems| {
        let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
        texts.join("; ")
    })?;
    Ok(Opened {
        connector,
        connection,
    })
}

/// Where the connection a node names comes from, for checks at load.
enum Source {
    /// connections.json, opened.
    Fixed(Arc<dyn Connector>),
    /// connections.json, but it could not be opened (reported on its own).
    FixedBroken,
    /// The management API, of this connector at load.
    Managed(Arc<dyn Connector>),
    /// Nowhere (yet).
    Unknown,
}

impl ConnectorHost {
    /// Opens every service-provider connection of the project's
    /// connections.json against the registry, and checks every
    /// `ServiceProvider` action and trigger of every workflow: unknown
    /// connection, provider mismatch, unknown operation or a missing required
    /// parameter is reported, naming workflow, action and file.
    pub fn from_project(
        project: &Project,
        registry: Vec<Arc<dyn Connector>>,
    ) -> (ConnectorHost, Vec<WiringProblem>) {
        let (fixed, mut problems) = open_fixed(project, &registry);
        let host = ConnectorHost {
            registry,
            fixed,
            managed: None,
        };
        problems.extend(host.check_workflows(project, &HashMap::new()));
        (host, problems)
    }

    /// As [`from_project`](Self::from_project), plus the connections created
    /// through the management API, now and later (a connection of the same
    /// name in connections.json takes precedence). A connection name that is
    /// in neither place does not block its workflow: its actions fail with
    /// "connection '…' does not exist" until the connection is created.
    pub async fn from_project_with_store(
        project: &Project,
        registry: Vec<Arc<dyn Connector>>,
        store: Arc<ConnectionStore>,
    ) -> (ConnectorHost, Vec<WiringProblem>) {
        let (fixed, mut problems) = open_fixed(project, &registry);
        let host = ConnectorHost {
            registry,
            fixed,
            managed: Some(Managed {
                changes: store.changes(),
                store: Arc::clone(&store),
                cache: RwLock::new(HashMap::new()),
            }),
        };
        let mut managed_at_load = HashMap::new();
        match store.list().await {
            Ok(list) => {
                for info in list {
                    let location = format!("connection '{}' (management API)", info.name);
                    if project
                        .connections
                        .service_providers
                        .contains_key(&info.name)
                    {
                        problems.push(WiringProblem::warning(
                            location,
                            "is not used: connections.json defines a connection of the same name"
                                .to_string(),
                        ));
                        continue;
                    }
                    if let Some(connector) = find_connector(&host.registry, &info.connector_id) {
                        managed_at_load.insert(info.name.clone(), connector);
                    }
                    // Opened now so problems show at start; the cache keeps it.
                    if let Err(err) = host.open(&info.name).await {
                        problems.push(WiringProblem::warning(location, err.to_string()));
                    }
                }
            }
            Err(err) => problems.push(WiringProblem::warning(
                "connections of the management API".to_string(),
                format!("could not be listed: {err}"),
            )),
        }
        problems.extend(host.check_workflows(project, &managed_at_load));
        (host, problems)
    }

    /// Checks every ServiceProvider node of every workflow.
    fn check_workflows(
        &self,
        project: &Project,
        managed_at_load: &HashMap<String, Arc<dyn Connector>>,
    ) -> Vec<WiringProblem> {
        let mut problems = Vec::new();
        for workflow in &project.workflows {
            let Some(definition) = workflow.document.get("definition") else {
                continue;
            };
            let file = workflow.path.display().to_string();
            for (path, node) in service_provider_nodes(definition) {
                let location = format!("{file}: $.definition.{path}");
                for (blocking, message) in self.check_node(project, node, managed_at_load) {
                    problems.push(WiringProblem {
                        location: location.clone(),
                        message,
                        blocking,
                    });
                }
            }
        }
        problems
    }

    /// Problems of one ServiceProvider node, each with whether it blocks.
    fn check_node(
        &self,
        project: &Project,
        node: &Json,
        managed_at_load: &HashMap<String, Arc<dyn Connector>>,
    ) -> Vec<(bool, String)> {
        let target = match Target::parse(node) {
            Ok(target) => target,
            Err(message) => return vec![(true, message)],
        };
        let name = &target.connection_name;
        let source = if let Some(opened) = self.fixed.get(name) {
            Source::Fixed(Arc::clone(&opened.connector))
        } else if project.connections.service_providers.contains_key(name) {
            Source::FixedBroken
        } else if let Some(connector) = managed_at_load.get(name) {
            Source::Managed(Arc::clone(connector))
        } else {
            Source::Unknown
        };
        // The operation is checked against the connector the node declares,
        // whatever its connection turns out to be.
        let mut problems = Vec::new();
        let declared = match target.provider.as_deref() {
            Some(id) => match find_connector(&self.registry, id) {
                Some(connector) => Some(connector),
                None => {
                    return vec![(
                        true,
                        format!(
                            "no built-in connector '{id}' (see `conflux connectors` for the list)"
                        ),
                    )]
                }
            },
            None => None,
        };
        if let Some(connector) = &declared {
            if let Err(message) = check_operation(node, &target, connector.descriptor()) {
                problems.push((true, message));
            }
        }
        let (connector, blocking) = match source {
            Source::Fixed(connector) => (connector, true),
            Source::Managed(connector) => (connector, false),
            Source::FixedBroken => {
                problems.push((
                    true,
                    format!(
                        "connection '{name}' of connections.json is not usable (see the problem reported for it)"
                    ),
                ));
                return problems;
            }
            Source::Unknown if self.managed.is_some() => {
                problems.push((
                    false,
                    format!(
                        "connection '{name}' is neither in connections.json nor created through the \
                         management API (yet); until it is created, this fails with \
                         \"connection '{name}' does not exist\""
                    ),
                ));
                return problems;
            }
            Source::Unknown => {
                problems.push((
                    true,
                    OpenError::NotFound {
                        name: name.clone(),
                        managed: false,
                    }
                    .to_string(),
                ));
                return problems;
            }
        };
        if let Err(message) = target.check_provider(connector.descriptor()) {
            problems.push((blocking, message));
        } else if declared.is_none() {
            if let Err(message) = check_operation(node, &target, connector.descriptor()) {
                problems.push((blocking, message));
            }
        }
        problems
    }

    /// The named connection as it is now.
    async fn open(&self, name: &str) -> Result<Opened, OpenError> {
        if let Some(opened) = self.fixed.get(name) {
            return Ok(opened.clone());
        }
        match &self.managed {
            Some(managed) => managed.open(name, &self.registry).await,
            None => Err(OpenError::NotFound {
                name: name.to_string(),
                managed: false,
            }),
        }
    }

    /// Wakes on every change to the management API's connections; `None`
    /// when the host has none (its connections never change).
    fn changes(&self) -> Option<watch::Receiver<u64>> {
        self.managed.as_ref().map(|managed| managed.changes.clone())
    }

    /// The executor the engine calls for `ServiceProvider` actions.
    pub fn executor(self: &Arc<Self>) -> Arc<dyn ActionExecutor> {
        Arc::new(ServiceProviderExecutor {
            host: Arc::clone(self),
        })
    }

    /// Starts a poll or listen task for every `ServiceProvider` trigger of the
    /// workflows the engine serves; they stop when `shutdown` fires.
    pub fn spawn_triggers(
        self: &Arc<Self>,
        project: &Project,
        engine: &Engine,
        store: Arc<dyn Store>,
        shutdown: ShutdownSignal,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let served: HashSet<String> = engine.workflows().into_iter().map(|w| w.name).collect();
        let mut tasks = Vec::new();
        for workflow in &project.workflows {
            if !served.contains(&workflow.name) {
                continue;
            }
            let Some(triggers) = workflow
                .document
                .pointer("/definition/triggers")
                .and_then(Json::as_object)
            else {
                continue;
            };
            for (trigger_name, trigger) in triggers {
                if !is_service_provider(trigger) {
                    continue;
                }
                let Ok(target) = Target::parse(trigger) else {
                    continue; // reported at load
                };
                let job = TriggerJob {
                    host: Arc::clone(self),
                    engine: engine.clone(),
                    store: Arc::clone(&store),
                    workflow: workflow.name.clone(),
                    trigger: trigger_name.clone(),
                    target,
                    inputs: trigger
                        .pointer("/inputs/parameters")
                        .cloned()
                        .unwrap_or(json!({})),
                    interval: recurrence_interval(trigger.get("recurrence")),
                    ctx: ConnectorContext::new(shutdown.clone()),
                };
                tasks.push(tokio::spawn(job.run()));
            }
        }
        tasks
    }
}

/// Opens the connections of connections.json.
fn open_fixed(
    project: &Project,
    registry: &[Arc<dyn Connector>],
) -> (HashMap<String, Opened>, Vec<WiringProblem>) {
    let mut problems = Vec::new();
    let mut fixed = HashMap::new();
    let connections_file = project.root.join("connections.json");
    for (name, conn) in &project.connections.service_providers {
        let location = format!(
            "{}: $.serviceProviderConnections.{name}",
            connections_file.display()
        );
        let Some(connector) = find_connector(registry, &conn.service_provider_id) else {
            problems.push(WiringProblem::blocking(
                location,
                format!(
                    "no built-in connector '{}' (see `conflux connectors` for the list)",
                    conn.service_provider_id
                ),
            ));
            continue;
        };
        let config = ConnectionConfig::from_parameter_values(
            name.clone(),
            connector.descriptor(),
            conn.parameter_values.clone(),
        );
        match connector.prepare(&config) {
            Ok(connection) => {
                fixed.insert(
                    name.clone(),
                    Opened {
                        connector,
                        connection,
                    },
                );
            }
            Err(found) => problems.extend(found.into_iter().map(|p| {
                WiringProblem::blocking(
                    format!("{location}.parameterValues: {}", p.path),
                    p.message,
                )
            })),
        }
    }
    (fixed, problems)
}

/// Whether an operation of `descriptor` can run as this node: it exists, a
/// trigger operation is not used as an action, and the required inputs are given.
fn check_operation(
    node: &Json,
    target: &Target,
    descriptor: &ConnectorDescriptor,
) -> Result<(), String> {
    let Some(operation) = descriptor.operation(&target.operation) else {
        return Err(format!(
            "unknown operation '{}' of '{}'",
            target.operation, descriptor.id
        ));
    };
    if operation.kind.is_trigger() && node.get("runAfter").is_some() {
        return Err(format!(
            "operation '{}' of '{}' is a trigger and cannot be used as an action",
            operation.id, descriptor.id
        ));
    }
    let parameters = node.pointer("/inputs/parameters").and_then(Json::as_object);
    let missing: Vec<&str> = operation
        .inputs
        .iter()
        .filter(|p| p.required)
        .filter(|p| parameters.is_none_or(|m| !m.contains_key(p.name)))
        .map(|p| p.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "operation '{}' needs the input parameter(s) {} in inputs.parameters",
            operation.id,
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Which connection and operation a ServiceProvider node names.
#[derive(Debug, Clone)]
struct Target {
    connection_name: String,
    operation: String,
    /// `serviceProviderId`, when the node gives one.
    provider: Option<String>,
}

impl Target {
    fn parse(node: &Json) -> Result<Target, String> {
        let config = node
            .pointer("/inputs/serviceProviderConfiguration")
            .ok_or("inputs.serviceProviderConfiguration is missing")?;
        let field = |name: &str| {
            config
                .get(name)
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("inputs.serviceProviderConfiguration.{name} is missing"))
        };
        Ok(Target {
            connection_name: field("connectionName")?,
            operation: field("operationId")?,
            provider: config
                .get("serviceProviderId")
                .and_then(Json::as_str)
                .filter(|id| !id.is_empty())
                .map(str::to_string),
        })
    }

    /// The node's `serviceProviderId`, if any, must be its connection's connector.
    fn check_provider(&self, descriptor: &ConnectorDescriptor) -> Result<(), String> {
        match self.provider.as_deref() {
            Some(provider) if !same_connector(provider, descriptor) => Err(format!(
                "serviceProviderId '{provider}' does not match connection '{}', which is a '{}' connection",
                self.connection_name, descriptor.id
            )),
            _ => Ok(()),
        }
    }
}

fn same_connector(id: &str, descriptor: &ConnectorDescriptor) -> bool {
    let wanted = id.trim_start_matches("/serviceProviders/");
    descriptor.id.eq_ignore_ascii_case(id)
        || descriptor
            .id
            .trim_start_matches("/serviceProviders/")
            .eq_ignore_ascii_case(wanted)
        || descriptor.name.eq_ignore_ascii_case(wanted)
}

fn find_connector(registry: &[Arc<dyn Connector>], id: &str) -> Option<Arc<dyn Connector>> {
    registry
        .iter()
        .find(|c| same_connector(id, c.descriptor()))
        .cloned()
}

fn is_service_provider(node: &Json) -> bool {
    node.get("type")
        .and_then(Json::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(SERVICE_PROVIDER))
}

/// Every ServiceProvider trigger and action of a definition, with its JSON path.
fn service_provider_nodes(definition: &Json) -> Vec<(String, &Json)> {
    let mut out = Vec::new();
    if let Some(triggers) = definition.get("triggers").and_then(Json::as_object) {
        for (name, t) in triggers {
            if is_service_provider(t) {
                out.push((format!("triggers.{name}"), t));
            }
        }
    }
    collect_actions(definition.get("actions"), "actions", &mut out);
    out
}

fn collect_actions<'a>(actions: Option<&'a Json>, path: &str, out: &mut Vec<(String, &'a Json)>) {
    let Some(actions) = actions.and_then(Json::as_object) else {
        return;
    };
    for (name, action) in actions {
        let here = format!("{path}.{name}");
        if is_service_provider(action) {
            out.push((here.clone(), action));
        }
        collect_actions(action.get("actions"), &format!("{here}.actions"), out);
        collect_actions(
            action.pointer("/else/actions"),
            &format!("{here}.else.actions"),
            out,
        );
        collect_actions(
            action.pointer("/default/actions"),
            &format!("{here}.default.actions"),
            out,
        );
        if let Some(cases) = action.get("cases").and_then(Json::as_object) {
            for (case, body) in cases {
                collect_actions(
                    body.get("actions"),
                    &format!("{here}.cases.{case}.actions"),
                    out,
                );
            }
        }
    }
}

/// The poll interval of a trigger's `recurrence` (default: one minute).
fn recurrence_interval(recurrence: Option<&Json>) -> Duration {
    let Some(r) = recurrence else {
        return Duration::from_secs(60);
    };
    let interval = r.get("interval").and_then(Json::as_u64).unwrap_or(1).max(1);
    let unit = match r
        .get("frequency")
        .and_then(Json::as_str)
        .unwrap_or("Minute")
        .to_ascii_lowercase()
        .as_str()
    {
        "second" => 1,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 30 * 86_400,
        _ => 60,
    };
    Duration::from_secs(interval.saturating_mul(unit))
}

struct ServiceProviderExecutor {
    host: Arc<ConnectorHost>,
}

#[async_trait]
impl ActionExecutor for ServiceProviderExecutor {
    fn handles(&self, action_type: &str) -> bool {
        action_type.eq_ignore_ascii_case(SERVICE_PROVIDER)
    }

    async fn execute(&self, request: ExecuteRequest<'_>) -> Result<Value, ExecutorError> {
        let inputs = request.inputs.to_json();
        let target = Target::parse(&json!({ "inputs": inputs }))
            .map_err(|m| ExecutorError::permanent("InvalidServiceProviderConfiguration", m))?;
        // Opened now, so a connection created, replaced or deleted through the
        // management API counts from this call on.
        let opened = self
            .host
            .open(&target.connection_name)
            .await
            .map_err(|err| err.executor_error())?;
        target
            .check_provider(opened.connector.descriptor())
            .map_err(|m| ExecutorError::permanent("InvalidServiceProviderConfiguration", m))?;
        let parameters = inputs.get("parameters").cloned().unwrap_or(json!({}));
        if let Err(problems) = opened
            .connection
            .check_inputs(&target.operation, &parameters)
        {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(ExecutorError::permanent("BadRequest", text.join("; ")));
        }
        let ctx = ConnectorContext::new(ShutdownSignal::never());
        match opened
            .connection
            .invoke(&ctx, &target.operation, parameters)
            .await
        {
            Ok(body) => Ok(Value::from(json!({ "body": body }))),
            Err(err) => Err(executor_error(&target, err)),
        }
    }
}

fn executor_error(target: &Target, err: ConnectorError) -> ExecutorError {
    let message = format!(
        "{} on connection '{}': {}",
        target.operation,
        target.connection_name,
        err.message()
    );
    let code = match &err {
        ConnectorError::Transient { .. } => "ServiceUnavailable",
        ConnectorError::Throttled { .. } => "TooManyRequests",
        ConnectorError::InvalidInput { .. } => "BadRequest",
        ConnectorError::Unauthorized { .. } => "Unauthorized",
        ConnectorError::NotFound { .. } => "NotFound",
        _ => "ServiceProviderActionFailed",
    };
    let mut out = if err.is_retryable() {
        ExecutorError::transient(code, message)
    } else {
        ExecutorError::permanent(code, message)
    };
    out.retry_after = err.retry_after();
    out
}

/// The first and the longest pause before a push trigger's subscription is
/// opened again after it ended.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One connector trigger of one workflow.
struct TriggerJob {
    host: Arc<ConnectorHost>,
    engine: Engine,
    store: Arc<dyn Store>,
    workflow: String,
    trigger: String,
    target: Target,
    inputs: Json,
    interval: Duration,
    ctx: ConnectorContext,
}

/// How a push trigger's subscription ended.
enum Session {
    /// The host is shutting down.
    Shutdown,
    /// Its connection was replaced or deleted.
    ConnectionChanged,
    /// The connector returned (an error, or the subscription closed).
    Ended(Result<(), ConnectorError>),
}

/// Completes at the next change of the management API's connections; never
/// when there are none to watch.
async fn next_change(changes: &mut Option<watch::Receiver<u64>>) {
    match changes {
        Some(receiver) => {
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

impl TriggerJob {
    /// Polls or listens through the trigger's connection as it is now. While
    /// the connection does not exist or is not usable the trigger waits (and
    /// says so once); a change to the connection restarts a listener with it,
    /// and a poller uses it from its next poll.
    async fn run(self) {
        let job = Arc::new(self);
        let mut changes = job.host.changes();
        let mut backoff = MIN_BACKOFF;
        let mut waiting: Option<String> = None;
        let mut current: Option<Arc<dyn Connection>> = None;
        loop {
            if job.ctx.shutdown.is_fired() {
                return;
            }
            if let Some(receiver) = changes.as_mut() {
                receiver.borrow_and_update();
            }
            let (kind, opened) = match job.open().await {
                Ok(opened) => opened,
                Err((reason, transient)) => {
                    if waiting.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(workflow = %job.workflow, trigger = %job.trigger, reason = %reason, "Trigger stopped until its connection is usable; it starts again when the connection is created or changed");
                        waiting = Some(reason);
                    }
                    current = None;
                    // A store that cannot be read may recover by itself; anything
                    // else needs the connection changed.
                    let retry = if transient { backoff } else { Duration::MAX };
                    if transient {
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    tokio::select! {
                        () = next_change(&mut changes) => {}
                        () = tokio::time::sleep(retry) => {}
                        () = job.ctx.shutdown.fired() => return,
                    }
                    continue;
                }
            };
            if waiting.take().is_some() {
                tracing::info!(workflow = %job.workflow, trigger = %job.trigger, connection = %job.target.connection_name, "Trigger started: its connection is usable");
            } else if current
                .as_ref()
                .is_some_and(|c| !Arc::ptr_eq(c, &opened.connection))
            {
                tracing::info!(workflow = %job.workflow, trigger = %job.trigger, connection = %job.target.connection_name, "Trigger uses the changed connection");
            }
            current = Some(Arc::clone(&opened.connection));
            if kind == OperationKind::PushTrigger {
                match job.listen(&opened, &mut changes).await {
                    Session::Shutdown => return,
                    Session::ConnectionChanged => {
                        backoff = MIN_BACKOFF;
                        continue;
                    }
                    Session::Ended(result) => {
                        if let Err(err) = result {
                            tracing::warn!(workflow = %job.workflow, trigger = %job.trigger, error = %err.message(), "Trigger subscription ended; reconnecting");
                        }
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = next_change(&mut changes) => {}
                            () = job.ctx.shutdown.fired() => return,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            } else {
                job.poll(&opened).await;
                tokio::select! {
                    () = tokio::time::sleep(job.interval) => {}
                    () = job.ctx.shutdown.fired() => return,
                }
            }
        }
    }

    /// The trigger's connection as it is now, with the kind of its trigger
    /// operation; or why it cannot run, and whether that may pass by itself.
    async fn open(&self) -> Result<(OperationKind, Opened), (String, bool)> {
        let opened = self
            .host
            .open(&self.target.connection_name)
            .await
            .map_err(|err| (err.to_string(), err.is_transient()))?;
        let descriptor = opened.connector.descriptor();
        self.target
            .check_provider(descriptor)
            .map_err(|m| (m, false))?;
        match descriptor.operation(&self.target.operation) {
            Some(operation) if operation.kind.is_trigger() => Ok((operation.kind, opened)),
            Some(_) => Err((
                format!(
                    "operation '{}' of connection '{}' ('{}') is not a trigger",
                    self.target.operation, self.target.connection_name, descriptor.id
                ),
                false,
            )),
            None => Err((
                format!(
                    "connection '{}' ('{}') has no operation '{}'",
                    self.target.connection_name, descriptor.id, self.target.operation
                ),
                false,
            )),
        }
    }

    /// Polls once; each new item starts one run (its `triggerBody()`), and the
    /// cursor is stored only after those runs exist, so a crash in between
    /// delivers the items again rather than losing them.
    async fn poll(&self, opened: &Opened) {
        let workflow = WorkflowName::new(self.workflow.clone());
        let cursor = match self.store.get_trigger_state(&workflow, &self.trigger).await {
            Ok(state) => state.and_then(|s| s.get("cursor").cloned()),
            Err(err) => {
                tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err, "Could not read the trigger cursor");
                None
            }
        };
        let outcome = match opened
            .connection
            .poll(
                &self.ctx,
                &self.target.operation,
                self.inputs.clone(),
                cursor,
            )
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err.message(), "Poll failed; retrying at the next interval");
                return;
            }
        };
        for item in outcome.items {
            let outputs = json!({ "body": item });
            if let Err(err) = self.start(outputs).await {
                tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err, "Could not start a run for a polled item");
                return;
            }
        }
        if let Some(cursor) = outcome.cursor {
            let state = json!({ "cursor": cursor });
            if let Err(err) = self
                .store
                .put_trigger_state(&workflow, &self.trigger, Some(state))
                .await
            {
                tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err, "Could not store the trigger cursor");
            }
        }
    }

    /// Holds the subscription open until it ends, the host shuts down, or the
    /// connection changes; in the last two cases the listener is stopped and
    /// awaited, so it acknowledges what it already delivered.
    async fn listen(
        self: &Arc<Self>,
        opened: &Opened,
        changes: &mut Option<watch::Receiver<u64>>,
    ) -> Session {
        let (stop, signal) = Shutdown::new();
        let mut ctx = self.ctx.clone();
        ctx.shutdown = signal;
        let sink: Arc<dyn TriggerSink> = Arc::new(RunSink {
            job: Arc::clone(self),
        });
        let listening =
            opened
                .connection
                .listen(&ctx, &self.target.operation, self.inputs.clone(), sink);
        tokio::pin!(listening);
        loop {
            tokio::select! {
                result = &mut listening => {
                    return if self.ctx.shutdown.is_fired() {
                        Session::Shutdown
                    } else {
                        Session::Ended(result)
                    };
                }
                () = self.ctx.shutdown.fired() => {
                    stop.fire();
                    let _ = listening.as_mut().await;
                    return Session::Shutdown;
                }
                () = next_change(changes) => {
                    let reason = match self.host.open(&self.target.connection_name).await {
                        Ok(now) if Arc::ptr_eq(&now.connection, &opened.connection) => continue,
                        Err(err) if err.is_transient() => continue,
                        Ok(_) => "it was replaced".to_string(),
                        Err(err) => err.to_string(),
                    };
                    tracing::info!(workflow = %self.workflow, trigger = %self.trigger, connection = %self.target.connection_name, reason = %reason, "Connection changed; stopping the trigger's subscription");
                    stop.fire();
                    let _ = listening.as_mut().await;
                    return Session::ConnectionChanged;
                }
            }
        }
    }

    async fn start(&self, outputs: Json) -> Result<(), EngineError> {
        self.engine
            .start_run(StartRun::new(
                self.workflow.clone(),
                self.trigger.clone(),
                outputs,
            ))
            .await
            .map(|handle| {
                // Nobody waits for a Response here; like runs started by a
                // schedule, its answer is taken (and dropped) so it succeeds.
                if let Some(response) = handle.response {
                    tokio::spawn(async move {
                        let _ = response.await;
                    });
                }
            })
    }
}

/// How long a refused event is held before it is handed back to the broker,
/// which redelivers it at once: without a pause a refusal that lasts (a full
/// waiting-run queue, a disabled workflow) would spin a core. It stays below
/// the shortest redelivery timeout a trigger accepts (NATS `ackWaitSeconds` 1).
const REFUSAL_PAUSE: Duration = Duration::from_millis(500);

/// Delivers pushed events as runs; `Ok` means the run exists in the store.
struct RunSink {
    job: Arc<TriggerJob>,
}

#[async_trait]
impl TriggerSink for RunSink {
    async fn deliver(&self, event: Json) -> Result<(), SinkError> {
        if self.job.ctx.shutdown.is_fired() {
            return Err(SinkError::Closed);
        }
        // Subscribed first, so a run that ends while this one is refused is seen.
        let mut ended = self.job.engine.completions();
        let Err(err) = self.job.start(event).await else {
            return Ok(());
        };
        // A run ending may have freed a slot; otherwise pause before the event
        // goes back to the broker.
        tokio::select! {
            _ = ended.recv() => {}
            () = tokio::time::sleep(REFUSAL_PAUSE) => {}
            () = self.job.ctx.shutdown.fired() => {}
        }
        Err(SinkError::Failed {
            message: err.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: &str = "/serviceProviders/fileSystem";

    /// A project with one workflow whose actions write a file through
    /// connection `files` (operation `operation`), with `connections` as its
    /// connections.json.
    fn project(dir: &std::path::Path, connections: Json, operation: &str) -> Project {
        std::fs::write(dir.join("host.json"), "{}").unwrap();
        std::fs::write(dir.join("connections.json"), connections.to_string()).unwrap();
        let action = |runs_after: Json| {
            json!({"type": "ServiceProvider", "runAfter": runs_after, "inputs": {
                "parameters": {"path": "a.txt", "content": "x"},
                "serviceProviderConfiguration": {
                    "connectionName": "files", "operationId": operation, "serviceProviderId": FS
                }
            }})
        };
        let workflow = json!({"definition": {
            "triggers": {"manual": {"type": "Request", "kind": "Http"}},
            "actions": {"Write": action(json!({}))}
        }, "kind": "Stateful"});
        std::fs::create_dir_all(dir.join("writer")).unwrap();
        std::fs::write(dir.join("writer/workflow.json"), workflow.to_string()).unwrap();
        Project::load(dir).unwrap()
    }

    async fn connection_store() -> Arc<ConnectionStore> {
        let store: Arc<dyn Store> =
            Arc::new(conflux_store::SqliteStore::open_in_memory().await.unwrap());
        Arc::new(ConnectionStore::new(
            store,
            Arc::new(conflux_server::MasterKey::from_keys(&[[7; 32]])),
            conflux_connectors::all(),
        ))
    }

    fn root_folder(dir: &std::path::Path) -> serde_json::Map<String, Json> {
        json!({"rootFolder": dir.display().to_string()})
            .as_object()
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn an_unknown_connection_blocks_only_when_none_can_be_created_later() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), json!({}), "writeFile");

        let (_, problems) = ConnectorHost::from_project(&project, conflux_connectors::all());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].blocks_workflow("writer"), "{problems:?}");
        assert!(problems[0]
            .message
            .contains("connection 'files' is not defined in connections.json"));

        let store = connection_store().await;
        let (_, problems) =
            ConnectorHost::from_project_with_store(&project, conflux_connectors::all(), store)
                .await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(!problems[0].blocks_workflow("writer"), "{problems:?}");
        assert!(problems[0].in_workflow_file("writer"));
        assert!(problems[0].message.contains("connection 'files'"));
    }

    #[tokio::test]
    async fn a_wrong_operation_blocks_even_when_the_connection_comes_later() {
        let dir = tempfile::tempdir().unwrap();
        let project = project(dir.path(), json!({}), "writeFiel");
        let store = connection_store().await;
        let (_, problems) =
            ConnectorHost::from_project_with_store(&project, conflux_connectors::all(), store)
                .await;
        let blocking: Vec<_> = problems.iter().filter(|p| p.blocking).collect();
        assert_eq!(blocking.len(), 1, "{problems:?}");
        assert!(blocking[0]
            .message
            .contains("unknown operation 'writeFiel'"));
    }

    #[tokio::test]
    async fn api_connections_are_opened_when_used_and_reopened_after_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let project = project(dir.path(), json!({}), "writeFile");
        let store = connection_store().await;
        let (host, _) = ConnectorHost::from_project_with_store(
            &project,
            conflux_connectors::all(),
            Arc::clone(&store),
        )
        .await;
        let err = host.open("files").await.err().unwrap();
        assert!(err
            .to_string()
            .contains("connection 'files' does not exist"));
        assert_eq!(err.executor_error().code, "ConnectionNotFound");

        store
            .put("files", FS, root_folder(one.path()))
            .await
            .unwrap();
        let first = host.open("files").await.ok().unwrap();
        let cached = host.open("files").await.ok().unwrap();
        assert!(Arc::ptr_eq(&first.connection, &cached.connection));
        // A change to another connection re-checks but keeps this one.
        store
            .put("other", FS, root_folder(two.path()))
            .await
            .unwrap();
        let still = host.open("files").await.ok().unwrap();
        assert!(Arc::ptr_eq(&first.connection, &still.connection));

        store
            .put("files", FS, root_folder(two.path()))
            .await
            .unwrap();
        let replaced = host.open("files").await.ok().unwrap();
        assert!(!Arc::ptr_eq(&first.connection, &replaced.connection));
        let ctx = ConnectorContext::new(ShutdownSignal::never());
        replaced
            .connection
            .invoke(&ctx, "writeFile", json!({"path": "a.txt", "content": "x"}))
            .await
            .unwrap();
        assert!(two.path().join("a.txt").exists());
        assert!(!one.path().join("a.txt").exists());

        store.delete("files").await.unwrap();
        let err = host.open("files").await.err().unwrap();
        assert_eq!(
            err,
            OpenError::NotFound {
                name: "files".into(),
                managed: true
            }
        );
    }

    #[tokio::test]
    async fn connections_json_wins_over_an_api_connection_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let (fixed_root, api_root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let connections = json!({"serviceProviderConnections": {"files": {
            "parameterValues": {"rootFolder": fixed_root.path().display().to_string()},
            "serviceProvider": {"id": FS}
        }}});
        let project = project(dir.path(), connections, "writeFile");
        let store = connection_store().await;
        store
            .put("files", FS, root_folder(api_root.path()))
            .await
            .unwrap();
        let (host, problems) = ConnectorHost::from_project_with_store(
            &project,
            conflux_connectors::all(),
            Arc::clone(&store),
        )
        .await;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(!problems[0].blocking);
        assert!(
            problems[0].to_string().contains("is not used"),
            "{problems:?}"
        );
        let opened = host.open("files").await.ok().unwrap();
        let ctx = ConnectorContext::new(ShutdownSignal::never());
        opened
            .connection
            .invoke(&ctx, "writeFile", json!({"path": "a.txt", "content": "x"}))
            .await
            .unwrap();
        assert!(fixed_root.path().join("a.txt").exists());
        assert!(!api_root.path().join("a.txt").exists());
    }

    #[test]
    fn recurrence_sets_the_poll_interval() {
        assert_eq!(recurrence_interval(None), Duration::from_secs(60));
        let r = json!({"frequency": "Second", "interval": 5});
        assert_eq!(recurrence_interval(Some(&r)), Duration::from_secs(5));
        let r = json!({"frequency": "hour", "interval": 2});
        assert_eq!(recurrence_interval(Some(&r)), Duration::from_secs(7200));
    }

    #[test]
    fn nested_service_provider_actions_are_found_with_paths() {
        let def = json!({
            "triggers": {"t": {"type": "Request", "kind": "Http"}},
            "actions": {
                "Scope": {"type": "Scope", "actions": {
                    "Query": {"type": "ServiceProvider", "inputs": {}}
                }},
                "If": {"type": "If", "actions": {}, "else": {"actions": {
                    "Insert": {"type": "serviceprovider", "inputs": {}}
                }}}
            }
        });
        let mut paths: Vec<String> = service_provider_nodes(&def)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                "actions.If.else.actions.Insert",
                "actions.Scope.actions.Query"
            ]
        );
    }
}
