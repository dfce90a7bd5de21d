//! The HttpWebhook action against local servers: a subscriber that calls the
//! callback URL it was sent, and a callback receiver that delivers to the
//! engine's waiter registry the way `conflux serve` does.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use common::status;
use conflux_engine::{
    CallbackKey, CallbackSigner, Engine, EngineOptions, RunHandle, RunId, RunOutcome, StartRun,
    WebhookCallbacks, WorkflowRegistration,
};
use conflux_store::{ActionRecord, ActionStatus, RunStatus, SqliteStore, Store};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// What the subscriber saw.
#[derive(Clone)]
struct Subscriber {
    subscribed: mpsc::UnboundedSender<Value>,
    unsubscribed: mpsc::UnboundedSender<Value>,
    /// Status the callback endpoint answered each callback with.
    called_back: mpsc::UnboundedSender<u16>,
    http: reqwest::Client,
    /// Mode `slow` answers the subscribe request only once this is notified.
    release: Arc<tokio::sync::Notify>,
}

struct SubscriberEvents {
    subscribed: mpsc::UnboundedReceiver<Value>,
    unsubscribed: mpsc::UnboundedReceiver<Value>,
    called_back: mpsc::UnboundedReceiver<u16>,
    release: Arc<tokio::sync::Notify>,
}

/// `mode`: `callback` (call back at once with `{result}`), `silent` (never),
/// `slow` (never, and answers only when released), `fail` (400).
async fn subscribe(
    State(s): State<Subscriber>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    let _ = s.subscribed.send(body.clone());
    match body["mode"].as_str() {
        Some("fail") => (StatusCode::BAD_REQUEST, "no").into_response(),
        Some("callback") => {
            let url = body["callbackUrl"].as_str().unwrap_or_default().to_string();
            let payload = json!({"result": body["value"].clone()});
            let s2 = s.clone();
            // Calls back before the subscribe request is even answered.
            let status = s2
                .http
                .post(&url)
                .header("Authorization", "Bearer do-not-record")
                .json(&payload)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            let _ = s2.called_back.send(status);
            (
                StatusCode::CREATED,
                Json(json!({"id": format!("sub-{}", body["value"])})),
            )
                .into_response()
        }
        Some("slow") => {
            s.release.notified().await;
            (StatusCode::CREATED, Json(json!({"id": "sub-slow"}))).into_response()
        }
        _ => (StatusCode::CREATED, Json(json!({"id": "sub-silent"}))).into_response(),
    }
}

async fn unsubscribe(State(s): State<Subscriber>, Json(body): Json<Value>) -> StatusCode {
    let _ = s.unsubscribed.send(body);
    StatusCode::OK
}

async fn start_subscriber() -> (String, SubscriberEvents) {
    let (stx, srx) = mpsc::unbounded_channel();
    let (utx, urx) = mpsc::unbounded_channel();
    let (ctx, crx) = mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let state = Subscriber {
        subscribed: stx,
        unsubscribed: utx,
        called_back: ctx,
        http: reqwest::Client::new(),
        release: release.clone(),
    };
    let app = Router::new()
        .route("/subscribe", post(subscribe))
        .route("/unsubscribe", post(unsubscribe))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        format!("http://{addr}"),
        SubscriberEvents {
            subscribed: srx,
            unsubscribed: urx,
            called_back: crx,
            release,
        },
    )
}

/// Delivers `POST /cb/{workflow}/{run}/{action}[/{rep}]` to the engine.
async fn receive(
    State(callbacks): State<Arc<WebhookCallbacks>>,
    Path(parts): Path<Vec<(String, String)>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let get = |n: &str| {
        parts
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let key = CallbackKey {
        workflow: get("workflow"),
        run_id: get("run"),
        action: get("action"),
        repetition: get("rep"),
    };
    let mut h = serde_json::Map::new();
    for (k, v) in &headers {
        if k != axum::http::header::AUTHORIZATION {
            h.insert(k.to_string(), json!(v.to_str().unwrap_or_default()));
        }
    }
    match callbacks.deliver(&key, json!({"headers": h, "body": body})) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::NOT_FOUND,
    }
}

struct Signer {
    base: String,
}

impl CallbackSigner for Signer {
    fn callback_url(&self, key: &CallbackKey) -> String {
        let mut url = format!(
            "{}/cb/{}/{}/{}",
            self.base, key.workflow, key.run_id, key.action
        );
        if !key.repetition.is_empty() {
            url.push('/');
            url.push_str(&key.repetition);
        }
        url.push_str("?sig=s3cret");
        url
    }
}

struct Setup {
    engine: Engine,
    store: Arc<dyn Store>,
    callbacks: Arc<WebhookCallbacks>,
    subscriber: String,
    events: SubscriberEvents,
}

/// A callback receiver delivering to `callbacks`; installs its signer when asked.
async fn start_receiver(callbacks: &Arc<WebhookCallbacks>, with_signer: bool) {
    let app = Router::new()
        .route("/cb/{workflow}/{run}/{action}", post(receive))
        .route("/cb/{workflow}/{run}/{action}/{rep}", post(receive))
        .with_state(callbacks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    if with_signer {
        callbacks.set_signer(Arc::new(Signer {
            base: format!("http://{addr}"),
        }));
    }
}

/// An engine over `store` whose webhook actions register with `callbacks`.
fn engine(store: Arc<dyn Store>, callbacks: &Arc<WebhookCallbacks>) -> Engine {
    let mut options = EngineOptions::new(store);
    options.webhooks = callbacks.clone();
    Engine::new(options)
}

async fn setup(with_signer: bool) -> Setup {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let callbacks = Arc::new(WebhookCallbacks::new());
    start_receiver(&callbacks, with_signer).await;
    let (subscriber, events) = start_subscriber().await;
    Setup {
        engine: engine(store.clone(), &callbacks),
        store,
        callbacks,
        subscriber,
        events,
    }
}

fn webhook_action(base: &str, mode: &str, extra: Value) -> Value {
    let mut action = json!({
        "type": "HttpWebhook",
        "inputs": {
            "subscribe": {
                "method": "POST",
                "uri": format!("{base}/subscribe"),
                "body": {"callbackUrl": "@{listCallbackUrl()}", "mode": mode, "value": 42},
                "retryPolicy": {"type": "none"}
            },
            "unsubscribe": {
                "method": "POST",
                "url": format!("{base}/unsubscribe"),
                "body": {"id": "@{action().outputs.body.id}"}
            }
        },
        "runAfter": {}
    });
    if let (Some(a), Value::Object(e)) = (action.as_object_mut(), extra) {
        a.extend(e);
    }
    action
}

fn register(engine: &Engine, actions: Value) {
    let workflow = common::load(&common::workflow(actions));
    engine
        .register_workflow(WorkflowRegistration::new("hooks", workflow))
        .unwrap();
}

/// Starts a run of `hooks` as its Request trigger would.
async fn start(engine: &Engine) -> RunHandle {
    engine
        .start_run(StartRun::new(
            "hooks",
            "manual",
            json!({"headers": {}, "body": {}}),
        ))
        .await
        .unwrap()
}

/// Starts a run of `hooks` and waits for its end.
async fn run(engine: &Engine) -> RunOutcome {
    start(engine).await.completion.await.unwrap()
}

async fn record(store: &Arc<dyn Store>, outcome: &RunOutcome, action: &str) -> ActionRecord {
    store
        .get_action(&outcome.run_id, action)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no record of {action}"))
}

/// The callback registration of the `Wait` action of a run.
fn wait_key(run_id: &RunId) -> CallbackKey {
    CallbackKey {
        workflow: "hooks".into(),
        run_id: run_id.to_string(),
        action: "Wait".into(),
        repetition: String::new(),
    }
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the event arrives")
        .expect("channel open")
}

/// A text field of the next request the subscriber received.
async fn next_text(rx: &mut mpsc::UnboundedReceiver<Value>, field: &str) -> String {
    next(rx).await[field].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_completes_the_action_and_unsubscribes() {
    let mut s = setup(true).await;
    register(
        &s.engine,
        json!({
            "Wait": webhook_action(&s.subscriber, "callback", json!({})),
            "After": {"type": "Compose", "inputs": "@body('Wait')", "runAfter": {"Wait": ["Succeeded"]}}
        }),
    );
    let outcome = run(&s.engine).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    assert_eq!(next(&mut s.events.called_back).await, 200);

    let url = next_text(&mut s.events.subscribed, "callbackUrl").await;
    assert!(
        url.ends_with(&format!("/cb/hooks/{}/Wait?sig=s3cret", outcome.run_id)),
        "{url}"
    );
    let unsubscribed = next(&mut s.events.unsubscribed).await;
    assert_eq!(unsubscribed["id"], "sub-42");

    let after = record(&s.store, &outcome, "After").await;
    assert_eq!(after.outputs, Some(json!({"result": 42})));
    let wait = record(&s.store, &outcome, "Wait").await;
    let outputs = wait.outputs.unwrap();
    assert_eq!(outputs["body"], json!({"result": 42}));
    assert!(outputs["headers"].get("authorization").is_none());
    // The signature is not kept in history.
    let inputs = wait.inputs.unwrap().to_string();
    assert!(!inputs.contains("s3cret"), "{inputs}");
    assert!(inputs.contains("*sanitized*"), "{inputs}");

    // The action finished: a second call finds nobody waiting.
    let again = reqwest::Client::new()
        .post(&url)
        .json(&json!({"late": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_ends_the_wait_and_unsubscribes() {
    let mut s = setup(true).await;
    register(
        &s.engine,
        json!({"Wait": webhook_action(&s.subscriber, "silent", json!({"limit": {"timeout": "PT1S"}}))}),
    );
    let outcome = run(&s.engine).await;
    assert_eq!(status(&outcome, "Wait"), ActionStatus::TimedOut);
    let summary = outcome.actions.iter().find(|a| a.name == "Wait").unwrap();
    assert_eq!(summary.code.as_deref(), Some("ActionTimedOut"));
    let unsubscribed = next(&mut s.events.unsubscribed).await;
    assert_eq!(unsubscribed["id"], "sub-silent");
    let url = next_text(&mut s.events.subscribed, "callbackUrl").await;
    assert!(url.contains(outcome.run_id.as_str()), "{url}");
    assert!(!s.callbacks.is_waiting(&wait_key(&outcome.run_id)));
}

/// A run whose `Wait` action sent its subscribe request to a subscriber in `mode`.
async fn subscribed_run(mode: &str) -> (Setup, RunHandle) {
    let mut s = setup(true).await;
    register(
        &s.engine,
        json!({"Wait": webhook_action(&s.subscriber, mode, json!({}))}),
    );
    let handle = start(&s.engine).await;
    next(&mut s.events.subscribed).await;
    (s, handle)
}

/// Cancels the run, which ends as Cancelled.
async fn cancel(engine: &Engine, handle: RunHandle) {
    engine.cancel_run("hooks", &handle.run_id).await.unwrap();
    let outcome = handle.completion.await.unwrap();
    assert_eq!(outcome.status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_run_unsubscribes() {
    let (mut s, handle) = subscribed_run("silent").await;
    let key = wait_key(&handle.run_id);
    assert!(s.callbacks.is_waiting(&key));
    cancel(&s.engine, handle).await;
    let unsubscribed = next(&mut s.events.unsubscribed).await;
    assert_eq!(unsubscribed["id"], "sub-silent");
    assert!(!s.callbacks.is_waiting(&key));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_while_the_service_answers_still_unsubscribes() {
    // The service has the subscribe request but has not answered it yet.
    let (mut s, handle) = subscribed_run("slow").await;
    cancel(&s.engine, handle).await;
    assert!(
        s.events.unsubscribed.try_recv().is_err(),
        "nothing to unsubscribe before the answer names the subscription"
    );
    // Once it answers, the subscription it created is removed.
    s.events.release.notify_one();
    let unsubscribed = next(&mut s.events.unsubscribed).await;
    assert_eq!(unsubscribed["id"], "sub-slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_subscription_fails_the_action() {
    let mut s = setup(true).await;
    register(
        &s.engine,
        json!({"Wait": webhook_action(&s.subscriber, "fail", json!({}))}),
    );
    let outcome = run(&s.engine).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let summary = outcome.actions.iter().find(|a| a.name == "Wait").unwrap();
    assert_eq!(summary.status, ActionStatus::Failed);
    assert_eq!(summary.code.as_deref(), Some("BadRequest"));
    next(&mut s.events.subscribed).await;
    // Nothing was subscribed, so nothing is unsubscribed.
    assert!(s.events.unsubscribed.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_loop_repetition_has_its_own_callback() {
    let mut s = setup(true).await;
    let mut action = webhook_action(&s.subscriber, "callback", json!({}));
    action["inputs"]["subscribe"]["body"]["value"] = json!("@items('Loop')");
    action.as_object_mut().unwrap().remove("runAfter");
    register(
        &s.engine,
        json!({
            "Loop": {"type": "Foreach", "foreach": [1, 2], "actions": {"Wait": action}, "runAfter": {}},
            "All": {"type": "Compose", "inputs": "@outputs('Wait')", "runAfter": {"Loop": ["Succeeded"]}}
        }),
    );
    let outcome = run(&s.engine).await;
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let mut urls = vec![
        next_text(&mut s.events.subscribed, "callbackUrl").await,
        next_text(&mut s.events.subscribed, "callbackUrl").await,
    ];
    urls.sort();
    assert!(urls[0].contains("/Wait/000000?"), "{urls:?}");
    assert!(urls[1].contains("/Wait/000001?"), "{urls:?}");
    let mut ids = vec![
        next_text(&mut s.events.unsubscribed, "id").await,
        next_text(&mut s.events.unsubscribed, "id").await,
    ];
    ids.sort();
    assert_eq!(ids, vec!["sub-1", "sub-2"]);
    let reps = s
        .store
        .list_repetitions(&outcome.run_id, "Wait")
        .await
        .unwrap();
    let mut results: Vec<Value> = reps
        .iter()
        .map(|r| r.outputs.as_ref().unwrap()["body"]["result"].clone())
        .collect();
    results.sort_by_key(|v| v.as_i64());
    assert_eq!(results, vec![json!(1), json!(2)]);
}

#[tokio::test]
async fn without_a_callback_host_the_action_fails_clearly() {
    let s = setup(false).await;
    register(
        &s.engine,
        json!({"Wait": webhook_action(&s.subscriber, "callback", json!({}))}),
    );
    let outcome = run(&s.engine).await;
    let wait = record(&s.store, &outcome, "Wait").await;
    assert_eq!(wait.status, ActionStatus::Failed);
    let message = wait.error.unwrap()["message"].to_string();
    assert!(message.contains("listCallbackUrl()"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_subscribes_again_with_the_same_callback_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let (subscriber, mut events) = start_subscriber().await;
    let callbacks = Arc::new(WebhookCallbacks::new());
    start_receiver(&callbacks, true).await;
    let actions = json!({
        "Wait": webhook_action(&subscriber, "silent", json!({})),
        "After": {"type": "Compose", "inputs": "@body('Wait')", "runAfter": {"Wait": ["Succeeded"]}}
    });
    let engine_over = |store: Arc<dyn Store>| {
        let engine = engine(store, &callbacks);
        register(&engine, actions.clone());
        engine
    };

    let first_url = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let engine = engine_over(store);
        start(&engine).await;
        let first = next_text(&mut events.subscribed, "callbackUrl").await;
        engine.shutdown().await;
        first
    };

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let engine = engine_over(store.clone());
    let mut done = engine.completions();
    assert_eq!(engine.resume_incomplete().await.unwrap(), 1);
    let second = next(&mut events.subscribed).await;
    assert_eq!(second["callbackUrl"], first_url.as_str());
    let delivered = reqwest::Client::new()
        .post(&first_url)
        .json(&json!({"after": "restart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status().as_u16(), 200);
    let outcome = done.recv().await.unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded, "{outcome:?}");
    let after = record(&store, &outcome, "After").await;
    assert_eq!(after.outputs, Some(json!({"after": "restart"})));
    // The shutdown kept the subscription; only the finished wait unsubscribed.
    next(&mut events.unsubscribed).await;
    assert!(events.unsubscribed.try_recv().is_err());
}
