//! Helpers shared by the engine tests: build an engine over an in-memory
//! SQLite store, load a fixture, run it to completion.

#![allow(dead_code)]

use std::sync::Arc;

use conflux_definition::Workflow;
use conflux_engine::{
    ActionExecutor, Clock, Engine, EngineOptions, ResponseMessage, RunOutcome, StartRun,
    WorkflowRegistration,
};
use conflux_store::{ActionStatus, SqliteStore, Store};
use serde_json::{json, Value};

pub struct Harness {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
}

pub async fn harness() -> Harness {
    harness_with(Vec::new(), None).await
}

pub async fn harness_with(
    executors: Vec<Arc<dyn ActionExecutor>>,
    clock: Option<Arc<dyn Clock>>,
) -> Harness {
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_in_memory()
            .await
            .expect("in-memory store"),
    );
    let mut options = EngineOptions::new(store.clone());
    options.executors = executors;
    if let Some(c) = clock {
        options.clock = c;
    }
    Harness {
        engine: Engine::new(options),
        store,
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn load(doc: &Value) -> Arc<Workflow> {
    Arc::new(Workflow::from_json(doc).unwrap_or_else(|e| panic!("{e}")))
}

impl Harness {
    pub fn register(&self, name: &str, doc: &Value) {
        self.engine
            .register_workflow(WorkflowRegistration::new(name, load(doc)))
            .expect("registered");
    }

    pub async fn run(&self, name: &str, body: Value) -> (RunOutcome, Option<ResponseMessage>) {
        let handle = self
            .engine
            .start_run(StartRun::new(
                name,
                "manual",
                json!({"headers": {}, "body": body}),
            ))
            .await
            .expect("run started");
        let response = match handle.response {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        let outcome = handle.completion.await.expect("run finished");
        (outcome, response)
    }

    /// Registers and runs a fixture in one go.
    pub async fn run_fixture(
        &self,
        fixture_name: &str,
        body: Value,
    ) -> (RunOutcome, Option<ResponseMessage>) {
        self.register(fixture_name, &fixture(fixture_name));
        self.run(fixture_name, body).await
    }

    pub async fn record(&self, outcome: &RunOutcome, action: &str) -> conflux_store::ActionRecord {
        self.store
            .get_action(&outcome.run_id, action)
            .await
            .expect("store read")
            .unwrap_or_else(|| panic!("no record for {action}"))
    }
}

/// The status of the (last) result of `name`.
pub fn status(outcome: &RunOutcome, name: &str) -> ActionStatus {
    outcome
        .actions
        .iter()
        .rev()
        .find(|a| a.name == name && a.repetition.is_empty())
        .or_else(|| outcome.actions.iter().rev().find(|a| a.name == name))
        .unwrap_or_else(|| {
            panic!(
                "{name} has no result; results: {:?}",
                outcome.actions.iter().map(|a| &a.name).collect::<Vec<_>>()
            )
        })
        .status
}

/// Wraps bare actions into a workflow.json with a Request trigger.
pub fn workflow(actions: Value) -> Value {
    json!({"definition": {"triggers": {"manual": {"type": "Request", "kind": "Http"}}, "actions": actions}, "kind": "Stateful"})
}

/// `type: Gate` actions send their inputs to `entered` when they start, then
/// wait for a release that never comes when `release` is set (the run is
/// interrupted there); without it they pass at once, answering `"passed"`.
pub struct Gate {
    pub entered: tokio::sync::mpsc::UnboundedSender<Value>,
    pub release: Option<Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<()>>>>,
}

#[async_trait::async_trait]
impl ActionExecutor for Gate {
    fn handles(&self, t: &str) -> bool {
        t.eq_ignore_ascii_case("Gate")
    }
    async fn execute(
        &self,
        r: conflux_engine::ExecuteRequest<'_>,
    ) -> Result<conflux_engine::ExprValue, conflux_engine::ExecutorError> {
        let _ = self.entered.send(r.inputs.to_json());
        if let Some(rx) = &self.release {
            rx.lock().await.recv().await;
        }
        Ok(conflux_engine::ExprValue::string("passed"))
    }
}
