//! Http polling triggers (`type: "Http"` with a `recurrence`): one task per
//! trigger polls the endpoint on the trigger's recurrence and fires a run
//! when the endpoint says there is something to do.
//!
//! The next poll time and the URL to poll (from a `Location` header) are kept
//! in the trigger's state in the store, so a restart continues where the
//! previous host stopped.
//!
//! A poll answered with 408, 429 or 5xx, or not answered at all, is retried
//! under the trigger's `retryPolicy` (a `Retry-After` sets the wait), and the
//! `authentication` is applied by the same [`RequestAuthorizer`] as the Http
//! action's. When the workflow cannot take another run (its waiting-runs
//! queue is full) the answer is left unconsumed: no run, no new poll URL.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use conflux_definition::TriggerDefinition;
use conflux_engine::{ExecutorError, RequestAuthorizer, RetryState};
use conflux_expr::{EvalError, EvalHost};
use conflux_store::{ActionStatus, RunId, TriggerHistoryRecord, WorkflowName, WriteBatch};
use serde_json::{json, Map, Value};

use crate::recurrence::{
    already_fired, first_occurrence, parse_time, recurring_triggers, stored_state, tracking_id,
    Missed, Recurrence,
};
use crate::reply::ErrorKind;
use crate::state::{HostState, HostedWorkflow};

/// Starts a polling task for every Http trigger that has a recurrence.
pub fn spawn_all(state: Arc<HostState>) -> Vec<tokio::task::JoinHandle<()>> {
    // A hung endpoint must not stall its trigger: the outbound limit of Logic Apps
    // Standard bounds every poll.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(235))
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    recurring_triggers(&state, "Http", "poll")
        .into_iter()
        .map(|(wf, name, recurrence)| {
            tokio::spawn(poll_loop(
                state.clone(),
                wf,
                name,
                recurrence,
                client.clone(),
            ))
        })
        .collect()
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

    /// 408, 429 and 5xx are retried under the trigger's retry policy.
    fn retryable(&self) -> bool {
        self.status == 408 || self.status == 429 || self.status >= 500
    }
}

/// A poll that got no answer.
#[derive(Debug)]
struct SendError {
    code: String,
    message: String,
    /// Connection failures and unreachable token services are retried.
    retryable: bool,
    retry_after: Option<std::time::Duration>,
}

impl SendError {
    fn permanent(code: &str, message: impl Into<String>) -> SendError {
        SendError {
            code: code.into(),
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    fn transport(message: String) -> SendError {
        SendError {
            code: "PollFailed".into(),
            message,
            retryable: true,
            retry_after: None,
        }
    }
}

impl From<ExecutorError> for SendError {
    fn from(err: ExecutorError) -> SendError {
        SendError {
            code: err.code,
            message: err.message,
            retryable: err.retryable,
            retry_after: err.retry_after,
        }
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
    let stored = stored_state(&state, &workflow, &trigger).await;
    let now = state.clock.now();
    let anchor = parse_time(&stored, "anchor").unwrap_or(now);
    let mut poll_url = stored
        .get("pollUrl")
        .and_then(Value::as_str)
        .map(str::to_string);
    // Without a startTime the first poll is immediate, as for Recurrence.
    let mut next = first_occurrence(
        &recurrence,
        &stored,
        "nextPoll",
        anchor,
        now,
        Missed::FireOnce,
    );
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
    let authorizer = state.authorizer.get();
    let mut retry = RetryState::new(&def.retry_policy, state.clock.now());
    let mut attempts = 1;
    let polled = loop {
        let answer = send(client, authorizer, &inputs, poll_url.as_deref()).await;
        let (retryable, retry_after) = match &answer {
            Ok(polled) => (
                polled.retryable(),
                polled.retry_after.and_then(|d| d.to_std().ok()),
            ),
            Err(err) => (err.retryable, err.retry_after),
        };
        if retryable {
            if let Some(delay) = retry.next_delay(retry_after) {
                let until = state.clock.now() + Duration::from_std(delay).unwrap_or(Duration::MAX);
                state.clock.sleep_until(until).await;
                attempts += 1;
                continue;
            }
        }
        break answer;
    };
    let tries = if attempts == 1 {
        String::new()
    } else {
        format!(" (after {attempts} attempts)")
    };
    let polled = match polled {
        Ok(polled) => polled,
        Err(err) => {
            // A transport failure keeps the URL: the endpoint may come back.
            let message = format!("{}{tries}", err.message);
            record_failure(state, wf, def, &err.code, &message, None).await;
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
        match crate::triggers::fire(
            state,
            wf,
            def,
            conflux_expr::Value::from(&outputs),
            Some(id),
        )
        .await
        {
            Ok(_) => {}
            // The workflow's waiting-runs queue is full (or the engine is
            // stopping): the answer is not consumed. The poll URL stays as it
            // was, so the next occurrence asks for the same data again.
            Err(err) if err.kind == ErrorKind::Throttled => {
                tracing::info!(workflow = %wf.name, trigger = %def.name, "The workflow cannot take another run now; the poll is skipped.");
                let error = json!({"code": "TooManyWaitingRuns", "message": err.message});
                record(
                    state,
                    wf,
                    def,
                    ActionStatus::Skipped,
                    "TooManyWaitingRuns",
                    Some(error),
                    Some(outputs),
                )
                .await;
                return Next {
                    at: occurrence(),
                    poll_url,
                };
            }
            // A condition or splitOn that cannot be evaluated fails this answer
            // for good; moving on keeps one bad answer from blocking the trigger.
            Err(err) if err.kind == ErrorKind::BadRequest => {
                record_failure(state, wf, def, &err.code, &err.message, Some(outputs)).await;
            }
            Err(err) => {
                record_failure(state, wf, def, &err.code, &err.message, Some(outputs)).await;
                return Next {
                    at: occurrence(),
                    poll_url,
                };
            }
        }
    } else if polled.status >= 400 {
        let message = format!("the polled endpoint answered HTTP {}{tries}", polled.status);
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
    authorizer: Option<&Arc<dyn RequestAuthorizer>>,
    inputs: &conflux_expr::Value,
    poll_url: Option<&str>,
) -> Result<Polled, SendError> {
    let invalid = |message: String| SendError::permanent("InvalidTriggerInputs", message);
    let method_text = inputs
        .get("method")
        .map(|m| m.to_text())
        .unwrap_or_else(|| "GET".into());
    let method =
        reqwest::Method::from_bytes(method_text.to_ascii_uppercase().as_bytes()).map_err(|_| {
            invalid(format!(
                "inputs.method '{method_text}' is not an HTTP method"
            ))
        })?;
    let url = match poll_url {
        // The Location URL is complete; the trigger's queries belong to the original URL.
        Some(location) => reqwest::Url::parse(location)
            .map_err(|err| invalid(format!("the stored Location URL is invalid: {err}")))?,
        None => {
            let uri = inputs
                .get("uri")
                .map(|u| u.to_text())
                .ok_or_else(|| invalid("inputs.uri is missing".into()))?;
            let mut url = reqwest::Url::parse(&uri).map_err(|err| {
                invalid(format!("inputs.uri '{uri}' is not an absolute URL: {err}"))
            })?;
            if let Some(conflux_expr::Value::Object(queries)) = inputs.get("queries") {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in queries.iter() {
                    pairs.append_pair(k, &v.to_text());
                }
            }
            url
        }
    };
    let authentication = inputs.get("authentication").filter(|a| !a.is_null());
    let mut req = match (authentication, authorizer) {
        (Some(auth), Some(authorizer)) => {
            authorizer
                .request(&auth.to_json(), method, url.as_str())
                .await?
        }
        (Some(auth), None) => builtin_authentication(client, &auth, method, url.clone())?,
        (None, _) => client.request(method, url.clone()),
    };
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
    let response = req.send().await.map_err(|err| {
        SendError::transport(format!(
            "polling {} failed: {}",
            redact(&url),
            err.without_url()
        ))
    })?;
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
        SendError::transport(format!(
            "reading the answer of {} failed: {}",
            redact(&url),
            err.without_url()
        ))
    })?;
    Ok(Polled {
        status,
        headers,
        body: decode_body(&content_type, &bytes),
        retry_after,
        location,
    })
}

/// Basic and Raw authentication, for a host started without the outbound
/// authenticator; any other type is refused rather than sent unauthenticated.
fn builtin_authentication(
    client: &reqwest::Client,
    auth: &conflux_expr::Value,
    method: reqwest::Method,
    url: reqwest::Url,
) -> Result<reqwest::RequestBuilder, SendError> {
    let kind = auth.get("type").map(|t| t.to_text()).unwrap_or_default();
    let req = client.request(method, url);
    match kind.to_ascii_lowercase().as_str() {
        "basic" => {
            let user = auth.get("username").map(|u| u.to_text()).unwrap_or_default();
            Ok(req.basic_auth(user, auth.get("password").map(|p| p.to_text())))
        }
        "raw" => match auth.get("value") {
            Some(value) => Ok(req.header("Authorization", value.to_text())),
            None => Err(SendError::permanent(
                "InvalidAuthentication",
                "Raw authentication needs a 'value' (the Authorization header)",
            )),
        },
        other => Err(SendError::permanent(
            "UnsupportedAuthentication",
            format!("authentication type '{other}' needs the host's outbound authenticator, which this host was started without"),
        )),
    }
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
    tracing::warn!(workflow = %wf.name, trigger = %def.name, code = %code, error = %message, "Http trigger poll failed; waiting for the next occurrence.");
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
    // Kept for stateless workflows too: a poll that started no run is only
    // visible here.
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
        crate::triggers::parameter_value(self.parameters, name)
    }

    fn app_setting(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        crate::triggers::app_setting_value(self.settings, name)
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
