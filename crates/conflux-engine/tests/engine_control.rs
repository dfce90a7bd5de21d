//! Foreach concurrency limits, cancellation, Until timeouts on the injected
//! clock, and stateless history.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{harness_with, status, workflow};
use conflux_engine::{
    ActionExecutor, Clock, ExecuteRequest, ExecutorError, ExprValue, ManualClock, StartRun,
    WorkflowRegistration,
};
use conflux_store::{ActionStatus, RunStatus};
use serde_json::json;
use tokio::sync::{mpsc, Barrier};

/// `type: Track` actions record how many of them run at once; each waits at a
/// barrier so that a batch of `width` iterations must be in flight together.
struct Track {
    now: AtomicUsize,
    max: AtomicUsize,
    barrier: Barrier,
}

#[async_trait]
impl ActionExecutor for Track {
    fn handles(&self, t: &str) -> bool {
        t == "Track"
    }
    async fn execute(&self, _r: ExecuteRequest<'_>) -> Result<ExprValue, ExecutorError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        self.barrier.wait().await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(ExprValue::Null)
    }
}

async fn max_in_flight(width: usize, options: serde_json::Value) -> usize {
    let track = Arc::new(Track {
        now: AtomicUsize::new(0),
        max: AtomicUsize::new(0),
        barrier: Barrier::new(width),
    });
    let h = harness_with(vec![track.clone()], None).await;
    let mut each = json!({"type": "Foreach", "foreach": "@range(0, 12)", "actions": {"T": {"type": "Track", "inputs": {}}}});
    each.as_object_mut()
        .expect("object")
        .extend(options.as_object().expect("object").clone());
    h.register("loop", &workflow(json!({"Each": each})));
    let (outcome, _) = h.run("loop", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    track.max.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreach_respects_its_concurrency() {
    assert_eq!(
        max_in_flight(
            4,
            json!({"runtimeConfiguration": {"concurrency": {"repetitions": 4}}})
        )
        .await,
        4
    );
    assert_eq!(
        max_in_flight(1, json!({"operationOptions": "Sequential"})).await,
        1
    );
    assert_eq!(
        max_in_flight(12, json!({})).await,
        12,
        "default 20 lets all 12 run together"
    );
}

/// `type: Block` actions announce themselves and never finish.
struct Block(mpsc::UnboundedSender<()>);

#[async_trait]
impl ActionExecutor for Block {
    fn handles(&self, t: &str) -> bool {
        t == "Block"
    }
    async fn execute(&self, _r: ExecuteRequest<'_>) -> Result<ExprValue, ExecutorError> {
        let _ = self.0.send(());
        std::future::pending::<()>().await;
        Ok(ExprValue::Null)
    }
}

#[tokio::test]
async fn cancelling_a_run_cancels_running_actions() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let h = harness_with(vec![Arc::new(Block(tx))], None).await;
    h.register(
        "cancel",
        &workflow(json!({
            "Stuck": {"type": "Block", "inputs": {}},
            "Later": {"type": "Compose", "inputs": 1, "runAfter": {"Stuck": ["Succeeded"]}}
        })),
    );
    let handle = h
        .engine
        .start_run(StartRun::new("cancel", "manual", json!({})))
        .await
        .expect("started");
    rx.recv().await.expect("Stuck started");
    h.engine
        .cancel_run("cancel", &handle.run_id)
        .await
        .expect("cancel");
    let outcome = handle.completion.await.expect("finished");
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(status(&outcome, "Stuck"), ActionStatus::Cancelled);
    assert_ne!(status(&outcome, "Later"), ActionStatus::Succeeded);
    let run = h
        .store
        .get_run(&handle.run_id)
        .await
        .expect("read")
        .expect("run");
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(
        h.engine.cancel_run("cancel", &handle.run_id).await.is_err(),
        "a finished run cannot be cancelled"
    );
}

#[tokio::test]
async fn until_timeout_is_checked_between_iterations() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let h = harness_with(Vec::new(), Some(clock.clone() as Arc<dyn Clock>)).await;
    h.register(
        "until",
        &workflow(json!({
            "Poll": {"type": "Until", "expression": "@equals(1, 2)", "limit": {"count": 5000, "timeout": "PT1H"},
                     "actions": {"Nap": {"type": "Wait", "inputs": {"interval": {"count": 25, "unit": "Minute"}}}}}
        })),
    );
    let handle = h
        .engine
        .start_run(StartRun::new("until", "manual", json!({})))
        .await
        .expect("started");
    for n in 1..=3 {
        clock.wait_for_sleeps_started(n).await;
        clock.advance(Duration::from_secs(25 * 60));
    }
    let outcome = handle.completion.await.expect("finished");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let poll = h
        .store
        .get_action(&outcome.run_id, "Poll")
        .await
        .expect("read")
        .expect("record");
    assert_eq!(
        poll.iteration_count,
        Some(3),
        "75 minutes passed after the third iteration"
    );
}

#[tokio::test]
async fn stateless_runs_keep_history_only_when_they_fail() {
    let h = common::harness().await;
    let ok = Arc::new(
        conflux_definition::Workflow::from_json(&json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {"A": {"type": "Compose", "inputs": 1}}}, "kind": "Stateless"}))
        .expect("valid"),
    );
    let bad = Arc::new(
        conflux_definition::Workflow::from_json(&json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {"A": {"type": "Compose", "inputs": "@div(1, 0)"}}}, "kind": "Stateless"}))
        .expect("valid"),
    );
    h.engine
        .register_workflow(WorkflowRegistration::new("ok", ok))
        .expect("register");
    h.engine
        .register_workflow(WorkflowRegistration::new("bad", bad))
        .expect("register");
    let (good, _) = h.run("ok", json!({})).await;
    assert_eq!(good.status, RunStatus::Succeeded);
    assert!(h.store.get_run(&good.run_id).await.expect("read").is_none());
    let (failed, _) = h.run("bad", json!({})).await;
    assert_eq!(failed.status, RunStatus::Failed);
    let run = h
        .store
        .get_run(&failed.run_id)
        .await
        .expect("read")
        .expect("failed stateless run is kept");
    assert!(run.stateless);
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(
        h.record(&failed, "A").await.code.as_deref(),
        Some("InvalidTemplate")
    );
}

#[tokio::test]
async fn with_stateless_run_history_every_stateless_run_is_kept() {
    let h = common::harness().await;
    let wf = Arc::new(
        conflux_definition::Workflow::from_json(&json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {"A": {"type": "Compose", "inputs": "@triggerBody()"}}}, "kind": "Stateless"}))
        .expect("valid"),
    );
    let mut reg = WorkflowRegistration::new("debugged", wf);
    reg.stateless_run_history = conflux_engine::stateless_run_history_enabled(
        "debugged",
        [(
            "Workflows.Debugged.OperationOptions",
            "WithStatelessRunHistory",
        )],
    );
    assert!(reg.stateless_run_history);
    h.engine.register_workflow(reg).expect("register");
    let (good, _) = h.run("debugged", json!({"n": 7})).await;
    assert_eq!(good.status, RunStatus::Succeeded);
    let run = h
        .store
        .get_run(&good.run_id)
        .await
        .expect("read")
        .expect("a succeeded run is kept with the option");
    assert!(run.stateless);
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(h.record(&good, "A").await.outputs, Some(json!({"n": 7})));
}

/// Runs the stateless workflow `actions` over deferred outputs with `body`,
/// whose builder counts its calls. Returns the harness, the run's outcome and
/// how often the outputs were built.
async fn run_over_deferred_outputs(
    actions: serde_json::Value,
    body: Option<serde_json::Value>,
) -> (common::Harness, conflux_engine::RunOutcome, usize) {
    let h = common::harness().await;
    let wf = Arc::new(
        conflux_definition::Workflow::from_json(&json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": actions}, "kind": "Stateless"}))
        .expect("valid"),
    );
    h.engine
        .register_workflow(WorkflowRegistration::new("lazy", wf))
        .expect("register");
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let outputs = conflux_engine::DeferredOutputs::new(body.map(ExprValue::from), move |body| {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = body.map_or(serde_json::Value::Null, ExprValue::to_json);
        ExprValue::from(json!({"headers": {"X-Seen": "yes"}, "body": body}))
    });
    let handle = h
        .engine
        .start_run(StartRun::new(
            "lazy",
            "manual",
            conflux_engine::TriggerOutputs::Deferred(outputs),
        ))
        .await
        .expect("started");
    let outcome = handle.completion.await.expect("finished");
    let built = built.load(Ordering::SeqCst);
    (h, outcome, built)
}

/// Runs `expression` as the input of a Compose that a failing action follows
/// (so the run is kept). Returns the Compose's outputs, the stored trigger
/// outputs and how often the outputs were built.
async fn over_deferred_outputs(expression: &str) -> (serde_json::Value, serde_json::Value, usize) {
    let actions = json!({
        "Read": {"type": "Compose", "inputs": expression},
        "Fail": {"type": "Compose", "inputs": "@div(1, 0)", "runAfter": {"Read": ["Succeeded"]}}
    });
    let (h, outcome, built) = run_over_deferred_outputs(actions, Some(json!({"n": 7}))).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let read = h.record(&outcome, "Read").await.outputs.expect("outputs");
    let run = h
        .store
        .get_run(&outcome.run_id)
        .await
        .expect("read")
        .expect("a failed stateless run is kept");
    (read, run.trigger["outputs"].clone(), built)
}

#[tokio::test]
async fn deferred_trigger_outputs_are_built_only_when_more_than_the_body_is_read() {
    // The body alone: nothing is built until the failed run records its trigger.
    let (read, stored, _) = over_deferred_outputs("@triggerBody()?['n']").await;
    assert_eq!(read, json!(7));
    assert_eq!(
        stored,
        json!({"headers": {"X-Seen": "yes"}, "body": {"n": 7}})
    );
    // The headers: built once, for the expression and the record alike.
    let (read, stored, built) =
        over_deferred_outputs("@triggerOutputs()['headers']['X-Seen']").await;
    assert_eq!(read, json!("yes"));
    assert_eq!(stored["headers"]["X-Seen"], "yes");
    assert_eq!(built, 1);
}

#[tokio::test]
async fn a_run_reading_only_the_body_never_builds_deferred_outputs() {
    let actions = json!({"Read": {"type": "Compose", "inputs": "@triggerBody()"}});
    let (_, outcome, built) = run_over_deferred_outputs(actions, None).await;
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(built, 0);
}

#[test]
fn the_stateless_run_history_option_is_read_from_its_app_setting_only() {
    use conflux_engine::stateless_run_history_enabled as enabled;
    assert!(enabled(
        "orders",
        [(
            "WORKFLOWS.orders.OPERATIONOPTIONS",
            " withstatelessrunhistory "
        )]
    ));
    assert!(!enabled(
        "orders",
        [("Workflows.orders.OperationOptions", "None")]
    ));
    assert!(!enabled(
        "orders",
        [(
            "Workflows.other.OperationOptions",
            "WithStatelessRunHistory"
        )]
    ));
    assert!(!enabled("orders", []));
}

#[tokio::test]
async fn unknown_action_types_need_an_executor() {
    let h = common::harness().await;
    let wf = common::load(&workflow(
        json!({"Send": {"type": "ServiceProvider", "inputs": {}}}),
    ));
    let err = h
        .engine
        .register_workflow(WorkflowRegistration::new("sp", wf))
        .expect_err("no executor");
    assert!(err.to_string().contains("Send (ServiceProvider)"), "{err}");
}

/// A stateless workflow that answers first and then waits at a `Gate`.
fn answers_then_waits() -> serde_json::Value {
    json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {
            "Answer": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": "early"}},
            "After": {"type": "Gate", "inputs": "after", "runAfter": {"Answer": ["Succeeded"]}}
        }}, "kind": "Stateless"})
}

/// A harness with a Gate executor (held until `release` says so, when given)
/// and a started, caller-driven run of [`answers_then_waits`]; the receiver
/// hears each Gate the run enters.
async fn driven_run(
    release: Option<mpsc::UnboundedReceiver<()>>,
) -> (
    common::Harness,
    conflux_engine::RunHandle,
    mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let (entered_tx, entered) = mpsc::unbounded_channel();
    let gate = Arc::new(common::Gate {
        entered: entered_tx,
        release: release.map(|r| Arc::new(tokio::sync::Mutex::new(r))),
    });
    let h = harness_with(vec![gate], None).await;
    h.register("early", &answers_then_waits());
    let handle = h
        .engine
        .start_run_driven(StartRun::new("early", "manual", json!({})))
        .await
        .expect("started");
    (h, handle, entered)
}

#[tokio::test]
async fn a_run_its_caller_drives_goes_on_after_the_caller_stops_polling() {
    let (release, release_rx) = mpsc::unbounded_channel();
    let (_h, mut handle, mut entered) = driven_run(Some(release_rx)).await;
    let mut driver = Some(
        handle
            .driver
            .take()
            .expect("the caller drives a stateless run"),
    );
    let mut response = handle.response.take().expect("the workflow has a Response");
    // Poll the run and the response together, as the host's trigger endpoint does.
    let answer = std::future::poll_fn(|cx| {
        if let Some(run) = driver.as_mut() {
            if std::pin::Pin::new(run).poll(cx).is_ready() {
                driver = None;
            }
        }
        std::pin::Pin::new(&mut response).poll(cx)
    })
    .await
    .expect("answered");
    assert_eq!(answer.body, ExprValue::string("early"));
    assert!(driver.is_some(), "the run still waits at its Gate");
    // The caller is answered and stops polling: the run must go on alone.
    drop(driver);
    assert_eq!(entered.recv().await, Some(json!("after")));
    release.send(()).expect("gate waits");
    let outcome = handle.completion.await.expect("the run ends");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(status(&outcome, "After"), ActionStatus::Succeeded);
}

#[tokio::test]
async fn a_driven_run_never_polled_still_runs_and_stateful_runs_are_not_driven() {
    let (h, mut handle, mut entered) = driven_run(None).await;
    // The caller gives up at once (its connection closed): nothing is lost.
    drop(handle.driver.take().expect("driven"));
    let outcome = handle.completion.await.expect("the run ends");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert_eq!(status(&outcome, "Answer"), ActionStatus::Succeeded);
    assert_eq!(entered.recv().await, Some(json!("after")));

    let mut stateful = answers_then_waits();
    stateful["kind"] = json!("Stateful");
    h.register("kept", &stateful);
    let handle = h
        .engine
        .start_run_driven(StartRun::new("kept", "manual", json!({})))
        .await
        .expect("started");
    assert!(
        handle.driver.is_none(),
        "a stateful run has a task of its own"
    );
    let outcome = handle.completion.await.expect("the run ends");
    assert_eq!(outcome.status, RunStatus::Succeeded);
}
