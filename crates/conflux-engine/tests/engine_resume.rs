//! A run interrupted mid-flight resumes from its journal in a new engine over
//! the same SQLite file: finished actions are not run again, nothing is
//! recorded twice.

mod common;

use common::Gate;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use conflux_engine::{
    ActionExecutor, Engine, EngineOptions, ExecuteRequest, ExecutorError, ExprValue, StartRun,
    WorkflowRegistration,
};
use conflux_store::{ActionStatus, RunStatus, SqliteStore, Store};
use serde_json::json;
use tokio::sync::{mpsc, Mutex};

/// `type: Count` actions count their executions.
struct Count(Arc<AtomicUsize>);

#[async_trait]
impl ActionExecutor for Count {
    fn handles(&self, t: &str) -> bool {
        t.eq_ignore_ascii_case("Count")
    }
    async fn execute(&self, _r: ExecuteRequest<'_>) -> Result<ExprValue, ExecutorError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(ExprValue::Int(n as i64))
    }
}

fn definition() -> serde_json::Value {
    common::workflow(json!({
        "Init": {"type": "InitializeVariable", "inputs": {"variables": [{"name": "trace", "type": "string", "value": "start"}]}},
        "First": {"type": "Count", "inputs": {}, "runAfter": {"Init": ["Succeeded"]}},
        "Note": {"type": "AppendToStringVariable", "inputs": {"name": "trace", "value": "-first@{outputs('First')}"}, "runAfter": {"First": ["Succeeded"]}},
        "Loop": {"type": "Foreach", "foreach": "@createArray(1, 2)", "operationOptions": "Sequential",
                 "actions": {"Tick": {"type": "Count", "inputs": {}}}, "runAfter": {"Note": ["Succeeded"]}},
        "Gate": {"type": "Gate", "inputs": {"id": "@guid()", "at": "@utcNow()", "n": "@rand(0, 1000000)"}, "runAfter": {"Loop": ["Succeeded"]}},
        "After": {"type": "Compose", "inputs": {"trace": "@variables('trace')", "first": "@outputs('First')", "gate": "@outputs('Gate')"}, "runAfter": {"Gate": ["Succeeded"]}}
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_run_resumes_from_the_journal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let counter = Arc::new(AtomicUsize::new(0));
    let workflow = common::load(&definition());

    // First engine: runs until the Gate blocks, then shuts down.
    let (entered_tx, mut entered_rx) = mpsc::unbounded_channel();
    let (_release_tx, release_rx) = mpsc::unbounded_channel();
    let (run_id, first_inputs) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let mut options = EngineOptions::new(store.clone());
        options.executors = vec![
            Arc::new(Count(counter.clone())),
            Arc::new(Gate {
                entered: entered_tx.clone(),
                release: Some(Arc::new(Mutex::new(release_rx))),
            }),
        ];
        let engine = Engine::new(options);
        engine
            .register_workflow(WorkflowRegistration::new("durable", workflow.clone()))
            .expect("register");
        let handle = engine
            .start_run(StartRun::new("durable", "manual", json!({"body": {}})))
            .await
            .expect("start");
        let seen = entered_rx.recv().await.expect("the gate was reached");
        engine.shutdown().await;
        let run = store
            .get_run(&handle.run_id)
            .await
            .expect("read")
            .expect("run exists");
        assert_eq!(
            run.status,
            RunStatus::Running,
            "an interrupted run stays incomplete"
        );
        (handle.run_id, seen)
    };
    assert_eq!(
        counter.load(Ordering::SeqCst),
        3,
        "First and two Ticks ran before the interruption"
    );

    // Second engine over the same file.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let mut options = EngineOptions::new(store.clone());
    options.executors = vec![
        Arc::new(Count(counter.clone())),
        Arc::new(Gate {
            entered: entered_tx,
            release: None,
        }),
    ];
    let engine = Engine::new(options);
    engine
        .register_workflow(WorkflowRegistration::new("durable", workflow))
        .expect("register");
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resume"), 1);
    let outcome = done.recv().await.expect("the resumed run finished");
    let second_inputs = entered_rx.recv().await.expect("the gate ran again");
    assert_eq!(
        second_inputs, first_inputs,
        "guid(), utcNow() and rand() replay from the journal"
    );
    assert_eq!(outcome.run_id, run_id);
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        counter.load(Ordering::SeqCst),
        3,
        "finished actions were not run again"
    );

    let after = store
        .get_action(&run_id, "After")
        .await
        .expect("read")
        .expect("After recorded");
    assert_eq!(
        after.outputs,
        Some(json!({"trace": "start-first1", "first": 1, "gate": "passed"}))
    );
    let actions = store.list_actions(&run_id).await.expect("list");
    let mut names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "no action recorded twice: {names:?}");
    assert!(
        actions.iter().all(|a| a.status == ActionStatus::Succeeded),
        "{actions:?}"
    );
    let ticks = store.list_repetitions(&run_id, "Tick").await.expect("reps");
    assert_eq!(ticks.len(), 2);
    let run = store.get_run(&run_id).await.expect("read").expect("run");
    assert_eq!(run.status, RunStatus::Succeeded);
}
