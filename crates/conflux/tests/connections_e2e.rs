//! Connections created, replaced and deleted through the management API take
//! effect while `conflux serve` runs: the real binary, real HTTP, and a real
//! Redis (`CONFLUX_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};
use support::{free_port, request_workflow, serve_workflows, unique, Server, PATIENCE};

const REDIS_VAR: &str = "CONFLUX_TEST_REDIS_URL";

fn redis_url() -> String {
    std::env::var(REDIS_VAR).unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
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
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
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

/// Creates or replaces the Redis connection `name` through the management API.
async fn put_connection(server: &Server, name: &str, connection_string: &str) {
    let body = json!({"properties": {
        "connectorId": "/serviceProviders/redis",
        "parameterValues": {"connectionString": connection_string}
    }});
    let (status, answer) = server.put(&format!("connections/{name}"), body).await;
    assert_eq!(status, 200, "{answer}");
}

async fn delete_connection(server: &Server, name: &str) {
    let (status, answer) = server.delete(&format!("connections/{name}")).await;
    assert_eq!(status, 200, "{answer}");
}

/// Waits until the workflow has `count` succeeded runs, and no more.
async fn wait_for_succeeded_runs(server: &Server, workflow: &str, count: usize) {
    let succeeded =
        |runs: &[(String, String)]| runs.iter().filter(|(_, s)| s == "Succeeded").count();
    let what = format!("{count} succeeded run(s) of {workflow}");
    let runs = server
        .wait_for_runs(workflow, &what, |runs| succeeded(runs) >= count)
        .await;
    assert_eq!(succeeded(&runs), count, "{runs:?}");
}

/// Sets `key` to `value` in Redis through connection `cache`, without
/// retries, and answers with the action's status, code and error.
fn setter_workflow() -> Value {
    request_workflow(
        json!({
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
        }),
        json!({}),
    )
}

/// Calls the setter workflow; returns the Set action's status, code and error.
async fn set(server: &Server, key: &str, value: &str) -> Value {
    let body = json!({"key": key, "value": value});
    let response = server.call(&server.url("setter"), body).await;
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_action_uses_api_connections_as_they_are_created_replaced_and_deleted() {
    let mut redis = Redis::connect();
    let server = serve_workflows(&[("setter", setter_workflow())])
        .logged()
        .start();
    // Unknown at start: reported, but the workflow is served.
    let log = server.log_text();
    assert!(
        log.contains("connection 'cache' is neither in connections.json"),
        "{log}"
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
    put_connection(&server, "cache", &redis_url()).await;
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
    let port = free_port();
    put_connection(&server, "cache", &format!("redis://127.0.0.1:{port}")).await;
    let refused = unique("conflux-e2e:refused:");
    let answer = set(&server, &refused, "lost").await;
    assert_eq!(answer["status"], "Failed", "{answer}");
    assert_eq!(answer["code"], "ServiceUnavailable", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("connection 'cache'"), "{message}");
    assert_eq!(redis.command(&["GET", &refused]), None);

    // Deleted: the clear error again, not the stale connection.
    delete_connection(&server, "cache").await;
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
    let log = server.log_text();
    assert!(!log.contains(&redis_url()), "{log}");
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
    let server = serve_workflows(&[("consumer", list_workflow(&list))])
        .logged()
        .start();
    const STOPPED: &str = "Trigger stopped until its connection is usable";
    server.wait_for_log(STOPPED, 1).await;
    let log = server.log_text();
    assert!(log.contains("connection 'queue' does not exist"), "{log}");

    // Created: the waiting trigger starts and takes the item.
    put_connection(&server, "queue", &redis_url()).await;
    redis.command(&["LPUSH", &list, "first"]);
    wait_for_succeeded_runs(&server, "consumer", 1).await;

    // Replaced with an address nothing listens on: the listener is stopped;
    // an item pushed now waits in the list.
    let closed = format!("redis://127.0.0.1:{}", free_port());
    put_connection(&server, "queue", &closed).await;
    server
        .wait_for_log("Connection changed; stopping the trigger's subscription", 1)
        .await;
    redis.command(&["LPUSH", &list, "second"]);
    // Back to the real Redis: the restarted listener delivers it.
    put_connection(&server, "queue", &redis_url()).await;
    wait_for_succeeded_runs(&server, "consumer", 2).await;

    // Deleted: the trigger stops and says why.
    delete_connection(&server, "queue").await;
    server.wait_for_log(STOPPED, 2).await;
    assert_eq!(redis.command(&["LLEN", &list]).as_deref(), Some("0"));
    redis.command(&["DEL", &list, &format!("{list}:processing")]);
}
