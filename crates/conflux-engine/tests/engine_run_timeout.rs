//! The run duration limit (host.json `Runtime.Backend.FlowRunTimeout`): a run
//! that outlives it ends TimedOut with its running actions cancelled. Time is
//! driven by a ManualClock; nothing sleeps for real.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{load, workflow};
use conflux_engine::{
    Clock, Engine, EngineOptions, ManualClock, RunOutcome, StartRun, WorkflowRegistration,
};
use conflux_store::{ActionStatus, RunStatus, SqliteStore, Store};
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

/// Waits an hour, then composes; a parallel branch finishes at once.
fn slow() -> serde_json::Value {
    workflow(json!({
        "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}},
        "After": {"type": "Compose", "inputs": "done", "runAfter": {"Pause": ["Succeeded"]}},
        "Quick": {"type": "Compose", "inputs": "quick"}
    }))
}

async fn engine(
    clock: &Arc<ManualClock>,
    run_timeout: Option<Duration>,
) -> (Engine, Arc<dyn Store>) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.expect("store"));
    let mut options = EngineOptions::new(store.clone());
    options.clock = clock.clone() as Arc<dyn Clock>;
    if let Some(t) = run_timeout {
        options.run_timeout = t;
    }
    (Engine::new(options), store)
}

/// Starts a run of `name`, waits until its Wait sleeps, moves time by `by`.
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

fn status_of(outcome: &RunOutcome, name: &str) -> ActionStatus {
    outcome
        .actions
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no result for {name}: {outcome:?}"))
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_the_engine_limit_times_out_and_cancels_running_actions() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let (engine, store) = engine(&clock, Some(30 * MINUTE)).await;
    engine
        .register_workflow(WorkflowRegistration::new("slow", load(&slow())))
        .expect("registered");
    let outcome = run_advancing(&engine, &clock, "slow", 31 * MINUTE).await;

    assert_eq!(outcome.status, RunStatus::TimedOut, "{outcome:?}");
    assert_eq!(outcome.code.as_deref(), Some("RunTimedOut"));
    assert_eq!(status_of(&outcome, "Quick"), ActionStatus::Succeeded);
    assert_eq!(status_of(&outcome, "Pause"), ActionStatus::Cancelled);
    assert_eq!(status_of(&outcome, "After"), ActionStatus::Cancelled);

    let run = store
        .get_run(&outcome.run_id)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.code.as_deref(), Some("RunTimedOut"));
    assert_eq!(
        run.error.as_ref().map(|e| e["code"].clone()),
        Some(json!("RunTimedOut"))
    );
    let pause = store
        .get_action(&outcome.run_id, "Pause")
        .await
        .expect("read")
        .expect("Pause recorded");
    assert_eq!(pause.status, ActionStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_limit_overrides_the_engine_and_the_default_is_long() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    // Engine default (90 days): an hour's wait finishes.
    let (engine, _) = engine(&clock, None).await;
    engine
        .register_workflow(WorkflowRegistration::new("slow", load(&slow())))
        .expect("registered");
    let mut strict = WorkflowRegistration::new("strict", load(&slow()));
    strict.run_timeout = Some(10 * MINUTE);
    engine.register_workflow(strict).expect("registered");

    let outcome = run_advancing(&engine, &clock, "slow", 61 * MINUTE).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(status_of(&outcome, "After"), ActionStatus::Succeeded);

    let outcome = run_advancing(&engine, &clock, "strict", 11 * MINUTE).await;
    assert_eq!(outcome.status, RunStatus::TimedOut, "{outcome:?}");
    assert_eq!(status_of(&outcome, "Pause"), ActionStatus::Cancelled);

    // A registration may also be more lenient than the engine.
    let (engine, _) = engine_with_limit(&clock, 5 * MINUTE).await;
    let mut lenient = WorkflowRegistration::new("lenient", load(&slow()));
    lenient.run_timeout = Some(2 * 60 * MINUTE);
    engine.register_workflow(lenient).expect("registered");
    let outcome = run_advancing(&engine, &clock, "lenient", 61 * MINUTE).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
}

async fn engine_with_limit(clock: &Arc<ManualClock>, limit: Duration) -> (Engine, Arc<dyn Store>) {
    engine(clock, Some(limit)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_past_its_limit_times_out_from_its_start_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let doc = slow();
    let run_id = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let mut options = EngineOptions::new(store);
        options.clock = clock.clone() as Arc<dyn Clock>;
        let engine = Engine::new(options);
        engine
            .register_workflow(WorkflowRegistration::new("slow", load(&doc)))
            .expect("registered");
        let handle = engine
            .start_run(StartRun::new("slow", "manual", json!({"body": {}})))
            .await
            .expect("started");
        clock.wait_for_sleepers(1).await;
        engine.shutdown().await;
        handle.run_id
    };
    // Down for 20 minutes; the limit is 15 minutes from the run's start.
    clock.advance(20 * MINUTE);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let mut options = EngineOptions::new(store.clone());
    options.clock = clock.clone() as Arc<dyn Clock>;
    options.run_timeout = 15 * MINUTE;
    let engine = Engine::new(options);
    engine
        .register_workflow(WorkflowRegistration::new("slow", load(&doc)))
        .expect("registered");
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resume"), 1);
    let outcome = done.recv().await.expect("finished");
    assert_eq!(outcome.run_id, run_id);
    assert_eq!(outcome.status, RunStatus::TimedOut, "{outcome:?}");
    let run = store.get_run(&run_id).await.expect("read").expect("run");
    assert_eq!(run.status, RunStatus::TimedOut);
}
