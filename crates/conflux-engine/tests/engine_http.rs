//! The Http action against a local server: retries, the async pattern,
//! failures with outputs kept; and the Workflow action.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{harness_with, status, workflow};
use conflux_engine::{Clock, ManualClock};
use conflux_store::{ActionStatus, RunStatus};
use serde_json::json;

#[derive(Default)]
struct Counters {
    flaky: AtomicUsize,
    poll: AtomicUsize,
}

async fn flaky(State(c): State<Arc<Counters>>) -> axum::response::Response {
    match c.flaky.fetch_add(1, Ordering::SeqCst) {
        0 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        1 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("Retry-After", "3")],
            "slow down",
        )
            .into_response(),
        _ => Json(json!({"ok": true})).into_response(),
    }
}

async fn start_job() -> axum::response::Response {
    (
        StatusCode::ACCEPTED,
        [("Location", "/job/status"), ("Retry-After", "2")],
        "",
    )
        .into_response()
}

async fn job_status(State(c): State<Arc<Counters>>) -> axum::response::Response {
    if c.poll.fetch_add(1, Ordering::SeqCst) == 0 {
        (StatusCode::ACCEPTED, [("Location", "/job/status")], "").into_response()
    } else {
        Json(json!({"done": true})).into_response()
    }
}

async fn echo(headers: HeaderMap, body: String) -> Json<serde_json::Value> {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ct = headers
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    Json(json!({"auth": auth, "contentType": ct, "body": body}))
}

async fn server() -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let app = Router::new()
        .route("/flaky", get(flaky))
        .route("/job", post(start_job))
        .route("/job/status", get(job_status))
        .route("/echo", post(echo))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such thing") }),
        )
        .with_state(counters.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), counters)
}

/// Moves the manual clock forward whenever the engine sleeps on it.
fn auto_advance(clock: Arc<ManualClock>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            clock.wait_for_sleepers(1).await;
            clock.advance(Duration::from_secs(60));
            tokio::task::yield_now().await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_retries_transient_failures_and_records_history() {
    let (base, counters) = server().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let h = harness_with(Vec::new(), Some(clock.clone() as Arc<dyn Clock>)).await;
    let ticker = auto_advance(clock);
    let doc = workflow(json!({
        "Call": {"type": "Http", "inputs": {"method": "GET", "uri": format!("{base}/flaky")}},
        "Missing": {"type": "Http", "inputs": {"method": "GET", "uri": format!("{base}/missing"), "retryPolicy": {"type": "none"}}},
        "Down": {"type": "Http", "inputs": {"method": "GET", "uri": "http://127.0.0.1:9/refused", "retryPolicy": {"type": "fixed", "count": 2, "interval": "PT5S"}}}
    }));
    h.register("retry", &doc);
    let (outcome, _) = h.run("retry", json!({})).await;
    ticker.abort();
    assert_eq!(counters.flaky.load(Ordering::SeqCst), 3);
    let call = h.record(&outcome, "Call").await;
    assert_eq!(call.status, ActionStatus::Succeeded);
    assert_eq!(
        call.outputs.as_ref().map(|o| o["body"].clone()),
        Some(json!({"ok": true}))
    );
    assert_eq!(call.retry_history.len(), 2);
    assert_eq!(call.retry_history[0]["code"], json!("InternalServerError"));
    assert_eq!(call.retry_history[1]["code"], json!("TooManyRequests"));

    let missing = h.record(&outcome, "Missing").await;
    assert_eq!(missing.status, ActionStatus::Failed);
    assert_eq!(missing.code.as_deref(), Some("NotFound"));
    assert_eq!(
        missing
            .outputs
            .as_ref()
            .map(|o| (o["statusCode"].clone(), o["body"].clone())),
        Some((json!(404), json!("no such thing")))
    );
    assert!(missing.retry_history.is_empty());

    let down = h.record(&outcome, "Down").await;
    assert_eq!(down.status, ActionStatus::Failed);
    assert_eq!(down.retry_history.len(), 2);
    assert_eq!(outcome.status, RunStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_follows_the_async_pattern_unless_disabled() {
    let (base, counters) = server().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let h = harness_with(Vec::new(), Some(clock.clone() as Arc<dyn Clock>)).await;
    let ticker = auto_advance(clock);
    let doc = workflow(json!({
        "Job": {"type": "Http", "inputs": {"method": "POST", "uri": format!("{base}/job"), "body": {"x": 1}}},
        "Sync": {"type": "Http", "inputs": {"method": "POST", "uri": format!("{base}/job")}, "operationOptions": "DisableAsyncPattern", "runAfter": {"Job": ["Succeeded"]}},
        "Echo": {"type": "Http", "inputs": {"method": "POST", "uri": format!("{base}/echo"), "body": {"a": "b"},
                 "authentication": {"type": "Basic", "username": "u", "password": "p"}}, "runAfter": {"Sync": ["Succeeded"]}}
    }));
    h.register("async", &doc);
    let (outcome, _) = h.run("async", json!({})).await;
    ticker.abort();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(
        counters.poll.load(Ordering::SeqCst),
        2,
        "polled until a non-202 answer"
    );
    let job = h.record(&outcome, "Job").await;
    assert_eq!(
        job.outputs
            .as_ref()
            .map(|o| (o["statusCode"].clone(), o["body"].clone())),
        Some((json!(200), json!({"done": true})))
    );
    let sync = h.record(&outcome, "Sync").await;
    assert_eq!(
        sync.outputs.as_ref().map(|o| o["statusCode"].clone()),
        Some(json!(202))
    );
    let echo = h.record(&outcome, "Echo").await;
    let body = echo
        .outputs
        .as_ref()
        .map(|o| o["body"].clone())
        .expect("body");
    assert_eq!(body["auth"], json!("Basic dTpw"));
    assert_eq!(body["contentType"], json!("application/json"));
    assert_eq!(body["body"], json!("{\"a\":\"b\"}"));
    assert_eq!(
        echo.inputs
            .as_ref()
            .map(|i| i["authentication"]["password"].clone()),
        Some(json!("*sanitized*"))
    );
    assert_eq!(status(&outcome, "Echo"), ActionStatus::Succeeded);
}

#[tokio::test]
async fn workflow_action_calls_a_child_and_takes_its_response() {
    let h = common::harness().await;
    let child = workflow(json!({
        "Reply": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": {"doubled": "@mul(triggerBody()?['n'], 2)"}}}
    }));
    h.register("child", &child);
    let parent = workflow(json!({
        "Call_child": {"type": "Workflow", "inputs": {"host": {"triggerName": "manual", "workflow": {"id": "/subscriptions/x/providers/Microsoft.Logic/workflows/child"}}, "body": {"n": 21}}},
        "Use": {"type": "Compose", "inputs": "@body('Call_child')?['doubled']", "runAfter": {"Call_child": ["Succeeded"]}}
    }));
    h.register("parent", &parent);
    let (outcome, _) = h.run("parent", json!({})).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(h.record(&outcome, "Use").await.outputs, Some(json!(42)));
}

#[tokio::test]
async fn wait_uses_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let h = harness_with(Vec::new(), Some(clock.clone() as Arc<dyn Clock>)).await;
    let doc = workflow(json!({
        "Pause": {"type": "Wait", "inputs": {"interval": {"count": 2, "unit": "Day"}}},
        "After": {"type": "Compose", "inputs": "@utcNow()", "runAfter": {"Pause": ["Succeeded"]}}
    }));
    h.register("wait", &doc);
    let start = clock.now();
    let handle = h
        .engine
        .start_run(conflux_engine::StartRun::new("wait", "manual", json!({})))
        .await
        .expect("started");
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(2 * 86_400));
    let outcome = handle.completion.await.expect("finished");
    assert_eq!(outcome.status, RunStatus::Succeeded);
    let pause = outcome
        .actions
        .iter()
        .find(|a| a.name == "Pause")
        .expect("pause");
    assert_eq!(pause.end - pause.start, chrono::Duration::days(2));
    assert!(clock.now() >= start + chrono::Duration::days(2));
}
