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

async fn memory_store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in_memory().await.unwrap())
}

/// A manual clock a minute before the test trigger's first poll.
fn new_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at("2030-01-01T00:00:00Z")))
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

fn with_retry_policy(mut trigger: Value, policy: Value) -> Value {
    trigger["inputs"]["retryPolicy"] = policy;
    trigger
}

/// The workflow `poller` with `trigger` as its trigger `poll`, and what the
/// host runs it with.
struct HostSpec {
    trigger: Value,
    runtime: Arc<dyn WorkflowRuntime>,
    authorizer: Option<Arc<dyn RequestAuthorizer>>,
    kind: WorkflowKind,
}

impl HostSpec {
    fn new(trigger: Value, runtime: Arc<dyn WorkflowRuntime>) -> HostSpec {
        HostSpec {
            trigger,
            runtime,
            authorizer: None,
            kind: WorkflowKind::Stateful,
        }
    }
}

/// A bound host whose trigger schedulers run.
struct Polling {
    bound: BoundHost,
    schedulers: Vec<tokio::task::JoinHandle<()>>,
}

impl Polling {
    /// Stops the schedulers, then the host, as a shutdown does.
    async fn stop(self) {
        for s in self.schedulers {
            s.abort();
            let _ = s.await;
        }
        drop(self.bound);
    }
}

/// What a test polls with: the endpoint, a store and a clock.
struct Rig {
    base: String,
    /// `(path and query, Authorization)` of each request the endpoint received.
    seen: mpsc::UnboundedReceiver<(String, Option<String>)>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
}

async fn rig() -> Rig {
    let (base, seen) = endpoint().await;
    Rig {
        base,
        seen,
        store: memory_store().await,
        clock: new_clock(),
    }
}

impl Rig {
    /// The test trigger polling `path` of the endpoint.
    fn trigger(&self, path: &str) -> Value {
        http_trigger(format!("{}{path}", self.base))
    }

    /// A runtime over the rig's store that reports each start on the channel.
    fn recording(&self) -> (Arc<RecordingRuntime>, mpsc::UnboundedReceiver<StartRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = Arc::new(RecordingRuntime {
            store: self.store.clone(),
            started: tx,
        });
        (runtime, rx)
    }

    /// Starts the host with a recording runtime (see [`Rig::start_with`]).
    async fn start(&self, trigger: Value) -> (Polling, mpsc::UnboundedReceiver<StartRequest>) {
        let (runtime, started) = self.recording();
        (
            self.start_with(HostSpec::new(trigger, runtime)).await,
            started,
        )
    }

    /// Starts the host and its schedulers; returns once the trigger waits
    /// for its next poll.
    async fn start_with(&self, spec: HostSpec) -> Polling {
        let doc = json!({"definition": {
            "triggers": {"poll": spec.trigger},
            "actions": {"Tick": {"type": "Compose", "inputs": 1}}
        }});
        let workflow = Arc::new(Workflow::from_json(&doc).unwrap());
        let mut host = Host::start(HostOptions {
            runtime: spec.runtime,
            store: self.store.clone(),
            master_key: Arc::new(MasterKey::from_keys(&[[7; 32]])),
            workflows: vec![WorkflowSpec {
                name: "poller".into(),
                kind: spec.kind,
                document: doc,
                workflow,
                parameters: HashMap::new(),
            }],
            app_settings: HashMap::new(),
            host_json: json!({}),
            admin_key: Some(conflux_server::Secret::new("k")),
            config: HostConfig::default(),
            clock: self.clock.clone(),
            connections: None,
            jwks: None,
        })
        .await
        .unwrap();
        if let Some(authorizer) = spec.authorizer {
            host = host.with_request_authorizer(authorizer);
        }
        let bound = host.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let schedulers = bound.start_schedulers();
        self.clock.wait_for_sleepers(1).await;
        Polling { bound, schedulers }
    }

    /// Moves the clock on by `secs` and returns the request that caused.
    async fn poll_after(&mut self, secs: u64) -> (String, Option<String>) {
        self.clock.advance(Duration::from_secs(secs));
        self.seen.recv().await.unwrap()
    }

    /// The trigger's stored state (`nextPoll`, `pollUrl`).
    async fn stored(&self) -> Value {
        self.store
            .get_trigger_state(&WorkflowName::new("poller"), "poll")
            .await
            .unwrap()
            .unwrap()
    }

    async fn histories(&self) -> Vec<conflux_store::TriggerHistoryRecord> {
        self.store
            .list_trigger_histories(
                &WorkflowName::new("poller"),
                "poll",
                &HistoryQuery::default(),
            )
            .await
            .unwrap()
            .items
    }

    /// Histories oldest first (ids are time-ordered by the manual clock's time).
    async fn histories_in_order(&self) -> Vec<conflux_store::TriggerHistoryRecord> {
        let mut all = self.histories().await;
        all.sort_by_key(|h| h.start_time);
        all
    }

    /// The only history entry, which has `status`.
    async fn one_history(&self, status: ActionStatus) -> conflux_store::TriggerHistoryRecord {
        let mut entries = self.histories().await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].status, status);
        entries.remove(0)
    }
}

#[tokio::test]
async fn polls_until_200_then_follows_location_across_a_restart() {
    let mut rig = rig().await;
    let trigger = rig.trigger("/poll");
    let (host, mut started) = rig.start(trigger.clone()).await;
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:01:00Z");

    // 00:01 — 202: nothing fires, the next poll is the next occurrence.
    let (path, auth) = rig.poll_after(60).await;
    assert_eq!(path, "/poll?q=1");
    assert_eq!(auth.as_deref(), Some("Basic dTpw"));
    rig.clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "202 must not start a run");
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:02:00Z");
    let skipped = rig.one_history(ActionStatus::Skipped).await;
    assert!(!skipped.fired);

    // 00:02 — 200 with a body and a Location: one run with the response as outputs.
    assert_eq!(rig.poll_after(60).await.0, "/poll?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_name, "poll");
    assert_eq!(run.trigger_outputs.built().to_json()["statusCode"], 200);
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"n": 1})
    );
    assert_eq!(
        run.trigger_outputs.built().to_json()["headers"]["location"],
        "/next"
    );
    rig.clock.wait_for_sleepers(1).await;
    let state = rig.stored().await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:03:00Z");
    assert_eq!(state["pollUrl"], format!("{}/next", rig.base));
    let fired = rig.histories().await;
    assert_eq!(fired.len(), 2);
    // The recording runtime's run ids use the real clock, so order is not asserted.
    let fired: Vec<_> = fired.iter().filter(|h| h.fired).collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].status, ActionStatus::Succeeded);

    // The host restarts; the Location URL and the poll time survive.
    host.stop().await;
    drop(started);
    let (_host, mut started) = rig.start(trigger).await;
    assert!(started.try_recv().is_err(), "a restart alone polls nothing");

    // 00:03 — the Location URL answers 200 with Retry-After: 10.
    assert_eq!(rig.poll_after(60).await.0, "/next");
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"n": 2})
    );
    rig.clock.wait_for_sleepers(1).await;
    let state = rig.stored().await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:03:10Z");
    assert_eq!(
        state["pollUrl"],
        Value::Null,
        "no Location: back to the original URL"
    );
    assert!(started.try_recv().is_err(), "exactly one run per 200");
    assert!(
        rig.seen.try_recv().is_err(),
        "exactly one poll per occurrence"
    );
}

#[tokio::test]
async fn a_false_condition_is_skipped_without_a_run() {
    let mut rig = rig().await;
    let mut trigger = rig.trigger("/status");
    trigger["conditions"] = json!([{"expression": "@equals(triggerBody()?['ready'], true)"}]);
    let (_host, mut started) = rig.start(trigger).await;

    assert_eq!(rig.poll_after(60).await.0, "/status?q=1");
    rig.clock.wait_for_sleepers(1).await;
    assert!(
        started.try_recv().is_err(),
        "a false condition starts no run"
    );
    let entry = rig.one_history(ActionStatus::Skipped).await;
    assert_eq!(entry.code.as_deref(), Some("TriggerConditionNotMet"));
    assert!(!entry.fired);
    assert_eq!(
        entry.outputs.as_ref().unwrap()["body"],
        json!({"ready": false})
    );
}

#[tokio::test]
async fn errors_never_fire_and_a_status_condition_replaces_the_200_rule() {
    let mut rig = rig().await;
    // Retry policy `none`: one poll, then the next occurrence.
    let trigger = with_retry_policy(rig.trigger("/broken"), json!({"type": "none"}));
    let (host, mut started) = rig.start(trigger).await;
    assert_eq!(rig.poll_after(60).await.0, "/broken?q=1");
    rig.clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "a 500 starts no run");
    rig.one_history(ActionStatus::Failed).await;
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:02:00Z");
    host.stop().await;

    // Same store, now a trigger whose condition accepts 201.
    let mut trigger = rig.trigger("/created");
    trigger["conditions"] = json!([{"expression": "@equals(triggerOutputs()['statusCode'], 201)"}]);
    let (_host, mut started) = rig.start(trigger).await;
    assert_eq!(rig.poll_after(60).await.0, "/created?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(run.trigger_outputs.built().to_json()["statusCode"], 201);
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"id": 7})
    );
}

#[tokio::test]
async fn a_503_is_retried_after_its_retry_after_under_the_default_policy() {
    let mut rig = rig().await;
    let (_host, mut started) = rig.start(rig.trigger("/flaky")).await;

    assert_eq!(rig.poll_after(60).await.0, "/flaky?q=1");
    // The trigger now waits for the retry, not for the next occurrence.
    rig.clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err(), "a 503 starts no run");
    assert_eq!(
        rig.stored().await["nextPoll"],
        "2030-01-01T00:01:00Z",
        "the poll is still in progress"
    );
    assert!(rig.histories().await.is_empty());

    assert_eq!(rig.poll_after(7).await.0, "/flaky?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"ok": true})
    );
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:02:00Z");
    let entries = rig.histories().await;
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
    assert!(rig.seen.try_recv().is_err());
}

#[tokio::test]
async fn a_fixed_policy_retries_a_500_then_fails_and_a_404_is_not_retried() {
    let mut rig = rig().await;
    let trigger = with_retry_policy(
        rig.trigger("/broken"),
        json!({"type": "fixed", "count": 2, "interval": "PT5S"}),
    );
    let (host, mut started) = rig.start(trigger).await;

    assert_eq!(rig.poll_after(60).await.0, "/broken?q=1");
    for _ in 0..2 {
        rig.clock.wait_for_sleepers(1).await;
        assert!(rig.histories().await.is_empty(), "still retrying");
        assert_eq!(rig.poll_after(5).await.0, "/broken?q=1");
    }
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(
        rig.stored().await["nextPoll"],
        "2030-01-01T00:02:00Z",
        "after the last retry the trigger waits for the next occurrence"
    );
    let entry = rig.one_history(ActionStatus::Failed).await;
    let message = entry.error.as_ref().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("500") && message.contains("3 attempts"),
        "{message}"
    );
    assert!(
        rig.seen.try_recv().is_err(),
        "count 2 means three polls in all"
    );
    assert!(started.try_recv().is_err());
    host.stop().await;

    // 404 is not transient: no retry under the default policy.
    rig.store = memory_store().await;
    let (_host, _started) = rig.start(rig.trigger("/missing")).await;
    let next = rig.stored().await["nextPoll"].clone();
    assert_eq!(next, "2030-01-01T00:02:00Z");
    assert_eq!(rig.poll_after(60).await.0, "/missing?q=1");
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(
        rig.stored().await["nextPoll"],
        "2030-01-01T00:03:00Z",
        "a 404 goes straight to the next occurrence"
    );
    let entry = rig.one_history(ActionStatus::Failed).await;
    assert_eq!(entry.outputs.as_ref().unwrap()["statusCode"], 404);
}

#[tokio::test]
async fn a_202_with_location_and_a_short_retry_after_polls_the_location_soon() {
    let mut rig = rig().await;
    let (host, mut started) = rig.start(rig.trigger("/job")).await;

    assert_eq!(rig.poll_after(60).await.0, "/job?q=1");
    rig.clock.wait_for_sleepers(1).await;
    let state = rig.stored().await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:01:05Z");
    assert_eq!(state["pollUrl"], format!("{}/job/status", rig.base));
    assert!(started.try_recv().is_err(), "202 starts no run");

    assert_eq!(rig.poll_after(5).await.0, "/job/status");
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"done": true})
    );
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:02:00Z");
    host.stop().await;

    // A Retry-After longer than the recurrence does not delay the next poll.
    rig.store = memory_store().await;
    let (_host, _started) = rig.start(rig.trigger("/slow")).await;
    assert_eq!(rig.poll_after(55).await.0, "/slow?q=1");
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(rig.stored().await["nextPoll"], "2030-01-01T00:03:00Z");
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
    let mut rig = rig().await;
    let (tx, mut started) = mpsc::unbounded_channel();
    let runtime = Arc::new(FullOnce {
        refused: AtomicUsize::new(0),
        inner: RecordingRuntime {
            store: rig.store.clone(),
            started: tx,
        },
    });
    let _host = rig
        .start_with(HostSpec::new(rig.trigger("/items"), runtime))
        .await;

    // 00:01 — data, but the workflow cannot take a run: nothing is consumed.
    assert_eq!(rig.poll_after(60).await.0, "/items?q=1");
    rig.clock.wait_for_sleepers(1).await;
    assert!(started.try_recv().is_err());
    let state = rig.stored().await;
    assert_eq!(state["nextPoll"], "2030-01-01T00:02:00Z");
    assert_eq!(
        state["pollUrl"],
        Value::Null,
        "the Location is not followed"
    );
    let entry = rig.one_history(ActionStatus::Skipped).await;
    assert_eq!(entry.code.as_deref(), Some("TooManyWaitingRuns"));
    assert!(!entry.fired);

    // 00:02 — the same data again, and now it starts a run.
    assert_eq!(rig.poll_after(60).await.0, "/items?q=1");
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"item": 1})
    );
    rig.clock.wait_for_sleepers(1).await;
    assert_eq!(
        rig.stored().await["pollUrl"],
        format!("{}/items/after", rig.base)
    );
    let entries = rig.histories_in_order().await;
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
    let mut rig = rig().await;
    let factory: conflux_connectors::auth::ClientFactory = Arc::new(reqwest::Client::builder);
    let authenticator = conflux_connectors::auth::Authenticator::new(
        factory,
        Arc::new(conflux_connectors::auth::SystemClock),
    )
    .unwrap();
    let authorizer: Arc<dyn RequestAuthorizer> = Arc::new(ConnectorAuthorizer(authenticator));
    let mut trigger = rig.trigger("/data");
    trigger["inputs"]["authentication"] = json!({
        "type": "ActiveDirectoryOAuth", "authority": rig.base, "tenant": "tenant-1",
        "audience": "https://api.example", "clientId": "client", "secret": "s3cret"
    });
    let (runtime, mut started) = rig.recording();
    let mut spec = HostSpec::new(trigger, runtime);
    spec.authorizer = Some(authorizer.clone());
    let host = rig.start_with(spec).await;
    assert_eq!(rig.poll_after(60).await.0, "/tenant-1/oauth2/token");
    let (path, auth) = rig.seen.recv().await.unwrap();
    assert_eq!(path, "/data?q=1");
    assert_eq!(auth.as_deref(), Some("Bearer token-from-endpoint"));
    let run = started.recv().await.unwrap();
    assert_eq!(
        run.trigger_outputs.built().to_json()["body"],
        json!({"ready": false})
    );
    host.stop().await;

    // An API key in the query string.
    rig.clock = new_clock();
    rig.store = memory_store().await;
    let mut trigger = rig.trigger("/data");
    trigger["inputs"]["authentication"] =
        json!({"type": "ApiKey", "name": "code", "in": "query", "value": "k-1"});
    let (runtime, _started) = rig.recording();
    let mut spec = HostSpec::new(trigger.clone(), runtime);
    spec.authorizer = Some(authorizer);
    let host = rig.start_with(spec).await;
    assert_eq!(rig.poll_after(60).await.0, "/data?q=1&code=k-1");
    host.stop().await;

    // Without the authenticator such a type is refused, never sent without credentials.
    rig.clock = new_clock();
    rig.store = memory_store().await;
    let (runtime, _started) = rig.recording();
    let _host = rig.start_with(HostSpec::new(trigger, runtime)).await;
    rig.clock.advance(Duration::from_secs(60));
    // The second sleep begins once the failed poll is recorded.
    rig.clock.wait_for_sleeps_started(2).await;
    let entry = rig.one_history(ActionStatus::Failed).await;
    assert_eq!(entry.code.as_deref(), Some("UnsupportedAuthentication"));
    assert!(rig.seen.try_recv().is_err(), "nothing was sent");
}

#[tokio::test]
async fn a_stateless_workflow_keeps_the_history_of_polls_that_start_no_run() {
    let mut rig = rig().await;
    let (runtime, _started) = rig.recording();
    let mut spec = HostSpec::new(rig.trigger("/missing"), runtime);
    spec.kind = WorkflowKind::Stateless;
    let _host = rig.start_with(spec).await;
    assert_eq!(rig.poll_after(60).await.0, "/missing?q=1");
    rig.clock.wait_for_sleepers(1).await;
    rig.one_history(ActionStatus::Failed).await;
}
