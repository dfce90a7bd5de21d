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
use conflux_definition::WorkflowKind;
use conflux_server::{
    ResponseBody, RunResponse, RuntimeError, StartRequest, StartedRun, WorkflowRuntime,
};
use conflux_store::{RunId, RunRecord, RunStatus, RunTransition, Store, WorkflowName, WriteBatch};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

mod host_support;
use host_support::{memory_store as store, spec, Served};

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
            response: Some(rx.into()),
            driver: None,
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
    app_settings: HashMap<String, String>,
}

impl Setup {
    fn new(store: Arc<dyn Store>) -> Setup {
        Setup {
            store,
            kind: WorkflowKind::Stateful,
            trigger: json!({"type": "Request", "kind": "Http"}),
            response_options: None,
            response_timeout: Duration::from_secs(600),
            app_settings: HashMap::new(),
        }
    }

    /// A Response action with `operationOptions: Asynchronous`.
    fn asynchronous(store: Arc<dyn Store>) -> Setup {
        Setup {
            response_options: Some("Asynchronous"),
            ..Setup::new(store)
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
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = Arc::new(ControlledRuntime {
            store: self.store.clone(),
            stateless: self.kind == WorkflowKind::Stateless,
            runs: tx,
        });
        let workflows = vec![spec("orders", self.kind, doc)];
        let mut options = host_support::options(runtime, self.store, workflows);
        options.config.response_timeout = self.response_timeout;
        options.app_settings = self.app_settings;
        (host_support::serve(options).await, rx)
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

/// A Response action's answer with status 200 and no headers.
fn ok(body: ResponseBody) -> RunResponse {
    RunResponse {
        status: 200,
        headers: vec![],
        body,
    }
}

/// Sends a trigger call, answers the run it starts with `response` once the
/// run is there, and returns the caller's answer and the run.
async fn answer_call(
    runs: &mut mpsc::UnboundedReceiver<Run>,
    call: reqwest::RequestBuilder,
    response: RunResponse,
) -> (reqwest::Response, RunId, StartRequest) {
    let call = tokio::spawn(call.send());
    let run = runs.recv().await.unwrap();
    run.respond.send(response).unwrap();
    (call.await.unwrap().unwrap(), run.id, run.request)
}

/// A POST to the signed callback URL of `orders`.
fn trigger_call(served: &Served) -> reqwest::RequestBuilder {
    served.client.post(served.callback("orders"))
}

/// The status of an answer to `request`.
async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// `GET .../triggers/manual/histories{rest}` of `orders`, which must answer 200.
async fn histories(served: &Served, rest: &str) -> Value {
    let path = format!("workflows/orders/triggers/manual/histories{rest}");
    let (status, answer) = served.management(reqwest::Method::GET, &path).await;
    assert_eq!(status, 200, "{path}: {answer}");
    answer
}

/// Retention as it runs a day from now.
async fn purge_a_day_later(store: &dyn Store) {
    let cutoff = Utc::now() + chrono::Duration::days(1);
    store.purge_older_than(cutoff).await.unwrap();
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
    let (served, mut runs) = Setup::asynchronous(store().await).start().await;

    let accepted = trigger_call(&served)
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
    assert_eq!(status_of(served.client.get(&forged)).await, 401);
    let unsigned = location.split('?').next().unwrap();
    assert_eq!(status_of(served.client.get(unsigned)).await, 401);

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
    let (served, mut runs) = Setup::asynchronous(store().await).start().await;
    let accepted = trigger_call(&served).send().await.unwrap();
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
    let (first, mut runs) = Setup::asynchronous(store.clone()).start().await;
    let accepted = trigger_call(&first).send().await.unwrap();
    let location = header(&accepted, "location").unwrap();
    let run = runs.recv().await.unwrap();
    drop(first); // the host stops; the run record stays

    let (second, _runs) = Setup::asynchronous(store.clone()).start().await;
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
        [401, 404].contains(&status_of(second.client.get(&unknown)).await),
        "a location for another run is not valid"
    );
}

#[tokio::test]
async fn synchronous_answers_carry_the_workflow_headers() {
    let (served, mut runs) = Setup::new(store().await).start().await;
    let call = trigger_call(&served)
        .header("x-ms-client-tracking-id", "order-7")
        .header("x-ms-correlation-id", "corr-1");
    let done = ok(ResponseBody::Text("done".into()));
    let (answered, run_id, request) = answer_call(&mut runs, call, done).await;
    assert_eq!(request.client_tracking_id.as_deref(), Some("order-7"));
    assert_eq!(answered.status().as_u16(), 200);
    let run_id = run_id.as_str();
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
    let call = trigger_call(&served);
    let (answered, run_id, _) = answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
    assert_eq!(
        header(&answered, "x-ms-client-tracking-id").as_deref(),
        Some(run_id.as_str())
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
    let call = trigger_call(&served).header("x-ms-client-tracking-id", "t");
    let (answered, _, _) = answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
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
    let answered = trigger_call(&served).send().await.unwrap();
    assert_eq!(answered.status().as_u16(), 408);
    let run = runs.recv().await.unwrap();
    assert_eq!(
        header(&answered, "x-ms-workflow-run-id").as_deref(),
        Some(run.id.as_str())
    );
    // The run's Response action finds nobody waiting (the engine then fails
    // it with ActionResponseTimedOut).
    assert!(run.respond.is_closed());
    assert!(run.respond.send(ok(ResponseBody::Empty)).is_err());
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
async fn stateless_trigger_calls_are_not_recorded_by_default() {
    let mut setup = Setup::new(store().await);
    setup.kind = WorkflowKind::Stateless;
    let (served, mut runs) = setup.start().await;
    let call = trigger_call(&served).json(&json!({"n": 1}));
    let (answered, _, _) = answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
    assert_eq!(answered.status().as_u16(), 200);
    // The answer still names the call, as in Logic Apps.
    assert!(header(&answered, "x-ms-trigger-history-name").is_some());
    let page = histories(&served, "").await;
    assert_eq!(page["value"], json!([]), "{page}");
}

#[tokio::test]
async fn stateless_trigger_calls_with_run_history_are_recorded_and_expire_with_retention() {
    let store = store().await;
    let mut setup = Setup::new(store.clone());
    setup.kind = WorkflowKind::Stateless;
    // Matched without regard to case, among other options.
    setup.app_settings.insert(
        "workflows.ORDERS.operationOptions".into(),
        "None, withStatelessRunHistory".into(),
    );
    let (served, mut runs) = setup.start().await;
    let call = trigger_call(&served).json(&json!({"n": 1}));
    let (answered, run_id, _) = answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
    let history = header(&answered, "x-ms-trigger-history-name").unwrap();

    let page = histories(&served, "").await;
    let entries = page["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["name"], json!(history));
    assert_eq!(entries[0]["properties"]["fired"], json!(true));
    assert_eq!(entries[0]["properties"]["status"], json!("Succeeded"));
    assert_eq!(
        entries[0]["properties"]["run"]["name"],
        json!(run_id.as_str())
    );
    histories(&served, &format!("/{history}")).await;

    // The run itself is not kept (it succeeded), so retention removes the
    // entry by its age.
    purge_a_day_later(store.as_ref()).await;
    let page = histories(&served, "").await;
    assert_eq!(page["value"], json!([]), "{page}");
}

#[tokio::test]
async fn retention_keeps_the_history_of_a_run_it_keeps() {
    let store = store().await;
    let (served, mut runs) = Setup::new(store.clone()).start().await;
    let call = trigger_call(&served);
    answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
    // The stateful run is still running: neither it nor its entry is purged.
    purge_a_day_later(store.as_ref()).await;
    let page = histories(&served, "").await;
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
    let call = served.client.post(value).json(&json!({"event": 1}));
    let (answered, _, request) = answer_call(&mut runs, call, ok(ResponseBody::Empty)).await;
    assert_eq!(
        request.trigger_outputs.built().to_json()["body"],
        json!({"event": 1})
    );
    assert_eq!(answered.status().as_u16(), 200);

    // Without the signature, the callback is refused.
    let unsigned = value.split('?').next().unwrap();
    assert_eq!(status_of(served.client.post(unsigned)).await, 401);
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
