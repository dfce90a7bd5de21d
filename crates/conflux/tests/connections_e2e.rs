//! Connections created, replaced and deleted through the management API take
//! effect while `conflux serve` runs: the real binary, real HTTP, and a real
//! Redis (`CONFLUX_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ADMIN_KEY: &str = "test-admin-key-0123456789";
const REDIS_VAR: &str = "CONFLUX_TEST_REDIS_URL";
/// How long a test waits for something the server does in the background.
const WAIT: Duration = Duration::from_secs(20);

fn redis_url() -> String {
    std::env::var(REDIS_VAR).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}-{nanos}", std::process::id())
}

/// A minimal Redis client (RESP over TCP), to arrange and inspect what the
/// workflows do independently of the connector under test.
struct Redis {
    stream: BufReader<TcpStream>,
}

impl Redis {
    fn connect() -> Redis {
        let url = redis_url();
        let rest = url
            .strip_prefix("redis://")
            .unwrap_or_else(|| panic!("{REDIS_VAR}={url} is not a redis:// URL"));
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((auth, rest)) => (Some(auth.to_string()), rest),
            None => (None, rest),
        };
        let (address, database) = match rest.split_once('/') {
            Some((address, db)) => (address, db),
            None => (rest, ""),
        };
        let address = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:6379")
        };
        let stream = TcpStream::connect(&address)
            .unwrap_or_else(|e| panic!("Redis at {address} is unreachable ({e}); set {REDIS_VAR}"));
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut redis = Redis {
            stream: BufReader::new(stream),
        };
        if let Some(auth) = auth {
            let args: Vec<&str> = match auth.split_once(':') {
                Some(("", password)) => vec!["AUTH", password],
                Some((user, password)) => vec!["AUTH", user, password],
                None => vec!["AUTH", auth.as_str()],
            };
            redis.command(&args);
        }
        if !database.is_empty() {
            redis.command(&["SELECT", database]);
        }
        redis
    }

    /// Sends one command; returns a bulk or simple string reply (None for nil),
    /// or an integer as text.
    fn command(&mut self, args: &[&str]) -> Option<String> {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.stream.get_mut().write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        self.stream.read_line(&mut line).unwrap();
        let line = line.trim_end();
        match line.split_at(1) {
            ("+", text) | (":", text) => Some(text.to_string()),
            ("-", error) => panic!("Redis refused {:?}: {error}", args[0]),
            ("$", "-1") => None,
            ("$", len) => {
                let len: usize = len.parse().unwrap();
                let mut buf = vec![0; len + 2];
                self.stream.read_exact(&mut buf).unwrap();
                buf.truncate(len);
                Some(String::from_utf8(buf).unwrap())
            }
            _ => panic!("unexpected Redis reply {line:?}"),
        }
    }
}

/// A running `conflux serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    /// `(workflow/trigger, url)` as printed at start.
    callbacks: Vec<(String, String)>,
    client: reqwest::Client,
    stderr: PathBuf,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server and reads its start-up lines up to `request_triggers`
/// printed callback URLs. Its log goes to a file (see [`Server::log`]).
fn start(project: &Path, request_triggers: usize) -> Server {
    let data = tempfile::tempdir().unwrap();
    let stderr = data.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env("CONFLUX_LOG", "info")
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("the conflux binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
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
    let base = base.unwrap_or_else(|| {
        panic!(
            "the server did not start: {}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    });
    Server {
        child,
        base,
        callbacks,
        client: reqwest::Client::new(),
        stderr,
        _data: data,
    }
}

impl Server {
    fn url(&self, workflow: &str) -> String {
        self.callbacks
            .iter()
            .find(|(n, _)| n.starts_with(&format!("{workflow}/")))
            .map(|(_, u)| u.clone())
            .unwrap_or_else(|| panic!("no callback URL printed for {workflow}"))
    }

    fn management(&self, path: &str) -> String {
        format!(
            "{}/runtime/webhooks/workflow/api/management/{path}",
            self.base
        )
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.bearer_auth(ADMIN_KEY).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn put_connection(&self, name: &str, connection_string: &str) {
        let body = json!({"properties": {
            "connectorId": "/serviceProviders/redis",
            "parameterValues": {"connectionString": connection_string}
        }});
        let (status, answer) = self
            .send(
                self.client
                    .put(self.management(&format!("connections/{name}")))
                    .json(&body),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    async fn delete_connection(&self, name: &str) {
        let (status, answer) = self
            .send(
                self.client
                    .delete(self.management(&format!("connections/{name}"))),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    async fn runs(&self, workflow: &str) -> Vec<Value> {
        let (status, runs) = self
            .send(
                self.client
                    .get(self.management(&format!("workflows/{workflow}/runs"))),
            )
            .await;
        assert_eq!(status, 200, "{runs}");
        runs["value"].as_array().unwrap().clone()
    }

    /// Waits until the workflow has `count` succeeded runs.
    async fn wait_for_succeeded_runs(&self, workflow: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let runs = self.runs(workflow).await;
            let succeeded = runs
                .iter()
                .filter(|r| r["properties"]["status"] == "Succeeded")
                .count();
            if succeeded >= count {
                assert_eq!(succeeded, count, "{runs:?}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{workflow} has {succeeded} succeeded run(s), expected {count}: {runs:?}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until the server's log has `needle` at least `count` times.
    async fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "the log never had {needle:?} {count} time(s):\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn write_project(workflows: &[(&str, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.json"), "{}").unwrap();
    for (name, doc) in workflows {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("workflow.json"), doc.to_string()).unwrap();
    }
    dir
}

/// Sets `key` to `value` in Redis through connection `cache`, without
/// retries, and answers with the action's status, code and error.
fn setter_workflow() -> Value {
    json!({
        "definition": {
            "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
            "actions": {
                "Set": {
                    "type": "ServiceProvider",
                    "inputs": {
                        "parameters": {"key": "@triggerBody()?['key']", "value": "@triggerBody()?['value']"},
                        "serviceProviderConfiguration": {
                            "connectionName": "cache",
                            "operationId": "set",
                            "serviceProviderId": "/serviceProviders/redis"
                        },
                        "retryPolicy": {"type": "none"}
                    },
                    "runAfter": {}
                },
                "Answer": {
                    "type": "Response",
                    "kind": "Http",
                    "inputs": {"statusCode": 200, "body": {
                        "status": "@actions('Set')['status']",
                        "code": "@actions('Set')['code']",
                        "error": "@actions('Set')?['error']"
                    }},
                    "runAfter": {"Set": ["Succeeded", "Failed", "TimedOut"]}
                }
            }
        },
        "kind": "Stateful"
    })
}

/// Calls the setter workflow; returns the Set action's status, code and error.
async fn set(server: &Server, key: &str, value: &str) -> Value {
    let response = server
        .client
        .post(server.url("setter"))
        .json(&json!({"key": key, "value": value}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_action_uses_api_connections_as_they_are_created_replaced_and_deleted() {
    let mut redis = Redis::connect();
    let dir = write_project(&[("setter", setter_workflow())]);
    let server = start(dir.path(), 1);
    // Unknown at start: reported, but the workflow is served.
    assert!(
        server
            .log()
            .contains("connection 'cache' is neither in connections.json"),
        "{}",
        server.log()
    );

    // Before the connection exists: a clear error naming it.
    let missing = unique("conflux-e2e:missing:");
    let answer = set(&server, &missing, "nothing").await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["code"], "ConnectionNotFound", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("connection 'cache' does not exist"),
        "{message}"
    );
    assert_eq!(redis.command(&["GET", &missing]), None);

    // Created through the API: the next call uses it, no restart.
    server.put_connection("cache", &redis_url()).await;
    let written = unique("conflux-e2e:written:");
    let answer = set(&server, &written, "paid").await;
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert_eq!(redis.command(&["GET", &written]).as_deref(), Some("paid"));
    // The opened connection is reused while the stored one is unchanged.
    let again = unique("conflux-e2e:again:");
    let answer = set(&server, &again, "shipped").await;
    assert_eq!(answer["status"], "Succeeded", "{answer}");
    assert_eq!(redis.command(&["GET", &again]).as_deref(), Some("shipped"));

    // Replaced with an address nothing listens on: the next call fails
    // connecting, through the new connection rather than the cached one.
    let port = closed_port();
    server
        .put_connection("cache", &format!("redis://127.0.0.1:{port}"))
        .await;
    let refused = unique("conflux-e2e:refused:");
    let answer = set(&server, &refused, "lost").await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["code"], "ServiceUnavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("connection 'cache'"), "{message}");
    assert_eq!(redis.command(&["GET", &refused]), None);

    // Deleted: the clear error again, not the stale connection.
    server.delete_connection("cache").await;
    let deleted = unique("conflux-e2e:deleted:");
    let answer = set(&server, &deleted, "gone").await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["code"], "ConnectionNotFound", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection 'cache' does not exist"),
        "{answer}"
    );
    assert_eq!(redis.command(&["GET", &deleted]), None);

    // Nothing secret reached the log (the URL is the connection's secret).
    assert!(!server.log().contains(&redis_url()), "{}", server.log());
    for key in [&written, &again] {
        redis.command(&["DEL", key]);
    }
}

/// A workflow started by items pushed to a Redis list, through connection `queue`.
fn list_workflow(list: &str) -> Value {
    json!({
        "definition": {
            "triggers": {"items": {
                "type": "ServiceProvider",
                "inputs": {
                    "parameters": {"list": list},
                    "serviceProviderConfiguration": {
                        "connectionName": "queue",
                        "operationId": "receiveListItems",
                        "serviceProviderId": "/serviceProviders/redis"
                    }
                }
            }},
            "actions": {
                "Item": {"type": "Compose", "inputs": "@triggerBody()", "runAfter": {}}
            }
        },
        "kind": "Stateful"
    })
}

#[tokio::test]
async fn a_trigger_waits_for_its_api_connection_and_restarts_when_it_changes() {
    let mut redis = Redis::connect();
    let list = unique("conflux-e2e:list:");
    let dir = write_project(&[("consumer", list_workflow(&list))]);
    let server = start(dir.path(), 0);
    const STOPPED: &str = "Trigger stopped until its connection is usable";
    server.wait_for_log(STOPPED, 1).await;
    assert!(
        server.log().contains("connection 'queue' does not exist"),
        "{}",
        server.log()
    );

    // Created: the waiting trigger starts and takes the item.
    server.put_connection("queue", &redis_url()).await;
    redis.command(&["LPUSH", &list, "first"]);
    server.wait_for_succeeded_runs("consumer", 1).await;

    // Replaced with an address nothing listens on: the listener is stopped;
    // an item pushed now waits in the list.
    server
        .put_connection("queue", &format!("redis://127.0.0.1:{}", closed_port()))
        .await;
    server
        .wait_for_log("Connection changed; stopping the trigger's subscription", 1)
        .await;
    redis.command(&["LPUSH", &list, "second"]);
    // Back to the real Redis: the restarted listener delivers it.
    server.put_connection("queue", &redis_url()).await;
    server.wait_for_succeeded_runs("consumer", 2).await;

    // Deleted: the trigger stops and says why.
    server.delete_connection("queue").await;
    server.wait_for_log(STOPPED, 2).await;
    assert_eq!(redis.command(&["LLEN", &list]).as_deref(), Some("0"));
    redis.command(&["DEL", &list, &format!("{list}:processing")]);
}
