//! The Request trigger endpoint and the firing rules every trigger shares
//! (conditions, splitOn, trigger histories).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;
use chrono::{DateTime, Utc};
use conflux_definition::TriggerDefinition;
use conflux_expr::{EvalError, EvalHost, Map as ExprMap, Value as ExprValue};
use conflux_store::{ActionStatus, RunId, TriggerHistoryRecord, WorkflowName, WriteBatch};
use serde_json::{json, Value};

use crate::callback::QueryParams;
use crate::front::TriggerPath;
use crate::reply::{
    self, ApiError, ErrorKind, CLIENT_TRACKING_ID, CORRELATION_ID, TRIGGER_HISTORY_NAME,
    WORKFLOW_NAME, WORKFLOW_RUN_ID,
};
use crate::request::{OutputsRequest, PathTemplate};
use crate::runtime::{
    ResponseBody, ResponseReceiver, RunResponse, RuntimeError, StartNow, StartRequest, StartedRun,
};
use crate::state::{HostState, HostedWorkflow};
use conflux_engine::{DeferredOutputs, TriggerOutputs};

/// `/api/{workflow}/triggers/{trigger}/invoke`
pub async fn invoke(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((workflow, trigger)): Path<(String, String)>,
    request: Request,
) -> Response {
    answer(
        &state,
        peer,
        Target::Decoded(workflow, trigger, String::new()),
        request,
    )
    .await
}

/// `/api/{workflow}/triggers/{trigger}/invoke/{*relative}`
pub async fn invoke_relative(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((workflow, trigger, relative)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    answer(
        &state,
        peer,
        Target::Decoded(workflow, trigger, relative),
        request,
    )
    .await
}

/// Which workflow, trigger and relative path a call names.
pub(crate) enum Target {
    /// Where the request's path has them, without escapes (found by the
    /// front service).
    InPath(TriggerPath),
    /// Decoded by the router.
    Decoded(String, String, String),
}

/// Answers a trigger call to `target`.
pub(crate) async fn answer<B: RequestBody>(
    state: &Arc<HostState>,
    peer: SocketAddr,
    target: Target,
    request: axum::http::Request<B>,
) -> Response {
    // The request's parts are moved, not copied as the `HeaderMap` extractor
    // would; the names are borrowed from its path.
    let (parts, body) = request.into_parts();
    let (workflow, trigger, relative) = match &target {
        Target::Decoded(workflow, trigger, relative) => {
            (workflow.as_str(), trigger.as_str(), relative.as_str())
        }
        Target::InPath(path) => path.names(parts.uri.path()),
    };
    let call = Call {
        workflow,
        trigger,
        relative,
        uri: &parts.uri,
        method: parts.method,
        headers: parts.headers,
        peer,
    };
    handle(state, call, body).await.unwrap_or_else(|err| {
        tracing::debug!(code = %err.code, "Trigger call refused.");
        axum::response::IntoResponse::into_response(err)
    })
}

struct Call<'a> {
    workflow: &'a str,
    trigger: &'a str,
    relative: &'a str,
    /// For the query.
    uri: &'a axum::http::Uri,
    method: Method,
    headers: HeaderMap,
    peer: SocketAddr,
}

/// A request body as the server receives it: hyper's own from the front
/// service, axum's through the router.
pub(crate) trait RequestBody:
    http_body::Body<Data = axum::body::Bytes, Error: std::fmt::Display> + Send + Unpin
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = axum::body::Bytes, Error: std::fmt::Display> + Send + Unpin
{
}

async fn handle<B: RequestBody>(
    state: &Arc<HostState>,
    call: Call<'_>,
    body: B,
) -> Result<Response, ApiError> {
    let wf = state.workflow(call.workflow).cloned().ok_or_else(|| {
        ApiError::not_found(
            "WorkflowNotFound",
            format!(
                "workflow '{}' does not exist in this project",
                call.workflow
            ),
        )
    })?;
    let plan = wf
        .call_plans
        .iter()
        .find(|plan| plan.trigger.eq_ignore_ascii_case(call.trigger))
        .ok_or_else(|| {
            ApiError::not_found(
                "TriggerNotFound",
                format!(
                    "workflow '{}' has no Request trigger named '{}'",
                    wf.name, call.trigger
                ),
            )
        })?;
    let trigger = wf
        .workflow
        .triggers
        .get(&plan.trigger)
        .ok_or_else(|| ApiError::internal("a planned trigger is missing from its workflow"))?;
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
    // SAS or, with OAuth authorization policies, a bearer token (access.rs).
    crate::access::authorize_trigger_call(state, &wf, plan, call.uri.query(), &call.headers)
        .await?;
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
    if !call.method.as_str().eq_ignore_ascii_case(&plan.method) {
        return Err(ApiError::new(
            ErrorKind::MethodNotAllowed,
            "TriggerRequestMethodNotValid",
            format!(
                "trigger '{}' accepts {} requests, not {}",
                trigger.name, plan.method, call.method
            ),
        ));
    }
    let relative_path_parameters = match &plan.relative_path {
        Some((text, template)) => Some(template.matches(call.relative).ok_or_else(|| {
            ApiError::not_found(
                "RelativePathNotMatched",
                format!(
                    "the path '{}' does not match the trigger's relativePath '{text}'",
                    call.relative
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
    let body = crate::request::request_body(&call.headers, &bytes)
        .map_err(|err| ApiError::bad_request("InvalidRequestContent", err.0))?;
    if trigger.options.enable_schema_validation {
        if let Some(schema) = trigger.raw.get("inputs").and_then(|i| i.get("schema")) {
            let body = body.as_ref().map_or(Value::Null, |b| b.to_json());
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
    let (tracking, correlation) = caller_ids(&call.headers);
    let tracking = tracking.and_then(|v| v.to_str().ok()).map(str::to_string);
    let correlation = Some(
        correlation
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
            .cloned()
            .unwrap_or_else(new_correlation_id),
    );
    tracing::debug!(workflow = %wf.name, trigger = %trigger.name, correlation = ?correlation, "Trigger called.");
    let asynchronous = wf.asynchronous_response;
    let stateless = wf.kind == conflux_definition::WorkflowKind::Stateless;
    // A stateless run answering this caller synchronously is polled by this
    // task (see `await_response`); others run in tasks of their own.
    let caller_drives = stateless && trigger.split_on.is_none() && !asynchronous;
    let include_authorization = trigger.options.include_authorization_headers_in_outputs;
    let outputs = if caller_drives && !plan.reads_outputs_when_fired {
        // Nothing reads the outputs before the run does, and most runs read
        // the body alone: the headers and queries are made into outputs only
        // if the run asks for them.
        // The URI's clone shares its text.
        let (headers, uri) = (call.headers, call.uri.clone());
        TriggerOutputs::Deferred(DeferredOutputs::new(body, move |body| {
            crate::request::outputs_with_body(
                &OutputsRequest {
                    headers: &headers,
                    query: &QueryParams::parse(uri.query()),
                    relative_path_parameters: relative_path_parameters.clone(),
                    include_authorization,
                },
                body,
            )
        }))
    } else {
        TriggerOutputs::Built(crate::request::outputs_with_body(
            &OutputsRequest {
                headers: &call.headers,
                query: &QueryParams::parse(call.uri.query()),
                relative_path_parameters,
                include_authorization,
            },
            body.as_ref(),
        ))
    };
    let (fired, history) = fire_keeping_responses(
        state,
        &wf,
        trigger,
        outputs,
        tracking.clone(),
        caller_drives,
    )
    .await?;
    let suppress = trigger.options.suppress_workflow_headers_on_response;
    let headers_for = |values: WorkflowHeaders<'_>, typed: bool| {
        if suppress {
            // Room for a Response action's usual few.
            HeaderMap::with_capacity(8)
        } else {
            workflow_headers(&wf.answer_headers, values, typed)
        }
    };
    let mut first = match fired {
        Fired::Skipped { history: entry } => {
            let headers = headers_for(
                WorkflowHeaders {
                    history: entry.as_str(),
                    run: None,
                    tracking: tracking.as_deref(),
                    correlation,
                },
                false,
            );
            history.commit().await;
            return Ok(reply::accepted(headers));
        }
        Fired::Started(runs) => {
            let mut runs = runs.into_iter();
            let Some(first) = runs.next() else {
                history.commit().await;
                return Ok(reply::accepted(headers_for(WorkflowHeaders::none(), false)));
            };
            for mut other in runs {
                detach_response(&mut other);
            }
            first
        }
    };
    // A Response action answers this caller (see the match below).
    let typed = first.response.is_some() && !asynchronous && trigger.split_on.is_none();
    let mut headers = headers_for(
        WorkflowHeaders {
            history: first.run_id.as_str(),
            run: Some(first.run_id.as_str()),
            // The engine's default tracking id is the run id.
            tracking: Some(tracking.as_deref().unwrap_or(first.run_id.as_str())),
            correlation,
        },
        typed,
    );
    if trigger.split_on.is_some() {
        detach_response(&mut first);
    }
    match first.response.take() {
        Some(receiver) if !asynchronous && stateless => {
            history.write_behind(state).await;
            let driver = first.driver.take();
            Ok(await_response(state, driver, receiver, headers, &first.run_id).await)
        }
        Some(receiver) if !asynchronous => {
            // The history entry is written while the run works; the caller is
            // answered once both are done.
            let (_, response) = tokio::join!(
                history.commit(),
                await_response(state, None, receiver, headers, &first.run_id)
            );
            Ok(response)
        }
        Some(receiver) => {
            history.commit().await;
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
        None => {
            history.commit().await;
            Ok(reply::accepted(headers))
        }
    }
}

/// The `x-ms-*` headers a trigger call is answered with.
struct WorkflowHeaders<'a> {
    /// The trigger history entry the call made.
    history: &'a str,
    run: Option<&'a str>,
    tracking: Option<&'a str>,
    correlation: Option<HeaderValue>,
}

impl WorkflowHeaders<'_> {
    /// For an answer that names nothing but the workflow.
    fn none() -> WorkflowHeaders<'static> {
        WorkflowHeaders {
            history: "",
            run: None,
            tracking: None,
            correlation: None,
        }
    }
}

/// The `x-ms-*` headers a call fills in, in the order they are written.
const CALL_HEADERS: [HeaderName; 4] = [
    TRIGGER_HISTORY_NAME,
    WORKFLOW_RUN_ID,
    CLIENT_TRACKING_ID,
    CORRELATION_ID,
];

/// The `x-ms-*` headers of a workflow's answers, made once per workflow:
/// `x-ms-workflow-name` (unless the name cannot be a header value), then
/// the [`CALL_HEADERS`] with empty values, which each answer sets (see
/// [`workflow_headers`]).
pub struct AnswerHeaders {
    template: HeaderMap,
    /// `template` and a `content-type` last, for answers a Response action
    /// renders (which always have one): the copy has room for it.
    typed: HeaderMap,
    named: bool,
}

impl AnswerHeaders {
    pub fn new(workflow: &str) -> AnswerHeaders {
        // Room for a Response action's usual few headers too.
        let mut template = HeaderMap::with_capacity(12);
        let name = HeaderValue::from_str(workflow).ok();
        let named = name.is_some();
        if let Some(name) = name {
            template.append(WORKFLOW_NAME, name);
        }
        for name in CALL_HEADERS {
            template.append(name, HeaderValue::from_static(""));
        }
        let mut typed = template.clone();
        typed.append(axum::http::header::CONTENT_TYPE, JSON_UTF8);
        AnswerHeaders {
            template,
            typed,
            named,
        }
    }
}

/// A copy of a workflow's [`AnswerHeaders`] with this call's values. The
/// values are set in place, by position, so no header name is hashed or
/// compared on the way; headers without a value are removed. `typed`: the
/// answer is a Response action's, whose content type [`render_response`]
/// writes over the one the copy holds.
fn workflow_headers(
    headers: &AnswerHeaders,
    values: WorkflowHeaders<'_>,
    typed: bool,
) -> HeaderMap {
    let history = (!values.history.is_empty())
        .then(|| HeaderValue::from_str(values.history).ok())
        .flatten();
    // The run id usually names the history entry and tracks the run too:
    // one value, shared by the headers that carry it.
    let value_of = |text: &str| {
        if text == values.history {
            history.clone()
        } else {
            HeaderValue::from_str(text).ok()
        }
    };
    let run = values.run.and_then(value_of);
    let tracking = values.tracking.and_then(value_of);
    let mut call_values = [history, run, tracking, values.correlation];
    let present = call_values.each_ref().map(Option::is_some);
    let mut answer = if typed {
        headers.typed.clone()
    } else {
        headers.template.clone()
    };
    let slots = answer.values_mut().skip(usize::from(headers.named));
    for (slot, value) in slots.zip(&mut call_values) {
        if let Some(value) = value.take() {
            *slot = value;
        }
    }
    for (name, present) in CALL_HEADERS.into_iter().zip(present) {
        if !present {
            answer.remove(name);
        }
    }
    answer
}

/// The first `x-ms-client-tracking-id` and `x-ms-correlation-id` of a call,
/// found in one pass: a call has a few headers, and comparing their names
/// costs less than hashing the two names to look them up.
fn caller_ids(headers: &HeaderMap) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
    let (mut tracking, mut correlation) = (None, None);
    for (name, value) in headers {
        if *name == CLIENT_TRACKING_ID {
            tracking = tracking.or(Some(value));
        } else if *name == CORRELATION_ID {
            correlation = correlation.or(Some(value));
        }
    }
    (tracking, correlation)
}

/// A random id in GUID form, for calls that bring no `x-ms-correlation-id`.
fn new_correlation_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Unique, not secret: the thread's generator, not a system call per call.
    let bytes = rand::random::<u128>().to_le_bytes();
    let mut digits = [0u8; 32];
    for (pair, byte) in digits.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0x0f)];
    }
    // 8-4-4-4-12 digits.
    let mut id = [b'-'; 36];
    id[..8].copy_from_slice(&digits[..8]);
    id[9..13].copy_from_slice(&digits[8..12]);
    id[14..18].copy_from_slice(&digits[12..16]);
    id[19..23].copy_from_slice(&digits[16..20]);
    id[24..].copy_from_slice(&digits[20..]);
    HeaderValue::from_bytes(&id).expect("hex digits and dashes make a header value")
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

pub(crate) async fn read_body<B: RequestBody>(
    mut body: B,
    headers: &HeaderMap,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;
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
    // A small body arrives as one frame, which is kept as it is; more
    // frames are joined. Trailers are not part of the body.
    let mut first = axum::body::Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request(
                "InvalidRequestContent",
                format!("the request body could not be read: {err}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let so_far = joined.as_ref().map_or(first.len(), Vec::len);
        if so_far + data.len() > limit {
            return Err(too_large());
        }
        match &mut joined {
            Some(all) => all.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut all = Vec::with_capacity(2 * (first.len() + data.len()));
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                joined = Some(all);
            }
        }
    }
    Ok(joined.map_or(first, axum::body::Bytes::from))
}

/// Waits for the run's Response, polling the run itself when the runtime
/// left it to this task (`driver`). Leaving here with the run unfinished (it
/// answered and goes on, or the caller's wait timed out) drops the driver,
/// which moves the rest of the run to a task of its own.
async fn await_response(
    state: &HostState,
    mut driver: Option<conflux_engine::RunDriver>,
    mut receiver: ResponseReceiver,
    headers: HeaderMap,
    run_id: &RunId,
) -> Response {
    let mut answered = std::pin::pin!(std::future::poll_fn(|cx| {
        if let Some(run) = driver.as_mut() {
            if Pin::new(run).poll(cx).is_ready() {
                driver = None;
            }
        }
        Pin::new(&mut receiver).poll(cx)
    }));
    // A run of quick actions answers on its first poll: no timer is made
    // (nor the clock read) for it.
    let first = std::future::poll_fn(|cx| Poll::Ready(answered.as_mut().poll(cx))).await;
    let answer = match first {
        Poll::Ready(answer) => Ok(answer),
        // On a timeout the receiver is dropped here: the run learns nobody
        // waits any more, and a Response action that runs later fails.
        Poll::Pending => tokio::time::timeout(state.config.response_timeout, answered).await,
    };
    let outcome = match answer {
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
    response.headers_mut().extend(headers);
    response
}

/// A Response action's answer on the wire, after the host's own `headers`.
/// Its content type is the action's own `Content-Type` header, else the
/// usual one for its body (JSON, text, the content's own type; octet-stream
/// for none). It replaces a content type the host's headers may hold (see
/// [`AnswerHeaders`]), so the type is written in place, without growing the map.
pub(crate) fn render_response(response: RunResponse, mut headers: HeaderMap) -> Response {
    use axum::http::header::CONTENT_TYPE;
    let mut typed = false;
    for (name, value) in &response.headers {
        if name.eq_ignore_ascii_case(CONTENT_TYPE.as_str()) {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(CONTENT_TYPE, value);
                typed = true;
            }
            continue;
        }
        reply::insert_header(&mut headers, name, value);
    }
    let (body, usual_type) = match response.body {
        ResponseBody::Empty => (Vec::new(), OCTET_STREAM),
        ResponseBody::Json(value) => (serde_json::to_vec(&value).unwrap_or_default(), JSON_UTF8),
        ResponseBody::JsonText(text) => (text, JSON_UTF8),
        ResponseBody::Text(text) => (text.into_bytes(), TEXT_UTF8),
        ResponseBody::Binary {
            content_type,
            bytes,
        } => (
            bytes,
            HeaderValue::from_str(&content_type).unwrap_or(OCTET_STREAM),
        ),
    };
    if !typed {
        headers.insert(CONTENT_TYPE, usual_type);
    }
    reply::answer(response.status, headers, body)
}

const JSON_UTF8: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
const TEXT_UTF8: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

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
    outputs: ExprValue,
    client_tracking_id: Option<String>,
) -> Result<Fired, ApiError> {
    let (mut fired, history) = fire_keeping_responses(
        state,
        wf,
        trigger,
        outputs.into(),
        client_tracking_id,
        false,
    )
    .await?;
    history.commit().await;
    if let Fired::Started(runs) = &mut fired {
        runs.iter_mut().for_each(detach_response);
    }
    Ok(fired)
}

/// The trigger history entries of started runs, not written yet: a caller
/// that waits for a run's response writes them while the run works. The
/// entries are written whatever becomes of that caller: a commit runs in a
/// task of its own, and entries dropped unwritten (the caller went away
/// between the runs of a debatched call) are written by the drop.
#[must_use = "the trigger history entries are written only by `commit`"]
struct PendingHistory {
    /// The workflow of the entries (named by the first one: most calls
    /// record none and copy no name).
    workflow: String,
    store: Arc<dyn conflux_store::Store>,
    /// Made by the first entry: most calls record none, and the pending
    /// history they carry around stays small.
    batch: Option<Box<WriteBatch>>,
}

impl PendingHistory {
    fn new(store: &Arc<dyn conflux_store::Store>) -> PendingHistory {
        PendingHistory {
            workflow: String::new(),
            store: store.clone(),
            batch: None,
        }
    }

    fn record(&mut self, entry: TriggerHistoryRecord) {
        if self.workflow.is_empty() {
            self.workflow = entry.workflow.as_str().to_string();
        }
        self.batch
            .get_or_insert_with(Box::default)
            .record_trigger_history(entry);
    }

    fn is_empty(&self) -> bool {
        self.batch.as_ref().is_none_or(|batch| batch.is_empty())
    }

    /// The entries, leaving none to be written on drop.
    fn take_batch(&mut self) -> WriteBatch {
        self.batch.take().map(|batch| *batch).unwrap_or_default()
    }

    async fn commit(mut self) {
        if self.is_empty() {
            return;
        }
        let _ = tokio::spawn(write_entries(
            self.store.clone(),
            self.workflow.clone(),
            self.take_batch(),
        ))
        .await;
    }

    /// Queues the entries to be written behind the answer (see [`HistoryWrites`]).
    async fn write_behind(self, state: &HostState) {
        if !self.is_empty() {
            // Boxed: most calls queue nothing, and their futures stay small.
            Box::pin(state.history_writes.queue(&state.store, self)).await;
        }
    }
}

impl Drop for PendingHistory {
    fn drop(&mut self) {
        if self.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(write_entries(
                self.store.clone(),
                self.workflow.clone(),
                self.take_batch(),
            ));
        }
    }
}

async fn write_entries(store: Arc<dyn conflux_store::Store>, workflow: String, batch: WriteBatch) {
    if let Err(err) = store.commit(batch).await {
        tracing::warn!(workflow = %workflow, error = %err, "Could not record the trigger history entry.");
    }
}

/// Trigger history entries written behind the answer, for calls of
/// stateless workflows: the caller does not wait for the disk to record a
/// call whose run is not kept. Readers of trigger histories wait in
/// [`HistoryWrites::settled`] for the entries of every call queued before
/// they read, so an answered call's entry is always listed.
#[derive(Default)]
pub struct HistoryWrites {
    shared: Arc<WritesShared>,
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<(u64, PendingHistory)>>,
}

#[derive(Default)]
struct WritesShared {
    tickets: std::sync::Mutex<Tickets>,
    written: tokio::sync::Notify,
}

#[derive(Default)]
struct Tickets {
    next: u64,
    in_flight: std::collections::BTreeSet<u64>,
}

/// Entries waiting for the writer; callers wait to queue beyond this.
const HISTORY_QUEUE: usize = 4096;
/// Most calls' entries committed in one batch.
const HISTORY_GROUP: usize = 512;
/// How long the writer gathers entries after the first one of a batch. Each
/// commit rewrites the table's touched pages to the log, so under load one
/// commit per few hundred calls instead of one per few calls saves most of
/// the writer's work; readers wait at most this much longer in `settled`.
const HISTORY_LINGER: std::time::Duration = std::time::Duration::from_millis(5);

impl HistoryWrites {
    async fn queue(&self, store: &Arc<dyn conflux_store::Store>, entries: PendingHistory) {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = tokio::sync::mpsc::channel(HISTORY_QUEUE);
            tokio::spawn(write_histories(
                self.shared.clone(),
                store.clone(),
                receiver,
            ));
            sender
        });
        let ticket = self.shared.take_ticket();
        // Once its ticket is taken, an entry must reach the writer (or be
        // written here) whatever becomes of this caller: readers wait in
        // `settled` until the ticket is finished. A caller whose client
        // disconnects while the queue is full is dropped mid-wait, so the
        // wait for room happens in a task of its own.
        let item = match queue.try_send((ticket, entries)) {
            Ok(()) => return,
            Err(
                tokio::sync::mpsc::error::TrySendError::Full(item)
                | tokio::sync::mpsc::error::TrySendError::Closed(item),
            ) => item,
        };
        let delivery = tokio::spawn(deliver_history(
            queue.clone(),
            self.shared.clone(),
            store.clone(),
            item,
        ));
        // Waiting keeps the queue's back-pressure on the callers that stay.
        let _ = delivery.await;
    }

    /// Waits until every entry queued before this call is written (or failed).
    pub async fn settled(&self) {
        let limit = lock_tickets(&self.shared.tickets).next;
        loop {
            let written = self.shared.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            let oldest = lock_tickets(&self.shared.tickets)
                .in_flight
                .first()
                .copied();
            if oldest.is_none_or(|ticket| ticket >= limit) {
                return;
            }
            written.await;
        }
    }
}

/// Hands one call's entries to the writer once the queue has room; if the
/// writer is gone (the runtime is stopping), writes them in place.
async fn deliver_history(
    queue: tokio::sync::mpsc::Sender<(u64, PendingHistory)>,
    shared: Arc<WritesShared>,
    store: Arc<dyn conflux_store::Store>,
    item: (u64, PendingHistory),
) {
    if let Err(refused) = queue.send(item).await {
        let (ticket, mut entries) = refused.0;
        write_entries(store, entries.workflow.clone(), entries.take_batch()).await;
        shared.finish(&[ticket]);
    }
}

impl WritesShared {
    fn take_ticket(&self) -> u64 {
        let mut tickets = lock_tickets(&self.tickets);
        let ticket = tickets.next;
        tickets.next += 1;
        tickets.in_flight.insert(ticket);
        ticket
    }

    fn finish(&self, done: &[u64]) {
        let mut tickets = lock_tickets(&self.tickets);
        for ticket in done {
            tickets.in_flight.remove(ticket);
        }
        drop(tickets);
        self.written.notify_waiters();
    }
}

fn lock_tickets(tickets: &std::sync::Mutex<Tickets>) -> std::sync::MutexGuard<'_, Tickets> {
    tickets
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Commits queued entries, everything waiting at once in one batch.
async fn write_histories(
    shared: Arc<WritesShared>,
    store: Arc<dyn conflux_store::Store>,
    mut receiver: tokio::sync::mpsc::Receiver<(u64, PendingHistory)>,
) {
    let mut tickets = Vec::new();
    while let Some((ticket, mut first)) = receiver.recv().await {
        tickets.clear();
        tickets.push(ticket);
        let mut batch = first.take_batch();
        let gathered = tokio::time::sleep(HISTORY_LINGER);
        tokio::pin!(gathered);
        while tickets.len() < HISTORY_GROUP {
            let next = tokio::select! {
                biased;
                next = receiver.recv() => next,
                () = &mut gathered => break,
            };
            let Some((ticket, mut more)) = next else {
                break;
            };
            tickets.push(ticket);
            batch.append(more.take_batch());
        }
        if let Err(err) = store.commit(batch).await {
            tracing::warn!(error = %err, entries = tickets.len(), "Could not record trigger history entries.");
        }
        shared.finish(&tickets);
    }
}

/// [`fire`], leaving each run's response receiver to the caller (dropping
/// one tells the run that nobody waits for its response) and the history
/// entries of the started runs to be committed by the caller.
async fn fire_keeping_responses(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    outputs: TriggerOutputs,
    client_tracking_id: Option<String>,
    caller_drives: bool,
) -> Result<(Fired, PendingHistory), ApiError> {
    // When the trigger fired, read from the clock only if something records
    // or evaluates it (a deferred call without history does neither).
    let fired = std::sync::OnceLock::new();
    let now = || *fired.get_or_init(|| state.clock.now());
    if wf.keeps_run_history {
        // The history entry starts when the call came, before its run.
        now();
    }
    let mut history = PendingHistory::new(&state.store);
    // Deferred outputs start one run (`CallPlan::reads_outputs_when_fired`
    // is false: no condition or splitOn reads them); built ones one per item.
    let (deferred, built): (Option<TriggerOutputs>, Vec<ExprValue>) = match outputs {
        deferred @ TriggerOutputs::Deferred(_) => (Some(deferred), Vec::new()),
        TriggerOutputs::Built(outputs) => {
            // `None`: a condition is false. `Some(None)`: one run with `outputs`.
            let split_items = {
                let host = TriggerHost::new(trigger, &outputs, wf, &state.app_settings, now());
                let mut holds = true;
                for (index, condition) in trigger.conditions.iter().enumerate() {
                    let value = condition.eval(&host).map_err(|err| {
                        ApiError::bad_request(
                            "InvalidTriggerCondition",
                            format!("{}.conditions[{index}]: {err}", trigger.path),
                        )
                    })?;
                    if !value.as_bool().unwrap_or(false) {
                        holds = false;
                        break;
                    }
                }
                match &trigger.split_on {
                    _ if !holds => None,
                    None => Some(None),
                    Some(split) => {
                        let value = split.eval(&host).map_err(|err| {
                            ApiError::bad_request(
                                "InvalidSplitOn",
                                format!("{}.splitOn: {err}", trigger.path),
                            )
                        })?;
                        let ExprValue::Array(items) = value else {
                            return Err(ApiError::bad_request(
                                "InvalidSplitOn",
                                format!(
                                    "{}.splitOn must select an array; it produced something else",
                                    trigger.path
                                ),
                            ));
                        };
                        Some(Some(items))
                    }
                }
            };
            let items: Vec<ExprValue> = match split_items {
                None if !wf.keeps_run_history => {
                    return Ok((
                        Fired::Skipped {
                            history: RunId::generate(now()),
                        },
                        history,
                    ))
                }
                None => {
                    let id = RunId::generate(now());
                    let mut batch = WriteBatch::new();
                    batch.record_trigger_history(TriggerHistoryRecord {
                        workflow: WorkflowName::new(wf.name.as_str()),
                        trigger: trigger.name.clone(),
                        id: id.clone(),
                        status: ActionStatus::Skipped,
                        code: Some("TriggerConditionNotMet".into()),
                        error: None,
                        start_time: now(),
                        end_time: Some(now()),
                        fired: false,
                        run_id: None,
                        inputs: None,
                        outputs: if trigger.runtime.secure_data.outputs {
                            None
                        } else {
                            Some(outputs.to_json())
                        },
                    });
                    state.store.commit(batch).await?;
                    return Ok((Fired::Skipped { history: id }, history));
                }
                Some(None) => vec![outputs],
                Some(Some(items)) => {
                    let mut one = outputs
                        .as_object()
                        .map_or_else(ExprMap::default, |o| (**o).clone());
                    items
                        .iter()
                        .map(|item| {
                            one.insert("body".into(), item.clone());
                            ExprValue::object(one.clone())
                        })
                        .collect()
                }
            };
            (None, items)
        }
    };
    let mut runs = Vec::with_capacity(built.len().max(1));
    for item in deferred
        .into_iter()
        .chain(built.into_iter().map(TriggerOutputs::Built))
    {
        // The trigger's `correlation.clientTrackingId` (the designer's custom
        // tracking id) names the run; otherwise the caller's header does.
        let tracking = match &item {
            TriggerOutputs::Built(outputs) => {
                defined_tracking_id(wf, trigger, outputs, &state.app_settings, now())
            }
            TriggerOutputs::Deferred(_) => None,
        }
        .or(client_tracking_id.clone());
        let item_outputs = (wf.keeps_run_history && !trigger.runtime.secure_data.outputs)
            .then(|| item.built().to_json());
        let request = StartRequest {
            workflow: wf.name.clone(),
            trigger_name: trigger.name.clone(),
            trigger_outputs: item,
            client_tracking_id: tracking,
            caller_drives,
        };
        let started = match state.runtime.start_now(request) {
            StartNow::Done(started) => started,
            StartNow::Later(request) => state.runtime.start_run(request).await,
        };
        let started = match started {
            Ok(started) => started,
            Err(err) => {
                // Runs started before this one keep their entries.
                history.commit().await;
                return Err(runtime_error(err));
            }
        };
        // A stateless workflow records its calls only with
        // `WithStatelessRunHistory`; then its runs are kept too.
        if wf.keeps_run_history {
            history.record(TriggerHistoryRecord {
                workflow: WorkflowName::new(wf.name.as_str()),
                trigger: trigger.name.clone(),
                id: started.run_id.clone(),
                status: ActionStatus::Succeeded,
                code: Some("OK".into()),
                error: None,
                start_time: now(),
                end_time: Some(state.clock.now()),
                fired: true,
                run_id: Some(started.run_id.clone()),
                inputs: None,
                outputs: item_outputs,
            });
        }
        runs.push(started);
    }
    Ok((Fired::Started(runs), history))
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

/// What a call of a Request (or webhook) trigger needs from the trigger's
/// definition, read once when the workflow is loaded.
pub struct CallPlan {
    /// The trigger's name as defined.
    pub trigger: String,
    /// The path its URLs are signed over (`/api/{workflow}/triggers/{trigger}/invoke`).
    pub invoke_path: String,
    /// The accepted method, upper case (POST when the trigger names none).
    pub method: String,
    /// `relativePath`, as written and parsed.
    pub relative_path: Option<(String, PathTemplate)>,
    /// Firing reads the outputs before a run does: conditions, splitOn and
    /// `correlation.clientTrackingId` are evaluated over them, and a workflow
    /// that keeps run history records them with the call.
    pub reads_outputs_when_fired: bool,
}

impl CallPlan {
    /// The plans of every trigger of `workflow` that can be called.
    pub fn all(
        name: &str,
        workflow: &conflux_definition::Workflow,
        keeps_run_history: bool,
    ) -> Vec<CallPlan> {
        workflow
            .triggers
            .values()
            .filter(|t| {
                t.type_name.eq_ignore_ascii_case("Request") || crate::webhook::is_webhook_trigger(t)
            })
            .map(|trigger| {
                let inputs = trigger.raw.get("inputs");
                let text = |name: &str| inputs.and_then(|i| i.get(name)).and_then(Value::as_str);
                CallPlan {
                    trigger: trigger.name.clone(),
                    invoke_path: crate::callback::invoke_path(name, &trigger.name),
                    method: text("method").unwrap_or("POST").to_ascii_uppercase(),
                    relative_path: text("relativePath")
                        .map(|path| (path.to_string(), PathTemplate::parse(path))),
                    reads_outputs_when_fired: keeps_run_history
                        || !trigger.conditions.is_empty()
                        || trigger.split_on.is_some()
                        || tracking_expression(trigger).is_some(),
                }
            })
            .collect()
    }
}

/// The trigger's `correlation.clientTrackingId` (the designer's custom tracking id).
fn tracking_expression(trigger: &TriggerDefinition) -> Option<&str> {
    trigger
        .raw
        .get("correlation")?
        .get("clientTrackingId")?
        .as_str()
}

/// `correlation.clientTrackingId` of a trigger, evaluated over one run's trigger outputs.
fn defined_tracking_id(
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    outputs: &ExprValue,
    settings: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Option<String> {
    let text = tracking_expression(trigger)?;
    let host = TriggerHost::new(trigger, outputs, wf, settings, now);
    let id = conflux_expr::eval_str(text, &host).ok()?.to_text();
    (!id.is_empty()).then_some(id)
}

/// The run state visible to trigger conditions, splitOn and a defined
/// tracking id. The `trigger()` record is built only when an expression
/// reads it.
/// `parameters('name')` for trigger-side expressions (conditions, splitOn, inputs).
pub(crate) fn parameter_value(
    parameters: &HashMap<String, Value>,
    name: &str,
) -> Result<conflux_expr::Value, EvalError> {
    parameters
        .get(name)
        .map(conflux_expr::Value::from)
        .ok_or_else(|| EvalError::new(format!("the workflow has no parameter '{name}'")))
}

/// `appsetting('name')` for trigger-side expressions.
pub(crate) fn app_setting_value(
    settings: &HashMap<String, String>,
    name: &str,
) -> Result<conflux_expr::Value, EvalError> {
    settings
        .get(name)
        .map(|v| conflux_expr::Value::string(v.as_str()))
        .ok_or_else(|| EvalError::new(format!("app setting '{name}' is not defined")))
}

struct TriggerHost<'a> {
    name: &'a str,
    outputs: &'a ExprValue,
    record: std::sync::OnceLock<conflux_expr::Value>,
    parameters: &'a HashMap<String, Value>,
    settings: &'a HashMap<String, String>,
    now: DateTime<Utc>,
}

impl<'a> TriggerHost<'a> {
    fn new(
        trigger: &'a TriggerDefinition,
        outputs: &'a ExprValue,
        wf: &'a HostedWorkflow,
        settings: &'a HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> TriggerHost<'a> {
        TriggerHost {
            name: &trigger.name,
            outputs,
            record: std::sync::OnceLock::new(),
            parameters: &wf.parameters,
            settings,
            now,
        }
    }
}

impl EvalHost for TriggerHost<'_> {
    fn trigger(&self) -> Result<conflux_expr::Value, EvalError> {
        Ok(self
            .record
            .get_or_init(|| {
                let mut record = conflux_expr::map_with_capacity(4);
                record.insert("name".into(), ExprValue::string(self.name));
                record.insert("outputs".into(), self.outputs.clone());
                record.insert("startTime".into(), ExprValue::from(json!(self.now)));
                record.insert("status".into(), ExprValue::string("Succeeded"));
                ExprValue::object(record)
            })
            .clone())
    }

    fn parameter(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        parameter_value(self.parameters, name)
    }

    fn app_setting(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        app_setting_value(self.settings, name)
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    #[test]
    fn answers_carry_the_workflow_headers_of_their_call_in_a_fixed_order() {
        let names = |headers: &HeaderMap| -> Vec<String> {
            headers.keys().map(|n| n.as_str().to_string()).collect()
        };
        let values = |headers: &HeaderMap| -> Vec<String> {
            headers
                .values()
                .map(|v| v.to_str().unwrap().to_string())
                .collect()
        };
        let template = AnswerHeaders::new("orders");
        let run = "08584000000000000000000000001";
        let headers = workflow_headers(
            &template,
            WorkflowHeaders {
                history: run,
                run: Some(run),
                tracking: Some("my-tracking"),
                correlation: Some(HeaderValue::from_static("corr")),
            },
            false,
        );
        assert_eq!(
            names(&headers),
            [
                "x-ms-workflow-name",
                "x-ms-trigger-history-name",
                "x-ms-workflow-run-id",
                "x-ms-client-tracking-id",
                "x-ms-correlation-id"
            ]
        );
        assert_eq!(
            values(&headers),
            ["orders", run, run, "my-tracking", "corr"]
        );
        // The template keeps its empty values for the next call.
        assert_eq!(values(&template.template), ["orders", "", "", "", ""]);
        // A skipped call has no run; a name that is no header value is left out.
        let skipped = workflow_headers(
            &AnswerHeaders::new("line\nbreak"),
            WorkflowHeaders {
                history: run,
                run: None,
                tracking: None,
                correlation: Some(HeaderValue::from_static("corr")),
            },
            false,
        );
        assert_eq!(
            names(&skipped),
            ["x-ms-trigger-history-name", "x-ms-correlation-id"]
        );
        assert_eq!(values(&skipped), [run, "corr"]);
        let none = workflow_headers(&template, WorkflowHeaders::none(), false);
        assert_eq!(names(&none), ["x-ms-workflow-name"]);
        // A Response's answer has room for its content type, which it sets.
        let typed = workflow_headers(&template, WorkflowHeaders::none(), true);
        assert_eq!(names(&typed), ["x-ms-workflow-name", "content-type"]);
        let rendered = render_response(
            RunResponse {
                status: 200,
                headers: vec![("X-Extra".into(), "1".into())],
                body: ResponseBody::Text("hi".into()),
            },
            typed,
        );
        assert_eq!(
            rendered
                .headers()
                .get_all("content-type")
                .iter()
                .collect::<Vec<_>>(),
            ["text/plain; charset=utf-8"]
        );
        assert_eq!(rendered.headers()["x-extra"], "1");
    }

    #[test]
    fn the_first_tracking_and_correlation_ids_of_a_call_are_used() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        assert_eq!(caller_ids(&headers), (None, None));
        headers.append("X-MS-Correlation-Id", HeaderValue::from_static("c1"));
        headers.append("x-ms-client-tracking-id", HeaderValue::from_static("t1"));
        headers.append("x-ms-correlation-id", HeaderValue::from_static("c2"));
        headers.append("x-ms-client-tracking-id", HeaderValue::from_static("t2"));
        let (tracking, correlation) = caller_ids(&headers);
        assert_eq!(tracking.map(|v| v.as_bytes()), Some(&b"t1"[..]));
        assert_eq!(correlation.map(|v| v.as_bytes()), Some(&b"c1"[..]));
    }

    /// Polls once, as the runtime would.
    async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
    }

    #[tokio::test]
    async fn readers_wait_only_for_entries_queued_before_them() {
        let writes = HistoryWrites::default();
        let first = writes.shared.take_ticket();
        let second = writes.shared.take_ticket();
        let mut settled = Box::pin(writes.settled());
        assert!(poll_once(&mut settled).await.is_pending());
        // Queued after the reader started: not waited for.
        let later = writes.shared.take_ticket();
        writes.shared.finish(&[second]);
        assert!(poll_once(&mut settled).await.is_pending());
        writes.shared.finish(&[first]);
        assert!(poll_once(&mut settled).await.is_ready());
        // A new reader waits for `later`.
        let mut settled = Box::pin(writes.settled());
        assert!(poll_once(&mut settled).await.is_pending());
        writes.shared.finish(&[later]);
        assert!(poll_once(&mut settled).await.is_ready());
        // Nothing in flight: ready at once.
        assert!(poll_once(&mut Box::pin(writes.settled())).await.is_ready());
    }

    #[tokio::test]
    async fn a_caller_gone_while_the_queue_is_full_still_delivers_and_readers_do_not_hang() {
        let writes = HistoryWrites::default();
        // A writer that has not taken anything yet, behind a queue of one.
        let (sender, mut writer) = tokio::sync::mpsc::channel(1);
        assert!(writes.queue.set(sender).is_ok());
        let store: Arc<dyn conflux_store::Store> = Arc::new(
            conflux_store::SqliteStore::open_in_memory()
                .await
                .expect("store"),
        );
        let entries = || PendingHistory::new(&store);
        writes.queue(&store, entries()).await;
        let mut waiting = Box::pin(writes.queue(&store, entries()));
        assert!(
            poll_once(&mut waiting).await.is_pending(),
            "the queue is full"
        );
        // The caller's client disconnects: its handler is dropped mid-wait.
        drop(waiting);
        let mut settled = Box::pin(writes.settled());
        assert!(poll_once(&mut settled).await.is_pending());
        // The writer still receives both calls' entries and finishes them;
        // then nothing holds the reader.
        let delivered = async {
            let mut tickets = Vec::new();
            for _ in 0..2 {
                let (ticket, _) = writer.recv().await.expect("writer queue open");
                tickets.push(ticket);
            }
            writes.shared.finish(&tickets);
            settled.await;
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), delivered)
            .await
            .expect("the entries of a caller that went away are delivered and readers go on");
    }

    #[tokio::test]
    async fn trigger_history_entries_dropped_unwritten_are_written_anyway() {
        let store: Arc<dyn conflux_store::Store> = Arc::new(
            conflux_store::SqliteStore::open_in_memory()
                .await
                .expect("store"),
        );
        let now = Utc::now();
        let id = RunId::generate(now);
        let mut history = PendingHistory::new(&store);
        history.record(TriggerHistoryRecord {
            workflow: WorkflowName::new("w"),
            trigger: "manual".into(),
            id: id.clone(),
            status: ActionStatus::Succeeded,
            code: Some("OK".into()),
            error: None,
            start_time: now,
            end_time: Some(now),
            fired: true,
            run_id: Some(id.clone()),
            inputs: None,
            outputs: None,
        });
        // The caller went away before committing (between the runs of a
        // debatched call): the entry must still land.
        drop(history);
        let written = async {
            loop {
                let entry = store
                    .get_trigger_history(&WorkflowName::new("w"), "manual", &id)
                    .await
                    .expect("read");
                if entry.is_some() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(30), written)
            .await
            .expect("the dropped entry is written");
    }

    fn chunked(pieces: &[&'static str]) -> axum::body::Body {
        let frames: Vec<Result<&'static str, std::io::Error>> =
            pieces.iter().copied().map(Ok).collect();
        axum::body::Body::from_stream(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn bodies_are_read_whole_and_held_to_the_limit_without_a_length() {
        let none = HeaderMap::new();
        let one = read_body(axum::body::Body::from("{\"a\":1}"), &none, 100)
            .await
            .unwrap();
        assert_eq!(&one[..], b"{\"a\":1}");
        let many = read_body(chunked(&["{\"a\"", ":", "", "1}"]), &none, 100)
            .await
            .unwrap();
        assert_eq!(&many[..], b"{\"a\":1}");
        assert!(read_body(chunked(&[]), &none, 100)
            .await
            .unwrap()
            .is_empty());
        let over = read_body(chunked(&["12345", "67890", "x"]), &none, 10)
            .await
            .unwrap_err();
        assert_eq!(over.code, "RequestEntityTooLarge");
        let exactly = read_body(chunked(&["12345", "67890"]), &none, 10).await;
        assert_eq!(&exactly.unwrap()[..], b"1234567890");
        let mut declared = HeaderMap::new();
        declared.insert("content-length", HeaderValue::from_static("11"));
        let refused = read_body(axum::body::Body::from("12345678901"), &declared, 10)
            .await
            .unwrap_err();
        assert_eq!(refused.code, "RequestEntityTooLarge");
    }

    #[test]
    fn correlation_ids_have_the_guid_form() {
        let id = new_correlation_id();
        let id = id.to_str().unwrap();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert!(id
            .chars()
            .all(|c| c == '-' || (c.is_ascii_hexdigit() && !c.is_ascii_uppercase())));
        assert_ne!(id, new_correlation_id());
    }
}
