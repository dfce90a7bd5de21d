//! The Recurrence scheduler against a manual clock and a recording runtime: one
//! run per occurrence, the next occurrence kept across a restart, missed
//! occurrences skipped, and nothing after `endTime`, even after a restart.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use conflux_definition::{Workflow, WorkflowKind};
use conflux_engine::ManualClock;
use conflux_server::{Host, HostConfig, HostOptions, MasterKey, StartRequest, WorkflowSpec};
use conflux_store::{SqliteStore, Store, WorkflowName};
use serde_json::json;
use tokio::sync::mpsc;

mod trigger_support;
use trigger_support::RecordingRuntime;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn host(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
) -> (
    conflux_server::BoundHost,
    mpsc::UnboundedReceiver<StartRequest>,
) {
    host_with(
        store,
        clock,
        json!({"frequency": "Minute", "interval": 1, "startTime": "2030-01-01T00:01:00Z"}),
    )
    .await
}

async fn host_with(
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    recurrence: serde_json::Value,
) -> (
    conflux_server::BoundHost,
    mpsc::UnboundedReceiver<StartRequest>,
) {
    let doc = json!({"definition": {
        "triggers": {"every_minute": {"type": "Recurrence", "recurrence": recurrence}},
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
            name: "ticker".into(),
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

async fn next_stored(store: &dyn Store) -> Option<String> {
    let state = store
        .get_trigger_state(&WorkflowName::new("ticker"), "every_minute")
        .await
        .unwrap()?;
    state["nextOccurrence"].as_str().map(str::to_string)
}

#[tokio::test]
async fn one_run_per_occurrence_and_restarts_neither_lose_nor_repeat() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    let (bound, mut started) = host(store.clone(), clock.clone()).await;
    let schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        next_stored(store.as_ref()).await.as_deref(),
        Some("2030-01-01T00:01:00Z")
    );
    assert!(
        started.try_recv().is_err(),
        "nothing fires before the start time"
    );

    clock.advance(Duration::from_secs(60));
    let first = started.recv().await.unwrap();
    assert_eq!(first.trigger_name, "every_minute");
    assert_eq!(
        first.client_tracking_id.as_deref(),
        Some("every_minute-2030-01-01T00:01:00Z")
    );
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        next_stored(store.as_ref()).await.as_deref(),
        Some("2030-01-01T00:02:00Z")
    );

    // The host goes down for five and a half minutes: the occurrences due at
    // 00:02..00:06 are missed and, as in Logic Apps, not processed; the
    // series continues with 00:07. (The old schedulers are gone before the
    // clock moves: an aborted task is dropped only when awaited.)
    for s in schedulers {
        s.abort();
        let _ = s.await;
    }
    drop(bound);
    drop(started);
    clock.advance(Duration::from_secs(330));
    let (bound, mut started) = host(store.clone(), clock.clone()).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    assert!(
        started.try_recv().is_err(),
        "missed occurrences are skipped, not replayed"
    );
    assert_eq!(
        next_stored(store.as_ref()).await.as_deref(),
        Some("2030-01-01T00:07:00Z")
    );
    clock.advance(Duration::from_secs(30));
    let next = started.recv().await.unwrap();
    assert_eq!(
        next.client_tracking_id.as_deref(),
        Some("every_minute-2030-01-01T00:07:00Z")
    );
}

#[tokio::test]
async fn the_schedule_stops_at_its_end_time_and_stays_stopped_after_a_restart() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    // No startTime: the first run is immediate; the end allows one more.
    let recurrence =
        json!({"frequency": "Minute", "interval": 1, "endTime": "2030-01-01T00:01:30Z"});
    let (bound, mut started) = host_with(store.clone(), clock.clone(), recurrence.clone()).await;
    let schedulers = bound.start_schedulers();
    let first = started.recv().await.unwrap();
    assert_eq!(
        first.client_tracking_id.as_deref(),
        Some("every_minute-2030-01-01T00:00:00Z")
    );
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(60));
    let second = started.recv().await.unwrap();
    assert_eq!(
        second.client_tracking_id.as_deref(),
        Some("every_minute-2030-01-01T00:01:00Z")
    );
    // 00:02 is past the end: the scheduler finishes.
    for s in schedulers {
        s.await.unwrap();
    }
    assert_eq!(next_stored(store.as_ref()).await, None);
    assert!(started.try_recv().is_err());
    drop(bound);
    drop(started);

    // A restart later does not fire again (without a startTime a new trigger
    // would fire at once).
    clock.advance(Duration::from_secs(600));
    let (bound, mut started) = host_with(store.clone(), clock.clone(), recurrence).await;
    for s in bound.start_schedulers() {
        s.await.unwrap();
    }
    assert!(started.try_recv().is_err(), "nothing fires after endTime");
}

#[tokio::test]
async fn monthly_occurrences_drive_the_scheduler() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let clock = Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")));
    // The last Friday of every month at 18:00 UTC: 2030-01-25, then 2030-02-22.
    let recurrence = json!({"frequency": "Month", "interval": 1, "startTime": "2030-01-01T00:00:00Z",
        "schedule": {"monthlyOccurrences": [{"day": "Friday", "occurrence": -1}], "hours": [18], "minutes": [0]}});
    let (bound, mut started) = host_with(store.clone(), clock.clone(), recurrence).await;
    let _schedulers = bound.start_schedulers();
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        next_stored(store.as_ref()).await.as_deref(),
        Some("2030-01-25T18:00:00Z")
    );
    clock.advance(Duration::from_secs(24 * 86_400 + 18 * 3600));
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"]["scheduledTime"],
        "2030-01-25T18:00:00Z"
    );
    clock.wait_for_sleepers(1).await;
    assert_eq!(
        next_stored(store.as_ref()).await.as_deref(),
        Some("2030-02-22T18:00:00Z")
    );
}
