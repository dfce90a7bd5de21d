//! Crash tests: the real `conflux serve` process is killed with SIGKILL (no
//! shutdown code runs) and a new process is started on the same `--data`
//! folder. What the first process made durable must be enough for the second
//! to finish the work: nothing lost, nothing recorded twice.
//!
//! The queue tests need RabbitMQ (`CONFLUX_TEST_AMQP_URL`, default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};
use support::{project, request_workflow, run_id_of, serve, Patience, Server, PATIENCE};
use tokio::sync::watch;

/// `conflux serve project` on the test's data folder, logging to `logs`.
fn start(project: &Path, data: &Path, logs: &Path) -> Server {
    serve(project).data(data).logs(logs).start()
}

/// The restarted server handed `runs` incomplete runs back to the engine.
fn assert_resumed(server: &Server, runs: usize) {
    let line = format!("resumed {runs} incomplete run(s)");
    assert!(server.preamble.contains(&line), "{:?}", server.preamble);
}

fn status(action: Option<&Value>) -> &str {
    action
        .and_then(|a| a["properties"]["status"].as_str())
        .unwrap_or("(no record)")
}

// ---------------------------------------------------------------------------
// The HTTP peer the workflows call

/// Records every call; `/hold` calls answer only once released.
#[derive(Clone)]
struct Peer {
    calls: Arc<Mutex<Vec<Value>>>,
    holds: Arc<Mutex<Vec<Value>>>,
    release: watch::Sender<bool>,
}

impl Peer {
    async fn start() -> (Peer, String) {
        let peer = Peer {
            calls: Arc::default(),
            holds: Arc::default(),
            release: watch::channel(false).0,
        };
        let app = axum::Router::new()
            .route("/record", post(record))
            .route("/hold", post(hold))
            .with_state(peer.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (peer, url)
    }

    fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }

    fn holds(&self) -> usize {
        self.holds.lock().unwrap().len()
    }

    /// Waits until `n` requests reached `/hold`.
    async fn wait_for_holds(&self, n: usize, patience: Patience) {
        while self.holds() != n {
            patience.tick().await;
        }
    }

    /// How many recorded calls have `field == value`.
    fn count(&self, field: &str, value: &str) -> usize {
        self.calls().iter().filter(|c| c[field] == value).count()
    }
}

async fn record(State(peer): State<Peer>, Json(body): Json<Value>) -> Json<Value> {
    peer.calls.lock().unwrap().push(body);
    Json(json!({"recorded": true}))
}

async fn hold(State(peer): State<Peer>, Json(body): Json<Value>) -> Json<Value> {
    peer.holds.lock().unwrap().push(body);
    let mut released = peer.release.subscribe();
    let _ = released.wait_for(|r| *r).await;
    Json(json!({"released": true}))
}

fn http_post(url: String, body: Value, after: Option<&str>) -> Value {
    let run_after = match after {
        Some(a) => json!({ a: ["Succeeded"] }),
        None => json!({}),
    };
    json!({
        "type": "Http",
        "inputs": {"method": "POST", "uri": url, "body": body},
        "runAfter": run_after
    })
}

// ---------------------------------------------------------------------------
// A stateful run killed mid-flight

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_run_killed_mid_flight_resumes_and_nothing_runs_or_records_twice() {
    let (peer, peer_url) = Peer::start().await;
    let run_name = "@{workflow()?['run']?['name']}";
    let workflow = request_workflow(
        json!({
            "Step_one": http_post(format!("{peer_url}/record"), json!({"step": "one", "run": run_name}), None),
            "Pause": {
                "type": "Wait",
                "inputs": {"interval": {"count": 1, "unit": "Second"}},
                "runAfter": {"Step_one": ["Succeeded"]}
            },
            "Hold": http_post(format!("{peer_url}/hold"), json!({"run": run_name}), Some("Pause")),
            "Step_two": http_post(format!("{peer_url}/record"), json!({"step": "two", "run": run_name}), Some("Hold")),
            "Done": {
                "type": "Compose",
                "inputs": "@body('Step_two')",
                "runAfter": {"Step_two": ["Succeeded"]}
            }
        }),
        json!({}),
    );
    let project = project(&[("durable", workflow)]);
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();

    let server = start(project.path(), data.path(), logs.path());
    let response = server.call(&server.url("durable"), json!({})).await;
    assert_eq!(response.status().as_u16(), 202, "no Response action: 202");
    let run_id = run_id_of(&response);

    // The run is inside Hold: Step_one and Pause are recorded as Succeeded,
    // Hold as Running, and the peer holds its request.
    let patience = server.patience("the run to be held in the Hold action");
    let before = loop {
        let actions = server.actions("durable", &run_id).await;
        if peer.holds() == 1
            && status(actions.get("Step_one")) == "Succeeded"
            && status(actions.get("Pause")) == "Succeeded"
            && status(actions.get("Hold")) == "Running"
        {
            break actions;
        }
        patience.tick().await;
    };
    assert_eq!(peer.count("step", "one"), 1);
    assert_eq!(peer.count("step", "two"), 0);
    server.kill();

    // A new process on the same data folder resumes the run on its own.
    let server = start(project.path(), data.path(), logs.path());
    assert_resumed(&server, 1);
    // Hold was in flight when the process died, so it is sent again.
    peer.wait_for_holds(2, server.patience("Hold to be sent again"))
        .await;
    peer.release.send_replace(true);
    let runs = server
        .wait_for_runs("durable", "the resumed run to end", |runs| {
            runs.iter().all(|(_, s)| s != "Running" && s != "Waiting")
        })
        .await;
    assert_eq!(
        runs,
        vec![(run_id.clone(), "Succeeded".to_string())],
        "one run, the same one"
    );
    // Each side effect before and after the crash happened exactly once.
    let calls = peer.calls();
    assert_eq!(peer.count("step", "one"), 1, "{calls:?}");
    assert_eq!(peer.count("step", "two"), 1, "{calls:?}");
    assert!(
        calls.iter().all(|c| c["run"] == run_id.as_str()),
        "{calls:?}"
    );
    assert_eq!(peer.holds(), 2);

    let after = server.actions("durable", &run_id).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        ["Done", "Hold", "Pause", "Step_one", "Step_two"],
        "one record per action"
    );
    for (name, action) in &after {
        assert_eq!(status(Some(action)), "Succeeded", "{name}: {action}");
    }
    // What finished before the crash was replayed from the journal, not run again.
    for name in ["Step_one", "Pause"] {
        for time in ["startTime", "endTime"] {
            assert_eq!(
                after[name]["properties"][time], before[name]["properties"][time],
                "{name}.{time}"
            );
        }
    }
    let outputs_link = after["Done"]["properties"]["outputsLink"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(server.fetch(outputs_link).await, json!({"recorded": true}));
}

// ---------------------------------------------------------------------------
// A queue message received but not yet turned into a run

const AMQP_VAR: &str = "CONFLUX_TEST_AMQP_URL";

fn amqp_url() -> String {
    std::env::var(AMQP_VAR).unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A uniquely named queue on the test broker, deleted by [`TestQueue::delete`].
struct TestQueue {
    name: String,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl TestQueue {
    async fn new() -> TestQueue {
        use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
        let properties = lapin::ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio::current());
        let connection = lapin::Connection::connect(&amqp_url(), properties)
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ unreachable ({e}); set {AMQP_VAR}"));
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("conflux-crash-{}-{nanos}", std::process::id());
        // Should a failed test not get to delete it, the broker drops the
        // queue once it has been unused for ten minutes.
        let mut arguments = lapin::types::FieldTable::default();
        arguments.insert(
            "x-expires".into(),
            lapin::types::AMQPValue::LongUInt(600_000),
        );
        channel
            .queue_declare(
                &name,
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .unwrap();
        TestQueue {
            name,
            channel,
            _connection: connection,
        }
    }

    /// Publishes `{"id": id}` as a persistent JSON message and waits for the broker's confirm.
    async fn publish(&self, id: &str) {
        let properties = lapin::BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(id.into())
            .with_delivery_mode(2);
        let confirmation = self
            .channel
            .basic_publish(
                "",
                &self.name,
                lapin::options::BasicPublishOptions::default(),
                json!({ "id": id }).to_string().as_bytes(),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirmation.is_ack(), "the broker took message {id}");
    }

    /// `(ready, consumers)`: messages waiting in the queue (not those out to a
    /// consumer) and how many consumers it has.
    async fn counts(&self) -> (u32, u32) {
        let queue = self
            .channel
            .queue_declare(
                &self.name,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..lapin::options::QueueDeclareOptions::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap();
        (queue.message_count(), queue.consumer_count())
    }

    /// Reads [`TestQueue::counts`] until `done` holds for them.
    async fn wait_for(&self, patience: Patience, done: impl Fn((u32, u32)) -> bool) {
        while !done(self.counts().await) {
            patience.tick().await;
        }
    }

    /// Waits until the server's trigger consumes the queue.
    async fn wait_for_consumer(&self, server: &Server) {
        let patience = server.patience("the trigger to consume the queue");
        self.wait_for(patience, |(_, consumers)| consumers == 1)
            .await;
    }

    async fn delete(self) {
        self.channel
            .queue_delete(&self.name, lapin::options::QueueDeleteOptions::default())
            .await
            .unwrap();
    }
}

/// Holds the write lock of the run-history database from outside the server,
/// as a stuck disk or a backup tool might: the server's writes wait (and time
/// out), its reads go on (WAL).
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(db: &Path) -> WriteLock {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.busy_timeout(PATIENCE).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        WriteLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("ROLLBACK").unwrap();
    }
}

/// A project whose workflow `orders` runs `actions` for each message of
/// `queue`, with at most `prefetch` messages out to the server unacknowledged;
/// `runtime` is the trigger's `runtimeConfiguration`.
///
/// The prefetch limit is what lets a test know, from the broker alone, that
/// earlier messages were acknowledged: with `prefetch` messages out, none of
/// the earlier ones can still be.
fn queue_project(
    queue: &TestQueue,
    prefetch: u16,
    runtime: Value,
    actions: Value,
) -> tempfile::TempDir {
    let workflow = json!({
        "definition": {
            "triggers": {"on_message": {
                "type": "ServiceProvider",
                "inputs": {
                    "parameters": {"queue": queue.name, "prefetchCount": prefetch},
                    "serviceProviderConfiguration": {
                        "connectionName": "rabbit",
                        "operationId": "receiveMessages",
                        "serviceProviderId": "/serviceProviders/amqp"
                    }
                },
                "runtimeConfiguration": runtime
            }},
            "actions": actions
        },
        "kind": "Stateful"
    });
    let project = project(&[("orders", workflow)]);
    let settings = json!({"IsEncrypted": false, "Values": {"RABBIT_URL": amqp_url()}});
    std::fs::write(
        project.path().join("local.settings.json"),
        settings.to_string(),
    )
    .unwrap();
    let connections = json!({"serviceProviderConnections": {"rabbit": {
        "parameterValues": {"connectionString": "@appsetting('RABBIT_URL')"},
        "serviceProvider": {"id": "/serviceProviders/amqp"},
        "displayName": "RabbitMQ"
    }}});
    std::fs::write(
        project.path().join("connections.json"),
        connections.to_string(),
    )
    .unwrap();
    project
}

/// What a queue run tells the peer: the message id, whether the broker had
/// delivered it before, and the run.
fn record_body() -> Value {
    json!({
        "id": "@{triggerBody()?['id']}",
        "redelivered": "@triggerOutputs()?['properties']?['redelivered']",
        "run": "@{workflow()?['run']?['name']}"
    })
}

/// Once every message of `ids` has a finished run and the queue is
/// drained: one run per message, and one call to the peer per message, made
/// by a listed run. Returns those calls in the order of `ids`.
async fn one_run_per_message(
    server: &Server,
    queue: &TestQueue,
    peer: &Peer,
    ids: &[String],
) -> Vec<Value> {
    server
        .wait_for_runs("orders", "a finished run for every message", |runs| {
            runs.len() >= ids.len() && runs.iter().all(|(_, s)| s == "Succeeded")
        })
        .await;
    queue
        .wait_for(server.patience("the queue to be drained"), |(ready, _)| {
            ready == 0
        })
        .await;

    let runs = server.runs("orders").await;
    assert_eq!(runs.len(), ids.len(), "one run per message: {runs:?}");
    let calls = peer.calls();
    assert_eq!(calls.len(), ids.len(), "{calls:?}");
    ids.iter()
        .map(|id| {
            let of_id: Vec<&Value> = calls.iter().filter(|c| c["id"] == id.as_str()).collect();
            assert_eq!(of_id.len(), 1, "one run for {id}: {calls:?}");
            let run = of_id[0]["run"].as_str().unwrap();
            assert!(runs.iter().any(|(r, _)| r == run), "{run} is listed");
            of_id[0].clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_messages_received_but_not_yet_runs_when_killed_are_redelivered_once() {
    let (peer, peer_url) = Peer::start().await;
    let queue = TestQueue::new().await;
    // Up to 3 messages out to the server at once: m-1..m-3 below.
    let project = queue_project(
        &queue,
        3,
        json!({}),
        json!({
            "Record": http_post(format!("{peer_url}/record"), record_body(), None)
        }),
    );
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..4).map(|i| format!("m-{i}")).collect();

    let server = start(project.path(), data.path(), logs.path());
    // The trigger works: a first message becomes a finished run.
    queue.wait_for_consumer(&server).await;
    queue.publish(&ids[0]).await;
    server
        .wait_for_runs("orders", "the run of m-0 to succeed", |runs| {
            runs.len() == 1 && runs[0].1 == "Succeeded"
        })
        .await;

    // No run can be created now: the server receives the next messages but
    // cannot write their runs, so it cannot acknowledge them either. (The
    // store's writes wait for the lock and time out; the trigger then hands
    // the message back, and the broker delivers it again.)
    let lock = WriteLock::take(&data.path().join("conflux.db"));
    for id in &ids[1..] {
        queue.publish(id).await;
    }
    // None ready means all three are out to the server, which (prefetch 3)
    // also means m-0 was acknowledged.
    queue
        .wait_for(
            server.patience("the server to take the messages off the queue"),
            |(ready, _)| ready == 0,
        )
        .await;
    assert_eq!(
        server.runs("orders").await.len(),
        1,
        "no run for m-1..m-3 yet"
    );
    let killed_log = server.log();
    server.kill();
    lock.release();
    // The killed process's connection is gone, so the broker has the messages back.
    queue
        .wait_for(
            Patience::new("the broker to requeue the messages", killed_log),
            |counts| counts == (3, 0),
        )
        .await;

    let server = start(project.path(), data.path(), logs.path());
    let calls = one_run_per_message(&server, &queue, &peer, &ids).await;
    // The broker marks what it had handed out before: the killed process had
    // received m-1..m-3, and no run came of that.
    for call in &calls {
        let redelivered = call["id"] != "m-0";
        assert_eq!(call["redelivered"], redelivered, "{call}");
    }
    server.kill();
    queue.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_waiting_and_refused_queue_runs_all_survive_a_kill_exactly_once() {
    let (peer, peer_url) = Peer::start().await;
    let queue = TestQueue::new().await;
    // One run at a time and the smallest waiting queue: with the running run
    // held, 1 + 10 messages become runs and the next one is refused (and
    // returned to the queue) until a slot frees up.
    // One message out at a time, so they are taken in queue order.
    let project = queue_project(
        &queue,
        1,
        json!({"concurrency": {"runs": 1, "maximumWaitingRuns": 10}}),
        json!({
            "Hold": http_post(format!("{peer_url}/hold"), record_body(), None),
            "Record": http_post(format!("{peer_url}/record"), record_body(), Some("Hold"))
        }),
    );
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();

    let server = start(project.path(), data.path(), logs.path());
    queue.wait_for_consumer(&server).await;
    let ids: Vec<String> = (0..12).map(|i| format!("m-{i}")).collect();
    for id in &ids {
        queue.publish(id).await;
    }
    server
        .wait_for_runs("orders", "1 running and 10 waiting runs", |runs| {
            let running = runs.iter().filter(|(_, s)| s == "Running").count();
            let waiting = runs.iter().filter(|(_, s)| s == "Waiting").count();
            peer.holds() == 1 && running == 1 && waiting == 10 && runs.len() == 11
        })
        .await;
    // The twelfth message is out to the server (not ready in the queue) but
    // has no run and cannot be acknowledged; with prefetch 1 that also means
    // the eleven before it were acknowledged.
    queue
        .wait_for(
            server.patience("the refused message to be out to the server"),
            |(ready, _)| ready == 0,
        )
        .await;
    assert_eq!(server.runs("orders").await.len(), 11);
    let first = peer.holds.lock().unwrap()[0]["id"].clone();
    server.kill();

    let server = start(project.path(), data.path(), logs.path());
    assert_resumed(&server, 11);
    // The run that was executing goes on first: its Hold, in flight at the
    // kill, is sent again.
    peer.wait_for_holds(2, server.patience("the running run to send Hold again"))
        .await;
    assert_eq!(peer.holds.lock().unwrap()[1]["id"], first);
    peer.release.send_replace(true);
    let calls = one_run_per_message(&server, &queue, &peer, &ids).await;
    let redelivered: Vec<&String> = ids
        .iter()
        .zip(&calls)
        .filter(|(_, call)| call["redelivered"] == true)
        .map(|(id, _)| id)
        .collect();
    // Only the refused message came from the broker twice; the runs created
    // before the kill (running or waiting) were acknowledged and resumed.
    assert_eq!(first, "m-0");
    assert_eq!(redelivered, ["m-11"], "{calls:?}");
    // Every run held once, and the one in flight at the kill once more.
    assert_eq!(peer.holds(), 13);
    server.kill();
    queue.delete().await;
}
