//! Built-in connectors wired into a project: `serviceProviderConnections` from
//! `connections.json` become prepared connections, `ServiceProvider` actions run
//! through them, and `ServiceProvider` triggers poll or listen and start runs.
//!
//! This is the one place where the engine meets concrete connectors; the engine
//! only knows the [`ActionExecutor`] hook and the connectors only know their API.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use conflux_connector_api::{
    Connection, ConnectionConfig, Connector, ConnectorContext, ConnectorError, OperationKind,
    ShutdownSignal, SinkError, TriggerSink,
};
use conflux_definition::project::Project;
use conflux_engine::{
    ActionExecutor, Engine, EngineError, ExecuteRequest, ExecutorError, StartRun,
};
use conflux_expr::Value;
use conflux_store::{Store, WorkflowName};
use serde_json::{json, Value as Json};

/// The `type` of actions and triggers that invoke built-in connectors.
const SERVICE_PROVIDER: &str = "ServiceProvider";

/// A connection of the project, ready to run operations.
struct Prepared {
    connector: Arc<dyn Connector>,
    connection: Arc<dyn Connection>,
}

/// The project's prepared connections.
pub struct ConnectorHost {
    connections: HashMap<String, Prepared>,
}

/// A problem found while wiring connectors, with the file and JSON path it is about.
#[derive(Debug, Clone)]
pub struct WiringProblem {
    pub location: String,
    pub message: String,
}

impl WiringProblem {
    /// Whether the problem is in the given workflow's own workflow.json.
    pub fn in_workflow_file(&self, workflow: &str) -> bool {
        self.location.contains(&format!(
            "{workflow}{}workflow.json",
            std::path::MAIN_SEPARATOR
        ))
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

impl ConnectorHost {
    /// Prepares every service-provider connection of the project against the
    /// registry, and checks every `ServiceProvider` action and trigger of every
    /// workflow: unknown connection, provider mismatch, unknown operation or a
    /// missing required parameter is reported, naming workflow, action and file.
    pub fn from_project(
        project: &Project,
        registry: Vec<Arc<dyn Connector>>,
    ) -> (ConnectorHost, Vec<WiringProblem>) {
        Self::from_project_with(project, registry, Vec::new())
    }

    /// As [`from_project`](Self::from_project), plus connections created through
    /// the management API (already decrypted); a connection of the same name in
    /// connections.json takes precedence.
    pub fn from_project_with(
        project: &Project,
        registry: Vec<Arc<dyn Connector>>,
        managed: Vec<ConnectionConfig>,
    ) -> (ConnectorHost, Vec<WiringProblem>) {
        let mut problems = Vec::new();
        let mut connections = HashMap::new();
        for config in managed {
            if project
                .connections
                .service_providers
                .contains_key(&config.name)
            {
                continue;
            }
            let location = format!("connection '{}' (management API)", config.name);
            let Some(connector) = find_connector(&registry, &config.connector_id) else {
                problems.push(WiringProblem {
                    location,
                    message: format!("no built-in connector '{}'", config.connector_id),
                });
                continue;
            };
            match connector.prepare(&config) {
                Ok(connection) => {
                    connections.insert(
                        config.name.clone(),
                        Prepared {
                            connector,
                            connection,
                        },
                    );
                }
                Err(found) => problems.extend(found.into_iter().map(|p| WiringProblem {
                    location: format!("{location}: {}", p.path),
                    message: p.message,
                })),
            }
        }
        let connections_file = project.root.join("connections.json");
        for (name, conn) in &project.connections.service_providers {
            let location = format!(
                "{}: $.serviceProviderConnections.{name}",
                connections_file.display()
            );
            let Some(connector) = find_connector(&registry, &conn.service_provider_id) else {
                problems.push(WiringProblem {
                    location,
                    message: format!(
                        "no built-in connector '{}' (see `conflux connectors` for the list)",
                        conn.service_provider_id
                    ),
                });
                continue;
            };
            let config = ConnectionConfig::from_parameter_values(
                name.clone(),
                connector.descriptor(),
                conn.parameter_values.clone(),
            );
            match connector.prepare(&config) {
                Ok(connection) => {
                    connections.insert(
                        name.clone(),
                        Prepared {
                            connector,
                            connection,
                        },
                    );
                }
                Err(found) => problems.extend(found.into_iter().map(|p| WiringProblem {
                    location: format!("{location}.parameterValues: {}", p.path),
                    message: p.message,
                })),
            }
        }
        let host = ConnectorHost { connections };
        for workflow in &project.workflows {
            let Some(definition) = workflow.document.get("definition") else {
                continue;
            };
            let file = workflow.path.display().to_string();
            for (path, node) in service_provider_nodes(definition) {
                if let Err(message) = host.check_node(node) {
                    problems.push(WiringProblem {
                        location: format!("{file}: $.definition.{path}"),
                        message,
                    });
                }
            }
        }
        (host, problems)
    }

    /// The executor the engine calls for `ServiceProvider` actions.
    pub fn executor(self: &Arc<Self>) -> Arc<dyn ActionExecutor> {
        Arc::new(ServiceProviderExecutor {
            host: Arc::clone(self),
        })
    }

    /// Starts a poll or listen task for every `ServiceProvider` trigger of the
    /// project's workflows; they stop when `shutdown` fires.
    pub fn spawn_triggers(
        self: &Arc<Self>,
        project: &Project,
        engine: &Engine,
        store: Arc<dyn Store>,
        shutdown: ShutdownSignal,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for workflow in &project.workflows {
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
                let Ok(target) = self.resolve(trigger) else {
                    continue; // reported by from_project
                };
                let job = TriggerJob {
                    host: Arc::clone(self),
                    engine: engine.clone(),
                    store: Arc::clone(&store),
                    workflow: workflow.name.clone(),
                    trigger: trigger_name.clone(),
                    connection: target.connection_name,
                    operation: target.operation,
                    inputs: trigger
                        .pointer("/inputs/parameters")
                        .cloned()
                        .unwrap_or(json!({})),
                    interval: recurrence_interval(trigger.get("recurrence")),
                    ctx: ConnectorContext::new(shutdown.clone()),
                };
                let kind = target.kind;
                tasks.push(tokio::spawn(async move {
                    match kind {
                        OperationKind::PushTrigger => job.listen().await,
                        _ => job.poll_loop().await,
                    }
                }));
            }
        }
        tasks
    }

    fn check_node(&self, node: &Json) -> Result<(), String> {
        let target = self.resolve(node)?;
        let prepared = &self.connections[&target.connection_name];
        let descriptor = prepared.connector.descriptor();
        let Some(operation) = descriptor.operation(&target.operation) else {
            return Err(format!("unknown operation '{}'", target.operation));
        };
        let is_trigger = node.get("recurrence").is_some() || target.kind.is_trigger();
        if is_trigger != operation.kind.is_trigger() && operation.kind.is_trigger() {
            // A trigger operation used as an action cannot run.
            if node.get("runAfter").is_some() {
                return Err(format!(
                    "operation '{}' of '{}' is a trigger and cannot be used as an action",
                    operation.id, descriptor.id
                ));
            }
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
    fn resolve(&self, node: &Json) -> Result<Target, String> {
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
        let connection_name = field("connectionName")?;
        let operation = field("operationId")?;
        let provider = config
            .get("serviceProviderId")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let prepared = self.connections.get(&connection_name).ok_or_else(|| {
            format!(
                "connection '{connection_name}' is not defined in connections.json serviceProviderConnections"
            )
        })?;
        let descriptor = prepared.connector.descriptor();
        if !provider.is_empty() && !provider.eq_ignore_ascii_case(descriptor.id) {
            return Err(format!(
                "serviceProviderId '{provider}' does not match connection '{connection_name}', which is a '{}' connection",
                descriptor.id
            ));
        }
        let kind = descriptor
            .operation(&operation)
            .map(|o| o.kind)
            .unwrap_or(OperationKind::Action);
        Ok(Target {
            connection_name,
            operation,
            kind,
        })
    }
}

struct Target {
    connection_name: String,
    operation: String,
    kind: OperationKind,
}

fn find_connector(registry: &[Arc<dyn Connector>], id: &str) -> Option<Arc<dyn Connector>> {
    let wanted = id.trim_start_matches("/serviceProviders/");
    registry
        .iter()
        .find(|c| {
            let d = c.descriptor();
            d.id.eq_ignore_ascii_case(id)
                || d.id
                    .trim_start_matches("/serviceProviders/")
                    .eq_ignore_ascii_case(wanted)
                || d.name.eq_ignore_ascii_case(wanted)
        })
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
        let target = self
            .host
            .resolve(&json!({ "inputs": inputs }))
            .map_err(|m| ExecutorError::permanent("InvalidServiceProviderConfiguration", m))?;
        let prepared = &self.host.connections[&target.connection_name];
        let parameters = inputs.get("parameters").cloned().unwrap_or(json!({}));
        if let Err(problems) = prepared
            .connection
            .check_inputs(&target.operation, &parameters)
        {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(ExecutorError::permanent("BadRequest", text.join("; ")));
        }
        let ctx = ConnectorContext::new(ShutdownSignal::never());
        match prepared
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

/// One connector trigger of one workflow.
struct TriggerJob {
    host: Arc<ConnectorHost>,
    engine: Engine,
    store: Arc<dyn Store>,
    workflow: String,
    trigger: String,
    connection: String,
    operation: String,
    inputs: Json,
    interval: Duration,
    ctx: ConnectorContext,
}

impl TriggerJob {
    fn connection(&self) -> &Arc<dyn Connection> {
        &self.host.connections[&self.connection].connection
    }

    /// Polls every interval; each new item starts one run (its `triggerBody()`),
    /// and the cursor is stored only after those runs exist, so a crash in
    /// between delivers the items again rather than losing them.
    async fn poll_loop(self) {
        let workflow = WorkflowName::new(self.workflow.clone());
        loop {
            if self.ctx.shutdown.is_fired() {
                return;
            }
            let cursor = match self.store.get_trigger_state(&workflow, &self.trigger).await {
                Ok(state) => state.and_then(|s| s.get("cursor").cloned()),
                Err(err) => {
                    tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err, "Could not read the trigger cursor");
                    None
                }
            };
            match self
                .connection()
                .poll(&self.ctx, &self.operation, self.inputs.clone(), cursor)
                .await
            {
                Ok(outcome) => {
                    let mut all_started = true;
                    for item in outcome.items {
                        let outputs = json!({ "body": item });
                        if let Err(err) = self.start(outputs).await {
                            tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err, "Could not start a run for a polled item");
                            all_started = false;
                            break;
                        }
                    }
                    if all_started {
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
                }
                Err(err) => {
                    tracing::warn!(workflow = %self.workflow, trigger = %self.trigger, error = %err.message(), "Poll failed; retrying at the next interval");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = self.ctx.shutdown.fired() => return,
            }
        }
    }

    /// Holds the subscription open; reconnects after failures with a backoff.
    async fn listen(self) {
        let job = Arc::new(self);
        let mut backoff = Duration::from_secs(1);
        loop {
            let sink: Arc<dyn TriggerSink> = Arc::new(RunSink {
                job: Arc::clone(&job),
            });
            let result = job
                .connection()
                .listen(&job.ctx, &job.operation, job.inputs.clone(), sink)
                .await;
            if job.ctx.shutdown.is_fired() {
                return;
            }
            if let Err(err) = result {
                tracing::warn!(workflow = %job.workflow, trigger = %job.trigger, error = %err.message(), "Trigger subscription ended; reconnecting");
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = job.ctx.shutdown.fired() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
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
            .map(|_| ())
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
