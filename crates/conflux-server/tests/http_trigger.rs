//! The Http polling trigger against a local endpoint, a manual clock and a
//! recording runtime: 202 waits, 200 fires with the response as trigger outputs,
//! `Location` and `Retry-After` steer the next poll across a restart, a false
//! condition is recorded as Skipped without a run, failed polls are retried per
//! the retry policy, authentication goes through the host's request authorizer,
//! and a full waiting-runs queue leaves the answer unconsumed.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use conflux_definition::{Workflow, WorkflowKind};
use conflux_engine::ManualClock;
use conflux_engine::{ExecutorError, RequestAuthorizer};
use conflux_server::{
    BoundHost, Host, HostConfig, HostOptions, MasterKey, RuntimeError, StartRequest, StartedRun,
    WorkflowRuntime, WorkflowSpec,
};
use conflux_store::{ActionStatus, HistoryQuery, RunId, SqliteStore, Store, WorkflowName};
use serde_json::{json, Value};
use tokio::sync::mpsc;

mod trigger_support;
use trigger_support::RecordingRuntime;

/// The polled endpoint: reports every request (path and query, Authorization).
#[derive(Clone)]
struct Endpoint {
    polls: Arc<AtomicUsize>,
    seen: mpsc::UnboundedSender<(String, Option<String>)>,
}

async fn answer(State(ep): State<Endpoint>, uri: Uri, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    let _ = ep.seen.send((uri.to_string(), auth));
    match uri.path() {
        // The first poll has nothing yet; the second has data and moves on.
        "/poll" if ep.polls.fetch_add(1, Ordering::SeqCst) == 0 => {
            StatusCode::ACCEPTED.into_response()
        }
        "/poll" => (
            StatusCode::OK,
            [("location", "/next")],
            axum::Json(json!({"n": 1})),
        )
            .into_response(),
        "/next" => (
            StatusCode::OK,
            [("retry-after", "10")],
            axum::Json(json!({"n": 2})),
        )
            .into_response(),
        "/broken" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "/missing" => StatusCode::NOT_FOUND.into_response(),
        "/created" => (StatusCode::CREATED, axum::Json(json!({"id": 7}))).into_response(),
        // Unavailable once, asking for a 7 s wait; then data.
        "/flaky" if ep.polls.fetch_add(1, Ordering::SeqCst) == 0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "7")],
        )
            .into_response(),
        "/flaky" => (StatusCode::OK, axum::Json(json!({"ok": true}))).into_response(),
        // An asynchronous job: accepted, look for the result elsewhere soon.
        "/job" => (
            StatusCode::ACCEPTED,
            [("location", "/job/status"), ("retry-after", "5")],
        )
            .into_response(),
        "/job/status" => (StatusCode::OK, axum::Json(json!({"done": true}))).into_response(),
        // Accepted, but the suggested wait is longer than the recurrence.
        "/slow" => (StatusCode::ACCEPTED, [("retry-after", "600")]).into_response(),
        // A feed: the first page names the page after it.
        "/items" => (
            StatusCode::OK,
            [("location", "/items/after")],
            axum::Json(json!({"item": 1})),
        )
            .into_response(),
        "/items/after" => (StatusCode::OK, axum::Json(json!({"item": 2}))).into_response(),
        // An OAuth token endpoint for the client-credentials grant.
        "/tenant-1/oauth2/token" => (
            StatusCode::OK,
            axum::Json(json!({"access_token": "token-from-endpoint", "token_type": "Bearer", "expires_in": "3600"})),
        )
            .into_response(),
        _ => (StatusCode::OK, axum::Json(json!({"ready": false}))).into_response(),
    }
}

async fn endpoint() -> (String, mpsc::UnboundedReceiver<(String, Option<String>)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Endpoint {
        polls: Arc::new(AtomicUsize::new(0)),
        seen: tx,
    };
    let app = axum::Router::new().fallback(answer).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, rx)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn host(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    trigger: Value,
) -> (BoundHost, mpsc::UnboundedReceiver<StartRequest>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started: tx,
    });
    (host_with(store, clock, trigger, runtime, None).await, rx)
}

async fn host_with(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    trigger: Value,
    runtime: Arc<dyn WorkflowRuntime>,
    authorizer: Option<Arc<dyn RequestAuthorizer>>,
) -> BoundHost {
    host_of_kind(
        store,
        clock,
        trigger,
        runtime,
        authorizer,
        WorkflowKind::Stateful,
    )
    .await
}

async fn host_of_kind(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    trigger: Value,
    runtime: Arc<dyn WorkflowRuntime>,
    authorizer: Option<Arc<dyn RequestAuthorizer>>,
    kind: WorkflowKind,
) -> BoundHost {
    let doc = json!({"definition": {
        "triggers": {"poll": trigger},
        "actions": {"Tick": {"type": "Compose", "inputs": 1}}
    }});
    let workflow = Arc::new(Workflow::from_json(&doc).unwrap());
    let mut host = Host::start(HostOptions {
        runtime,
        store,
        master_key: Arc::new(MasterKey::from_keys(&[[7; 32]])),
        workflows: vec![WorkflowSpec {
            name: "poller".into(),
            kind,
            document: doc,
            workflow,
            parameters: HashMap::new(),
        }],
        app_settings: HashMap::new(),
        host_json: json!({}),
        admin_key: Some(conflux_server::Secret::new("k")),
        config: HostConfig::default(),
        clock: clock.clone(),
        connections: None,
        jwks: None,
    })
    .await
    .unwrap();
    if let Some(authorizer) = authorizer {
        host = host.with_request_authorizer(authorizer);
    }
    host.bind("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn http_trigger(uri: String) -> Value {
    json!({
        "type": "Http",
        "inputs": {
            "method": "GET",
            "uri": uri,
            "queries": {"q": "1"},
            "authentication": {"type": "Basic", "username": "u", "password": "p"}
        },
        "recurrence": {"frequency": "Minute", "interval": 1, "startTime": "2030-01-01T00:01:00Z"}
    })
}

async fn stored(store: &dyn Store) -> Value {
    store
        .get_trigger_state(&WorkflowName::new("poller"), "poll")
        .await
        .unwrap()
        .unwrap()
}

async fn histories(store: &dyn Store) -> Vec<conflux_store::TriggerHistoryRecord> {
    store
        .list_trigger_histories(
            &WorkflowName::new("poller"),
            "poll",
            &HistoryQuery::default(),
        )
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn polls_until_200_then_follows_location_across_a_restart() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let trigger = http_trigger(format!("{base}/poll"));
    let (bound, mut started) = host(store.clone(), clock.clone(), trigger.clone()).await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:01:00Z"
    );

    // 00:01 — 202: nothing fires, the next poll is the next occurrence.
    clock.advance(Duration::from_secs(60));
    let (path, auth) = seen.recv().await.unwrap();
    assert_eq!(path, "/poll?q=1");
    assert_eq!(auth.as_deref(), Some("Basic dTpw"));
    clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "202 must not start a run");
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:02:00Z"
    );
    let skipped = histories(store.as_ref()).await;
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].status, ActionStatus::Skipped);
    assert!(!skipped[0].fired);

    // 00:02 — 200 with a body and a Location: one run with the response as outputs.
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/poll?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_name, "poll");
    assert_eq!(run.trigger_outputs["statusCode"], 200);
    assert_eq!(run.trigger_outputs["body"], json!({"n": 1}));
    assert_eq!(run.trigger_outputs["headers"]["location"], "/next");
    clock.wait_for_sleepers(1).await;
    let state = stored(store.as_ref()).await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:03:00Z");
    assert_eq!(state["pollUrl"], format!("{base}/next"));
    let fired = histories(store.as_ref()).await;
    assert_eq!(fired.len(), 2);
    // The recording runtime's run ids use the real clock, so order is not asserted.
    let fired: Vec<_> = fired.iter().filter(|h| h.fired).collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].status, ActionStatus::Succeeded);

    // The host restarts; the Location URL and the poll time survive.
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);
    drop(started);
    let (bound, mut started) = host(store.clone(), clock.clone(), trigger).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "a restart alone polls nothing");

    // 00:03 — the Location URL answers 200 with Retry-After: 10.
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/next");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["body"], json!({"n": 2}));
    clock.wait_for_sleepers(1).await;
    let state = stored(store.as_ref()).await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:03:10Z");
    assert_eq!(
        state["pollUrl"],
        Value::Null,
        "no Location: back to the original URL"
    );
    assert!(started.try_recv().is_err(), "exactly one run per 200");
    assert!(seen.try_recv().is_err(), "exactly one poll per occurrence");
}

#[tokio::test]
async fn a_false_condition_is_skipped_without_a_run() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let mut trigger = http_trigger(format!("{base}/status"));
    trigger["conditions"] = json!([{"expression": "@equals(triggerBody()?['ready'], true)"}]);
    let (bound, mut started) = host(store.clone(), clock.clone(), trigger).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;

    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/status?q=1");
    clock.wait_for_sleepers(1).await;
    assert!(
        started.try_recv().is_err(),
        "a false condition starts no run"
    );
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Skipped);
    assert_eq!(entries[0].code.as_deref(), Some("TriggerConditionNotMet"));
    assert!(!entries[0].fired);
    assert_eq!(
        entries[0].outputs.as_ref().unwrap()["body"],
        json!({"ready": false})
    );
}

#[tokio::test]
async fn errors_never_fire_and_a_status_condition_replaces_the_200_rule() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    // Retry policy `none`: one poll, then the next occurrence.
    let (bound, mut started) = host(
        store.clone(),
        clock.clone(),
        with_retry_policy(
            http_trigger(format!("{base}/broken")),
            json!({"type": "none"}),
        ),
    )
    .await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/broken?q=1");
    clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "a 500 starts no run");
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Failed);
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:02:00Z"
    );
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);

    // Same store, now a trigger whose condition accepts 201.
    let mut trigger = http_trigger(format!("{base}/created"));
    trigger["conditions"] = json!([{"expression": "@equals(triggerOutputs()['statusCode'], 201)"}]);
    let (bound, mut started) = host(store.clone(), clock.clone(), trigger).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/created?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["statusCode"], 201);
    assert_eq!(run.trigger_outputs["body"], json!({"id": 7}));
}

/// Histories oldest first (ids are time-ordered by the manual clock's time).
async fn histories_in_order(store: &dyn Store) -> Vec<conflux_store::TriggerHistoryRecord> {
    let mut all = histories(store).await;
    all.sort_by_key(|h| h.start_time);
    all
}

fn with_retry_policy(mut trigger: Value, policy: Value) -> Value {
    trigger["inputs"]["retryPolicy"] = policy;
    trigger
}

#[tokio::test]
async fn a_503_is_retried_after_its_retry_after_under_the_default_policy() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let (bound, mut started) = host(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/flaky")),
    )
    .await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;

    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/flaky?q=1");
    // The trigger now waits for the retry, not for the next occurrence.
    clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "a 503 starts no run");
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:01:00Z",
        "the poll is still in progress"
    );
    assert!(histories(store.as_ref()).await.is_empty());

    clock.advance(Duration::from_secs(7));
    assert_eq!(seen.recv().await.unwrap().0, "/flaky?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["body"], json!({"ok": true}));
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:02:00Z"
    );
    let entries = histories(store.as_ref()).await;
    assert_eq!(
        entries.len(),
        1,
        "one history entry per poll, retries included"
    );
    assert!(entries[0].fired);
    assert_eq!(
        entries[0].start_time,
        at("2030-01-01T00:01:07Z"),
        "the retry waited exactly the Retry-After"
    );
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn a_fixed_policy_retries_a_500_then_fails_and_a_404_is_not_retried() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let trigger = with_retry_policy(
        http_trigger(format!("{base}/broken")),
        json!({"type": "fixed", "count": 2, "interval": "PT5S"}),
    );
    let (bound, mut started) = host(store.clone(), clock.clone(), trigger).await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;

    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/broken?q=1");
    for _ in 0..2 {
        clock.wait_for_sleepers(1).await;
        assert!(histories(store.as_ref()).await.is_empty(), "still retrying");
        clock.advance(Duration::from_secs(5));
        assert_eq!(seen.recv().await.unwrap().0, "/broken?q=1");
    }
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:02:00Z",
        "after the last retry the trigger waits for the next occurrence"
    );
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Failed);
    let message = entries[0].error.as_ref().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("500") && message.contains("3 attempts"),
        "{message}"
    );
    assert!(seen.try_recv().is_err(), "count 2 means three polls in all");
    assert!(started.try_recv().is_err());
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);

    // 404 is not transient: no retry under the default policy.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let (bound, _started) = host(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/missing")),
    )
    .await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    let next = stored(store.as_ref()).await["nextPoll"].clone();
    assert_eq!(next, "2030-01-01T00:02:00Z");
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/missing?q=1");
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:03:00Z",
        "a 404 goes straight to the next occurrence"
    );
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Failed);
    assert_eq!(entries[0].outputs.as_ref().unwrap()["statusCode"], 404);
}

#[tokio::test]
async fn a_202_with_location_and_a_short_retry_after_polls_the_location_soon() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let (bound, mut started) = host(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/job")),
    )
    .await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;

    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/job?q=1");
    clock.wait_for_sleepers(1).await;
    let state = stored(store.as_ref()).await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:01:05Z");
    assert_eq!(state["pollUrl"], format!("{base}/job/status"));
    assert!(started.try_recv().is_err(), "202 starts no run");

    clock.advance(Duration::from_secs(5));
    assert_eq!(seen.recv().await.unwrap().0, "/job/status");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["body"], json!({"done": true}));
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:02:00Z"
    );
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);

    // A Retry-After longer than the recurrence does not delay the next poll.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let (bound, _started) = host(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/slow")),
    )
    .await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(55));
    assert_eq!(seen.recv().await.unwrap().0, "/slow?q=1");
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["nextPoll"],
        "2030-01-01T00:03:00Z"
    );
}

/// Refuses the first start as the engine does when the waiting-runs queue is
/// full, then starts runs normally.
struct FullOnce {
    refused: AtomicUsize,
    inner: RecordingRuntime,
}

#[async_trait]
impl WorkflowRuntime for FullOnce {
    async fn start_run(&self, request: StartRequest) -> Result<StartedRun, RuntimeError> {
        if self.refused.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(RuntimeError::Throttled(
                "workflow 'poller' already has 10 waiting runs".into(),
            ));
        }
        self.inner.start_run(request).await
    }

    async fn cancel_run(&self, _: &str, _: &RunId) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn shutdown(&self) {}
}

#[tokio::test]
async fn a_full_queue_skips_the_poll_without_consuming_the_answer() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let (tx, mut started) = mpsc::unbounded_channel();
    let runtime = Arc::new(FullOnce {
        refused: AtomicUsize::new(0),
        inner: RecordingRuntime {
            store: store.clone(),
            started: tx,
        },
    });
    let bound = host_with(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/items")),
        runtime,
        None,
    )
    .await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;

    // 00:01 — data, but the workflow cannot take a run: nothing is consumed.
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/items?q=1");
    clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err());
    let state = stored(store.as_ref()).await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:02:00Z");
    assert_eq!(
        state["pollUrl"],
        Value::Null,
        "the Location is not followed"
    );
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Skipped);
    assert_eq!(entries[0].code.as_deref(), Some("TooManyWaitingRuns"));
    assert!(!entries[0].fired);

    // 00:02 — the same data again, and now it starts a run.
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/items?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["body"], json!({"item": 1}));
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        stored(store.as_ref()).await["pollUrl"],
        format!("{base}/items/after")
    );
    let entries = histories_in_order(store.as_ref()).await;
    assert_eq!(entries.len(), 2);
    assert!(entries[1].fired);
}

/// The host's outbound authenticator, as `conflux serve` plugs it in: the
/// connectors' [`Authenticator`](conflux_connectors::auth::Authenticator).
struct ConnectorAuthorizer(conflux_connectors::auth::Authenticator);

#[async_trait]
impl RequestAuthorizer for ConnectorAuthorizer {
    async fn request(
        &self,
        authentication: &Value,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ExecutorError> {
        let parsed = conflux_connectors::auth::Authentication::parse(authentication)
            .map_err(|_| ExecutorError::permanent("InvalidAuthentication", "invalid"))?;
        self.0
            .request(Some(&parsed), method, url)
            .await
            .map_err(|e| ExecutorError::permanent("AuthenticationFailed", e.message()))
    }
}

#[tokio::test]
async fn oauth_and_api_key_authentication_go_through_the_request_authorizer() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let factory: conflux_connectors::auth::ClientFactory = Arc::new(reqwest::Client::builder);
    let authenticator = conflux_connectors::auth::Authenticator::new(
        factory,
        Arc::new(conflux_connectors::auth::SystemClock),
    )
    .unwrap();
    let authorizer: Arc<dyn RequestAuthorizer> = Arc::new(ConnectorAuthorizer(authenticator));
    let mut trigger = http_trigger(format!("{base}/data"));
    trigger["inputs"]["authentication"] = json!({
        "type": "ActiveDirectoryOAuth", "authority": base, "tenant": "tenant-1",
        "audience": "https://api.example", "clientId": "client", "secret": "s3cret"
    });
    let (tx, mut started) = mpsc::unbounded_channel();
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started: tx,
    });
    let bound = host_with(
        store.clone(),
        clock.clone(),
        trigger,
        runtime,
        Some(authorizer.clone()),
    )
    .await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/tenant-1/oauth2/token");
    let (path, auth) = seen.recv().await.unwrap();
    assert_eq!(path, "/data?q=1");
    assert_eq!(auth.as_deref(), Some("Bearer token-from-endpoint"));
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs["body"], json!({"ready": false}));
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);

    // An API key in the query string.
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let mut trigger = http_trigger(format!("{base}/data"));
    trigger["inputs"]["authentication"] =
        json!({"type": "ApiKey", "name": "code", "in": "query", "value": "k-1"});
    let (tx, _started) = mpsc::unbounded_channel();
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started: tx,
    });
    let bound = host_with(
        store.clone(),
        clock.clone(),
        trigger.clone(),
        runtime,
        Some(authorizer),
    )
    .await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    let (path, _) = seen.recv().await.unwrap();
    assert_eq!(path, "/data?q=1&code=k-1");
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);

    // Without the authenticator such a type is refused, never sent without credentials.
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let (tx, _started) = mpsc::unbounded_channel();
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started: tx,
    });
    let bound = host_with(store.clone(), clock.clone(), trigger, runtime, None).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleeps_started(1).await;
    clock.advance(Duration::from_secs(60));
    // The second sleep begins once the failed poll is recorded.
    clock.wait_for_sleeps_started(2).await;
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Failed);
    assert_eq!(
        entries[0].code.as_deref(),
        Some("UnsupportedAuthentication")
    );
    assert!(seen.try_recv().is_err(), "nothing was sent");
}

#[tokio::test]
async fn a_stateless_workflow_keeps_the_history_of_polls_that_start_no_run() {
    let (base, mut seen) = endpoint().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let (tx, _started) = mpsc::unbounded_channel();
    let runtime = Arc::new(RecordingRuntime {
        store: store.clone(),
        started: tx,
    });
    let bound = host_of_kind(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/missing")),
        runtime,
        None,
        WorkflowKind::Stateless,
    )
    .await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    assert_eq!(seen.recv().await.unwrap().0, "/missing?q=1");
    clock.wait_for_sleepers(1).await;
    let entries = histories(store.as_ref()).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status, ActionStatus::Failed);
}
