//! Workflow definition versions: every run records the version of the
//! definition it started with, a run resumed after a restart runs that version
//! even when workflow.json changed meanwhile, and a run whose version cannot
//! run fails instead of running another definition.

mod common;

use common::Gate;

use std::sync::Arc;
use std::time::Duration;

use conflux_engine::{
    Clock, Engine, EngineOptions, ManualClock, RunOutcome, StartRun, WorkflowRegistration,
};
use conflux_store::{RunId, RunStatus, SqliteStore, Store, WorkflowName, WorkflowVersion};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

/// A Gate, then `Mark` composing `mark`, plus `extra` actions after it; the
/// workflow output `which` is Mark's output.
fn definition(mark: &str, extra: Value) -> Value {
    let mut actions = json!({
        "Gate": {"type": "Gate", "inputs": {}},
        "Mark": {"type": "Compose", "inputs": mark, "runAfter": {"Gate": ["Succeeded"]}}
    });
    if let (Some(all), Value::Object(more)) = (actions.as_object_mut(), extra) {
        all.extend(more);
    }
    json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": actions,
        "outputs": {"which": {"type": "String", "value": "@outputs('Mark')"}}
    }, "kind": "Stateful"})
}

fn version_id(workflow: &str, doc: &Value) -> String {
    WorkflowVersion::new(WorkflowName::new(workflow), doc.clone(), chrono::Utc::now()).version_id
}

fn registration(name: &str, doc: &Value) -> WorkflowRegistration {
    WorkflowRegistration::new(name, common::load(doc)).with_document(doc.clone())
}

async fn engine(store: &Arc<dyn Store>, clock: &Arc<ManualClock>, gate: Option<Gate>) -> Engine {
    let mut options = EngineOptions::new(store.clone());
    options.clock = clock.clone() as Arc<dyn Clock>;
    if let Some(g) = gate {
        options.executors = vec![Arc::new(g)];
    }
    Engine::new(options)
}

/// A gate that holds every run, and the receiver that hears each arrival.
fn holding_gate() -> (
    Gate,
    mpsc::UnboundedReceiver<Value>,
    mpsc::UnboundedSender<()>,
) {
    let (entered, entered_rx) = mpsc::unbounded_channel();
    let (release_tx, release_rx) = mpsc::unbounded_channel();
    let gate = Gate {
        entered,
        release: Some(Arc::new(Mutex::new(release_rx))),
    };
    (gate, entered_rx, release_tx)
}

fn open_gate() -> Gate {
    Gate {
        entered: mpsc::unbounded_channel().0,
        release: None,
    }
}

async fn start(engine: &Engine, name: &str) -> RunId {
    engine
        .start_run(StartRun::new(name, "manual", json!({"body": {}})))
        .await
        .expect("started")
        .run_id
}

fn which(outcome: &RunOutcome) -> Value {
    outcome.outputs.as_ref().expect("outputs")["which"]["value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_keeps_its_version_and_new_runs_use_the_new_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let old_doc = definition("old", json!({}));
    let new_doc = definition(
        "new",
        json!({"Extra": {"type": "Compose", "inputs": "only new", "runAfter": {"Mark": ["Succeeded"]}}}),
    );
    let (old_id, new_id) = (
        version_id("orders", &old_doc),
        version_id("orders", &new_doc),
    );
    assert_ne!(old_id, new_id);

    // First engine: the run stops at the gate, then the engine shuts down.
    let run_id = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let (gate, mut entered, _release) = holding_gate();
        let engine = engine(&store, &clock, Some(gate)).await;
        engine
            .register_workflow(registration("orders", &old_doc))
            .expect("registered");
        // Registering the same document again is the same version.
        engine
            .register_workflow(registration("orders", &old_doc))
            .expect("registered again");
        let run_id = start(&engine, "orders").await;
        entered.recv().await.expect("the gate was reached");
        engine.shutdown().await;
        let run = store.get_run(&run_id).await.expect("read").expect("run");
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(run.version_id, old_id, "the run records its version");
        store.close().await.expect("close");
        run_id
    };

    // Second engine, after workflow.json changed.
    clock.advance(Duration::from_secs(60));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let engine = engine(&store, &clock, Some(open_gate())).await;
    engine
        .register_workflow(registration("orders", &new_doc))
        .expect("registered");
    assert_eq!(engine.record_versions().await.expect("versions"), 1);
    assert_eq!(engine.workflows()[0].version_id, new_id);
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resume"), 1);
    let resumed = done.recv().await.expect("the resumed run finished");
    assert_eq!(resumed.run_id, run_id);
    assert_eq!(resumed.status, RunStatus::Succeeded, "{resumed:?}");
    assert_eq!(which(&resumed), json!("old"), "the old definition ran");
    assert!(
        resumed.actions.iter().all(|a| a.name != "Extra"),
        "an action only the new definition has did not run: {resumed:?}"
    );
    let run = store.get_run(&run_id).await.expect("read").expect("run");
    assert_eq!(run.version_id, old_id);
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(store
        .get_action(&run_id, "Extra")
        .await
        .expect("read")
        .is_none());

    // A new run uses the new definition.
    let handle = engine
        .start_run(StartRun::new("orders", "manual", json!({"body": {}})))
        .await
        .expect("started");
    let fresh = handle.completion.await.expect("finished");
    assert_eq!(fresh.status, RunStatus::Succeeded, "{fresh:?}");
    assert_eq!(which(&fresh), json!("new"));
    let fresh_run = store
        .get_run(&fresh.run_id)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(fresh_run.version_id, new_id);

    // Both versions are stored, newest first, each with its document.
    let versions = store
        .list_workflow_versions(&WorkflowName::new("orders"))
        .await
        .expect("list");
    let ids: Vec<&str> = versions.iter().map(|v| v.version_id.as_str()).collect();
    assert_eq!(ids, [new_id.as_str(), old_id.as_str()]);
    assert_eq!(versions[1].definition, old_doc);
    assert_eq!(versions[0].definition, new_doc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_version_cannot_run_fails_instead_of_running_another_definition() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let gated = definition("old", json!({}));
    // The new definitions need no Gate executor.
    let plain = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {"Mark": {"type": "Compose", "inputs": "new"}}
    }, "kind": "Stateful"});

    let (needs_gate, unversioned) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let (gate, mut entered, _release) = holding_gate();
        let engine = engine(&store, &clock, Some(gate)).await;
        engine
            .register_workflow(registration("needs-gate", &gated))
            .expect("registered");
        // Registered without its document: its runs name no stored version.
        engine
            .register_workflow(WorkflowRegistration::new(
                "unversioned",
                common::load(&gated),
            ))
            .expect("registered");
        let a = start(&engine, "needs-gate").await;
        let b = start(&engine, "unversioned").await;
        entered.recv().await.expect("a gate was reached");
        entered.recv().await.expect("both gates were reached");
        engine.shutdown().await;
        assert_eq!(
            store
                .get_run(&b)
                .await
                .expect("read")
                .expect("run")
                .version_id,
            conflux_engine::UNVERSIONED
        );
        store.close().await.expect("close");
        (a, b)
    };

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let engine = engine(&store, &clock, None).await;
    engine
        .register_workflow(registration("needs-gate", &plain))
        .expect("registered");
    engine
        .register_workflow(registration("unversioned", &plain))
        .expect("registered");
    let mut done = engine.completions();
    engine.resume_incomplete().await.expect("resume");
    let mut outcomes = [
        done.recv().await.expect("one finished"),
        done.recv().await.expect("both finished"),
    ];
    outcomes.sort_by_key(|o| o.run_id != needs_gate);
    assert_eq!(outcomes[0].run_id, needs_gate);
    assert_eq!(outcomes[1].run_id, unversioned);

    for (outcome, cause) in [
        (&outcomes[0], "no installed executor provides: Gate (Gate)"),
        (&outcomes[1], "is not in the store"),
    ] {
        assert_eq!(outcome.status, RunStatus::Failed, "{outcome:?}");
        assert!(outcome.actions.is_empty(), "nothing ran: {outcome:?}");
        let run = store
            .get_run(&outcome.run_id)
            .await
            .expect("read")
            .expect("run");
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.code.as_deref(), Some("WorkflowVersionUnavailable"));
        let message = run.error.as_ref().expect("error")["message"]
            .as_str()
            .expect("message")
            .to_string();
        assert!(message.contains(&run.version_id), "{message}");
        assert!(message.contains(cause), "{message}");
        assert!(store
            .get_action(&outcome.run_id, "Mark")
            .await
            .expect("read")
            .is_none());
    }
}

/// Waits `minutes` (a Wait action), then composes.
fn waiting(kind: &str, minutes: u64) -> Value {
    json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {
            "Pause": {"type": "Wait", "inputs": {"interval": {"count": minutes, "unit": "Minute"}}},
            "After": {"type": "Compose", "inputs": "done", "runAfter": {"Pause": ["Succeeded"]}}
        }
    }, "kind": kind})
}

async fn run_advancing(
    engine: &Engine,
    clock: &ManualClock,
    name: &str,
    by: Duration,
) -> RunOutcome {
    let handle = engine
        .start_run(StartRun::new(name, "manual", json!({"body": {}})))
        .await
        .expect("started");
    clock.wait_for_sleepers(1).await;
    clock.advance(by);
    handle.completion.await.expect("finished")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_runs_have_a_five_minute_limit_by_default() {
    const MINUTE: Duration = Duration::from_secs(60);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.expect("store"));
    let engine = engine(&store, &clock, None).await;
    let slow_stateless = waiting("Stateless", 8);
    engine
        .register_workflow(registration("quick", &slow_stateless))
        .expect("registered");
    engine
        .register_workflow(registration("stateful", &waiting("Stateful", 8)))
        .expect("registered");
    let mut lenient = registration("lenient", &slow_stateless);
    lenient.run_timeout = Some(10 * MINUTE);
    engine.register_workflow(lenient).expect("registered");

    // Past the limit, before the Wait ends.
    let timed_out = run_advancing(&engine, &clock, "quick", 6 * MINUTE).await;
    assert_eq!(timed_out.status, RunStatus::TimedOut, "{timed_out:?}");
    assert_eq!(timed_out.code.as_deref(), Some("RunTimedOut"));
    // A stateless run that did not succeed keeps its history, with its version.
    let run = store
        .get_run(&timed_out.run_id)
        .await
        .expect("read")
        .expect("the timed-out stateless run is recorded");
    assert!(run.stateless);
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.version_id, version_id("quick", &slow_stateless));
    assert!(store
        .get_workflow_version(&WorkflowName::new("quick"), &run.version_id)
        .await
        .expect("read")
        .is_some());

    // The stateful limit (90 days) and a registration's own limit are longer.
    for name in ["stateful", "lenient"] {
        let outcome = run_advancing(&engine, &clock, name, 8 * MINUTE).await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{name}: {outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stateless_limit_is_configurable() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.expect("store"));
    let mut options = EngineOptions::new(store.clone());
    options.clock = clock.clone() as Arc<dyn Clock>;
    options.stateless_run_timeout = Duration::from_secs(60);
    let engine = Engine::new(options);
    let doc = waiting("Stateless", 3);
    engine
        .register_workflow(registration("short", &doc))
        .expect("registered");
    let outcome = run_advancing(&engine, &clock, "short", Duration::from_secs(120)).await;
    assert_eq!(outcome.status, RunStatus::TimedOut, "{outcome:?}");
}
