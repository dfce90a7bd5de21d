//! How `conflux serve` answers trigger calls with the real engine: the
//! asynchronous Response pattern, a Response action that runs after its
//! caller was answered (the wait timed out, or another Response answered),
//! and the `x-ms-*` headers of trigger answers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

mod support;

use serde_json::{json, Value};
use support::{header, request_workflow, serve_workflows, Server};

/// Serves one stateful workflow `wf` with a Request trigger `manual`.
fn serve(actions: Value, extra: &[&str]) -> Server {
    serve_workflows(&[("wf", request_workflow(actions, json!({})))])
        .args(extra)
        .start()
}

/// The callback URL `listCallbackUrl` gives for the trigger of `wf`.
async fn callback_url(server: &Server) -> String {
    let answer = server.list_callback_url("wf", "manual", json!({})).await;
    answer["value"].as_str().unwrap().to_string()
}

/// A Wait of `seconds`, then the Response action `reply` as `Reply`.
fn pause_then_reply(seconds: u32, mut reply: Value) -> Value {
    reply["runAfter"] = json!({"Pause": ["Succeeded"]});
    json!({
        "Pause": {"type": "Wait", "inputs": {"interval": {"count": seconds, "unit": "Second"}}},
        "Reply": reply
    })
}

#[tokio::test]
async fn asynchronous_response_is_fetched_from_the_location() {
    let server = serve(
        pause_then_reply(
            1,
            json!({
                "type": "Response", "kind": "Http",
                "operationOptions": "Asynchronous",
                "inputs": {"statusCode": 201, "headers": {"x-result": "made"}, "body": {"doubled": "@mul(triggerBody()?['n'], 2)"}}
            }),
        ),
        &[],
    );
    let url = callback_url(&server).await;
    let accepted = server.call(&url, json!({"n": 21})).await;
    assert_eq!(accepted.status().as_u16(), 202);
    let run = header(&accepted, "x-ms-workflow-run-id");
    let location = header(&accepted, "location");
    assert!(location.starts_with(&server.base), "{location}");
    header(&accepted, "retry-after");

    let answered = server.poll_location(&location).await;
    assert_eq!(answered.status().as_u16(), 201);
    assert_eq!(header(&answered, "x-result"), "made");
    assert_eq!(header(&answered, "x-ms-workflow-run-id"), run);
    assert_eq!(
        answered.json::<Value>().await.unwrap(),
        json!({"doubled": 42})
    );
    let record = server.finished_run("wf", &run).await;
    assert_eq!(record["properties"]["status"], "Succeeded", "{record}");
}

#[tokio::test]
async fn a_response_after_the_caller_timed_out_fails_the_run() {
    let server = serve(
        pause_then_reply(
            3,
            json!({"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": "late"}}),
        ),
        &["--response-timeout-secs", "1"],
    );
    let url = callback_url(&server).await;
    let timed_out = server.client.post(&url).send().await.unwrap();
    assert_eq!(timed_out.status().as_u16(), 408);
    let run = header(&timed_out, "x-ms-workflow-run-id");
    let record = server.finished_run("wf", &run).await;
    assert_eq!(record["properties"]["status"], "Failed", "{record}");
    let reply = server.action("wf", &run, "Reply").await;
    assert_eq!(reply["properties"]["status"], "Failed", "{reply}");
    assert_eq!(
        reply["properties"]["code"], "ActionResponseTimedOut",
        "{reply}"
    );
}

#[tokio::test]
async fn a_stateless_run_goes_on_after_its_caller_timed_out() {
    // The caller's task polls a stateless run while it waits; when the wait
    // times out, the run must carry on by itself and fail its late Response.
    let mut doc = request_workflow(
        pause_then_reply(
            2,
            json!({"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": "late"}}),
        ),
        json!({}),
    );
    doc["kind"] = json!("Stateless");
    let server = serve_workflows(&[("wf", doc)])
        .args(&["--response-timeout-secs", "1"])
        .start();
    let url = callback_url(&server).await;
    let timed_out = server.client.post(&url).send().await.unwrap();
    assert_eq!(timed_out.status().as_u16(), 408);
    let run = header(&timed_out, "x-ms-workflow-run-id");
    // A failed stateless run is stored when it ends, so its end can be read.
    let patience = server.patience("the stateless run to be stored");
    let record = loop {
        let (status, record) = server.get(&format!("workflows/wf/runs/{run}")).await;
        if status == 200 {
            break record;
        }
        assert_eq!(status, 404, "{record}");
        patience.tick().await;
    };
    assert_eq!(record["properties"]["status"], "Failed", "{record}");
    let reply = server.action("wf", &run, "Reply").await;
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
    let url = callback_url(&server).await;
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
    let record = server.finished_run("wf", &run).await;
    assert_eq!(record["properties"]["status"], "Failed", "{record}");
    assert_eq!(
        record["properties"]["correlation"]["clientTrackingId"], "order-42",
        "{record}"
    );
    let second = server.action("wf", &run, "Second").await;
    assert_eq!(
        second["properties"]["code"], "ActionResponseAlreadySent",
        "{second}"
    );
}

/// A stateless copy of `request_workflow` answering `{"n": <n>}`.
fn stateless_echo() -> Value {
    let mut doc = request_workflow(
        json!({"Reply": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": "@triggerBody()"}}}),
        json!({}),
    );
    doc["kind"] = json!("Stateless");
    doc
}

#[tokio::test]
async fn stateless_workflows_keep_history_only_with_the_app_setting() {
    let dir = support::project(&[("quiet", stateless_echo()), ("debugged", stateless_echo())]);
    let settings = json!({"IsEncrypted": false, "Values": {
        "Workflows.debugged.OperationOptions": "WithStatelessRunHistory"
    }});
    std::fs::write(dir.path().join("local.settings.json"), settings.to_string()).unwrap();
    let server = support::serve(dir.path()).start();
    let mut run_of = std::collections::HashMap::new();
    for workflow in ["quiet", "debugged"] {
        let answer = server.call(&server.url(workflow), json!({"n": 1})).await;
        assert_eq!(answer.status().as_u16(), 200);
        run_of.insert(workflow, header(&answer, "x-ms-workflow-run-id"));
        assert_eq!(answer.json::<Value>().await.unwrap(), json!({"n": 1}));
    }

    // With the setting, the run and the call are in history once answered.
    let runs = server
        .wait_for_runs("debugged", "the debugged run is stored", |runs| {
            !runs.is_empty()
        })
        .await;
    assert_eq!(
        runs,
        vec![(run_of["debugged"].clone(), "Succeeded".to_string())]
    );
    let histories = server
        .get_ok("workflows/debugged/triggers/manual/histories")
        .await;
    assert_eq!(
        histories["value"].as_array().unwrap().len(),
        1,
        "{histories}"
    );

    // Without it, as in Logic Apps, nothing of a succeeded call is kept.
    assert_eq!(server.run_count("quiet").await, 0);
    let histories = server
        .get_ok("workflows/quiet/triggers/manual/histories")
        .await;
    assert_eq!(histories["value"], json!([]), "{histories}");
}

#[tokio::test]
async fn stateless_and_stateful_runs_read_the_same_trigger_outputs() {
    // A stateless run answering its caller builds the headers and queries of
    // its trigger outputs only when it reads them; what it reads is the same.
    let actions = json!({"Reply": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200, "body": {
        "probe": "@triggerOutputs()['headers']['X-Probe']",
        "outputs": "@triggerOutputs()",
        "body": "@triggerBody()"
    }}}});
    let stateful = request_workflow(actions.clone(), json!({}));
    let mut stateless = stateful.clone();
    stateless["kind"] = json!("Stateless");
    let dir = support::project(&[("durable", stateful), ("quick", stateless)]);
    let server = support::serve(dir.path()).start();
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for workflow in ["durable", "quick"] {
        let answer = client
            .post(server.url(workflow))
            .header("x-probe", "seen")
            .json(&json!({"n": 1}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{workflow}");
        answers.push(answer.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    let answer = &answers[1];
    assert_eq!(answer["probe"], "seen");
    assert_eq!(answer["body"], json!({"n": 1}));
    let outputs = answer["outputs"].as_object().unwrap();
    let keys: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(keys, ["headers", "body", "queries"], "{answer}");
    // The signature is a credential: never among the queries.
    assert_eq!(outputs["queries"]["sp"], "/triggers/manual/run", "{answer}");
    assert!(outputs["queries"].get("sig").is_none(), "{answer}");
}
