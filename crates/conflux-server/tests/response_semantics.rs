//! How a trigger call is answered, against a runtime the test controls: the
//! asynchronous Response pattern (202 + signed Location, polled until the run
//! answers, also from the run record after a restart), the `x-ms-*` headers of
//! trigger answers, a caller that timed out no longer being answerable, the
//! trigger history of stateless workflows and its retention, and callback
//! URLs of HttpWebhook triggers.

#![allow(clippy::unwrap_used)] // test helpers panic on purpose: a failed step is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use conflux_definition::{Workflow, WorkflowKind};
use conflux_server::{
    BoundHost, Host, HostConfig, HostOptions, MasterKey, ResponseBody, RunResponse, RuntimeError,
    StartRequest, StartedRun, SystemClock, WorkflowRuntime, WorkflowSpec,
};
use conflux_store::{
    RunId, RunRecord, RunStatus, RunTransition, SqliteStore, Store, WorkflowName, WriteBatch,
};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

const ADMIN: &str = "admin-key";

/// A started run, as the test sees it: the sender stands for the run's
/// Response action.
struct Run {
    id: RunId,
    request: StartRequest,
    respond: oneshot::Sender<RunResponse>,
}

/// Creates stateful runs in the store (as the engine does) and hands each
/// run's response sender to the test.
struct ControlledRuntime {
    store: Arc<dyn Store>,
    stateless: bool,
    runs: mpsc::UnboundedSender<Run>,
}

#[async_trait]
impl WorkflowRuntime for ControlledRuntime {
    async fn start_run(&self, request: StartRequest) -> Result<StartedRun, RuntimeError> {
        let id = RunId::generate(Utc::now());
        if !self.stateless {
            let mut batch = WriteBatch::new();
            batch.create_run(RunRecord::new(
                id.clone(),
                WorkflowName::new(request.workflow.as_str()),
                "1",
                request.trigger_name.as_str(),
                Utc::now(),
            ));
            self.store
                .commit(batch)
                .await
                .map_err(|e| RuntimeError::Failed(e.to_string()))?;
        }
        let (tx, rx) = oneshot::channel();
        let _ = self.runs.send(Run {
            id: id.clone(),
            request,
            respond: tx,
        });
        Ok(StartedRun {
            run_id: id,
            response: Some(rx),
        })
    }

    async fn cancel_run(&self, _: &str, _: &RunId) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn shutdown(&self) {}
}

struct Setup {
    store: Arc<dyn Store>,
    kind: WorkflowKind,
    trigger: Value,
    response_options: Option<&'static str>,
    response_timeout: Duration,
}

impl Setup {
    fn new(store: Arc<dyn Store>) -> Setup {
        Setup {
            store,
            kind: WorkflowKind::Stateful,
            trigger: json!({"type": "Request", "kind": "Http"}),
            response_options: None,
            response_timeout: Duration::from_secs(600),
        }
    }

    async fn start(self) -> (Served, mpsc::UnboundedReceiver<Run>) {
        let mut response =
            json!({"type": "Response", "kind": "Http", "inputs": {"statusCode": 200}});
        if let Some(options) = self.response_options {
            response["operationOptions"] = json!(options);
        }
        let doc = json!({"definition": {
            "triggers": {"manual": self.trigger},
            "actions": {"Reply": response}
        }});
        let workflow = Arc::new(Workflow::from_json(&doc).unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = Arc::new(ControlledRuntime {
            store: self.store.clone(),
            stateless: self.kind == WorkflowKind::Stateless,
            runs: tx,
        });
        let host = Host::start(HostOptions {
            runtime,
            store: self.store,
            master_key: Arc::new(MasterKey::from_keys(&[[7; 32]])),
            workflows: vec![WorkflowSpec {
                name: "orders".into(),
                kind: self.kind,
                document: doc,
                workflow,
                parameters: HashMap::new(),
            }],
            app_settings: HashMap::new(),
            host_json: json!({}),
            admin_key: Some(conflux_server::Secret::new(ADMIN)),
            config: HostConfig {
                response_timeout: self.response_timeout,
                ..HostConfig::default()
            },
            clock: Arc::new(SystemClock),
            connections: None,
            jwks: None,
        })
        .await
        .unwrap();
        let bound: BoundHost = host.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = format!("http://{}", bound.local_addr());
        let url = bound
            .callback_urls()
            .first()
            .map(|c| c.url.clone())
            .unwrap_or_default();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(bound.serve(async move {
            let _ = stop_rx.await;
        }));
        (
            Served {
                base,
                url,
                client: reqwest::Client::new(),
                _stop: stop_tx,
            },
            rx,
        )
    }
}

struct Served {
    base: String,
    /// The trigger's signed callback URL (Request triggers only).
    url: String,
    client: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Served {
    async fn management(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self
            .client
            .request(
                method,
                format!(
                    "{}/runtime/webhooks/workflow/api/management/{path}",
                    self.base
                ),
            )
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn store() -> Arc<dyn Store> {
    Arc::new(SqliteStore::open_in_memory().await.unwrap())
}

/// Polls a response location until it stops answering 202.
async fn poll_until_answered(client: &reqwest::Client, location: &str) -> reqwest::Response {
    for _ in 0..500 {
        let response = client.get(location).send().await.unwrap();
        if response.status().as_u16() != 202 {
            return response;
        }
        assert_eq!(header(&response, "location").as_deref(), Some(location));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the location kept answering 202");
}

#[tokio::test]
async fn an_asynchronous_response_is_polled_at_the_signed_location() {
    let mut setup = Setup::new(store().await);
    setup.response_options = Some("Asynchronous");
    let (served, mut runs) = setup.start().await;

    let accepted = served
        .client
        .post(&served.url)
        .json(&json!({"order": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        accepted.status().as_u16(),
        202,
        "answered before the run responds"
    );
    let run = runs.recv().await.unwrap();
    assert_eq!(
        header(&accepted, "x-ms-workflow-run-id").as_deref(),
        Some(run.id.as_str())
    );
    assert!(header(&accepted, "retry-after").is_some());
    let location = header(&accepted, "location").unwrap();
    assert!(
        location.starts_with(&format!(
            "{}/runtime/webhooks/workflow/api/responses/orders/runs/{}?",
            served.base, run.id
        )),
        "{location}"
    );
    assert!(location.contains("sig="), "{location}");

    // Still running: 202 with the same location.
    let waiting = served.client.get(&location).send().await.unwrap();
    assert_eq!(waiting.status().as_u16(), 202);
    assert_eq!(
        header(&waiting, "location").as_deref(),
        Some(location.as_str())
    );

    // A location with another signature, or without one, is refused.
    let forged = location.replace("sig=", "sig=x");
    assert_eq!(
        served
            .client
            .get(&forged)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let unsigned = location.split('?').next().unwrap();
    assert_eq!(
        served
            .client
            .get(unsigned)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    run.respond
        .send(RunResponse {
            status: 201,
            headers: vec![("x-order".into(), "7".into())],
            body: ResponseBody::Json(json!({"created": 7})),
        })
        .unwrap();
    let answered = poll_until_answered(&served.client, &location).await;
    assert_eq!(answered.status().as_u16(), 201);
    assert_eq!(header(&answered, "x-order").as_deref(), Some("7"));
    assert_eq!(
        header(&answered, "x-ms-workflow-run-id").as_deref(),
        Some(run.id.as_str())
    );
    assert_eq!(
        answered.json::<Value>().await.unwrap(),
        json!({"created": 7})
    );
    // The answer can be fetched again.
    let again = served.client.get(&location).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 201);
}

#[tokio::test]
async fn an_asynchronous_run_that_never_responds_ends_in_an_error() {
    let mut setup = Setup::new(store().await);
    setup.response_options = Some("Asynchronous");
    let (served, mut runs) = setup.start().await;
    let accepted = served.client.post(&served.url).send().await.unwrap();
    assert_eq!(accepted.status().as_u16(), 202);
    let location = header(&accepted, "location").unwrap();
    let run = runs.recv().await.unwrap();
    drop(run.respond); // the run ends without running its Response action
    let answered = poll_until_answered(&served.client, &location).await;
    assert_eq!(answered.status().as_u16(), 502);
    let body: Value = answered.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NoResponse");
}

#[tokio::test]
async fn a_response_location_answers_from_the_run_record_after_a_restart() {
    let store = store().await;
    let mut setup = Setup::new(store.clone());
    setup.response_options = Some("Asynchronous");
    let (first, mut runs) = setup.start().await;
    let accepted = first.client.post(&first.url).send().await.unwrap();
    let location = header(&accepted, "location").unwrap();
    let run = runs.recv().await.unwrap();
    drop(first); // the host stops; the run record stays

    let mut setup = Setup::new(store.clone());
    setup.response_options = Some("Asynchronous");
    let (second, _runs) = setup.start().await;
    let moved = location.replace(location.split("/runtime").next().unwrap(), &second.base);
    // The record says the run still runs: keep polling.
    let waiting = second.client.get(&moved).send().await.unwrap();
    assert_eq!(waiting.status().as_u16(), 202);

    let mut transition = RunTransition::new(run.id.clone(), RunStatus::Succeeded);
    transition.end_time = Some(Utc::now());
    transition.response =
        Some(json!({"statusCode": 200, "headers": {"x-done": "yes"}, "body": {"ok": true}}));
    let mut batch = WriteBatch::new();
    batch.transition(transition);
    store.commit(batch).await.unwrap();

    let answered = second.client.get(&moved).send().await.unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    assert_eq!(header(&answered, "x-done").as_deref(), Some("yes"));
    assert_eq!(answered.json::<Value>().await.unwrap(), json!({"ok": true}));

    // A run that does not exist has no response to fetch.
    let unknown = moved.replace(run.id.as_str(), "08584000000000000000000000000");
    assert!(
        [401, 404].contains(
            &second
                .client
                .get(&unknown)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        ),
        "a location for another run is not valid"
    );
}

#[tokio::test]
async fn synchronous_answers_carry_the_workflow_headers() {
    let (served, mut runs) = Setup::new(store().await).start().await;
    let client = served.client.clone();
    let url = served.url.clone();
    let call = tokio::spawn(async move {
        client
            .post(&url)
            .header("x-ms-client-tracking-id", "order-7")
            .header("x-ms-correlation-id", "corr-1")
            .send()
            .await
            .unwrap()
    });
    let run = runs.recv().await.unwrap();
    assert_eq!(run.request.client_tracking_id.as_deref(), Some("order-7"));
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Text("done".into()),
        })
        .unwrap();
    let answered = call.await.unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let run_id = run.id.as_str();
    assert_eq!(
        header(&answered, "x-ms-workflow-run-id").as_deref(),
        Some(run_id)
    );
    assert_eq!(
        header(&answered, "x-ms-trigger-history-name").as_deref(),
        Some(run_id)
    );
    assert_eq!(
        header(&answered, "x-ms-workflow-name").as_deref(),
        Some("orders")
    );
    assert_eq!(
        header(&answered, "x-ms-client-tracking-id").as_deref(),
        Some("order-7")
    );
    assert_eq!(
        header(&answered, "x-ms-correlation-id").as_deref(),
        Some("corr-1")
    );
    assert!(header(&answered, "location").is_none());
    assert_eq!(answered.text().await.unwrap(), "done");

    // Without the request headers: the tracking id is the run id and a
    // correlation id is made up.
    let client = served.client.clone();
    let url = served.url.clone();
    let call = tokio::spawn(async move { client.post(&url).send().await.unwrap() });
    let run = runs.recv().await.unwrap();
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty,
        })
        .unwrap();
    let answered = call.await.unwrap();
    assert_eq!(
        header(&answered, "x-ms-client-tracking-id").as_deref(),
        Some(run.id.as_str())
    );
    let correlation = header(&answered, "x-ms-correlation-id").unwrap();
    assert_eq!(correlation.len(), 36, "{correlation}");
    assert_eq!(correlation.matches('-').count(), 4, "{correlation}");
}

#[tokio::test]
async fn suppressed_workflow_headers_are_not_sent() {
    let mut setup = Setup::new(store().await);
    setup.trigger = json!({"type": "Request", "kind": "Http", "operationOptions": "SuppressWorkflowHeadersOnResponse"});
    let (served, mut runs) = setup.start().await;
    let client = served.client.clone();
    let url = served.url.clone();
    let call = tokio::spawn(async move {
        client
            .post(&url)
            .header("x-ms-client-tracking-id", "t")
            .send()
            .await
            .unwrap()
    });
    let run = runs.recv().await.unwrap();
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty,
        })
        .unwrap();
    let answered = call.await.unwrap();
    assert_eq!(answered.status().as_u16(), 200);
    let workflow_headers: Vec<String> = answered
        .headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .filter(|k| k.starts_with("x-ms-"))
        .collect();
    assert!(workflow_headers.is_empty(), "{workflow_headers:?}");
}

#[tokio::test]
async fn a_caller_that_timed_out_can_no_longer_be_answered() {
    let mut setup = Setup::new(store().await);
    setup.response_timeout = Duration::from_secs(1);
    let (served, mut runs) = setup.start().await;
    let answered = served.client.post(&served.url).send().await.unwrap();
    assert_eq!(answered.status().as_u16(), 408);
    let run = runs.recv().await.unwrap();
    assert_eq!(
        header(&answered, "x-ms-workflow-run-id").as_deref(),
        Some(run.id.as_str())
    );
    // The run's Response action finds nobody waiting (the engine then fails
    // it with ActionResponseTimedOut).
    assert!(run.respond.is_closed());
    assert!(run
        .respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty
        })
        .is_err());
}

#[tokio::test]
async fn runs_started_through_the_management_api_can_still_respond() {
    let (served, mut runs) = Setup::new(store().await).start().await;
    let (status, _) = served
        .management(
            reqwest::Method::POST,
            "workflows/orders/triggers/manual/run",
        )
        .await;
    assert_eq!(status, 202);
    let run = runs.recv().await.unwrap();
    // Nobody waits, but the Response action is not failed for it.
    assert!(!run.respond.is_closed());
}

#[tokio::test]
async fn stateless_trigger_calls_are_recorded_and_expire_with_retention() {
    let store = store().await;
    let mut setup = Setup::new(store.clone());
    setup.kind = WorkflowKind::Stateless;
    let (served, mut runs) = setup.start().await;
    let client = served.client.clone();
    let url = served.url.clone();
    let call = tokio::spawn(async move {
        client
            .post(&url)
            .json(&json!({"n": 1}))
            .send()
            .await
            .unwrap()
    });
    let run = runs.recv().await.unwrap();
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty,
        })
        .unwrap();
    let answered = call.await.unwrap();
    let history = header(&answered, "x-ms-trigger-history-name").unwrap();

    let (status, page) = served
        .management(
            reqwest::Method::GET,
            "workflows/orders/triggers/manual/histories",
        )
        .await;
    assert_eq!(status, 200);
    let entries = page["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["name"], json!(history));
    assert_eq!(entries[0]["properties"]["fired"], json!(true));
    assert_eq!(entries[0]["properties"]["status"], json!("Succeeded"));
    assert_eq!(
        entries[0]["properties"]["run"]["name"],
        json!(run.id.as_str())
    );
    let (status, one) = served
        .management(
            reqwest::Method::GET,
            &format!("workflows/orders/triggers/manual/histories/{history}"),
        )
        .await;
    assert_eq!(status, 200, "{one}");

    // The run itself is not kept (it succeeded), so retention removes the
    // entry by its age.
    store
        .purge_older_than(Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let (_, page) = served
        .management(
            reqwest::Method::GET,
            "workflows/orders/triggers/manual/histories",
        )
        .await;
    assert_eq!(page["value"], json!([]), "{page}");
}

#[tokio::test]
async fn retention_keeps_the_history_of_a_run_it_keeps() {
    let store = store().await;
    let (served, mut runs) = Setup::new(store.clone()).start().await;
    let client = served.client.clone();
    let url = served.url.clone();
    let call = tokio::spawn(async move { client.post(&url).send().await.unwrap() });
    let run = runs.recv().await.unwrap();
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty,
        })
        .unwrap();
    call.await.unwrap();
    // The stateful run is still running: neither it nor its entry is purged.
    store
        .purge_older_than(Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let (_, page) = served
        .management(
            reqwest::Method::GET,
            "workflows/orders/triggers/manual/histories",
        )
        .await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1, "{page}");
}

#[tokio::test]
async fn http_webhook_triggers_list_their_callback_url() {
    let mut setup = Setup::new(store().await);
    setup.trigger = json!({
        "type": "HttpWebhook",
        "inputs": {
            "subscribe": {"method": "POST", "uri": "http://127.0.0.1:9/subscribe", "body": {"callback": "@{listCallbackUrl()}"}},
            "unsubscribe": {"method": "POST", "uri": "http://127.0.0.1:9/unsubscribe"}
        }
    });
    let (served, mut runs) = setup.start().await;
    let (status, answer) = served
        .management(
            reqwest::Method::POST,
            "workflows/orders/triggers/manual/listCallbackUrl",
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let value = answer["value"].as_str().unwrap();
    assert!(
        value.starts_with(&format!(
            "{}/api/orders/triggers/manual/invoke?",
            served.base
        )),
        "{value}"
    );
    assert_eq!(answer["method"], "POST");

    // The URL is the one the service calls back: it fires the trigger.
    let client = served.client.clone();
    let url = value.to_string();
    let call = tokio::spawn(async move {
        client
            .post(&url)
            .json(&json!({"event": 1}))
            .send()
            .await
            .unwrap()
    });
    let run = runs.recv().await.unwrap();
    assert_eq!(run.request.trigger_outputs["body"], json!({"event": 1}));
    run.respond
        .send(RunResponse {
            status: 200,
            headers: vec![],
            body: ResponseBody::Empty,
        })
        .unwrap();
    assert_eq!(call.await.unwrap().status().as_u16(), 200);

    // Without the signature, the callback is refused.
    let unsigned = value.split('?').next().unwrap();
    assert_eq!(
        served
            .client
            .post(unsigned)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn recurrence_triggers_have_no_callback_url() {
    let mut setup = Setup::new(store().await);
    setup.trigger =
        json!({"type": "Recurrence", "recurrence": {"frequency": "Day", "interval": 1}});
    let (served, _runs) = setup.start().await;
    let (status, answer) = served
        .management(
            reqwest::Method::POST,
            "workflows/orders/triggers/manual/listCallbackUrl",
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "TriggerHasNoCallbackUrl");
}
