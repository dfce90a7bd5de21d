//! End-to-end tests of HttpWebhook actions and triggers through the real
//! `conflux serve` binary: a local subscriber receives subscribe/unsubscribe
//! requests and calls the callback URLs it was sent.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use conflux_store::{SqliteStore, Store as _, WorkflowName};
use serde_json::{json, Value};
use support::{error_code, free_port, request_workflow, run_id_of, serve, Server};
use tokio::sync::mpsc;

/// What the subscriber records, by the `kind` in each request body.
#[derive(Clone)]
struct Subscriber {
    subscribed: mpsc::UnboundedSender<Value>,
    unsubscribed: mpsc::UnboundedSender<Value>,
    /// `subscribe {kind}` / `unsubscribe {kind}`, in the order they arrived.
    log: mpsc::UnboundedSender<String>,
    http: reqwest::Client,
    flaky_calls: std::sync::Arc<std::sync::Mutex<u32>>,
}

struct Events {
    subscribed: mpsc::UnboundedReceiver<Value>,
    unsubscribed: mpsc::UnboundedReceiver<Value>,
    log: mpsc::UnboundedReceiver<String>,
}

/// Actions are called back at once (before the subscribe request is
/// answered); a trigger's callback URL is only recorded.
async fn subscribe(
    State(s): State<Subscriber>,
    Json(mut body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if body["kind"] == "action" {
        let url = body["callbackUrl"].as_str().unwrap().to_string();
        let response = s
            .http
            .post(&url)
            .json(&json!({"approved": true, "by": body["who"].clone()}))
            .send()
            .await
            .unwrap();
        body["callbackStatus"] = json!(response.status().as_u16());
    }
    // A flaky subscriber refuses the first attempt.
    let refuse = body["kind"] == "flaky" && {
        let mut n = s.flaky_calls.lock().unwrap();
        *n += 1;
        *n == 1
    };
    let _ = s.log.send(format!(
        "subscribe {}",
        body["kind"].as_str().unwrap_or("?")
    ));
    let _ = s.subscribed.send(body);
    if refuse {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "busy"})),
        );
    }
    (StatusCode::CREATED, Json(json!({"id": "subscription-1"})))
}

/// An `X-Api-Key` header is recorded as `apiKey` next to the body's fields.
async fn unsubscribe(
    State(s): State<Subscriber>,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> StatusCode {
    if let Some(key) = headers.get("x-api-key") {
        body["apiKey"] = json!(key.to_str().unwrap());
    }
    let _ = s.log.send(format!(
        "unsubscribe {}",
        body["kind"].as_str().unwrap_or("?")
    ));
    let _ = s.unsubscribed.send(body);
    StatusCode::OK
}

async fn start_subscriber() -> (String, Events) {
    let (stx, srx) = mpsc::unbounded_channel();
    let (utx, urx) = mpsc::unbounded_channel();
    let (ltx, lrx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/subscribe", post(subscribe))
        .route("/unsubscribe", post(unsubscribe))
        .with_state(Subscriber {
            subscribed: stx,
            unsubscribed: utx,
            log: ltx,
            http: reqwest::Client::new(),
            flaky_calls: std::sync::Arc::default(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        format!("http://{addr}"),
        Events {
            subscribed: srx,
            unsubscribed: urx,
            log: lrx,
        },
    )
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the request arrives")
        .expect("subscriber running")
}

fn action_workflow(subscriber: &str, kind: &str, who: &str) -> Value {
    let mut doc = request_workflow(
        json!({
            "Wait_for_approval": {
                "type": "HttpWebhook",
                "inputs": {
                    "subscribe": {
                        "method": "POST",
                        "uri": format!("{subscriber}/subscribe"),
                        "body": {"kind": "action", "who": who, "callbackUrl": "@{listCallbackUrl()}"}
                    },
                    "unsubscribe": {
                        "method": "POST",
                        "url": format!("{subscriber}/unsubscribe"),
                        "body": {"kind": "action", "who": who, "id": "@{action().outputs.body.id}"}
                    }
                },
                "runAfter": {}
            },
            "Reply": {"type": "Response", "kind": "Http",
                      "inputs": {"statusCode": 200, "body": "@body('Wait_for_approval')"},
                      "runAfter": {"Wait_for_approval": ["Succeeded"]}}
        }),
        json!({}),
    );
    doc["kind"] = json!(kind);
    doc
}

fn trigger_workflow(subscriber: &str) -> Value {
    trigger_workflow_of(subscriber, "trigger")
}

fn trigger_workflow_of(subscriber: &str, kind: &str) -> Value {
    json!({"definition": {
        "triggers": {"When_notified": {
            "type": "HttpWebhook",
            "inputs": {
                "subscribe": {
                    "method": "POST",
                    "uri": format!("{subscriber}/subscribe"),
                    "body": {"kind": kind, "callbackUrl": "@{listCallbackUrl()}"}
                },
                "unsubscribe": {
                    "method": "POST",
                    "url": format!("{subscriber}/unsubscribe"),
                    "body": {"kind": kind, "callbackUrl": "@{listCallbackUrl()}"}
                }
            }
        }},
        "actions": {
            "Echo": {"type": "Compose", "inputs": {"body": "@triggerBody()", "headers": "@triggerOutputs()['headers']"}, "runAfter": {}}
        }
    }, "kind": "Stateful"})
}

/// Two workflows with an HttpWebhook action (stateful and stateless) and
/// one with an HttpWebhook trigger.
fn project(subscriber: &str) -> tempfile::TempDir {
    support::project(&[
        (
            "approval",
            action_workflow(subscriber, "Stateful", "stateful"),
        ),
        (
            "quick",
            action_workflow(subscriber, "Stateless", "stateless"),
        ),
        ("notified", trigger_workflow(subscriber)),
    ])
}

/// The callback URL a subscribe request carried: under `prefix`, and signed.
fn signed_callback(subscribed: &Value, prefix: &str) -> String {
    let callback = subscribed["callbackUrl"].as_str().unwrap().to_string();
    assert!(callback.starts_with(prefix), "{callback}");
    assert!(callback.contains("&sig="), "{callback}");
    callback
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_actions_wait_for_their_callback_in_stateful_and_stateless_workflows() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = project(&subscriber);
    let server = serve(dir.path()).start();
    // The trigger subscribes at start; not part of this test.
    assert_eq!(next(&mut events.subscribed).await["kind"], "trigger");

    let mut stateful_sig = String::new();
    for (workflow, who) in [("approval", "stateful"), ("quick", "stateless")] {
        let response = server.call(&server.url(workflow), json!({})).await;
        assert_eq!(response.status().as_u16(), 200, "{workflow}");
        let run_id = run_id_of(&response);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"approved": true, "by": who}));

        let subscribed = next(&mut events.subscribed).await;
        assert_eq!(subscribed["who"], who);
        assert_eq!(subscribed["callbackStatus"], 200);
        let callback = signed_callback(
            &subscribed,
            &format!(
                "{}/runtime/webhooks/workflow/api/callbacks/{workflow}/runs/{run_id}/actions/Wait_for_approval?",
                server.base
            ),
        );
        if who == "stateful" {
            stateful_sig = callback.split("sig=").nth(1).unwrap().to_string();
        }
        let unsubscribed = next(&mut events.unsubscribed).await;
        assert_eq!(
            unsubscribed,
            json!({"kind": "action", "who": who, "id": "subscription-1"})
        );

        // The action finished: nobody waits for this URL any more.
        let late = server.call(&callback, json!({})).await;
        assert_eq!(
            error_code(late).await,
            (404, "WebhookNotWaiting".to_string())
        );
        // A forged signature is refused before anything else.
        let forged = format!("{}sig=AAAA", callback.split("sig=").next().unwrap());
        let refused = server.call(&forged, json!({})).await;
        assert_eq!(
            error_code(refused).await,
            (401, "AuthorizationFailed".to_string())
        );
    }
    // Only the stateful run keeps its history (with the callback as outputs).
    let (run_id, _) = &server.runs("approval").await[0];
    let outputs = server
        .action_outputs("approval", run_id, "Wait_for_approval")
        .await;
    assert_eq!(outputs["body"], json!({"approved": true, "by": "stateful"}));
    let record = server
        .get_ok(&format!(
            "workflows/approval/runs/{run_id}/actions/Wait_for_approval"
        ))
        .await;
    let inputs_link = record["properties"]["inputsLink"]["uri"].as_str().unwrap();
    let inputs = server.fetch_text(inputs_link).await;
    assert!(inputs.contains("sig=*sanitized*"), "{inputs}");
    assert!(!inputs.contains(&stateful_sig), "{inputs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_triggers_subscribe_fire_runs_and_unsubscribe_when_disabled() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = project(&subscriber);
    let data = tempfile::tempdir().unwrap();
    // A restart keeps the data folder and the port: the callback URL stays valid.
    let port = free_port();
    let start = || serve(dir.path()).data(data.path()).port(port).start();
    let server = start();

    let subscribed = next(&mut events.subscribed).await;
    assert_eq!(subscribed["kind"], "trigger");
    let callback = signed_callback(
        &subscribed,
        &format!(
            "{}/api/notified/triggers/When_notified/invoke?",
            server.base
        ),
    );

    let http = reqwest::Client::new();
    let fire = |body: Value| {
        let client = http.clone();
        let callback = callback.clone();
        async move {
            let response = client
                .post(&callback)
                .header("Authorization", "Bearer not-for-history")
                .header("X-Event", "created")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
            run_id_of(&response)
        }
    };
    let run_id = fire(json!({"order": 7})).await;
    let (status, run) = server
        .get(&format!("workflows/notified/runs/{run_id}"))
        .await;
    assert_eq!(status, 200, "{run}");
    let echo = wait_for_echo(&server, &run_id).await;
    assert_eq!(echo["body"], json!({"order": 7}));
    assert_eq!(echo["headers"]["X-Event"], "created");
    assert!(echo["headers"].get("Authorization").is_none(), "{echo}");

    // A tampered URL fires nothing.
    let forged = format!("{}sig=AAAA", callback.split("sig=").next().unwrap());
    let refused = server.call(&forged, json!({})).await;
    assert_eq!(refused.status().as_u16(), 401);

    // A restart with the same subscribe request keeps the subscription: the
    // old callback URL still fires runs, and disabling unsubscribes it.
    drop(server);
    let server = start();
    let second = fire(json!({"order": 8})).await;
    assert_eq!(
        wait_for_echo(&server, &second).await["body"],
        json!({"order": 8})
    );
    assert_eq!(
        server.post("workflows/notified/disable", json!({})).await.0,
        200
    );
    let unsubscribed = next(&mut events.unsubscribed).await;
    assert_eq!(unsubscribed["kind"], "trigger");
    assert_eq!(unsubscribed["callbackUrl"], callback.as_str());
    assert!(
        events.subscribed.try_recv().is_err(),
        "the restart subscribed again although the request did not change"
    );
    let disabled = server.call(&callback, json!({})).await;
    assert_eq!(disabled.status().as_u16(), 409);

    // Enabling subscribes again (the subscription was given up).
    assert_eq!(
        server.post("workflows/notified/enable", json!({})).await.0,
        200
    );
    let again = next(&mut events.subscribed).await;
    assert_eq!(again["kind"], "trigger");
    assert_eq!(again["callbackUrl"], callback.as_str());
}

/// The outputs of the Echo action once the run finished.
async fn wait_for_echo(server: &Server, run_id: &str) -> Value {
    server
        .wait_for_runs("notified", "the run to finish", |runs| {
            runs.iter()
                .any(|(id, status)| id == run_id && status == "Succeeded")
        })
        .await;
    server.action_outputs("notified", run_id, "Echo").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_trigger_subscription_is_retried_in_the_background() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = support::project(&[("flaky", trigger_workflow_of(&subscriber, "flaky"))]);
    let server = serve(dir.path()).start();
    let first = next(&mut events.subscribed).await;
    let second = next(&mut events.subscribed).await;
    assert_eq!(first["kind"], "flaky");
    assert_eq!(second["callbackUrl"], first["callbackUrl"]);
    // The server kept serving meanwhile, and the subscription works now.
    let response = server
        .call(first["callbackUrl"].as_str().unwrap(), json!({"n": 1}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
}

/// A trigger whose subscribe and unsubscribe requests both name `name`; the
/// unsubscribe request carries the app setting `UNSUBSCRIBE_KEY` as `X-Api-Key`.
fn keyed_trigger_workflow(subscriber: &str, name: &str) -> Value {
    let mut doc = trigger_workflow_of(subscriber, name);
    let unsubscribe = &mut doc["definition"]["triggers"]["When_notified"]["inputs"]["unsubscribe"];
    unsubscribe["headers"] = json!({"X-Api-Key": "@appsetting('UNSUBSCRIBE_KEY')"});
    unsubscribe["body"] = json!({"kind": name});
    doc
}

/// Every file under the data folder (the SQLite store with its journal,
/// the master key) holds the trigger's sealed unsubscribe request, and
/// nowhere `secret` in plain text.
fn assert_sealed_in_store(data: &std::path::Path, secret: &str) {
    let mut bytes = Vec::new();
    let mut folders = vec![data.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"sealedUnsubscribe"),
        "the trigger state with the unsubscribe request is in the store"
    );
    assert!(
        !contains(secret.as_bytes()),
        "the unsubscribe request's key is stored in plain text"
    );
}

/// A project with one workflow `renamed` of [`keyed_trigger_workflow`]
/// naming `name`, and `secret` as the app setting `UNSUBSCRIBE_KEY`.
fn keyed_project(subscriber: &str, name: &str, secret: &str) -> tempfile::TempDir {
    let dir = support::project(&[("renamed", keyed_trigger_workflow(subscriber, name))]);
    let settings = json!({"IsEncrypted": false, "Values": {"UNSUBSCRIBE_KEY": secret}});
    std::fs::write(dir.path().join("local.settings.json"), settings.to_string()).unwrap();
    dir
}

/// A served [`keyed_project`] whose data folder and port survive restarts.
struct KeyedCase {
    subscriber: String,
    secret: String,
    dir: tempfile::TempDir,
    data: tempfile::TempDir,
    port: u16,
}

impl KeyedCase {
    async fn new(name: &str) -> (KeyedCase, Events) {
        let (subscriber, events) = start_subscriber().await;
        let secret = support::unique("unsubscribe-key-");
        let dir = keyed_project(&subscriber, name, &secret);
        let case = KeyedCase {
            subscriber,
            secret,
            dir,
            data: tempfile::tempdir().unwrap(),
            port: free_port(),
        };
        (case, events)
    }

    fn start(&self) -> Server {
        serve(self.dir.path())
            .data(self.data.path())
            .port(self.port)
            .logged()
            .start()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_subscribe_request_first_ends_the_old_subscription_with_its_own_unsubscribe() {
    let (case, mut events) = KeyedCase::new("A").await;

    let server = case.start();
    assert_eq!(next(&mut events.log).await, "subscribe A");
    server.wait_for_log("Webhook trigger subscribed.", 1).await;
    assert_sealed_in_store(case.data.path(), &case.secret);
    drop(server);

    // The definition changes while the server is stopped.
    std::fs::write(
        case.dir.path().join("renamed").join("workflow.json"),
        keyed_trigger_workflow(&case.subscriber, "B").to_string(),
    )
    .unwrap();
    let server = case.start();
    assert_eq!(next(&mut events.log).await, "unsubscribe A");
    assert_eq!(next(&mut events.log).await, "subscribe B");
    assert_eq!(
        next(&mut events.unsubscribed).await,
        json!({"kind": "A", "apiKey": case.secret})
    );
    server.wait_for_log("Webhook trigger subscribed.", 1).await;
    assert_sealed_in_store(case.data.path(), &case.secret);

    // Disabling ends the subscription made with B.
    assert_eq!(
        server.post("workflows/renamed/disable", json!({})).await.0,
        200
    );
    assert_eq!(next(&mut events.log).await, "unsubscribe B");
    assert_eq!(
        next(&mut events.unsubscribed).await,
        json!({"kind": "B", "apiKey": case.secret})
    );
    assert!(
        events.log.try_recv().is_err(),
        "no other subscribe or unsubscribe request"
    );
    assert!(
        !server.log_text().contains(&case.secret),
        "the key is not logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_state_without_a_stored_unsubscribe_request_unsubscribes_with_the_definition() {
    let (case, mut events) = KeyedCase::new("A").await;
    let server = case.start();
    assert_eq!(next(&mut events.log).await, "subscribe A");
    server.wait_for_log("Webhook trigger subscribed.", 1).await;
    drop(server);

    // The trigger state as versions that kept only the fingerprint wrote it.
    {
        let store = SqliteStore::open(case.data.path().join("conflux.db"))
            .await
            .unwrap();
        let workflow = WorkflowName::new("renamed");
        let mut state = store
            .get_trigger_state(&workflow, "When_notified")
            .await
            .unwrap()
            .unwrap();
        let fields = state.as_object_mut().unwrap();
        assert!(fields.remove("sealedUnsubscribe").is_some(), "{state}");
        store
            .put_trigger_state(&workflow, "When_notified", Some(state))
            .await
            .unwrap();
    }

    let server = case.start();
    assert_eq!(
        server.post("workflows/renamed/disable", json!({})).await.0,
        200
    );
    assert_eq!(next(&mut events.log).await, "unsubscribe A");
    assert_eq!(
        next(&mut events.unsubscribed).await,
        json!({"kind": "A", "apiKey": case.secret})
    );
    assert!(
        events.log.try_recv().is_err(),
        "no other subscribe or unsubscribe request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_removed_while_stopped_has_its_subscription_ended_at_start() {
    let (case, mut events) = KeyedCase::new("A").await;
    let server = case.start();
    assert_eq!(next(&mut events.log).await, "subscribe A");
    server.wait_for_log("Webhook trigger subscribed.", 1).await;
    drop(server);

    // The workflow's folder is deleted while the server is stopped; another
    // workflow stays.
    std::fs::remove_dir_all(case.dir.path().join("renamed")).unwrap();
    let other = case.dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(
        other.join("workflow.json"),
        request_workflow(json!({}), json!({})).to_string(),
    )
    .unwrap();

    let server = case.start();
    assert_eq!(next(&mut events.log).await, "unsubscribe A");
    assert_eq!(
        next(&mut events.unsubscribed).await,
        json!({"kind": "A", "apiKey": case.secret})
    );
    server
        .wait_for_log("Webhook trigger no longer in the project unsubscribed.", 1)
        .await;
    assert!(
        !server.log_text().contains(&case.secret),
        "the key is not logged"
    );
    drop(server);

    let store = SqliteStore::open(case.data.path().join("conflux.db"))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_trigger_state(&WorkflowName::new("renamed"), "When_notified")
            .await
            .unwrap(),
        None,
        "the ended subscription is forgotten, so no later start sends it again"
    );
    assert!(
        events.log.try_recv().is_err(),
        "no other subscribe or unsubscribe request"
    );
}
