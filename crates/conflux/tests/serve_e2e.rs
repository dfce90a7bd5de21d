//! End-to-end tests of `conflux serve`: the real binary, real HTTP, a
//! temporary data folder. Each test starts its own server on a free port.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A running `conflux serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    /// `(workflow, trigger) -> url` as printed at start.
    callbacks: Vec<(String, String)>,
    client: reqwest::Client,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

fn start(project: &Path, extra: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .args(extra)
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the conflux binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut callbacks = Vec::new();
    // The callback URLs follow the `listening on` line; the block ends with
    // the first line that is not indented.
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            base = Some(addr.trim().to_string());
        } else if base.is_some() && line.starts_with("  ") {
            let (head, url) = line.trim().split_once(": ").unwrap();
            let name = head.split_whitespace().nth(1).unwrap().to_string();
            callbacks.push((name, url.split_whitespace().next().unwrap().to_string()));
            if callbacks.len() == count_workflows(project) {
                break;
            }
        }
        if base.is_some() && count_workflows(project) == 0 {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: base.expect("the server printed its address"),
        callbacks,
        client: reqwest::Client::new(),
        _data: data,
    }
}

/// How many callback URLs the server prints: one per Request trigger.
fn count_workflows(project: &Path) -> usize {
    std::fs::read_dir(project)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path().join("workflow.json")).ok())
        .filter_map(|text| serde_json::from_str::<Value>(&strip_line_comments(&text)).ok())
        .map(|doc| {
            doc["definition"]["triggers"]
                .as_object()
                .map(|t| t.values().filter(|t| t["type"] == "Request").count())
                .unwrap_or(0)
        })
        .sum()
}

fn strip_line_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
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

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.management(path))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn call(&self, url: &str, body: Value) -> reqwest::Response {
        self.client.post(url).json(&body).send().await.unwrap()
    }

    async fn run_count(&self, workflow: &str) -> usize {
        let (status, runs) = self.get(&format!("workflows/{workflow}/runs")).await;
        assert_eq!(status, 200, "{runs}");
        runs["value"].as_array().unwrap().len()
    }
}

fn project(workflows: &[(&str, Value)], host: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host.json"), host.to_string()).unwrap();
    for (name, doc) in workflows {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("workflow.json"), doc.to_string()).unwrap();
    }
    dir
}

fn request_workflow(actions: Value, trigger_extra: Value) -> Value {
    let mut trigger = json!({"type": "Request", "kind": "Http", "inputs": {"method": "POST"}});
    if let (Some(t), Some(extra)) = (trigger.as_object_mut(), trigger_extra.as_object()) {
        for (k, v) in extra {
            t.insert(k.clone(), v.clone());
        }
    }
    json!({"definition": {"triggers": {"manual": trigger}, "actions": actions}, "kind": "Stateful"})
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

#[tokio::test]
async fn example_hello_answers_through_its_signed_url_and_records_history() {
    let server = start(&examples(), &[]);
    let response = server
        .call(&server.url("hello"), json!({"name": "Ada"}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"message": "Hello, Ada!"}));

    let (status, run) = server.get(&format!("workflows/hello/runs/{run_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(run["name"], run_id.as_str());
    let (_, actions) = server
        .get(&format!("workflows/hello/runs/{run_id}/actions"))
        .await;
    let compose = actions["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Compose_greeting")
        .unwrap();
    assert_eq!(compose["properties"]["status"], "Succeeded");
    let link = compose["properties"]["outputsLink"]["uri"]
        .as_str()
        .unwrap();
    let content: Value = server
        .client
        .get(link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(content, "Hello, Ada!");
    // A content link is signed: altering it is refused.
    let altered = link.replace("Compose_greeting/outputs", "Compose_greeting/inputs");
    assert_eq!(
        server
            .client
            .get(altered)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn example_orders_maps_the_relative_path_and_checks_the_schema() {
    let server = start(&examples(), &[]);
    let base = server.url("orders");
    let url = base.replace("/invoke?", "/invoke/orders/42?");
    let response = server
        .call(&url, json!({"total": 120, "items": ["a", "b"]}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"orderId": "42", "items": 2, "shipping": 0, "total": 120})
    );

    let cheap = server.call(&url, json!({"total": 10})).await;
    let body: Value = cheap.json().await.unwrap();
    assert_eq!(body["shipping"], 5);
    assert_eq!(body["total"], 15);

    let (status, code) = error_code(server.call(&url, json!({"items": []})).await).await;
    assert_eq!((status, code.as_str()), (400, "TriggerInputSchemaMismatch"));
    let wrong_path = base.replace("/invoke?", "/invoke/customers/42?");
    assert_eq!(
        server
            .call(&wrong_path, json!({"total": 1}))
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        server.run_count("orders").await,
        2,
        "refused calls start no run"
    );
}

#[tokio::test]
async fn bad_signatures_are_refused_and_start_nothing() {
    let server = start(&examples(), &[]);
    let url = server.url("hello");
    let tampered = {
        let (head, sig) = url.rsplit_once("sig=").unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
        format!("{head}sig={}", sig.into_iter().collect::<String>())
    };
    let (status, code) = error_code(server.call(&tampered, json!({})).await).await;
    assert_eq!((status, code.as_str()), (401, "AuthorizationFailed"));
    let unsigned = url.split("&sig=").next().unwrap().to_string();
    let response = server.call(&unsigned, json!({})).await;
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("sig"),
        "{body}"
    );
    let other_workflow = url.replace("/api/hello/", "/api/orders/");
    assert_eq!(
        server
            .call(&other_workflow, json!({}))
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(server.run_count("hello").await, 0);
}

#[tokio::test]
async fn expiring_urls_and_regenerated_keys() {
    let server = start(&examples(), &[]);
    let path = "workflows/hello/triggers/manual/listCallbackUrl";
    let (status, expired) = server
        .post(path, json!({"NotAfter": "2020-01-01T00:00:00Z"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(expired["queries"]["se"], "2020-01-01T00:00:00Z");
    let response = server
        .call(expired["value"].as_str().unwrap(), json!({}))
        .await;
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );

    let (_, future) = server
        .post(path, json!({"NotAfter": "2999-01-01T00:00:00Z"}))
        .await;
    assert_eq!(
        server
            .call(future["value"].as_str().unwrap(), json!({}))
            .await
            .status()
            .as_u16(),
        200
    );
    // Moving `se` later breaks the signature.
    let stretched = future["value"].as_str().unwrap().replace("2999", "3999");
    assert_eq!(
        server.call(&stretched, json!({})).await.status().as_u16(),
        401
    );

    let (_, secondary) = server.post(path, json!({"KeyType": "Secondary"})).await;
    let secondary = secondary["value"].as_str().unwrap().to_string();
    assert_eq!(
        server.call(&secondary, json!({})).await.status().as_u16(),
        200
    );
    let (status, _) = server
        .post("accessKeys/secondary/regenerate", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        server.call(&secondary, json!({})).await.status().as_u16(),
        401
    );
    assert_eq!(
        server
            .call(&server.url("hello"), json!({}))
            .await
            .status()
            .as_u16(),
        200,
        "the primary key still works"
    );
    let (_, fresh) = server.post(path, json!({"KeyType": "Secondary"})).await;
    assert_eq!(
        server
            .call(fresh["value"].as_str().unwrap(), json!({}))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn without_response_action_the_call_is_accepted_and_the_run_is_already_listed() {
    let actions = json!({
        "Check": {"type": "If", "expression": "@equals(triggerBody()?['go'], true)",
                   "actions": {"Yes": {"type": "Compose", "inputs": "yes"}},
                   "else": {"actions": {"No": {"type": "Compose", "inputs": "no"}}}}
    });
    let dir = project(&[("fire", request_workflow(actions, json!({})))], json!({}));
    let server = start(dir.path(), &[]);
    let response = server.call(&server.url("fire"), json!({"go": true})).await;
    assert_eq!(response.status().as_u16(), 202);
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, runs) = server.get("workflows/fire/runs").await;
    assert!(
        runs["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == run_id.as_str()),
        "{runs}"
    );
    let (status, _) = server.get(&format!("workflows/fire/runs/{run_id}")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn caller_ip_restrictions_and_management_auth() {
    let workflow = request_workflow(json!({"Done": {"type": "Compose", "inputs": 1}}), json!({}));
    let mut locked = workflow.clone();
    locked["accessControl"] =
        json!({"triggers": {"allowedCallerIpAddresses": [{"addressRange": "10.0.0.0/8"}]}});
    let dir = project(&[("open", workflow), ("locked", locked)], json!({}));
    let server = start(dir.path(), &[]);
    let (status, code) = error_code(server.call(&server.url("locked"), json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "AuthorizationFailedByIpAddress")
    );
    assert_eq!(server.run_count("locked").await, 0);
    assert_eq!(
        server
            .call(&server.url("open"), json!({}))
            .await
            .status()
            .as_u16(),
        202
    );

    let anonymous = server
        .client
        .get(server.management("workflows"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = server
        .client
        .get(server.management("workflows"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let (status, list) = server.get("workflows").await;
    assert_eq!(status, 200);
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_bodies_oversized_bodies_and_disabled_workflows() {
    let workflow = request_workflow(
        json!({"Done": {"type": "Compose", "inputs": "@triggerBody()"}}),
        json!({}),
    );
    let dir = project(&[("echo", workflow)], json!({}));
    let server = start(dir.path(), &["--max-body-bytes", "1000"]);
    let url = server.url("echo");
    let response = server
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"a\": ")
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(response).await;
    assert_eq!((status, code.as_str()), (400, "InvalidRequestContent"));
    let big = server
        .client
        .post(&url)
        .body(vec![b'x'; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    let text = server
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status().as_u16(), 202);
    assert_eq!(
        server
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        405
    );

    let (status, _) = server.post("workflows/echo/disable", json!({})).await;
    assert_eq!(status, 200);
    let (status, code) = error_code(server.call(&url, json!({})).await).await;
    assert_eq!((status, code.as_str()), (409, "WorkflowDisabled"));
    server.post("workflows/echo/enable", json!({})).await;
    assert_eq!(server.call(&url, json!({})).await.status().as_u16(), 202);
}

#[tokio::test]
async fn false_trigger_conditions_record_a_skipped_history_and_no_run() {
    let workflow = request_workflow(
        json!({"Done": {"type": "Compose", "inputs": 1}}),
        json!({"conditions": [{"expression": "@equals(triggerBody()?['kind'], 'order')"}]}),
    );
    let dir = project(&[("picky", workflow)], json!({}));
    let server = start(dir.path(), &[]);
    let skipped = server
        .call(&server.url("picky"), json!({"kind": "spam"}))
        .await;
    assert_eq!(skipped.status().as_u16(), 202);
    assert!(skipped.headers().get("x-ms-workflow-run-id").is_none());
    assert_eq!(server.run_count("picky").await, 0);
    let fired = server
        .call(&server.url("picky"), json!({"kind": "order"}))
        .await;
    assert!(fired.headers().get("x-ms-workflow-run-id").is_some());
    let (_, histories) = server
        .get("workflows/picky/triggers/manual/histories")
        .await;
    let statuses: Vec<&str> = histories["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["properties"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["Succeeded", "Skipped"]);
}

#[tokio::test]
async fn actions_list_covers_the_whole_definition_and_slow_responses_time_out() {
    let branchy = request_workflow(
        json!({
            "Check": {"type": "If", "expression": "@equals(triggerBody()?['go'], true)",
                       "actions": {"Yes": {"type": "Compose", "inputs": "yes"}},
                       "else": {"actions": {"No": {"type": "Compose", "inputs": "no"}}}},
            "Reply": {"type": "Response", "inputs": {"statusCode": 201, "body": "@outputs('Yes')"}, "runAfter": {"Check": ["Succeeded"]}}
        }),
        json!({}),
    );
    let slow = request_workflow(
        json!({
            "Pause": {"type": "Wait", "inputs": {"interval": {"count": 10, "unit": "Minute"}}},
            "Reply": {"type": "Response", "inputs": {"statusCode": 200}, "runAfter": {"Pause": ["Succeeded"]}}
        }),
        json!({}),
    );
    let dir = project(&[("branchy", branchy), ("slow", slow)], json!({}));
    let server = start(dir.path(), &["--response-timeout-secs", "0"]);

    let response = server.call(&server.url("slow"), json!({})).await;
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, code) = error_code(response).await;
    assert_eq!((status, code.as_str()), (408, "ResponseTimedOut"));
    let (_, run) = server.get(&format!("workflows/slow/runs/{run_id}")).await;
    assert_eq!(
        run["properties"]["status"], "Running",
        "the run goes on after the caller gave up"
    );
    let (status, _) = server
        .post(&format!("workflows/slow/runs/{run_id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);

    drop(server);
    let server = start(dir.path(), &[]);
    let response = server
        .call(&server.url("branchy"), json!({"go": true}))
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        response.text().await.unwrap(),
        "yes",
        "a string body is sent as text"
    );
    let (_, actions) = server
        .get(&format!("workflows/branchy/runs/{run_id}/actions"))
        .await;
    let status_of = |name: &str| {
        actions["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["properties"]["status"].clone())
    };
    assert_eq!(status_of("Check"), Some(json!("Succeeded")));
    assert_eq!(status_of("Yes"), Some(json!("Succeeded")));
    assert_eq!(status_of("No"), Some(json!("Skipped")));
    assert!(status_of("Reply").is_some());
}

#[tokio::test]
async fn split_on_starts_one_run_per_item_and_history_pages() {
    let workflow = request_workflow(
        json!({"Each": {"type": "Compose", "inputs": "@triggerBody()"}}),
        json!({"splitOn": "@triggerBody()?['rows']"}),
    );
    let dir = project(&[("batch", workflow)], json!({}));
    let server = start(dir.path(), &[]);
    let response = server
        .call(&server.url("batch"), json!({"rows": [1, 2, 3]}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(server.run_count("batch").await, 3);
    let (_, page) = server.get("workflows/batch/runs?$top=2").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["nextLink"].as_str().expect("a second page");
    let rest: Value = server
        .client
        .get(next)
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["value"].as_array().unwrap().len(), 1);
    let (_, failed) = server
        .get("workflows/batch/runs?$filter=status%20eq%20'Failed'")
        .await;
    assert_eq!(failed["value"].as_array().unwrap().len(), 0);
    let (status, _) = server
        .get("workflows/batch/runs?$filter=name%20eq%20'x'")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn secure_data_parameters_and_content_restrictions() {
    let mut workflow = request_workflow(
        json!({
            "Hidden": {"type": "Compose", "inputs": "@parameters('token')",
                        "runtimeConfiguration": {"secureData": {"properties": ["inputs"]}}},
            "Visible": {"type": "Compose", "inputs": "plain", "runAfter": {"Hidden": ["Succeeded"]}},
            "Reply": {"type": "Response", "inputs": {"statusCode": 200}, "runAfter": {"Visible": ["Succeeded"]}}
        }),
        json!({}),
    );
    workflow["definition"]["parameters"] =
        json!({"token": {"type": "SecureString", "defaultValue": "s3cr3t-value"}});
    let mut blocked = workflow.clone();
    blocked["accessControl"] =
        json!({"contents": {"allowedCallerIpAddresses": [{"addressRange": "0.0.0.0-0.0.0.0"}]}});
    let dir = project(&[("secret", workflow), ("blocked", blocked)], json!({}));
    let server = start(dir.path(), &[]);

    let (_, listed) = server.get("workflows").await;
    assert!(
        !listed.to_string().contains("s3cr3t-value"),
        "secure parameter values are never returned"
    );

    let response = server.call(&server.url("secret"), json!({})).await;
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, hidden) = server
        .get(&format!("workflows/secret/runs/{run_id}/actions/Hidden"))
        .await;
    assert!(hidden["properties"].get("inputsLink").is_none(), "{hidden}");
    // Compose has only Secure Inputs, which hides its outputs too.
    assert_eq!(
        hidden["properties"]["secureData"]["properties"],
        json!(["inputs", "outputs"])
    );
    assert!(!hidden.to_string().contains("s3cr3t-value"));

    let response = server.call(&server.url("blocked"), json!({})).await;
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, visible) = server
        .get(&format!("workflows/blocked/runs/{run_id}/actions/Visible"))
        .await;
    let link = visible["properties"]["inputsLink"]["uri"].as_str().unwrap();
    assert_eq!(
        server
            .client
            .get(link)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
}

#[tokio::test]
async fn manual_run_resubmit_and_foreach_repetitions() {
    let workflow = request_workflow(
        json!({
            "Loop": {"type": "Foreach", "foreach": "@triggerBody()?['items']",
                      "actions": {"Double": {"type": "Compose", "inputs": "@mul(item(), 2)"}}},
            "Reply": {"type": "Response", "inputs": {"statusCode": 200}, "runAfter": {"Loop": ["Succeeded"]}}
        }),
        json!({}),
    );
    let dir = project(&[("loop", workflow)], json!({}));
    let server = start(dir.path(), &[]);
    // The Response runs after the loop, so its answer means the loop is recorded.
    let response = server
        .call(&server.url("loop"), json!({"items": [1, 2]}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, reps) = server
        .get(&format!(
            "workflows/loop/runs/{run_id}/actions/Double/repetitions"
        ))
        .await;
    let reps = reps["value"].as_array().unwrap();
    assert_eq!(reps.len(), 2);
    assert_eq!(
        reps[1]["properties"]["repetitionIndexes"],
        json!([{"scopeName": "Loop", "itemIndex": 1}])
    );
    let (_, double) = server
        .get(&format!("workflows/loop/runs/{run_id}/actions/Double"))
        .await;
    assert_eq!(double["properties"]["repetitionCount"], 2);

    let response = server
        .client
        .post(server.management("workflows/loop/triggers/manual/run"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"items": [3]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let manual = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (_, histories) = server.get("workflows/loop/triggers/manual/histories").await;
    assert_eq!(histories["value"][0]["name"], manual.as_str());
    let link = histories["value"][0]["properties"]["outputsLink"]["uri"]
        .as_str()
        .unwrap();
    let outputs: Value = server
        .client
        .get(link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(outputs["body"], json!({"items": [3]}));
    let (status, _) = server
        .post(
            &format!("workflows/loop/triggers/manual/histories/{manual}/resubmit"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202);
    assert_eq!(server.run_count("loop").await, 3);
}

#[tokio::test]
async fn a_generated_admin_key_is_printed_once_and_kept() {
    let data = tempfile::tempdir().unwrap();
    let run = |expect_key: bool| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
            .arg("serve")
            .arg(examples())
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env_remove("CONFLUX_ADMIN_KEY")
            .env_remove("CONFLUX_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut key = None;
        let mut base = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some((_, k)) = line
                .strip_prefix("admin key")
                .and_then(|l| l.rsplit_once(": "))
            {
                key = Some(k.to_string());
            }
            if let Some(addr) = line.strip_prefix("listening on ") {
                base = Some(addr.to_string());
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        assert_eq!(key.is_some(), expect_key);
        (child, key, base.unwrap())
    };
    let (mut first, key, _) = run(true);
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, again, base) = run(false);
    assert!(again.is_none());
    let url = format!("{base}/runtime/webhooks/workflow/api/management/workflows");
    let client = reqwest::Client::new();
    let ok = client
        .get(&url)
        .bearer_auth(key.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test]
async fn a_broken_workflow_does_not_stop_the_others() {
    let good = request_workflow(json!({"Done": {"type": "Compose", "inputs": 1}}), json!({}));
    let dir = project(&[("good", good)], json!({}));
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/workflow.json"), "{\"definition\": ").unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(
        server
            .call(&server.url("good"), json!({}))
            .await
            .status()
            .as_u16(),
        202
    );
    let (status, list) = server.get("workflows").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["good"]);
    let (status, code) = error_code(
        server
            .call(
                &server.url("good").replace("/api/good/", "/api/broken/"),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "WorkflowNotFound"));
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_history_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let spawn = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
            .arg("serve")
            .arg(examples())
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
            .env_remove("CONFLUX_MASTER_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut base = String::new();
        let mut url = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                base = addr.to_string();
            }
            if let Some((_, u)) = line
                .trim()
                .strip_prefix("POST hello/manual")
                .and_then(|l| l.split_once(": "))
            {
                url = u.to_string();
                break;
            }
        }
        (child, lines, base, url)
    };
    let (mut child, lines, _, url) = spawn();
    let client = reqwest::Client::new();
    let response = client
        .post(&url)
        .json(&json!({"name": "Bo"}))
        .send()
        .await
        .unwrap();
    let run_id = response.headers()["x-ms-workflow-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.last().map(String::as_str), Some("stopped"));
    assert!(child.wait().unwrap().success());

    // Same data folder: same keys (the old URL still works) and the old run is still there.
    let (mut child, lines, base, url_again) = spawn();
    std::thread::spawn(move || for _ in lines {});
    assert_eq!(url_again.split("sig=").nth(1), url.split("sig=").nth(1));
    let run = client
        .get(format!(
            "{base}/runtime/webhooks/workflow/api/management/workflows/hello/runs/{run_id}"
        ))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(run.status().as_u16(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Waits (bounded) until `workflow` has `n` runs; returns the count seen last.
async fn wait_for_runs(server: &Server, workflow: &str, n: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let count = server.run_count(workflow).await;
        if count >= n || std::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_connector_polling_trigger_starts_one_run_per_new_file() {
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("first.txt"), "one").unwrap();
    let watcher = json!({"definition": {
        "triggers": {"When_a_file_is_added": {
            "type": "ServiceProvider",
            "inputs": {
                "parameters": {"folder": "", "includeContent": true, "startFrom": "beginning"},
                "serviceProviderConfiguration": {
                    "connectionName": "files", "operationId": "whenFileAddedOrModified",
                    "serviceProviderId": "/serviceProviders/fileSystem"
                }
            },
            "recurrence": {"frequency": "Second", "interval": 1}
        }},
        "actions": {"Name": {"type": "Compose", "inputs": "@triggerBody()?['name']"}}
    }, "kind": "Stateful"});
    let dir = project(&[("watcher", watcher)], json!({}));
    std::fs::write(
        dir.path().join("connections.json"),
        json!({"serviceProviderConnections": {"files": {
            "parameterValues": {"rootFolder": files.path().display().to_string()},
            "serviceProvider": {"id": "/serviceProviders/fileSystem"}
        }}})
        .to_string(),
    )
    .unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(wait_for_runs(&server, "watcher", 1).await, 1);
    std::fs::write(files.path().join("second.txt"), "two").unwrap();
    assert_eq!(wait_for_runs(&server, "watcher", 2).await, 2);
    // Later polls find nothing new: no file is delivered twice. A run is listed
    // as soon as it exists, so wait for both to finish before reading outputs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let runs = loop {
        let (_, runs) = server.get("workflows/watcher/runs").await;
        let done = runs["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["properties"]["status"] == "Succeeded");
        if done || std::time::Instant::now() > deadline {
            break runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let mut names = Vec::new();
    for run in runs["value"].as_array().unwrap() {
        let id = run["name"].as_str().unwrap();
        let (_, action) = server
            .get(&format!("workflows/watcher/runs/{id}/actions/Name"))
            .await;
        let link = action["properties"]["outputsLink"]["uri"].as_str().unwrap();
        let content: Value = server
            .client
            .get(link)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        names.push(content.to_string());
    }
    names.sort();
    assert_eq!(names, vec!["\"first.txt\"", "\"second.txt\""]);
    assert_eq!(server.run_count("watcher").await, 2);
}

/// A one-request HTTP peer that records the Authorization header it received.
fn capture_authorization() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/secrets", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&request).to_string();
        let auth = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("authorization")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        tx.send(auth).unwrap();
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}",
        );
    });
    (url, rx)
}

fn base64url_json(segment: &str) -> Value {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in segment.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap()
}

#[tokio::test]
async fn the_http_action_authenticates_with_the_hosts_managed_identity() {
    let (peer, received) = capture_authorization();
    let audience = "https://vault.example/";
    let actions = json!({
        "Call": {"type": "Http", "inputs": {
            "method": "GET", "uri": peer,
            "authentication": {"type": "ManagedServiceIdentity", "audience": audience}
        }, "runAfter": {}},
        "Response": {"type": "Response", "kind": "Http",
            "inputs": {"statusCode": 200, "body": "@body('Call')"},
            "runAfter": {"Call": ["Succeeded"]}}
    });
    let dir = project(
        &[("caller", request_workflow(actions, json!({})))],
        json!({}),
    );
    let server = start(dir.path(), &[]);
    let response = server.call(&server.url("caller"), json!({})).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"ok": true}));
    let authorization = received
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let token = authorization
        .strip_prefix("Bearer ")
        .expect("a bearer token");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact token: {token}");
    let claims = base64url_json(parts[1]);
    assert_eq!(claims["aud"], audience);
    // The public key that verifies it is published.
    let jwks: Value = server
        .client
        .get(format!("{}/.well-known/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
    // The token never reaches run history.
    let (_, runs) = server.get("workflows/caller/runs").await;
    let id = runs["value"][0]["name"].as_str().unwrap().to_string();
    let (_, action) = server
        .get(&format!("workflows/caller/runs/{id}/actions/Call"))
        .await;
    if let Some(link) = action["properties"]["inputsLink"]["uri"].as_str() {
        let inputs = server
            .client
            .get(link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!inputs.contains(token));
    }
}

#[tokio::test]
async fn a_full_waiting_queue_answers_429_with_retry_after() {
    // One run at a time, ten may wait; the running one waits an hour.
    let actions = json!({
        "Nap": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Hour"}}}
    });
    let trigger =
        json!({"runtimeConfiguration": {"concurrency": {"runs": 1, "maximumWaitingRuns": 10}}});
    let dir = project(&[("queue", request_workflow(actions, trigger))], json!({}));
    let server = start(dir.path(), &[]);
    let url = server.url("queue");
    for n in 0..11 {
        let response = server.call(&url, json!({"n": n})).await;
        assert_eq!(response.status().as_u16(), 202, "call {n} is accepted");
    }
    let response = server.call(&url, json!({"n": 11})).await;
    assert_eq!(response.status().as_u16(), 429);
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TooManyRequests", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximumWaitingRuns"),
        "{body}"
    );
    // The refused call created nothing; the accepted ones are listed, ten Waiting.
    let (_, runs) = server.get("workflows/queue/runs").await;
    let runs = runs["value"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 11);
    let waiting = runs
        .iter()
        .filter(|r| r["properties"]["status"] == "Waiting")
        .count();
    assert_eq!(waiting, 10);
}
