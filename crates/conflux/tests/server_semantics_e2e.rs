//! How `conflux serve` answers trigger calls with the real engine: the
//! asynchronous Response pattern, a Response action that runs after its
//! caller was answered (the wait timed out, or another Response answered),
//! and the `x-ms-*` headers of trigger answers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const ADMIN_KEY: &str = "semantics-admin-key-0123456789";

/// A running `conflux serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    _project: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves one stateful workflow `wf` with a Request trigger `manual`.
fn serve(actions: Value, extra: &[&str]) -> Server {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("host.json"), "{}").unwrap();
    std::fs::create_dir_all(project.path().join("wf")).unwrap();
    let doc = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http", "inputs": {"method": "POST"}}},
        "actions": actions
    }, "kind": "Stateful"});
    std::fs::write(project.path().join("wf/workflow.json"), doc.to_string()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_conflux"))
        .arg("serve")
        .arg(project.path())
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .args(extra)
        .env("CONFLUX_ADMIN_KEY", ADMIN_KEY)
        .env_remove("CONFLUX_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the conflux binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| {
            line.strip_prefix("listening on ")
                .map(|a| a.trim().to_string())
        })
        .expect("the server printed its address");
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base,
        client: reqwest::Client::new(),
        _project: project,
        _data: data,
    }
}

impl Server {
    async fn management(&self, method: reqwest::Method, path: &str) -> Value {
        let response = self
            .client
            .request(
                method,
                format!(
                    "{}/runtime/webhooks/workflow/api/management/{path}",
                    self.base
                ),
            )
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn callback_url(&self) -> String {
        let answer = self
            .management(
                reqwest::Method::POST,
                "workflows/wf/triggers/manual/listCallbackUrl",
            )
            .await;
        answer["value"].as_str().unwrap().to_string()
    }

    /// The run once it has finished.
    async fn finished_run(&self, run: &str) -> Value {
        for _ in 0..600 {
            let record = self
                .management(reqwest::Method::GET, &format!("workflows/wf/runs/{run}"))
                .await;
            let status = record["properties"]["status"].as_str().unwrap_or("");
            if !["Running", "Waiting", "Suspended", "Paused"].contains(&status) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {run} did not finish");
    }

    async fn action(&self, run: &str, action: &str) -> Value {
        self.management(
            reqwest::Method::GET,
            &format!("workflows/wf/runs/{run}/actions/{action}"),
        )
        .await
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn asynchronous_response_is_fetched_from_the_location() {
    let server = serve(
        json!({
            "Pause": {"type": "Wait", "inputs": {"interval": {"count": 1, "unit": "Second"}}},
            "Reply": {
                "type": "Response", "kind": "Http",
                "operationOptions": "Asynchronous",
                "inputs": {"statusCode": 201, "headers": {"x-result": "made"}, "body": {"doubled": "@mul(triggerBody()?['n'], 2)"}},
                "runAfter": {"Pause": ["Succeeded"]}
            }
        }),
        &[],
    );
    let url = server.callback_url().await;
    let accepted = server
        .client
        .post(&url)
        .json(&json!({"n": 21}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    let run = header(&accepted, "x-ms-workflow-run-id");
    let location = header(&accepted, "location");
    assert!(location.starts_with(&server.base), "{location}");
    header(&accepted, "retry-after");

    let mut answered = None;
    for _ in 0..600 {
        let response = server.client.get(&location).send().await.unwrap();
        if response.status().as_u16() != 202 {
            answered = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answered = answered.expect("the run answered");
    assert_eq!(answered.status().as_u16(), 201);
    assert_eq!(header(&answered, "x-result"), "made");
    assert_eq!(header(&answered, "x-ms-workflow-run-id"), run);
    assert_eq!(
        answered.json::<Value>().await.unwrap(),
        json!({"doubled": 42})
    );
    let record = server.finished_run(&run).await;
    assert_eq!(record["properties"]["status"], "Succeeded", "{record}");
}

#[tokio::test]
async fn a_response_after_the_caller_timed_out_fails_the_run() {
    let server = serve(
        json!({
            "Pause": {"type": "Wait", "inputs": {"interval": {"count": 3, "unit": "Second"}}},
            "Reply": {
                "type": "Response", "kind": "Http",
                "inputs": {"statusCode": 200, "body": "late"},
                "runAfter": {"Pause": ["Succeeded"]}
            }
        }),
        &["--response-timeout-secs", "1"],
    );
    let url = server.callback_url().await;
    let timed_out = server.client.post(&url).send().await.unwrap();
    assert_eq!(timed_out.status().as_u16(), 408);
    let run = header(&timed_out, "x-ms-workflow-run-id");
    let record = server.finished_run(&run).await;
    assert_eq!(record["properties"]["status"], "Failed", "{record}");
    let reply = server.action(&run, "Reply").await;
    assert_eq!(reply["properties"]["status"], "Failed", "{reply}");
    assert_eq!(
        reply["properties"]["code"], "ActionResponseTimedOut",
        "{reply}"
    );
}

#[tokio::test]
async fn a_second_response_fails_and_the_caller_keeps_the_first() {
    let server = serve(
        json!({
            "First": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": "first"}},
            "Second": {
                "type": "Response", "kind": "Http",
                "inputs": {"statusCode": 500, "body": "second"},
                "runAfter": {"First": ["Succeeded"]}
            }
        }),
        &[],
    );
    let url = server.callback_url().await;
    let answered = server
        .client
        .post(&url)
        .header("x-ms-client-tracking-id", "order-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let run = header(&answered, "x-ms-workflow-run-id");
    assert_eq!(header(&answered, "x-ms-client-tracking-id"), "order-42");
    assert_eq!(header(&answered, "x-ms-trigger-history-name"), run);
    assert_eq!(header(&answered, "x-ms-workflow-name"), "wf");
    header(&answered, "x-ms-correlation-id");
    assert_eq!(answered.text().await.unwrap(), "first");
    let record = server.finished_run(&run).await;
    assert_eq!(record["properties"]["status"], "Failed", "{record}");
    assert_eq!(
        record["properties"]["correlation"]["clientTrackingId"], "order-42",
        "{record}"
    );
    let second = server.action(&run, "Second").await;
    assert_eq!(
        second["properties"]["code"], "ActionResponseAlreadySent",
        "{second}"
    );
}
