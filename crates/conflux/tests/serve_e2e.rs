//! End-to-end tests of `conflux serve`: the real binary, real HTTP, a
//! temporary data folder. Each test starts its own server on a free port.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::{error_code, project, request_workflow, run_id_of, serve, Server};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

/// `conflux serve` on `project` with a fresh data folder.
fn start(project: &Path, extra: &[&str]) -> Server {
    serve(project).args(extra).start()
}

#[tokio::test]
async fn example_hello_answers_through_its_signed_url_and_records_history() {
    let server = start(&examples(), &[]);
    let response = server
        .call(&server.url("hello"), json!({"name": "Ada"}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let run_id = run_id_of(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"message": "Hello, Ada!"}));

    let (status, run) = server.get(&format!("workflows/hello/runs/{run_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(run["name"], run_id.as_str());
    let actions = server.actions("hello", &run_id).await;
    let compose = &actions["Compose_greeting"];
    assert_eq!(compose["properties"]["status"], "Succeeded");
    let link = compose["properties"]["outputsLink"]["uri"]
        .as_str()
        .unwrap();
    let content: Value = server.fetch(link).await;
    assert_eq!(content, "Hello, Ada!");
    // A content link is signed: altering it is refused.
    let altered = link.replace("Compose_greeting/outputs", "Compose_greeting/inputs");
    assert_eq!(server.fetch_status(&altered).await, 401);
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
        server.call_status(&wrong_path, json!({"total": 1})).await,
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
    // Accepted first, so the refusals below are not of a URL never seen.
    for _ in 0..2 {
        assert_eq!(server.call_status(&url, json!({})).await, 200);
    }
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
    assert_eq!(server.call_status(&other_workflow, json!({})).await, 401);
    assert_eq!(
        server.run_count("hello").await,
        2,
        "only the signed calls ran"
    );
}

#[tokio::test]
async fn expiring_urls_and_regenerated_keys() {
    let server = start(&examples(), &[]);
    let list = |body: Value| server.list_callback_url("hello", "manual", body);
    let expired = list(json!({"NotAfter": "2020-01-01T00:00:00Z"})).await;
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

    let value = |answer: Value| answer["value"].as_str().unwrap().to_string();
    let future = value(list(json!({"NotAfter": "2999-01-01T00:00:00Z"})).await);
    assert_eq!(server.call_status(&future, json!({})).await, 200);
    // Moving `se` later breaks the signature.
    let stretched = future.replace("2999", "3999");
    assert_eq!(server.call_status(&stretched, json!({})).await, 401);

    let secondary = value(list(json!({"KeyType": "Secondary"})).await);
    for _ in 0..3 {
        assert_eq!(server.call_status(&secondary, json!({})).await, 200);
    }
    let (status, _) = server
        .post("accessKeys/secondary/regenerate", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(server.call_status(&secondary, json!({})).await, 401);
    assert_eq!(
        server.call_status(&server.url("hello"), json!({})).await,
        200,
        "the primary key still works"
    );
    let fresh = value(list(json!({"KeyType": "Secondary"})).await);
    assert_eq!(server.call_status(&fresh, json!({})).await, 200);
}

#[tokio::test]
async fn without_response_action_the_call_is_accepted_and_the_run_is_already_listed() {
    let actions = json!({
        "Check": {"type": "If", "expression": "@equals(triggerBody()?['go'], true)",
                   "actions": {"Yes": {"type": "Compose", "inputs": "yes"}},
                   "else": {"actions": {"No": {"type": "Compose", "inputs": "no"}}}}
    });
    let dir = project(&[("fire", request_workflow(actions, json!({})))]);
    let server = start(dir.path(), &[]);
    let response = server.call(&server.url("fire"), json!({"go": true})).await;
    assert_eq!(response.status().as_u16(), 202);
    let run_id = run_id_of(&response);
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
    let dir = project(&[("open", workflow), ("locked", locked)]);
    let server = start(dir.path(), &[]);
    let (status, code) = error_code(server.call(&server.url("locked"), json!({})).await).await;
    assert_eq!(
        (status, code.as_str()),
        (403, "AuthorizationFailedByIpAddress")
    );
    assert_eq!(server.run_count("locked").await, 0);
    assert_eq!(
        server.call_status(&server.url("open"), json!({})).await,
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
    let dir = project(&[("echo", workflow)]);
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
    assert_eq!(server.fetch_status(&url).await, 405);

    let (status, _) = server.post("workflows/echo/disable", json!({})).await;
    assert_eq!(status, 200);
    let (status, code) = error_code(server.call(&url, json!({})).await).await;
    assert_eq!((status, code.as_str()), (409, "WorkflowDisabled"));
    server.post("workflows/echo/enable", json!({})).await;
    assert_eq!(server.call_status(&url, json!({})).await, 202);
}

#[tokio::test]
async fn false_trigger_conditions_record_a_skipped_history_and_no_run() {
    let workflow = request_workflow(
        json!({"Done": {"type": "Compose", "inputs": 1}}),
        json!({"conditions": [{"expression": "@equals(triggerBody()?['kind'], 'order')"}]}),
    );
    let dir = project(&[("picky", workflow)]);
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
    let dir = project(&[("branchy", branchy), ("slow", slow)]);
    let server = start(dir.path(), &["--response-timeout-secs", "0"]);

    let response = server.call(&server.url("slow"), json!({})).await;
    let run_id = run_id_of(&response);
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
    let run_id = run_id_of(&response);
    assert_eq!(
        response.text().await.unwrap(),
        "yes",
        "a string body is sent as text"
    );
    let actions = server.actions("branchy", &run_id).await;
    let status_of = |name: &str| actions.get(name).map(|a| a["properties"]["status"].clone());
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
    let dir = project(&[("batch", workflow)]);
    let server = start(dir.path(), &[]);
    let response = server
        .call(&server.url("batch"), json!({"rows": [1, 2, 3]}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    assert_eq!(server.run_count("batch").await, 3);
    let (_, page) = server.get("workflows/batch/runs?$top=2").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 2);
    let next = page["nextLink"].as_str().expect("a second page");
    let rest = server.get_next(next).await;
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
    let dir = project(&[("secret", workflow), ("blocked", blocked)]);
    let server = start(dir.path(), &[]);

    let (_, listed) = server.get("workflows").await;
    assert!(
        !listed.to_string().contains("s3cr3t-value"),
        "secure parameter values are never returned"
    );

    let response = server.call(&server.url("secret"), json!({})).await;
    let run_id = run_id_of(&response);
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
    let run_id = run_id_of(&response);
    let (_, visible) = server
        .get(&format!("workflows/blocked/runs/{run_id}/actions/Visible"))
        .await;
    let link = visible["properties"]["inputsLink"]["uri"].as_str().unwrap();
    assert_eq!(server.fetch_status(link).await, 403);
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
    let dir = project(&[("loop", workflow)]);
    let server = start(dir.path(), &[]);
    // The Response runs after the loop, so its answer means the loop is recorded.
    let response = server
        .call(&server.url("loop"), json!({"items": [1, 2]}))
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let run_id = run_id_of(&response);
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
        .post_response("workflows/loop/triggers/manual/run", json!({"items": [3]}))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let manual = run_id_of(&response);
    let (_, histories) = server.get("workflows/loop/triggers/manual/histories").await;
    assert_eq!(histories["value"][0]["name"], manual.as_str());
    let link = histories["value"][0]["properties"]["outputsLink"]["uri"]
        .as_str()
        .unwrap();
    let outputs: Value = server.fetch(link).await;
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
    let start = || {
        serve(&examples())
            .data(data.path())
            .without_admin_key()
            .start()
    };
    // `admin key (shown once; ...): <key>`, before `listening on`.
    let printed_key = |server: &Server| {
        server.preamble.iter().find_map(|line| {
            let (_, key) = line.strip_prefix("admin key")?.rsplit_once(": ")?;
            Some(key.to_string())
        })
    };
    let first = start();
    let key = printed_key(&first).expect("the first start prints the key");
    drop(first);
    let second = start();
    assert_eq!(printed_key(&second), None, "the key is printed once");
    let ok = second
        .client
        .get(second.management("workflows"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[tokio::test]
async fn a_broken_workflow_does_not_stop_the_others() {
    let good = request_workflow(json!({"Done": {"type": "Compose", "inputs": 1}}), json!({}));
    let dir = project(&[("good", good)]);
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/workflow.json"), "{\"definition\": ").unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(
        server.call_status(&server.url("good"), json!({})).await,
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
    let server = serve(&examples()).data(data.path()).start();
    let url = server.url("hello");
    let response = server.call(&url, json!({"name": "Bo"})).await;
    let run_id = run_id_of(&response);
    let (status, rest) = server.terminate();
    assert_eq!(rest.last().map(String::as_str), Some("stopped"));
    assert!(status.success());

    // Same data folder: same keys (the old URL still works) and the old run is still there.
    let server = serve(&examples()).data(data.path()).start();
    assert_eq!(
        server.url("hello").split("sig=").nth(1),
        url.split("sig=").nth(1)
    );
    let (status, _) = server.get(&format!("workflows/hello/runs/{run_id}")).await;
    assert_eq!(status, 200);
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
    let dir = project(&[("watcher", watcher)]);
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
    let count = |n: usize| move |runs: &[(String, String)]| runs.len() >= n;
    let runs = server
        .wait_for_runs("watcher", "a first run", count(1))
        .await;
    assert_eq!(runs.len(), 1);
    std::fs::write(files.path().join("second.txt"), "two").unwrap();
    let runs = server
        .wait_for_runs("watcher", "a second run", count(2))
        .await;
    assert_eq!(runs.len(), 2);
    // Later polls find nothing new: no file is delivered twice. A run is listed
    // as soon as it exists, so wait for both to finish before reading outputs.
    let runs = server
        .wait_for_runs("watcher", "both runs to finish", |runs| {
            runs.iter().all(|(_, status)| status == "Succeeded")
        })
        .await;
    let mut names = Vec::new();
    for (id, _) in &runs {
        let content = server.action_outputs("watcher", id, "Name").await;
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
    let dir = project(&[("caller", request_workflow(actions, json!({})))]);
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
    let jwks = server
        .fetch(&format!("{}/.well-known/jwks.json", server.base))
        .await;
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
    // The token never reaches run history.
    let (_, runs) = server.get("workflows/caller/runs").await;
    let id = runs["value"][0]["name"].as_str().unwrap().to_string();
    let (_, action) = server
        .get(&format!("workflows/caller/runs/{id}/actions/Call"))
        .await;
    if let Some(link) = action["properties"]["inputsLink"]["uri"].as_str() {
        let inputs = server.fetch_text(link).await;
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
    let dir = project(&[("queue", request_workflow(actions, trigger))]);
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

#[tokio::test]
async fn a_response_has_its_own_content_type_or_the_usual_one_for_its_body() {
    let respond = |inputs: Value| {
        let mut doc = request_workflow(
            json!({"Respond": {"type": "Response", "kind": "Http", "inputs": inputs}}),
            json!({}),
        );
        doc["kind"] = json!("Stateless");
        doc
    };
    let dir = project(&[
        (
            "object",
            respond(json!({"statusCode": 200, "body": {"a": 1}})),
        ),
        (
            "text",
            respond(json!({"statusCode": 200, "body": "plain words"})),
        ),
        ("empty", respond(json!({"statusCode": 204}))),
        (
            "own",
            respond(
                json!({"statusCode": 201, "headers": {"Content-Type": "application/xml", "X-Kind": "own"}, "body": "<a/>"}),
            ),
        ),
    ]);
    let server = start(dir.path(), &[]);
    for (workflow, status, content_type) in [
        ("object", 200, "application/json; charset=utf-8"),
        ("text", 200, "text/plain; charset=utf-8"),
        ("empty", 204, "application/octet-stream"),
        ("own", 201, "application/xml"),
    ] {
        // Twice: the second call reuses what the first made (a remembered URL, the
        // headers' template), and must answer the same.
        for _ in 0..2 {
            let response = server.call(&server.url(workflow), json!({})).await;
            assert_eq!(response.status().as_u16(), status, "{workflow}");
            let types: Vec<_> = response.headers().get_all("content-type").iter().collect();
            assert_eq!(types, [content_type], "{workflow}");
            assert!(
                response.headers().contains_key("x-ms-workflow-run-id"),
                "{workflow}"
            );
        }
    }
    let own = server.call(&server.url("own"), json!({})).await;
    assert_eq!(own.headers()["x-kind"], "own");
    assert_eq!(own.text().await.unwrap(), "<a/>");
}
