//! Trigger concurrency: at most `runs` runs execute at once, the rest wait in
//! the store as `Waiting` and start in arrival order; a full waiting queue
//! refuses new runs; waiting runs survive a restart and can be cancelled.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{harness_with, load, Harness};
use conflux_engine::{
    ActionExecutor, Engine, EngineError, EngineOptions, ExecuteRequest, ExecutorError, ExprValue,
    RunHandle, RunId, StartRun, WorkflowRegistration,
};
use conflux_store::{RunStatus, SqliteStore, Store, WorkflowName};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

/// `type: Hold` actions announce their run and wait until the test releases them.
struct Hold(mpsc::UnboundedSender<(RunId, oneshot::Sender<()>)>);

#[async_trait]
impl ActionExecutor for Hold {
    fn handles(&self, t: &str) -> bool {
        t == "Hold"
    }
    async fn execute(&self, r: ExecuteRequest<'_>) -> Result<ExprValue, ExecutorError> {
        let (tx, rx) = oneshot::channel();
        let _ = self.0.send((r.run_id.clone(), tx));
        let _ = rx.await;
        Ok(ExprValue::Null)
    }
}

type Entered = mpsc::UnboundedReceiver<(RunId, oneshot::Sender<()>)>;

fn gated(trigger_extra: serde_json::Value) -> serde_json::Value {
    let mut trigger = json!({"type": "Request", "kind": "Http"});
    trigger
        .as_object_mut()
        .expect("object")
        .extend(trigger_extra.as_object().expect("object").clone());
    json!({"definition": {
        "triggers": {"manual": trigger},
        "actions": {"Work": {"type": "Hold", "inputs": {}}}
    }, "kind": "Stateful"})
}

async fn gated_harness(trigger_extra: serde_json::Value) -> (Harness, Entered) {
    let (tx, rx) = mpsc::unbounded_channel();
    let h = harness_with(vec![Arc::new(Hold(tx))], None).await;
    h.register("gated", &gated(trigger_extra));
    (h, rx)
}

async fn start(engine: &Engine) -> Result<RunHandle, EngineError> {
    engine
        .start_run(StartRun::new("gated", "manual", json!({"body": {}})))
        .await
}

async fn stored_status(store: &Arc<dyn Store>, run_id: &RunId) -> RunStatus {
    store
        .get_run(run_id)
        .await
        .expect("read")
        .expect("run stored")
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_run_waits_until_a_slot_frees_and_runs_start_in_order() {
    let (h, mut entered) =
        gated_harness(json!({"runtimeConfiguration": {"concurrency": {"runs": 2}}})).await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(start(&h.engine).await.expect("accepted"));
    }
    let (a, release_a) = entered.recv().await.expect("a run started");
    let (b, release_b) = entered.recv().await.expect("a second run started");
    let mut first_two = vec![a.clone(), b.clone()];
    first_two.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    let mut expected = vec![runs[0].run_id.clone(), runs[1].run_id.clone()];
    expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(first_two, expected, "the first two arrivals run");
    for waiting in &runs[2..] {
        assert_eq!(
            stored_status(&h.store, &waiting.run_id).await,
            RunStatus::Waiting
        );
    }
    assert!(entered.try_recv().is_err(), "only two runs execute");
    let listed = h
        .store
        .count_runs(&WorkflowName::new("gated"), Some(RunStatus::Waiting))
        .await
        .expect("count");
    assert_eq!(listed, 2);

    let mut runs = runs.into_iter();
    let first = runs.next().expect("run 1");
    let second = runs.next().expect("run 2");
    let third = runs.next().expect("run 3");
    let fourth = runs.next().expect("run 4");
    let (release_first, release_second) = if a == first.run_id {
        (release_a, release_b)
    } else {
        (release_b, release_a)
    };
    let _ = release_first.send(());
    let done = first.completion.await.expect("finished");
    assert_eq!(done.status, RunStatus::Succeeded);

    let (c, release_c) = entered.recv().await.expect("a waiting run started");
    assert_eq!(c, third.run_id, "the oldest waiting run starts first");
    assert_eq!(stored_status(&h.store, &c).await, RunStatus::Running);
    assert_eq!(
        stored_status(&h.store, &fourth.run_id).await,
        RunStatus::Waiting
    );
    let _ = release_c.send(());
    assert_eq!(
        third.completion.await.expect("finished").status,
        RunStatus::Succeeded
    );
    let (d, release_d) = entered.recv().await.expect("the last run started");
    assert_eq!(d, fourth.run_id);
    let _ = release_d.send(());
    assert_eq!(
        fourth.completion.await.expect("finished").status,
        RunStatus::Succeeded
    );
    let _ = release_second.send(());
    assert_eq!(
        second.completion.await.expect("finished").status,
        RunStatus::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_waiting_queue_refuses_runs_and_stores_nothing() {
    let (h, mut entered) = gated_harness(
        json!({"runtimeConfiguration": {"concurrency": {"runs": 1, "maximumWaitingRuns": 10}}}),
    )
    .await;
    let mut handles = Vec::new();
    for _ in 0..11 {
        handles.push(start(&h.engine).await.expect("accepted"));
    }
    let (_running, _release) = entered.recv().await.expect("the first run started");
    let err = start(&h.engine).await.err().expect("the queue is full");
    assert!(
        matches!(&err, EngineError::TooManyWaitingRuns { workflow, limit } if workflow == "gated" && *limit == 10),
        "{err}"
    );
    let name = WorkflowName::new("gated");
    assert_eq!(h.store.count_runs(&name, None).await.expect("count"), 11);
    assert_eq!(
        h.store
            .count_runs(&name, Some(RunStatus::Waiting))
            .await
            .expect("count"),
        10
    );

    // Cancelling a waiting run frees its place in the queue.
    let cancelled = handles.pop().expect("last waiting run");
    h.engine
        .cancel_run("gated", &cancelled.run_id)
        .await
        .expect("cancel");
    let outcome = cancelled.completion.await.expect("finished");
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert!(outcome.actions.is_empty(), "nothing of it ran");
    assert_eq!(
        stored_status(&h.store, &cancelled.run_id).await,
        RunStatus::Cancelled
    );
    let again = start(&h.engine)
        .await
        .expect("a place in the queue is free again");
    assert_eq!(
        stored_status(&h.store, &again.run_id).await,
        RunStatus::Waiting
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_instance_runs_one_at_a_time() {
    let (h, mut entered) = gated_harness(json!({"operationOptions": "SingleInstance"})).await;
    let first = start(&h.engine).await.expect("accepted");
    let second = start(&h.engine).await.expect("accepted");
    let (id, release) = entered.recv().await.expect("first started");
    assert_eq!(id, first.run_id);
    assert_eq!(
        stored_status(&h.store, &second.run_id).await,
        RunStatus::Waiting
    );
    let _ = release.send(());
    first.completion.await.expect("finished");
    let (id, release) = entered.recv().await.expect("second started");
    assert_eq!(id, second.run_id);
    let _ = release.send(());
    assert_eq!(
        second.completion.await.expect("finished").status,
        RunStatus::Succeeded
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_runs_survive_a_restart_and_keep_waiting_for_a_slot() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("conflux.db");
    let workflow = load(&gated(json!({"operationOptions": "SingleInstance"})));

    let (running, waiting) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
        let (tx, mut entered) = mpsc::unbounded_channel();
        let mut options = EngineOptions::new(store.clone());
        options.executors = vec![Arc::new(Hold(tx))];
        let engine = Engine::new(options);
        engine
            .register_workflow(WorkflowRegistration::new("gated", workflow.clone()))
            .expect("register");
        let first = start(&engine).await.expect("accepted");
        let second = start(&engine).await.expect("accepted");
        let _held = entered.recv().await.expect("first started");
        engine.shutdown().await;
        assert_eq!(
            stored_status(&store, &second.run_id).await,
            RunStatus::Waiting
        );
        (first.run_id, second.run_id)
    };

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let (tx, mut entered) = mpsc::unbounded_channel();
    let mut options = EngineOptions::new(store.clone());
    options.executors = vec![Arc::new(Hold(tx))];
    let engine = Engine::new(options);
    engine
        .register_workflow(WorkflowRegistration::new("gated", workflow))
        .expect("register");
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.expect("resume"), 2);
    let (id, release) = entered.recv().await.expect("the interrupted run resumed");
    assert_eq!(id, running, "the run that was executing goes first");
    assert_eq!(stored_status(&store, &waiting).await, RunStatus::Waiting);
    assert!(entered.try_recv().is_err(), "the waiting run still waits");
    let _ = release.send(());
    assert_eq!(done.recv().await.expect("finished").run_id, running);
    let (id, release) = entered.recv().await.expect("the waiting run started");
    assert_eq!(id, waiting);
    let _ = release.send(());
    let outcome = done.recv().await.expect("finished");
    assert_eq!(outcome.run_id, waiting);
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(stored_status(&store, &waiting).await, RunStatus::Succeeded);
}
