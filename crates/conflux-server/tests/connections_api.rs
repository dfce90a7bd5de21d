//! The connections management API over HTTP, and the promise that a secret
//! parameter value appears nowhere: not on disk, not in responses, not in logs.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod connections_support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderMap;
use conflux_server::connection_store::ConnectionStore;
use conflux_server::connections_api::{routes, ConnectionsApiState, MANAGEMENT_PREFIX};
use conflux_server::MasterKey;
use conflux_store::{SqliteStore, Store};
use connections_support::{vault, VAULT_ID};
use serde_json::{json, Value};

const ADMIN: &str = "Bearer test-admin-key";

/// Every log line of this test binary, at every level.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Api {
    base: String,
    client: reqwest::Client,
    connections: Arc<ConnectionStore>,
    _dir: tempfile::TempDir,
    dir_path: std::path::PathBuf,
}

impl Api {
    async fn start() -> Api {
        captured_logs();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(dir.path().join("conflux.db"))
                .await
                .unwrap(),
        );
        let mut registry = conflux_connectors::all();
        registry.push(vault());
        let connections = Arc::new(ConnectionStore::new(
            store,
            Arc::new(MasterKey::from_keys(&[[3u8; 32]])),
            registry,
        ));
        let state = ConnectionsApiState {
            connections: connections.clone(),
            authorize: Arc::new(|headers: &HeaderMap| {
                headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(ADMIN)
            }),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, routes::<()>(state)).await });
        Api {
            base: format!("http://{addr}{MANAGEMENT_PREFIX}"),
            client: reqwest::Client::new(),
            connections,
            dir_path: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// Sends a request with the admin key; returns status and body text.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let mut request = self
            .client
            .request(method, format!("{}/{path}", self.base))
            .header("authorization", ADMIN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

fn vault_body(api_key: &str) -> Value {
    json!({"properties": {
        "serviceProvider": {"id": VAULT_ID},
        "displayName": "Orders vault",
        "parameterValues": {"endpoint": "https://vault.local", "apiKey": api_key},
    }})
}

#[tokio::test]
async fn a_secret_parameter_appears_nowhere() {
    let api = Api::start().await;
    let marker = format!("good-MARKER-{}", uuid_like());
    let put = reqwest::Method::PUT;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let mut seen = Vec::new();

    let (status, body) = api
        .call(put.clone(), "connections/orders", Some(vault_body(&marker)))
        .await;
    assert_eq!(status, 200, "{body}");
    let resource = json_of(&body);
    assert_eq!(resource["name"], "orders");
    assert_eq!(resource["type"], "connections");
    assert_eq!(resource["properties"]["displayName"], "Orders vault");
    assert_eq!(
        resource["properties"]["parameterValues"],
        json!({"endpoint": "https://vault.local"})
    );
    assert_eq!(
        resource["properties"]["secretParameters"],
        json!(["apiKey"])
    );
    seen.push(body);

    let (status, body) = api.call(get.clone(), "connections/orders", None).await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body), resource);
    seen.push(body);
    let (status, body) = api.call(get.clone(), "connections", None).await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&body)["value"], json!([resource]));
    seen.push(body);
    let (status, body) = api
        .call(post.clone(), "connections/orders/test", None)
        .await;
    assert_eq!(
        (status, json_of(&body)),
        (200, json!({"status": "Connected"}))
    );
    seen.push(body);

    // Failures whose requests carry the secret: a refused key, invalid
    // parameters, an undeclared parameter, a body of the wrong shape.
    let refused = format!("bad-{marker}");
    let (status, body) = api
        .call(
            put.clone(),
            "connections/refused",
            Some(vault_body(&refused)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api
        .call(post.clone(), "connections/refused/test", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        json_of(&body)["error"]["code"],
        "ConnectorUnauthorized",
        "{body}"
    );
    seen.push(body);
    let invalid = json!({"properties": {"connectorId": VAULT_ID, "parameterValues": {"apiKey": marker, "apiKye": marker}}});
    let (status, body) = api
        .call(put.clone(), "connections/broken", Some(invalid))
        .await;
    assert_eq!(status, 400);
    let error = json_of(&body);
    assert_eq!(error["error"]["code"], "InvalidConnection");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("parameterValues.endpoint"), "{message}");
    assert!(message.contains("parameterValues.apiKye"), "{message}");
    seen.push(body);
    let wrong_shape = json!({"properties": {"connectorId": VAULT_ID, "parameterValues": marker}});
    let (status, body) = api
        .call(put.clone(), "connections/broken", Some(wrong_shape))
        .await;
    assert_eq!(status, 400);
    seen.push(body);
    let (status, body) = api.call(get.clone(), "connections/broken", None).await;
    assert_eq!(status, 404, "invalid connections are not stored: {body}");

    for body in &seen {
        assert!(
            !body.contains("MARKER"),
            "response leaks the secret: {body}"
        );
    }

    // The runtime still gets the value: it was stored, just not in clear.
    let config = api.connections.config("orders").await.unwrap();
    assert_eq!(config.secret("apiKey").unwrap().expose(), marker);

    // Nothing on disk: the database and its WAL/SHM files. The non-secret
    // endpoint is found there, so the search does see what was written.
    let mut endpoint_found = false;
    for entry in std::fs::read_dir(&api.dir_path).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        endpoint_found |= bytes.windows(19).any(|w| w == b"https://vault.local");
        assert!(
            !bytes.windows(6).any(|w| w == b"MARKER"),
            "{} holds the secret in clear",
            path.display()
        );
    }
    assert!(
        endpoint_found,
        "the connection record was not found on disk"
    );

    let logs = String::from_utf8(captured_logs().lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Connection saved."),
        "logging was captured: {logs}"
    );
    assert!(logs.contains("orders"), "{logs}");
    assert!(!logs.contains("MARKER"), "logs leak the secret: {logs}");
}

#[tokio::test]
async fn connectors_are_listed_with_secret_flags_and_operation_kinds() {
    let api = Api::start().await;
    let (status, body) = api.call(reqwest::Method::GET, "connectors", None).await;
    assert_eq!(status, 200);
    let list = json_of(&body);
    let connectors = list["value"].as_array().unwrap();
    let vault = connectors.iter().find(|c| c["id"] == VAULT_ID).unwrap();
    assert_eq!(vault["type"], "connectors");
    let params = vault["properties"]["connectionParameters"]
        .as_array()
        .unwrap();
    let api_key = params.iter().find(|p| p["name"] == "apiKey").unwrap();
    assert_eq!(api_key["secret"], true);
    let fs = connectors
        .iter()
        .find(|c| c["id"] == "/serviceProviders/fileSystem")
        .unwrap();
    let kinds: Vec<&str> = fs["properties"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"action") && kinds.contains(&"pollingTrigger"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn management_routes_need_the_admin_key() {
    let api = Api::start().await;
    for path in ["connections", "connectors", "connections/x"] {
        let response = api
            .client
            .get(format!("{}/{path}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "InvalidAdminKey");
    }
    let (status, body) = api
        .call(reqwest::Method::DELETE, "connections/x", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(json_of(&body)["error"]["code"], "ConnectionNotFound");
}

#[tokio::test]
async fn delete_removes_a_connection() {
    let api = Api::start().await;
    let (status, _) = api
        .call(
            reqwest::Method::PUT,
            "connections/v",
            Some(vault_body("good-1")),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .call(reqwest::Method::DELETE, "connections/v", None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = api.call(reqwest::Method::GET, "connections", None).await;
    assert_eq!((status, json_of(&body)), (200, json!({"value": []})));
}

#[tokio::test]
async fn routes_merge_beside_a_nested_management_router() {
    // The host nests its own management routes under the same prefix.
    let api = Api::start().await;
    let state = ConnectionsApiState {
        connections: api.connections.clone(),
        authorize: Arc::new(|_: &HeaderMap| true),
    };
    let host = axum::Router::new()
        .nest(
            MANAGEMENT_PREFIX,
            axum::Router::new().route("/workflows", axum::routing::get(|| async { "workflows" })),
        )
        .merge(routes::<()>(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, host).await });
    let base = format!("http://{addr}{MANAGEMENT_PREFIX}");
    let workflows = reqwest::get(format!("{base}/workflows")).await.unwrap();
    assert_eq!(workflows.text().await.unwrap(), "workflows");
    let connections = reqwest::get(format!("{base}/connections")).await.unwrap();
    assert_eq!(connections.status().as_u16(), 200);
}

/// A value unique to this run, so a match can only come from this test.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}-{}", std::process::id())
}
