//! Http polling triggers (`type: "Http"` with a `recurrence`): one task per
//! trigger polls the endpoint on the trigger's recurrence and fires a run
//! when the endpoint says there is something to do.
//!
//! The next poll time and the URL to poll (from a `Location` header) are kept
//! in the trigger's state in the store, so a restart continues where the
//! previous host stopped.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use conflux_definition::TriggerDefinition;
use conflux_expr::{EvalError, EvalHost};
use conflux_store::{ActionStatus, RunId, TriggerHistoryRecord, WorkflowName, WriteBatch};
use serde_json::{json, Map, Value};

use crate::recurrence::{already_fired, parse_time, tracking_id, Recurrence};
use crate::state::{HostState, HostedWorkflow};

/// Starts a polling task for every Http trigger that has a recurrence.
pub fn spawn_all(state: Arc<HostState>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    // A hung endpoint must not stall its trigger: the outbound limit of Logic Apps
    // Standard bounds every poll.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(235))
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    for wf in &state.workflows {
        for (name, trigger) in &wf.workflow.triggers {
            if !trigger.type_name.eq_ignore_ascii_case("Http") {
                continue;
            }
            let Some(raw) = trigger
                .recurrence
                .as_ref()
                .or_else(|| trigger.raw.get("recurrence"))
            else {
                tracing::warn!(workflow = %wf.name, trigger = %name, "Http trigger has no recurrence object; it will not poll.");
                continue;
            };
            match Recurrence::parse(raw) {
                Ok(recurrence) => handles.push(tokio::spawn(poll_loop(
                    state.clone(),
                    wf.clone(),
                    name.clone(),
                    recurrence,
                    client.clone(),
                ))),
                Err(err) => {
                    tracing::warn!(workflow = %wf.name, trigger = %name, error = %err, "Http trigger recurrence is invalid; it will not poll.")
                }
            }
        }
    }
    handles
}

/// One answer from the polled endpoint.
#[derive(Debug)]
struct Polled {
    status: u16,
    headers: Map<String, Value>,
    body: Value,
    retry_after: Option<Duration>,
    location: Option<String>,
}

impl Polled {
    fn outputs(&self) -> Value {
        json!({"statusCode": self.status, "headers": self.headers, "body": self.body})
    }
}

/// What the poll decided for the next attempt.
struct Next {
    at: Option<DateTime<Utc>>,
    poll_url: Option<String>,
}

async fn poll_loop(
    state: Arc<HostState>,
    wf: Arc<HostedWorkflow>,
    trigger: String,
    recurrence: Recurrence,
    client: reqwest::Client,
) {
    let workflow = WorkflowName::new(wf.name.as_str());
    let stored = state
        .store
        .get_trigger_state(&workflow, &trigger)
        .await
        .ok()
        .flatten()
        .unwrap_or(Value::Null);
    let now = state.clock.now();
    let anchor = parse_time(&stored, "anchor").unwrap_or(now);
    let mut poll_url = stored
        .get("pollUrl")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Without a startTime the first poll is immediate, as for Recurrence.
    let mut next = match parse_time(&stored, "nextPoll") {
        Some(at) => Some(at),
        None if recurrence.start.is_none() => Some(now),
        None => recurrence.next_after(now - Duration::nanoseconds(1), anchor),
    };
    while let Some(at) = next {
        persist(&state, &workflow, &trigger, anchor, Some(at), &poll_url).await;
        state.clock.sleep_until(at).await;
        let decided = match wf.workflow.triggers.get(&trigger) {
            Some(def)
                if wf.is_enabled() && !already_fired(&state, &workflow, &trigger, at).await =>
            {
                poll_once(
                    &state,
                    &wf,
                    def,
                    &recurrence,
                    anchor,
                    at,
                    poll_url.clone(),
                    &client,
                )
                .await
            }
            _ => Next {
                at: recurrence.next_after(at.max(state.clock.now()), anchor),
                poll_url: poll_url.clone(),
            },
        };
        next = decided.at;
        poll_url = decided.poll_url;
        persist(&state, &workflow, &trigger, anchor, next, &poll_url).await;
    }
}

async fn persist(
    state: &HostState,
    workflow: &WorkflowName,
    trigger: &str,
    anchor: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
    poll_url: &Option<String>,
) {
    let value = json!({"anchor": anchor, "nextPoll": next, "pollUrl": poll_url});
    if let Err(err) = state
        .store
        .put_trigger_state(workflow, trigger, Some(value))
        .await
    {
        tracing::warn!(workflow = %workflow, trigger = %trigger, error = %err, "Could not store the next poll time.");
    }
}

#[allow(clippy::too_many_arguments)] // one poll needs the whole trigger context
async fn poll_once(
    state: &HostState,
    wf: &HostedWorkflow,
    def: &TriggerDefinition,
    recurrence: &Recurrence,
    anchor: DateTime<Utc>,
    at: DateTime<Utc>,
    poll_url: Option<String>,
    client: &reqwest::Client,
) -> Next {
    let occurrence = || recurrence.next_after(at.max(state.clock.now()), anchor);
    let inputs = match evaluate_inputs(state, wf, def) {
        Ok(inputs) => inputs,
        Err(message) => {
            record_failure(state, wf, def, "InvalidTriggerInputs", &message, None).await;
            return Next {
                at: occurrence(),
                poll_url,
            };
        }
    };
    let polled = match send(client, &inputs, poll_url.as_deref()).await {
        Ok(polled) => polled,
        Err(message) => {
            // A transport failure keeps the URL: the endpoint may come back.
            record_failure(state, wf, def, "PollFailed", &message, None).await;
            return Next {
                at: occurrence(),
                poll_url,
            };
        }
    };
    let outputs = polled.outputs();
    let decides_status = def.conditions.iter().any(|c| {
        let text = c.source();
        text.contains("statusCode") || text.contains(".code") || text.contains("'code'")
    });
    let fires_by_status = if decides_status {
        polled.status < 400
    } else {
        polled.status == 200
    };
    if fires_by_status {
        let id = tracking_id(&def.name, at);
        if let Err(err) = crate::triggers::fire(state, wf, def, outputs, Some(id)).await {
            tracing::warn!(workflow = %wf.name, trigger = %def.name, error = %err.message, "Polled run could not start.");
        }
    } else if polled.status >= 400 {
        let message = format!("the polled endpoint answered HTTP {}", polled.status);
        record_failure(state, wf, def, "PollFailed", &message, Some(outputs)).await;
    } else {
        record_skipped(state, wf, def, outputs).await;
    }
    let retry_after = polled.retry_after.map(|d| state.clock.now() + d);
    let at = match (polled.status, retry_after) {
        (200, Some(after)) => Some(after),
        // 202 waits for Retry-After only when that is sooner than the next occurrence.
        (202, Some(after)) => Some(occurrence().map_or(after, |o| o.min(after))),
        _ => occurrence(),
    };
    Next {
        at,
        poll_url: polled.location,
    }
}

fn evaluate_inputs(
    state: &HostState,
    wf: &HostedWorkflow,
    def: &TriggerDefinition,
) -> Result<conflux_expr::Value, String> {
    let host = InputsHost {
        parameters: &wf.parameters,
        settings: &state.app_settings,
        now: state.clock.now(),
    };
    match &def.inputs {
        Some(inputs) => inputs
            .eval(&host)
            .map_err(|err| format!("{}.inputs: {err}", def.path)),
        None => Err(format!(
            "{}.inputs is missing; an Http trigger needs at least 'uri'",
            def.path
        )),
    }
}

async fn send(
    client: &reqwest::Client,
    inputs: &conflux_expr::Value,
    poll_url: Option<&str>,
) -> Result<Polled, String> {
    let method_text = inputs
        .get("method")
        .map(|m| m.to_text())
        .unwrap_or_else(|| "GET".into());
    let method = reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("inputs.method '{method_text}' is not an HTTP method"))?;
    let url = match poll_url {
        // The Location URL is complete; the trigger's queries belong to the original URL.
        Some(location) => reqwest::Url::parse(location)
            .map_err(|err| format!("the stored Location URL is invalid: {err}"))?,
        None => {
            let uri = inputs
                .get("uri")
                .map(|u| u.to_text())
                .ok_or("inputs.uri is missing")?;
            let mut url = reqwest::Url::parse(&uri)
                .map_err(|err| format!("inputs.uri '{uri}' is not an absolute URL: {err}"))?;
            if let Some(conflux_expr::Value::Object(queries)) = inputs.get("queries") {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in queries.iter() {
                    pairs.append_pair(k, &v.to_text());
                }
            }
            url
        }
    };
    let mut req = client.request(method, url.clone());
    if let Some(auth) = inputs.get("authentication").filter(|a| !a.is_null()) {
        let kind = auth.get("type").map(|t| t.to_text()).unwrap_or_default();
        req = match kind.to_ascii_lowercase().as_str() {
            "basic" => {
                let user = auth.get("username").map(|u| u.to_text()).unwrap_or_default();
                req.basic_auth(user, auth.get("password").map(|p| p.to_text()))
            }
            "raw" => {
                let value = auth
                    .get("value")
                    .ok_or("Raw authentication needs a 'value' (the Authorization header)")?;
                req.header("Authorization", value.to_text())
            }
            other => {
                return Err(format!(
                    "authentication type '{other}' is not supported by the Http polling trigger; use Basic or Raw"
                ))
            }
        };
    }
    let mut has_content_type = false;
    if let Some(conflux_expr::Value::Object(headers)) = inputs.get("headers") {
        for (k, v) in headers.iter() {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            req = req.header(k.as_str(), v.to_text());
        }
    }
    match inputs.get("body") {
        None | Some(conflux_expr::Value::Null) => {}
        Some(conflux_expr::Value::String(s)) => req = req.body(s.to_string()),
        Some(other) => {
            if !has_content_type {
                req = req.header("Content-Type", "application/json");
            }
            req = req.body(other.to_json().to_string());
        }
    }
    let response = req
        .send()
        .await
        .map_err(|err| format!("polling {} failed: {}", redact(&url), err.without_url()))?;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in response.headers() {
        headers.insert(
            k.as_str().to_string(),
            Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let retry_after = header("retry-after")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| *s >= 0)
        .map(Duration::seconds);
    let location = header("location").and_then(|l| url.join(&l).ok().map(String::from));
    let content_type = header("content-type").unwrap_or_default();
    let bytes = response.bytes().await.map_err(|err| {
        format!(
            "reading the answer of {} failed: {}",
            redact(&url),
            err.without_url()
        )
    })?;
    Ok(Polled {
        status,
        headers,
        body: decode_body(&content_type, &bytes),
        retry_after,
        location,
    })
}

/// Query strings often carry signatures; errors show the URL without them.
fn redact(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

/// JSON bodies are parsed, text is kept, anything else becomes
/// `{"$content-type", "$content"}` as for the Http action.
fn decode_body(content_type: &str, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("json") {
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return v;
        }
    }
    if ct.is_empty() || ct.starts_with("text/") || ct.contains("json") {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Value::String(s.to_string());
        }
    }
    conflux_expr::Value::content(conflux_expr::Content::new(content_type, bytes.to_vec())).to_json()
}

async fn record_skipped(
    state: &HostState,
    wf: &HostedWorkflow,
    def: &TriggerDefinition,
    outputs: Value,
) {
    record(
        state,
        wf,
        def,
        ActionStatus::Skipped,
        "NoDataReturned",
        None,
        Some(outputs),
    )
    .await;
}

async fn record_failure(
    state: &HostState,
    wf: &HostedWorkflow,
    def: &TriggerDefinition,
    code: &str,
    message: &str,
    outputs: Option<Value>,
) {
    tracing::warn!(workflow = %wf.name, trigger = %def.name, error = %message, "Http trigger poll failed; waiting for the next occurrence.");
    let error = json!({"code": code, "message": message});
    record(
        state,
        wf,
        def,
        ActionStatus::Failed,
        code,
        Some(error),
        outputs,
    )
    .await;
}

async fn record(
    state: &HostState,
    wf: &HostedWorkflow,
    def: &TriggerDefinition,
    status: ActionStatus,
    code: &str,
    error: Option<Value>,
    outputs: Option<Value>,
) {
    if wf.kind == conflux_definition::WorkflowKind::Stateless {
        return;
    }
    let now = state.clock.now();
    let mut batch = WriteBatch::new();
    batch.record_trigger_history(TriggerHistoryRecord {
        workflow: WorkflowName::new(wf.name.as_str()),
        trigger: def.name.clone(),
        id: RunId::generate(now),
        status,
        code: Some(code.into()),
        error,
        start_time: now,
        end_time: Some(now),
        fired: false,
        run_id: None,
        inputs: None,
        outputs: outputs.filter(|_| !def.runtime.secure_data.outputs),
    });
    if let Err(err) = state.store.commit(batch).await {
        tracing::warn!(workflow = %wf.name, error = %err, "Could not record the trigger history entry.");
    }
}

/// What the trigger's inputs may refer to: parameters, app settings, time.
struct InputsHost<'a> {
    parameters: &'a HashMap<String, Value>,
    settings: &'a HashMap<String, String>,
    now: DateTime<Utc>,
}

impl EvalHost for InputsHost<'_> {
    fn parameter(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        self.parameters
            .get(name)
            .cloned()
            .map(conflux_expr::Value::from)
            .ok_or_else(|| EvalError::new(format!("the workflow has no parameter '{name}'")))
    }

    fn app_setting(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        self.settings
            .get(name)
            .map(|v| conflux_expr::Value::from(Value::String(v.clone())))
            .ok_or_else(|| EvalError::new(format!("app setting '{name}' is not defined")))
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_like_the_http_action() {
        assert_eq!(
            decode_body("application/json", br#"{"a":1}"#),
            json!({"a": 1})
        );
        assert_eq!(decode_body("text/plain", b"hi"), json!("hi"));
        assert_eq!(decode_body("", b""), Value::Null);
        let binary = decode_body("application/octet-stream", &[0, 1, 2]);
        assert_eq!(binary["$content-type"], "application/octet-stream");
        assert!(binary["$content"].is_string());
    }

    #[test]
    fn redacted_urls_drop_the_query() {
        let url = reqwest::Url::parse("http://127.0.0.1:1/poll?sig=secret").unwrap();
        assert_eq!(redact(&url), "http://127.0.0.1:1/poll");
    }
}
