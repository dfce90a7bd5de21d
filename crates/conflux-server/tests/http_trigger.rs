//! The Http polling trigger against a local endpoint, a manual clock and a
//! recording runtime: 202 waits, 200 fires with the response as trigger outputs,
//! `Location` and `Retry-After` steer the next poll across a restart, and a
//! false condition is recorded as Skipped without a run.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use conflux_definition::{Workflow, WorkflowKind};
use conflux_engine::ManualClock;
use conflux_server::{
    BoundHost, Host, HostConfig, HostOptions, MasterKey, StartRequest, WorkflowSpec,
};
use conflux_store::{ActionStatus, HistoryQuery, SqliteStore, Store, WorkflowName};
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
        "/created" => (StatusCode::CREATED, axum::Json(json!({"id": 7}))).into_response(),
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
    let doc = json!({"definition": {
        "triggers": {"poll": trigger},
        "actions": {"Tick": {"type": "Compose", "inputs": 1}}
    }});
    let workflow = Arc::new(Workflow::from_json(&doc).unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let host = Host::start(HostOptions {
        runtime: Arc::new(RecordingRuntime {
            store: store.clone(),
            started: tx,
        }),
        store,
        master_key: Arc::new(MasterKey::from_keys(&[[7; 32]])),
        workflows: vec![WorkflowSpec {
            name: "poller".into(),
            kind: WorkflowKind::Stateful,
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
    (host.bind("127.0.0.1:0".parse().unwrap()).await.unwrap(), rx)
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
    let (bound, mut started) = host(
        store.clone(),
        clock.clone(),
        http_trigger(format!("{base}/broken")),
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
