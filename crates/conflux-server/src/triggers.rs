//! The Request trigger endpoint and the firing rules every trigger shares
//! (conditions, splitOn, trigger histories).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use chrono::{DateTime, Utc};
use conflux_definition::TriggerDefinition;
use conflux_expr::{EvalError, EvalHost};
use conflux_store::{ActionStatus, RunId, TriggerHistoryRecord, WorkflowName, WriteBatch};
use serde_json::{json, Value};

use crate::callback::QueryParams;
use crate::reply::{self, ApiError, ErrorKind};
use crate::request::{trigger_outputs, OutputsRequest, PathTemplate};
use crate::runtime::{ResponseBody, RunResponse, RuntimeError, StartRequest, StartedRun};
use crate::state::{HostState, HostedWorkflow};

/// `/api/{workflow}/triggers/{trigger}/invoke`
pub async fn invoke(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((workflow, trigger)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call {
        workflow,
        trigger,
        relative: String::new(),
        query,
        method,
        headers,
        peer,
    };
    handle(&state, call, body).await.unwrap_or_else(|err| {
        tracing::debug!(code = %err.code, "Trigger call refused.");
        axum::response::IntoResponse::into_response(err)
    })
}

/// `/api/{workflow}/triggers/{trigger}/invoke/{*relative}`
pub async fn invoke_relative(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((workflow, trigger, relative)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let call = Call {
        workflow,
        trigger,
        relative,
        query,
        method,
        headers,
        peer,
    };
    handle(&state, call, body).await.unwrap_or_else(|err| {
        tracing::debug!(code = %err.code, "Trigger call refused.");
        axum::response::IntoResponse::into_response(err)
    })
}

struct Call {
    workflow: String,
    trigger: String,
    relative: String,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    peer: SocketAddr,
}

async fn handle(state: &Arc<HostState>, call: Call, body: Body) -> Result<Response, ApiError> {
    let wf = state.workflow(&call.workflow).cloned().ok_or_else(|| {
        ApiError::not_found(
            "WorkflowNotFound",
            format!(
                "workflow '{}' does not exist in this project",
                call.workflow
            ),
        )
    })?;
    let trigger = wf
        .workflow
        .triggers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&call.trigger))
        .map(|(_, t)| t)
        .filter(|t| {
            t.type_name.eq_ignore_ascii_case("Request") || crate::webhook::is_webhook_trigger(t)
        })
        .ok_or_else(|| {
            ApiError::not_found(
                "TriggerNotFound",
                format!(
                    "workflow '{}' has no Request trigger named '{}'",
                    wf.name, call.trigger
                ),
            )
        })?;
    if !wf.access.triggers.allows(call.peer.ip()) {
        return Err(ApiError::forbidden(
            "AuthorizationFailedByIpAddress",
            format!(
                "the caller address {} is not allowed to call the triggers of workflow '{}' (accessControl.triggers.allowedCallerIpAddresses)",
                call.peer.ip(),
                wf.name
            ),
        ));
    }
    let query = QueryParams::parse(call.query.as_deref());
    // SAS or, with OAuth authorization policies, a bearer token (access.rs).
    crate::access::authorize_trigger_call(state, &wf, &trigger.name, &query, &call.headers).await?;
    if !wf.is_enabled() {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "WorkflowDisabled",
            format!(
                "workflow '{}' is disabled; enable it to accept calls",
                wf.name
            ),
        ));
    }
    let inputs = trigger.raw.get("inputs");
    let expected_method = inputs
        .and_then(|i| i.get("method"))
        .and_then(Value::as_str)
        .unwrap_or("POST");
    if !call.method.as_str().eq_ignore_ascii_case(expected_method) {
        return Err(ApiError::new(
            ErrorKind::MethodNotAllowed,
            "TriggerRequestMethodNotValid",
            format!(
                "trigger '{}' accepts {} requests, not {}",
                trigger.name,
                expected_method.to_ascii_uppercase(),
                call.method
            ),
        ));
    }
    let template = inputs
        .and_then(|i| i.get("relativePath"))
        .and_then(Value::as_str)
        .map(PathTemplate::parse);
    let relative_path_parameters = match &template {
        Some(template) => Some(template.matches(&call.relative).ok_or_else(|| {
            ApiError::not_found(
                "RelativePathNotMatched",
                format!(
                    "the path '{}' does not match the trigger's relativePath '{}'",
                    call.relative,
                    inputs
                        .and_then(|i| i.get("relativePath"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
            )
        })?),
        None if !call.relative.trim_matches('/').is_empty() => {
            return Err(ApiError::not_found(
                "RelativePathNotMatched",
                format!(
                    "trigger '{}' has no relativePath; call it without '/{}'",
                    trigger.name, call.relative
                ),
            ))
        }
        None => None,
    };
    let bytes = read_body(body, &call.headers, state.config.max_body_bytes).await?;
    let outputs = trigger_outputs(OutputsRequest {
        headers: &call.headers,
        body: &bytes,
        query: &query,
        relative_path_parameters,
        include_authorization: trigger.options.include_authorization_headers_in_outputs,
    })
    .map_err(|err| ApiError::bad_request("InvalidRequestContent", err.0))?;
    if trigger.options.enable_schema_validation {
        if let Some(schema) = inputs.and_then(|i| i.get("schema")) {
            let body = outputs.get("body").cloned().unwrap_or(Value::Null);
            let errors = crate::schema::validate(schema, &body);
            if !errors.is_empty() {
                return Err(ApiError::bad_request(
                    "TriggerInputSchemaMismatch",
                    format!(
                        "the request body does not match the trigger's schema: {}",
                        errors.join("; ")
                    ),
                ));
            }
        }
    }
    let tracking = call
        .headers
        .get("x-ms-client-tracking-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let correlation = call
        .headers
        .get("x-ms-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map_or_else(new_correlation_id, str::to_string);
    tracing::debug!(workflow = %wf.name, trigger = %trigger.name, correlation = %correlation, "Trigger called.");
    let fired = fire_keeping_responses(state, &wf, trigger, outputs, tracking.clone()).await?;
    let suppress = trigger.options.suppress_workflow_headers_on_response;
    let mut headers = HeaderMap::new();
    match fired {
        Fired::Skipped { history } => {
            if !suppress {
                workflow_headers(
                    &mut headers,
                    &WorkflowHeaders {
                        workflow: &wf.name,
                        history: history.as_str(),
                        run: None,
                        tracking: tracking.as_deref(),
                        correlation: &correlation,
                    },
                );
            }
            Ok(reply::accepted(headers))
        }
        Fired::Started(mut runs) => {
            if runs.is_empty() {
                return Ok(reply::accepted(headers));
            }
            let mut first = runs.remove(0);
            for other in &mut runs {
                detach_response(other);
            }
            if !suppress {
                workflow_headers(
                    &mut headers,
                    &WorkflowHeaders {
                        workflow: &wf.name,
                        history: first.run_id.as_str(),
                        run: Some(first.run_id.as_str()),
                        // The engine's default tracking id is the run id.
                        tracking: Some(tracking.as_deref().unwrap_or(first.run_id.as_str())),
                        correlation: &correlation,
                    },
                );
            }
            if trigger.split_on.is_some() {
                detach_response(&mut first);
                return Ok(reply::accepted(headers));
            }
            match first.response.take() {
                Some(receiver) if crate::async_response::is_asynchronous(&wf.workflow) => {
                    state.async_responses.watch(&first.run_id, receiver);
                    reply::insert_header(
                        &mut headers,
                        "location",
                        &crate::async_response::location(state, &wf.name, &first.run_id),
                    );
                    reply::insert_header(
                        &mut headers,
                        "retry-after",
                        crate::async_response::RETRY_AFTER_SECONDS,
                    );
                    Ok(reply::accepted(headers))
                }
                Some(receiver) => Ok(await_response(state, receiver, headers, &first.run_id).await),
                None => Ok(reply::accepted(headers)),
            }
        }
    }
}

/// The `x-ms-*` headers a trigger call is answered with.
struct WorkflowHeaders<'a> {
    workflow: &'a str,
    /// The trigger history entry the call made.
    history: &'a str,
    run: Option<&'a str>,
    tracking: Option<&'a str>,
    correlation: &'a str,
}

fn workflow_headers(headers: &mut HeaderMap, values: &WorkflowHeaders<'_>) {
    reply::insert_header(headers, "x-ms-workflow-name", values.workflow);
    reply::insert_header(headers, "x-ms-trigger-history-name", values.history);
    if let Some(run) = values.run {
        reply::insert_header(headers, "x-ms-workflow-run-id", run);
    }
    if let Some(tracking) = values.tracking {
        reply::insert_header(headers, "x-ms-client-tracking-id", tracking);
    }
    reply::insert_header(headers, "x-ms-correlation-id", values.correlation);
}

/// A random id in GUID form, for calls that bring no `x-ms-correlation-id`.
fn new_correlation_id() -> String {
    let b = conflux_security::random_bytes::<16>();
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Lets the run answer nobody: a run started without a waiting caller
/// (a schedule, a resubmit, the management API, splitOn) keeps its Response
/// action succeeding, as before anyone waited.
pub fn detach_response(run: &mut StartedRun) {
    if let Some(receiver) = run.response.take() {
        tokio::spawn(async move {
            let _ = receiver.await;
        });
    }
}

pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            "RequestEntityTooLarge",
            format!("the request body is larger than the limit of {limit} bytes (host.json extensions.workflow.maxRequestBodyBytes or --max-body-bytes)"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(err) => {
            let inner = err.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(too_large())
            } else {
                Err(ApiError::bad_request(
                    "InvalidRequestContent",
                    format!("the request body could not be read: {inner}"),
                ))
            }
        }
    }
}

async fn await_response(
    state: &HostState,
    receiver: tokio::sync::oneshot::Receiver<RunResponse>,
    headers: HeaderMap,
    run_id: &RunId,
) -> Response {
    let run_headers = headers.clone();
    // On a timeout the receiver is dropped here: the run learns nobody waits
    // any more, and a Response action that runs later fails.
    let outcome = match tokio::time::timeout(state.config.response_timeout, receiver).await {
        Ok(Ok(response)) => return render_response(response, headers),
        Ok(Err(_)) => ApiError::new(
            ErrorKind::NoResponse,
            "NoResponse",
            format!("run {run_id} ended without running a Response action; read its history for the reason"),
        ),
        Err(_) => ApiError::new(
            ErrorKind::ResponseTimeout,
            "ResponseTimedOut",
            format!(
                "the workflow did not respond within {} seconds; run {run_id} continues",
                state.config.response_timeout.as_secs()
            ),
        ),
    };
    // The caller learns which run to look up even when it got no answer.
    let mut response = axum::response::IntoResponse::into_response(outcome);
    response.headers_mut().extend(run_headers);
    response
}

/// A Response action's answer on the wire, after the host's own `headers`.
pub(crate) fn render_response(response: RunResponse, mut headers: HeaderMap) -> Response {
    for (name, value) in &response.headers {
        reply::insert_header(&mut headers, name, value);
    }
    let body = match response.body {
        ResponseBody::Empty => Vec::new(),
        ResponseBody::Json(value) => {
            default_content_type(&mut headers, "application/json; charset=utf-8");
            serde_json::to_vec(&value).unwrap_or_default()
        }
        ResponseBody::Text(text) => {
            default_content_type(&mut headers, "text/plain; charset=utf-8");
            text.into_bytes()
        }
        ResponseBody::Binary {
            content_type,
            bytes,
        } => {
            default_content_type(&mut headers, &content_type);
            bytes
        }
    };
    reply::passthrough(response.status, headers, body)
}

fn default_content_type(headers: &mut HeaderMap, content_type: &str) {
    if !headers.contains_key(axum::http::header::CONTENT_TYPE) {
        reply::insert_header(headers, "content-type", content_type);
    }
}

/// What firing a trigger did.
pub enum Fired {
    /// A condition was false: a Skipped history entry, no run.
    Skipped { history: RunId },
    /// One run, or one per splitOn item.
    Started(Vec<StartedRun>),
}

/// Applies conditions and splitOn, then starts the run(s), recording a
/// trigger history entry for each run and for a skipped attempt. Nobody
/// waits for the runs' responses.
pub async fn fire(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    outputs: Value,
    client_tracking_id: Option<String>,
) -> Result<Fired, ApiError> {
    let mut fired = fire_keeping_responses(state, wf, trigger, outputs, client_tracking_id).await?;
    if let Fired::Started(runs) = &mut fired {
        runs.iter_mut().for_each(detach_response);
    }
    Ok(fired)
}

/// [`fire`], leaving each run's response receiver to the caller: dropping
/// one tells the run that nobody waits for its response.
async fn fire_keeping_responses(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    outputs: Value,
    client_tracking_id: Option<String>,
) -> Result<Fired, ApiError> {
    let now = state.clock.now();
    let host = TriggerHost {
        trigger: conflux_expr::Value::from(
            json!({"name": trigger.name, "outputs": outputs, "startTime": now, "status": "Succeeded"}),
        ),
        parameters: &wf.parameters,
        settings: &state.app_settings,
        now,
    };
    for (index, condition) in trigger.conditions.iter().enumerate() {
        let value = condition.eval(&host).map_err(|err| {
            ApiError::bad_request(
                "InvalidTriggerCondition",
                format!("{}.conditions[{index}]: {err}", trigger.path),
            )
        })?;
        let holds = value.as_bool().unwrap_or(false);
        if !holds {
            let history = RunId::generate(now);
            let mut batch = WriteBatch::new();
            batch.record_trigger_history(TriggerHistoryRecord {
                workflow: WorkflowName::new(wf.name.as_str()),
                trigger: trigger.name.clone(),
                id: history.clone(),
                status: ActionStatus::Skipped,
                code: Some("TriggerConditionNotMet".into()),
                error: None,
                start_time: now,
                end_time: Some(now),
                fired: false,
                run_id: None,
                inputs: None,
                outputs: if trigger.runtime.secure_data.outputs {
                    None
                } else {
                    Some(outputs.clone())
                },
            });
            state.store.commit(batch).await?;
            return Ok(Fired::Skipped { history });
        }
    }
    let items = match &trigger.split_on {
        None => vec![outputs],
        Some(split) => {
            let value = split.eval(&host).map_err(|err| {
                ApiError::bad_request("InvalidSplitOn", format!("{}.splitOn: {err}", trigger.path))
            })?;
            let serde_json::Value::Array(items) = value.to_json() else {
                return Err(ApiError::bad_request(
                    "InvalidSplitOn",
                    format!(
                        "{}.splitOn must select an array; it produced something else",
                        trigger.path
                    ),
                ));
            };
            items
                .into_iter()
                .map(|item| {
                    let mut one = outputs.clone();
                    one["body"] = item;
                    one
                })
                .collect()
        }
    };
    let mut runs = Vec::with_capacity(items.len());
    for item in items {
        let item_outputs = item.clone();
        // The trigger's `correlation.clientTrackingId` (the designer's custom
        // tracking id) names the run; otherwise the caller's header does.
        let tracking =
            defined_tracking_id(wf, trigger, &item, &host).or(client_tracking_id.clone());
        let started = state
            .runtime
            .start_run(StartRequest {
                workflow: wf.name.clone(),
                trigger_name: trigger.name.clone(),
                trigger_outputs: item,
                client_tracking_id: tracking,
            })
            .await
            .map_err(runtime_error)?;
        // Stateless runs are recorded too. Their run is stored only when it
        // fails, so the entry's run link may name a run that is not kept;
        // retention deletes such entries by age (see the store's purge).
        let mut batch = WriteBatch::new();
        batch.record_trigger_history(TriggerHistoryRecord {
            workflow: WorkflowName::new(wf.name.as_str()),
            trigger: trigger.name.clone(),
            id: started.run_id.clone(),
            status: ActionStatus::Succeeded,
            code: Some("OK".into()),
            error: None,
            start_time: now,
            end_time: Some(state.clock.now()),
            fired: true,
            run_id: Some(started.run_id.clone()),
            inputs: None,
            outputs: if trigger.runtime.secure_data.outputs {
                None
            } else {
                Some(item_outputs)
            },
        });
        if let Err(err) = state.store.commit(batch).await {
            tracing::warn!(workflow = %wf.name, error = %err, "Could not record the trigger history entry.");
        }
        runs.push(started);
    }
    Ok(Fired::Started(runs))
}

pub fn runtime_error(err: RuntimeError) -> ApiError {
    match err {
        RuntimeError::UnknownWorkflow(_) | RuntimeError::UnknownRun(_) => {
            ApiError::not_found("NotFound", err.to_string())
        }
        RuntimeError::Throttled(_) => {
            ApiError::new(ErrorKind::Throttled, "TooManyRequests", err.to_string())
        }
        RuntimeError::Conflict(_) => {
            ApiError::new(ErrorKind::Conflict, "Conflict", err.to_string())
        }
        RuntimeError::Failed(_) => ApiError::internal(err.to_string()),
    }
}

/// The run state visible to trigger conditions and splitOn.
/// `correlation.clientTrackingId` of a trigger, evaluated over one run's trigger outputs.
fn defined_tracking_id(
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    outputs: &Value,
    base: &TriggerHost<'_>,
) -> Option<String> {
    let text = trigger
        .raw
        .get("correlation")?
        .get("clientTrackingId")?
        .as_str()?;
    let host = TriggerHost {
        trigger: conflux_expr::Value::from(
            json!({"name": trigger.name, "outputs": outputs, "startTime": base.now, "status": "Succeeded"}),
        ),
        parameters: &wf.parameters,
        settings: base.settings,
        now: base.now,
    };
    let id = conflux_expr::eval_str(text, &host).ok()?.to_text();
    (!id.is_empty()).then_some(id)
}

struct TriggerHost<'a> {
    trigger: conflux_expr::Value,
    parameters: &'a HashMap<String, Value>,
    settings: &'a HashMap<String, String>,
    now: DateTime<Utc>,
}

impl EvalHost for TriggerHost<'_> {
    fn trigger(&self) -> Result<conflux_expr::Value, EvalError> {
        Ok(self.trigger.clone())
    }

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
