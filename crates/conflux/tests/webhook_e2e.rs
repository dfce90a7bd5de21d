//! End-to-end tests of HttpWebhook actions and triggers through the real
//! `conflux serve` binary: a local subscriber receives subscribe/unsubscribe
//! requests and calls the callback URLs it was sent.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc;

const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A running `conflux serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    /// `(workflow/trigger, url)` of the Request triggers, as printed at start.
    callbacks: Vec<(String, String)>,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on `port`, returning once it printed `request_triggers` callback URLs.
fn start(project: &Path, data: &Path, port: u16, request_triggers: usize) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the conflux binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let mut callbacks = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.trim().to_string());
        } else if base.is_some() && line.starts_with("  ") {
            let (head, url) = line.trim().split_once(": ").unwrap();
            let name = head.split_whitespace().nth(1).unwrap().to_string();
            callbacks.push((name, url.split_whitespace().next().unwrap().to_string()));
        }
        if base.is_some() && callbacks.len() == request_triggers {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: base.expect("the server printed its address"),
        callbacks,
        client: reqwest::Client::new(),
    }
}

impl Server {
    fn url(&self, name: &str) -> String {
        self.callbacks
            .iter()
            .find(|(n, _)| n.starts_with(&format!("{name}/")))
            .map(|(_, u)| u.clone())
            .unwrap_or_else(|| panic!("no callback URL printed for {name}"))
    }

    fn management(&self, path: &str) -> String {
        format!(
            "{}/runtime/webhooks/workflow/api/management/{path}",
            self.base
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(self.management(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str) -> u16 {
        self.client
            .post(self.management(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The outputs of an action of a run, read through its content link.
    async fn action_outputs(&self, workflow: &str, run_id: &str, action: &str) -> Value {
        let (status, record) = self
            .get(&format!(
                "workflows/{workflow}/runs/{run_id}/actions/{action}"
            ))
            .await;
        assert_eq!(status, 200, "{record}");
        assert_eq!(record["properties"]["status"], "Succeeded", "{record}");
        let link = record["properties"]["outputsLink"]["uri"].as_str().unwrap();
        self.client
            .get(link)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// What the subscriber records, by the `kind` in each request body.
#[derive(Clone)]
struct Subscriber {
    subscribed: mpsc::UnboundedSender<Value>,
    unsubscribed: mpsc::UnboundedSender<Value>,
    http: reqwest::Client,
    flaky_calls: std::sync::Arc<std::sync::Mutex<u32>>,
}

struct Events {
    subscribed: mpsc::UnboundedReceiver<Value>,
    unsubscribed: mpsc::UnboundedReceiver<Value>,
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
    let _ = s.subscribed.send(body);
    if refuse {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "busy"})),
        );
    }
    (StatusCode::CREATED, Json(json!({"id": "subscription-1"})))
}

async fn unsubscribe(State(s): State<Subscriber>, Json(body): Json<Value>) -> StatusCode {
    let _ = s.unsubscribed.send(body);
    StatusCode::OK
}

async fn start_subscriber() -> (String, Events) {
    let (stx, srx) = mpsc::unbounded_channel();
    let (utx, urx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/subscribe", post(subscribe))
        .route("/unsubscribe", post(unsubscribe))
        .with_state(Subscriber {
            subscribed: stx,
            unsubscribed: utx,
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
        },
    )
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the request arrives")
        .expect("subscriber running")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn action_workflow(subscriber: &str, kind: &str, who: &str) -> Value {
    json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
        "actions": {
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
        }
    }, "kind": kind})
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

fn project(subscriber: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.json"), "{}").unwrap();
    for (name, doc) in [
        (
            "approval",
            action_workflow(subscriber, "Stateful", "stateful"),
        ),
        (
            "quick",
            action_workflow(subscriber, "Stateless", "stateless"),
        ),
        ("notified", trigger_workflow(subscriber)),
    ] {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("workflow.json"), doc.to_string()).unwrap();
    }
    dir
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_actions_wait_for_their_callback_in_stateful_and_stateless_workflows() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = project(&subscriber);
    let data = tempfile::tempdir().unwrap();
    let server = start(dir.path(), data.path(), free_port(), 2);
    // The trigger subscribes at start; not part of this test.
    assert_eq!(next(&mut events.subscribed).await["kind"], "trigger");

    let mut stateful_sig = String::new();
    for (workflow, who) in [("approval", "stateful"), ("quick", "stateless")] {
        let response = server
            .client
            .post(server.url(workflow))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{workflow}");
        let run_id = response.headers()["x-ms-workflow-run-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"approved": true, "by": who}));

        let subscribed = next(&mut events.subscribed).await;
        assert_eq!(subscribed["who"], who);
        assert_eq!(subscribed["callbackStatus"], 200);
        let callback = subscribed["callbackUrl"].as_str().unwrap().to_string();
        assert!(
            callback.starts_with(&format!(
                "{}/runtime/webhooks/workflow/api/callbacks/{workflow}/runs/{run_id}/actions/Wait_for_approval?",
                server.base
            )),
            "{callback}"
        );
        assert!(callback.contains("&sig="), "{callback}");
        if who == "stateful" {
            stateful_sig = callback.split("sig=").nth(1).unwrap().to_string();
        }
        let unsubscribed = next(&mut events.unsubscribed).await;
        assert_eq!(
            unsubscribed,
            json!({"kind": "action", "who": who, "id": "subscription-1"})
        );

        // The action finished: nobody waits for this URL any more.
        let late = server
            .client
            .post(&callback)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(late).await,
            (404, "WebhookNotWaiting".to_string())
        );
        // A forged signature is refused before anything else.
        let forged = format!("{}sig=AAAA", callback.split("sig=").next().unwrap());
        let refused = server
            .client
            .post(&forged)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(refused).await,
            (401, "AuthorizationFailed".to_string())
        );
    }
    // Only the stateful run keeps its history (with the callback as outputs).
    let (_, runs) = server.get("workflows/approval/runs").await;
    let run_id = runs["value"][0]["name"].as_str().unwrap().to_string();
    let outputs = server
        .action_outputs("approval", &run_id, "Wait_for_approval")
        .await;
    assert_eq!(outputs["body"], json!({"approved": true, "by": "stateful"}));
    let (_, record) = server
        .get(&format!(
            "workflows/approval/runs/{run_id}/actions/Wait_for_approval"
        ))
        .await;
    let inputs_link = record["properties"]["inputsLink"]["uri"].as_str().unwrap();
    let inputs = server
        .client
        .get(inputs_link)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(inputs.contains("sig=*sanitized*"), "{inputs}");
    assert!(!inputs.contains(&stateful_sig), "{inputs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_triggers_subscribe_fire_runs_and_unsubscribe_when_disabled() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = project(&subscriber);
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), data.path(), port, 2);

    let subscribed = next(&mut events.subscribed).await;
    assert_eq!(subscribed["kind"], "trigger");
    let callback = subscribed["callbackUrl"].as_str().unwrap().to_string();
    assert!(
        callback.starts_with(&format!(
            "{}/api/notified/triggers/When_notified/invoke?",
            server.base
        )),
        "{callback}"
    );
    assert!(callback.contains("&sig="), "{callback}");

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
            response.headers()["x-ms-workflow-run-id"]
                .to_str()
                .unwrap()
                .to_string()
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
    let refused = server
        .client
        .post(&forged)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // A restart with the same subscribe request keeps the subscription: the
    // old callback URL still fires runs, and disabling unsubscribes it.
    drop(server);
    let server = start(dir.path(), data.path(), port, 2);
    let second = fire(json!({"order": 8})).await;
    assert_eq!(
        wait_for_echo(&server, &second).await["body"],
        json!({"order": 8})
    );
    assert_eq!(server.post("workflows/notified/disable").await, 200);
    let unsubscribed = next(&mut events.unsubscribed).await;
    assert_eq!(unsubscribed["kind"], "trigger");
    assert_eq!(unsubscribed["callbackUrl"], callback.as_str());
    assert!(
        events.subscribed.try_recv().is_err(),
        "the restart subscribed again although the request did not change"
    );
    let disabled = server
        .client
        .post(&callback)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status().as_u16(), 409);

    // Enabling subscribes again (the subscription was given up).
    assert_eq!(server.post("workflows/notified/enable").await, 200);
    let again = next(&mut events.subscribed).await;
    assert_eq!(again["kind"], "trigger");
    assert_eq!(again["callbackUrl"], callback.as_str());
}

/// The outputs of the Echo action once the run finished.
async fn wait_for_echo(server: &Server, run_id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, run) = server
            .get(&format!("workflows/notified/runs/{run_id}"))
            .await;
        if run["properties"]["status"] == "Succeeded" || std::time::Instant::now() > deadline {
            return server.action_outputs("notified", run_id, "Echo").await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_trigger_subscription_is_retried_in_the_background() {
    let (subscriber, mut events) = start_subscriber().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.json"), "{}").unwrap();
    std::fs::create_dir_all(dir.path().join("flaky")).unwrap();
    std::fs::write(
        dir.path().join("flaky").join("workflow.json"),
        trigger_workflow_of(&subscriber, "flaky").to_string(),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = start(dir.path(), data.path(), free_port(), 0);
    let first = next(&mut events.subscribed).await;
    let second = next(&mut events.subscribed).await;
    assert_eq!(first["kind"], "flaky");
    assert_eq!(second["callbackUrl"], first["callbackUrl"]);
    // The server kept serving meanwhile, and the subscription works now.
    let response = server
        .client
        .post(first["callbackUrl"].as_str().unwrap())
        .json(&json!({"n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
}
