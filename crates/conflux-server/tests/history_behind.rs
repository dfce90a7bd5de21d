//! The trigger history entry of a call of a stateless workflow is written
//! behind the answer: the caller does not wait for the store, yet a reader of
//! the trigger histories sees the entry of every call answered before.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use conflux_definition::WorkflowKind;
use conflux_server::{
    ResponseBody, RunResponse, RuntimeError, StartRequest, StartedRun, WorkflowRuntime,
};
use conflux_store::{RunId, SqliteStore};
use serde_json::json;
use tokio::sync::oneshot;

mod host_support;
use host_support::{spec, Served};

/// Every run answers 200 at once and keeps nothing (as a stateless run that succeeded).
struct AnsweringRuntime;

#[async_trait]
impl WorkflowRuntime for AnsweringRuntime {
    async fn start_run(&self, _: StartRequest) -> Result<StartedRun, RuntimeError> {
        let (answer, response) = oneshot::channel();
        let _ = answer.send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Json(json!({"ok": true})),
        });
        Ok(StartedRun {
            run_id: RunId::generate(Utc::now()),
            response: Some(response.into()),
            driver: None,
        })
    }

    async fn cancel_run(&self, _: &str, _: &RunId) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn shutdown(&self) {}
}

async fn serve(store: Arc<SqliteStore>) -> Served {
    let doc = json!({"definition": {
        "triggers": {"manual": {"type": "Request", "kind": "Http"}},
        "actions": {"Reply": {"type": "Response", "kind": "Http", "inputs": {"statusCode": 200}}}
    }});
    let workflows = vec![spec("quick", WorkflowKind::Stateless, doc)];
    let mut options = host_support::options(Arc::new(AnsweringRuntime), store, workflows);
    // A stateless workflow records its calls only with this option.
    options.app_settings.insert(
        "Workflows.quick.OperationOptions".into(),
        "WithStatelessRunHistory".into(),
    );
    host_support::serve(options).await
}

/// Guards against a hang: a call that should not wait for the paused store.
const HANG: Duration = Duration::from_secs(120);

#[tokio::test]
async fn stateless_calls_are_answered_while_the_store_is_busy_and_then_listed() {
    let store = Arc::new(SqliteStore::open_in_memory().await.unwrap());
    let served = serve(store.clone()).await;
    let url = served.callback("quick");

    // While the store writes nothing, calls are still answered.
    let pause = store.pause_writer();
    let mut answered = Vec::new();
    for n in 0..3 {
        let call = served.client.post(&url).json(&json!({"n": n})).send();
        let response = tokio::time::timeout(HANG, call)
            .await
            .expect("a stateless call waited for the store")
            .unwrap();
        assert_eq!(response.status(), 200);
        let run = response.headers()["x-ms-workflow-run-id"]
            .to_str()
            .unwrap()
            .to_string();
        answered.push(run);
    }

    // A reader waits for the entries of the answered calls.
    let list = {
        let client = served.client.clone();
        let url = format!(
            "{}/runtime/webhooks/workflow/api/management/workflows/quick/triggers/manual/histories",
            served.base
        );
        tokio::spawn(async move {
            let response = client
                .get(url)
                .bearer_auth(host_support::ADMIN_KEY)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        })
    };
    drop(pause);
    let page = list.await.unwrap();
    let mut listed: Vec<String> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["properties"]["fired"], json!(true));
            entry["properties"]["run"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    listed.sort();
    answered.sort();
    assert_eq!(listed, answered, "{page}");

    // One entry is read the same way, with its recorded outputs.
    let (status, one) = served
        .management(
            reqwest::Method::GET,
            &format!("workflows/quick/triggers/manual/histories/{}", answered[0]),
        )
        .await;
    assert_eq!(status, 200, "{one}");
}
