//! The asynchronous response pattern of Request triggers.
//!
//! When a workflow's Response action has `operationOptions: "Asynchronous"`,
//! the caller is answered `202 Accepted` at once, with a `Location` header
//! (an absolute, signed URL under this host) and `Retry-After`. A `GET` on
//! that location answers `202` again while the run has not responded yet, and
//! the Response action's status, headers and body once it has. A run that
//! ends without responding makes the location answer an error.
//!
//! Answers are kept in memory for an hour after the run responded; after that
//! (or after a restart) the location falls back to the run's record in the
//! store, which holds the response of stateful runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use conflux_security::{KeyType, SasRequest, SAS_VERSION};
use conflux_store::RunId;
use serde_json::Value;

use crate::callback::{encode, QueryParams, API_VERSION};
use crate::reply::{self, ApiError, ErrorKind};
use crate::runtime::{ResponseBody, RunResponse};
use crate::state::HostState;

/// What a poller is asked to wait between two polls, in seconds.
pub const RETRY_AFTER_SECONDS: &str = "5";

/// `sp` of a response location.
pub const RESPONSE_PERMISSIONS: &str = "/response/read";

/// How long an answer stays in memory after the run responded.
const KEEP_ANSWERS: Duration = Duration::from_secs(3600);

/// Whether the workflow answers its callers asynchronously.
pub fn is_asynchronous(workflow: &conflux_definition::Workflow) -> bool {
    workflow.all_actions.values().any(|action| {
        matches!(action.kind, conflux_definition::ActionKind::Response { .. })
            && action.options.asynchronous
    })
}

/// The signed path of a run's response location.
pub fn location_path(workflow: &str, run: &str) -> String {
    format!(
        "/runtime/webhooks/workflow/api/responses/{}/runs/{}",
        encode(workflow),
        encode(run)
    )
}

/// The absolute, signed URL where the response of `run` can be fetched.
pub fn location(state: &HostState, workflow: &str, run: &RunId) -> String {
    let path = location_path(workflow, run.as_str());
    let sig = state.keys().sign(
        KeyType::Primary,
        &SasRequest {
            path: &path,
            permissions: RESPONSE_PERMISSIONS,
            version: SAS_VERSION,
            expiry: None,
        },
    );
    format!(
        "{}{path}?api-version={API_VERSION}&sp={}&sv={SAS_VERSION}&sig={sig}",
        state.base_url(),
        encode(RESPONSE_PERMISSIONS)
    )
}

#[derive(Clone)]
enum Entry {
    Waiting,
    Answered(RunResponse, Instant),
    NoResponse(Instant),
}

/// The answers of runs whose callers were told to poll.
#[derive(Default)]
pub struct AsyncResponses {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl AsyncResponses {
    /// Keeps the answer of `run` for pollers.
    pub fn watch(&self, run: &RunId, receiver: crate::runtime::ResponseReceiver) {
        {
            let mut entries = lock(&self.entries);
            entries.retain(|_, entry| match entry {
                Entry::Waiting => true,
                Entry::Answered(_, at) | Entry::NoResponse(at) => at.elapsed() < KEEP_ANSWERS,
            });
            entries.insert(run.to_string(), Entry::Waiting);
        }
        let entries = self.entries.clone();
        let key = run.to_string();
        tokio::spawn(async move {
            let entry = match receiver.await {
                Ok(response) => Entry::Answered(response, Instant::now()),
                Err(_) => Entry::NoResponse(Instant::now()),
            };
            lock(&entries).insert(key, entry);
        });
    }

    fn get(&self, run: &str) -> Option<Entry> {
        lock(&self.entries).get(run).cloned()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `GET /runtime/webhooks/workflow/api/responses/{workflow}/runs/{run}`
pub async fn poll(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((workflow, run)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    answer(&state, peer, &workflow, &run, raw.as_deref())
        .await
        .unwrap_or_else(axum::response::IntoResponse::into_response)
}

async fn answer(
    state: &HostState,
    peer: SocketAddr,
    workflow: &str,
    run: &str,
    raw: Option<&str>,
) -> Result<Response, ApiError> {
    let wf = state.workflow(workflow).cloned().ok_or_else(|| {
        ApiError::not_found(
            "WorkflowNotFound",
            format!("workflow '{workflow}' does not exist in this project"),
        )
    })?;
    if !wf.access.triggers.allows(peer.ip()) {
        return Err(ApiError::forbidden(
            "AuthorizationFailedByIpAddress",
            format!(
                "the caller address {} is not allowed to call the triggers of workflow '{}' (accessControl.triggers.allowedCallerIpAddresses)",
                peer.ip(),
                wf.name
            ),
        ));
    }
    let query = QueryParams::parse(raw);
    let sp = query.get("sp").unwrap_or("");
    if sp != RESPONSE_PERMISSIONS {
        return Err(ApiError::unauthorized(
            "AuthorizationFailed",
            "response locations must carry the sp they were issued with",
        ));
    }
    let path = location_path(&wf.name, run);
    state
        .keys()
        .verify(
            &SasRequest {
                path: &path,
                permissions: sp,
                version: query.get("sv").unwrap_or(SAS_VERSION),
                expiry: query.get("se"),
            },
            query.get("sig").unwrap_or(""),
            state.clock.now(),
        )
        .map_err(|err| ApiError::unauthorized("AuthorizationFailed", err.to_string()))?;
    let run_id = RunId::new(run);
    let mut headers = HeaderMap::new();
    let suppress = wf
        .trigger()
        .is_some_and(|t| t.options.suppress_workflow_headers_on_response);
    if !suppress {
        reply::append_text(&mut headers, reply::WORKFLOW_RUN_ID, run);
        reply::append_text(&mut headers, reply::WORKFLOW_NAME, &wf.name);
    }
    let entry = match state.async_responses.get(run) {
        Some(entry) => entry,
        None => stored_entry(state, &wf.name, &run_id).await?,
    };
    match entry {
        Entry::Waiting => {
            reply::insert_header(
                &mut headers,
                "location",
                &location(state, &wf.name, &run_id),
            );
            reply::insert_header(&mut headers, "retry-after", RETRY_AFTER_SECONDS);
            Ok(reply::accepted(headers))
        }
        Entry::Answered(response, _) => Ok(crate::triggers::render_response(response, headers)),
        Entry::NoResponse(_) => {
            let mut response = axum::response::IntoResponse::into_response(ApiError::new(
                ErrorKind::NoResponse,
                "NoResponse",
                format!("run {run_id} ended without running a Response action; read its history for the reason"),
            ));
            response.headers_mut().extend(headers);
            Ok(response)
        }
    }
}

/// The answer as the run's record tells it, when memory no longer has it.
async fn stored_entry(state: &HostState, workflow: &str, run: &RunId) -> Result<Entry, ApiError> {
    let record = state
        .store
        .get_run(run)
        .await?
        .filter(|record| record.workflow.as_str().eq_ignore_ascii_case(workflow))
        .ok_or_else(|| {
            ApiError::not_found(
                "ResponseNotFound",
                format!("workflow '{workflow}' has no run '{run}' whose response is kept (stateless runs keep theirs in memory for an hour)"),
            )
        })?;
    if let Some(response) = &record.response {
        return Ok(Entry::Answered(stored_response(response), Instant::now()));
    }
    if record.status.is_terminal() {
        Ok(Entry::NoResponse(Instant::now()))
    } else {
        Ok(Entry::Waiting)
    }
}

/// `{statusCode, headers, body}` as recorded on the run.
fn stored_response(value: &Value) -> RunResponse {
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(200);
    let headers = value
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = match value.get("body") {
        None | Some(Value::Null) => ResponseBody::Empty,
        Some(Value::String(text)) => ResponseBody::Text(text.clone()),
        Some(Value::Object(o)) if o.contains_key("$content-type") && o.contains_key("$content") => {
            let content_type = o["$content-type"]
                .as_str()
                .unwrap_or("application/octet-stream");
            match o["$content"]
                .as_str()
                .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
            {
                Some(bytes) => ResponseBody::Binary {
                    content_type: content_type.to_string(),
                    bytes,
                },
                None => ResponseBody::Json(Value::Object(o.clone())),
            }
        }
        Some(other) => ResponseBody::Json(other.clone()),
    };
    RunResponse {
        status,
        headers,
        body,
    }
}
