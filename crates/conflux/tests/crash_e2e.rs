//! Crash tests: the real `conflux serve` process is killed with SIGKILL (no
//! shutdown code runs) and a new process is started on the same `--data`
//! folder. What the first process made durable must be enough for the second
//! to finish the work: nothing lost, nothing recorded twice.
//!
//! The queue tests need RabbitMQ (`CONFLUX_TEST_AMQP_URL`, default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::watch;

const ADMIN_KEY: &str = "crash-test-admin-key-0123456789";
/// How long a test waits for something that should happen; only a limit for
/// a hung test, never a measurement.
const PATIENCE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// The server process

/// A `conflux serve` process on a data folder the test owns.
struct Server {
    child: Child,
    base: String,
    /// Callback URL per workflow name (Request triggers only).
    callbacks: BTreeMap<String, String>,
    /// Lines printed before `listening on` (e.g. `resumed 1 incomplete run(s)`).
    preamble: Vec<String>,
    log: PathBuf,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `conflux serve project --data data`; returns once it listens (and,
/// for a restart, once incomplete runs were handed back to the engine).
/// `request_triggers` is how many callback URLs to read.
fn start(project: &Path, data: &Path, logs: &Path, request_triggers: usize) -> Server {
    let n = std::fs::read_dir(logs).unwrap().count();
    let log = logs.join(format!("serve-{n}.log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env("CONFLUX_LOG", "info")
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("the conflux binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let mut preamble = Vec::new();
    let mut callbacks = BTreeMap::new();
    while base.is_none() || callbacks.len() < request_triggers {
        let Some(line) = lines.next() else {
            panic!(
                "conflux serve ended before listening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.trim().to_string());
        } else if base.is_none() {
            preamble.push(line);
        } else if let Some((head, url)) = line.trim().split_once(": ") {
            // `  POST workflow/trigger: url`
            let name = head.split_whitespace().nth(1).unwrap();
            let workflow = name.split('/').next().unwrap().to_string();
            callbacks.insert(workflow, url.split_whitespace().next().unwrap().into());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: base.unwrap(),
        callbacks,
        preamble,
        log,
        client: reqwest::Client::new(),
    }
}

impl Server {
    /// SIGKILL: the process gets no chance to flush, acknowledge or close anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(status.signal(), Some(9), "ended by SIGKILL: {status}");
        }
        assert!(!status.success(), "the server was killed, not stopped");
    }

    fn log(&self) -> PathBuf {
        self.log.clone()
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!(
            "{}/runtime/webhooks/workflow/api/management/{path}",
            self.base
        );
        let response = self
            .client
            .get(url)
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Every run of a workflow as `(run id, status)`, following `nextLink`.
    async fn runs(&self, workflow: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut page = self.get(&format!("workflows/{workflow}/runs")).await;
        loop {
            for run in page["value"].as_array().unwrap() {
                out.push((
                    run["name"].as_str().unwrap().to_string(),
                    run["properties"]["status"].as_str().unwrap().to_string(),
                ));
            }
            let Some(next) = page["nextLink"].as_str() else {
                break;
            };
            let response = self
                .client
                .get(next)
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .unwrap();
            page = response.json().await.unwrap();
        }
        out
    }

    /// The action records of a run: `name -> record`, failing on a name listed twice.
    async fn actions(&self, workflow: &str, run: &str) -> BTreeMap<String, Value> {
        let list = self
            .get(&format!("workflows/{workflow}/runs/{run}/actions"))
            .await;
        let mut out = BTreeMap::new();
        for action in list["value"].as_array().unwrap() {
            let name = action["name"].as_str().unwrap().to_string();
            assert!(
                out.insert(name.clone(), action.clone()).is_none(),
                "action {name} of run {run} is listed twice: {list}"
            );
        }
        out
    }
}

fn status(action: Option<&Value>) -> &str {
    action
        .and_then(|a| a["properties"]["status"].as_str())
        .unwrap_or("(no record)")
}

/// Waiting for something that should happen: [`Patience::tick`] sleeps a
/// little, or panics with what was awaited (and the server log) once
/// [`PATIENCE`] ran out.
struct Patience {
    what: &'static str,
    log: PathBuf,
    deadline: tokio::time::Instant,
}

impl Patience {
    fn new(what: &'static str, log: PathBuf) -> Patience {
        Patience {
            what,
            log,
            deadline: tokio::time::Instant::now() + PATIENCE,
        }
    }

    async fn tick(&self) {
        if tokio::time::Instant::now() > self.deadline {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("gave up waiting for {}\nserver log:\n{log}", self.what);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
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
    let project = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let run_name = "@{workflow()?['run']?['name']}";
    let workflow = json!({
        "definition": {
            "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
            "actions": {
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
            }
        },
        "kind": "Stateful"
    });
    write(&project.path().join("host.json"), "{}");
    write(
        &project.path().join("durable/workflow.json"),
        &workflow.to_string(),
    );

    let server = start(project.path(), data.path(), logs.path(), 1);
    let response = server
        .client
        .post(&server.callbacks["durable"])
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202, "no Response action: 202");
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();

    // The run is inside Hold: Step_one and Pause are recorded as Succeeded,
    // Hold as Running, and the peer holds its request.
    let patience = Patience::new("the run to be held in the Hold action", server.log());
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
    let server = start(project.path(), data.path(), logs.path(), 1);
    assert!(
        server
            .preamble
            .iter()
            .any(|l| l == "resumed 1 incomplete run(s)"),
        "{:?}",
        server.preamble
    );
    // Hold was in flight when the process died, so it is sent again.
    let patience = Patience::new("Hold to be sent again", server.log());
    while peer.holds() != 2 {
        patience.tick().await;
    }
    peer.release.send_replace(true);
    let patience = Patience::new("the resumed run to end", server.log());
    loop {
        let runs = server.runs("durable").await;
        if runs.iter().all(|(_, s)| s != "Running" && s != "Waiting") {
            break;
        }
        patience.tick().await;
    }

    let runs = server.runs("durable").await;
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
    let done: Value = server
        .client
        .get(outputs_link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done, json!({"recorded": true}));
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
    let project = tempfile::tempdir().unwrap();
    write(
        &project.path().join("local.settings.json"),
        &json!({"IsEncrypted": false, "Values": {"RABBIT_URL": amqp_url()}}).to_string(),
    );
    write(
        &project.path().join("connections.json"),
        &json!({"serviceProviderConnections": {"rabbit": {
            "parameterValues": {"connectionString": "@appsetting('RABBIT_URL')"},
            "serviceProvider": {"id": "/serviceProviders/amqp"},
            "displayName": "RabbitMQ"
        }}})
        .to_string(),
    );
    write(&project.path().join("host.json"), "{}");
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
    write(
        &project.path().join("orders/workflow.json"),
        &workflow.to_string(),
    );
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

    let server = start(project.path(), data.path(), logs.path(), 0);
    // The trigger works: a first message becomes a finished run.
    let patience = Patience::new("the trigger to consume the queue", server.log());
    while queue.counts().await.1 != 1 {
        patience.tick().await;
    }
    queue.publish("m-0").await;
    let patience = Patience::new("the run of m-0 to succeed", server.log());
    loop {
        let runs = server.runs("orders").await;
        if runs.len() == 1 && runs[0].1 == "Succeeded" {
            break;
        }
        patience.tick().await;
    }

    // No run can be created now: the server receives the next messages but
    // cannot write their runs, so it cannot acknowledge them either. (The
    // store's writes wait for the lock and time out; the trigger then hands
    // the message back, and the broker delivers it again.)
    let lock = WriteLock::take(&data.path().join("conflux.db"));
    let held = ["m-1", "m-2", "m-3"];
    for id in held {
        queue.publish(id).await;
    }
    // None ready means all three are out to the server, which (prefetch 3)
    // also means m-0 was acknowledged.
    let patience = Patience::new(
        "the server to take the messages off the queue",
        server.log(),
    );
    while queue.counts().await.0 != 0 {
        patience.tick().await;
    }
    assert_eq!(
        server.runs("orders").await.len(),
        1,
        "no run for m-1..m-3 yet"
    );
    let killed_log = server.log();
    server.kill();
    lock.release();
    // The killed process's connection is gone, so the broker has the messages back.
    let patience = Patience::new("the broker to requeue the messages", killed_log);
    while queue.counts().await != (3, 0) {
        patience.tick().await;
    }

    let server = start(project.path(), data.path(), logs.path(), 0);
    let patience = Patience::new("a run for every message", server.log());
    loop {
        let runs = server.runs("orders").await;
        if runs.len() >= 4 && runs.iter().all(|(_, s)| s == "Succeeded") {
            break;
        }
        patience.tick().await;
    }
    let patience = Patience::new("the queue to be drained", server.log());
    while queue.counts().await.0 != 0 {
        patience.tick().await;
    }

    let runs = server.runs("orders").await;
    assert_eq!(runs.len(), 4, "one run per message: {runs:?}");
    let calls = peer.calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    for id in std::iter::once("m-0").chain(held) {
        let of_id: Vec<&Value> = calls.iter().filter(|c| c["id"] == id).collect();
        assert_eq!(of_id.len(), 1, "one run for {id}: {calls:?}");
        let run = of_id[0]["run"].as_str().unwrap();
        assert!(runs.iter().any(|(r, _)| r == run), "{run} is listed");
    }
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

    let server = start(project.path(), data.path(), logs.path(), 0);
    let patience = Patience::new("the trigger to consume the queue", server.log());
    while queue.counts().await.1 != 1 {
        patience.tick().await;
    }
    let ids: Vec<String> = (0..12).map(|i| format!("m-{i}")).collect();
    for id in &ids {
        queue.publish(id).await;
    }
    let patience = Patience::new("1 running and 10 waiting runs", server.log());
    loop {
        let runs = server.runs("orders").await;
        let running = runs.iter().filter(|(_, s)| s == "Running").count();
        let waiting = runs.iter().filter(|(_, s)| s == "Waiting").count();
        if peer.holds() == 1 && running == 1 && waiting == 10 && runs.len() == 11 {
            break;
        }
        patience.tick().await;
    }
    // The twelfth message is out to the server (not ready in the queue) but
    // has no run and cannot be acknowledged; with prefetch 1 that also means
    // the eleven before it were acknowledged.
    let patience = Patience::new("the refused message to be out to the server", server.log());
    while queue.counts().await.0 != 0 {
        patience.tick().await;
    }
    assert_eq!(server.runs("orders").await.len(), 11);
    let first = peer.holds.lock().unwrap()[0]["id"].clone();
    server.kill();

    let server = start(project.path(), data.path(), logs.path(), 0);
    assert!(
        server
            .preamble
            .iter()
            .any(|l| l == "resumed 11 incomplete run(s)"),
        "{:?}",
        server.preamble
    );
    // The run that was executing goes on first: its Hold, in flight at the
    // kill, is sent again.
    let patience = Patience::new("the running run to send Hold again", server.log());
    while peer.holds() != 2 {
        patience.tick().await;
    }
    assert_eq!(peer.holds.lock().unwrap()[1]["id"], first);
    peer.release.send_replace(true);
    let patience = Patience::new("a finished run for every message", server.log());
    loop {
        let runs = server.runs("orders").await;
        if runs.len() >= 12 && runs.iter().all(|(_, s)| s == "Succeeded") {
            break;
        }
        patience.tick().await;
    }
    let patience = Patience::new("the queue to be drained", server.log());
    while queue.counts().await.0 != 0 {
        patience.tick().await;
    }

    let runs = server.runs("orders").await;
    assert_eq!(runs.len(), 12, "one run per message: {runs:?}");
    let calls = peer.calls();
    assert_eq!(calls.len(), 12, "{calls:?}");
    let mut redelivered = Vec::new();
    for id in &ids {
        let of_id: Vec<&Value> = calls.iter().filter(|c| c["id"] == id.as_str()).collect();
        assert_eq!(of_id.len(), 1, "one run for {id}: {calls:?}");
        let run = of_id[0]["run"].as_str().unwrap();
        assert!(runs.iter().any(|(r, _)| r == run), "{run} is listed");
        if of_id[0]["redelivered"] == true {
            redelivered.push(id.clone());
        }
    }
    // Only the refused message came from the broker twice; the runs created
    // before the kill (running or waiting) were acknowledged and resumed.
    assert_eq!(first, "m-0");
    assert_eq!(redelivered, ["m-11"], "{calls:?}");
    // Every run held once, and the one in flight at the kill once more.
    assert_eq!(peer.holds(), 13);
    server.kill();
    queue.delete().await;
}
