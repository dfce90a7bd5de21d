//! A Wait interrupted by a restart keeps the deadline it started with: the
//! resumed run does not wait a whole interval again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use conflux_engine::{Engine, EngineOptions, ManualClock, StartRun, WorkflowRegistration};
use conflux_store::{ActionStatus, RunStatus, SqliteStore, Store};
use serde_json::json;

fn engine(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> Engine {
    let mut options = EngineOptions::new(store);
    options.clock = clock;
    let engine = Engine::new(options);
    let doc = common::workflow(json!({
        "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}},
        "Done": {"type": "Compose", "inputs": "done", "runAfter": {"Pause": ["Succeeded"]}}
    }));
    engine
        .register_workflow(WorkflowRegistration::new("waits", common::load(&doc)))
        .expect("registered");
    engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_wait_ends_at_its_first_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let start = chrono::Utc::now();

    // First engine: the run enters its one-hour Wait, then the engine stops.
    let run_id = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let clock = Arc::new(ManualClock::new(start));
        let engine = engine(store, clock.clone());
        let run = engine
            .start_run(StartRun::new("waits", "manual", json!({})))
            .await
            .expect("started");
        clock.wait_for_sleepers(1).await;
        engine.shutdown().await;
        run.run_id
    };

    // Second engine, an hour later by its clock, which never moves: only a
    // Wait that kept its first deadline can end.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let clock = Arc::new(ManualClock::new(start + chrono::Duration::hours(1)));
    let engine = engine(store.clone(), clock);
    let mut completions = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resumed"), 1);
    let outcome = tokio::time::timeout(Duration::from_secs(60), completions.recv())
        .await
        .expect("the resumed Wait waited a whole interval again")
        .expect("a completion");
    assert_eq!(outcome.run_id, run_id);
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(common::status(&outcome, "Pause"), ActionStatus::Succeeded);
    assert_eq!(common::status(&outcome, "Done"), ActionStatus::Succeeded);
}
