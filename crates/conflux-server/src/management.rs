//! The management API: workflows, triggers, callback URLs, keys. Run
//! history lives in `history.rs`. Shapes follow Logic Apps Standard:
//! resources are `{"name", "id", "type", "properties"}`, lists `{"value", "nextLink"}`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use conflux_definition::TriggerDefinition;
use conflux_security::{AccessKeys, KeyType};
use conflux_store::WorkflowName;
use serde_json::{json, Map, Value};

use crate::callback::callback_url;
use crate::reply::{self, ApiError};
use crate::state::{HostState, HostedWorkflow};
use crate::triggers::{fire, runtime_error, Fired};

/// kv namespace of host-level records (sealed access keys, admin key hash, workflow states).
pub const KV_NAMESPACE: &str = "conflux-server";

/// Requires `Authorization: Bearer <admin key>` on every management route.
/// The key of an `Authorization: Bearer <key>` header.
pub fn bearer_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

pub async fn require_admin(
    State(state): State<Arc<HostState>>,
    request: Request,
    next: Next,
) -> Response {
    match bearer_key(request.headers()) {
        Some(key) if state.admin.verify(key) => next.run(request).await,
        Some(_) => ApiError::unauthorized("InvalidAdminKey", "the admin key in the Authorization header is not valid").into_response(),
        None => ApiError::unauthorized(
            "MissingAdminKey",
            "the management API needs `Authorization: Bearer <admin key>` (the key printed at first start, or CONFLUX_ADMIN_KEY)",
        )
        .into_response(),
    }
}

pub fn find_workflow(state: &HostState, name: &str) -> Result<Arc<HostedWorkflow>, ApiError> {
    state.workflow(name).cloned().ok_or_else(|| {
        ApiError::not_found(
            "WorkflowNotFound",
            format!("workflow '{name}' does not exist in this project"),
        )
    })
}

/// The trigger `name` of `wf`, or 404 `TriggerNotFound`.
fn find_trigger<'a>(wf: &'a HostedWorkflow, name: &str) -> Result<&'a TriggerDefinition, ApiError> {
    wf.trigger_named(name).ok_or_else(|| {
        ApiError::not_found(
            "TriggerNotFound",
            format!("workflow '{}' has no trigger '{name}'", wf.name),
        )
    })
}

fn workflow_state(wf: &HostedWorkflow) -> &'static str {
    if wf.is_enabled() {
        "Enabled"
    } else {
        "Disabled"
    }
}

/// The definition with the default values of secure parameters removed.
fn public_definition(wf: &HostedWorkflow) -> Value {
    definition_without_secrets(&wf.document)
}

/// The `definition` of a workflow.json document without the default values
/// of secure parameters.
fn definition_without_secrets(document: &Value) -> Value {
    let mut definition = document
        .get("definition")
        .cloned()
        .unwrap_or_else(|| document.clone());
    if let Some(Value::Object(params)) = definition.get_mut("parameters") {
        for (_, param) in params.iter_mut() {
            let secure = param
                .get("type")
                .and_then(Value::as_str)
                .and_then(conflux_definition::ParameterType::parse)
                .is_some_and(|t| t.is_secure());
            if secure {
                if let Some(obj) = param.as_object_mut() {
                    obj.remove("defaultValue");
                    obj.remove("value");
                }
            }
        }
    }
    definition
}

fn workflow_resource(wf: &HostedWorkflow) -> Value {
    let secure: Vec<&str> = wf
        .workflow
        .parameters
        .iter()
        .filter(|(_, p)| p.kind.is_secure())
        .map(|(name, _)| name.as_str())
        .collect();
    let parameters: Map<String, Value> = wf
        .parameters
        .iter()
        .filter(|(name, _)| !secure.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), json!({"value": value})))
        .collect();
    json!({
        "name": wf.name,
        "id": format!("/workflows/{}", wf.name),
        "type": "workflows",
        "kind": format!("{:?}", wf.kind),
        "properties": {
            "state": workflow_state(wf),
            "health": {"state": "Healthy"},
            "kind": format!("{:?}", wf.kind),
            "definition": public_definition(wf),
            "parameters": parameters,
        }
    })
}

pub async fn list_workflows(State(state): State<Arc<HostState>>) -> Response {
    let value: Vec<Value> = state
        .workflows
        .iter()
        .map(|wf| workflow_resource(wf))
        .collect();
    reply::ok(json!({ "value": value }))
}

pub async fn get_workflow(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    Ok(reply::ok(workflow_resource(&wf)))
}

pub async fn enable_workflow(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let reply = set_enabled(&state, &name, true).await?;
    crate::webhook::workflow_toggled(&state, &name, true).await;
    Ok(reply)
}

pub async fn disable_workflow(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let reply = set_enabled(&state, &name, false).await?;
    crate::webhook::workflow_toggled(&state, &name, false).await;
    Ok(reply)
}

/// Disabling stops new runs; runs in flight finish (wdl-spec §10.1).
async fn set_enabled(state: &HostState, name: &str, enabled: bool) -> Result<Response, ApiError> {
    let wf = find_workflow(state, name)?;
    let text: &[u8] = if enabled { b"Enabled" } else { b"Disabled" };
    state
        .store
        .kv_put(
            KV_NAMESPACE,
            &format!("workflow-state/{}", wf.name),
            text.to_vec(),
        )
        .await?;
    wf.enabled.store(enabled, Ordering::SeqCst);
    tracing::info!(workflow = %wf.name, enabled, "Workflow state changed.");
    Ok(reply::ok_empty())
}

async fn trigger_resource(
    state: &HostState,
    wf: &HostedWorkflow,
    name: &str,
) -> Result<Value, ApiError> {
    let trigger = find_trigger(wf, name)?;
    let mut properties = json!({
        "state": workflow_state(wf),
        "type": trigger.type_name,
    });
    if let Some(kind) = &trigger.kind {
        properties["kind"] = json!(kind);
    }
    if let Some(recurrence) = &trigger.recurrence {
        properties["recurrence"] = recurrence.clone();
    }
    let stored = state
        .store
        .get_trigger_state(&WorkflowName::new(wf.name.as_str()), &trigger.name)
        .await?;
    if let Some(next) = stored
        .as_ref()
        .and_then(|s| s.get("nextOccurrence").or_else(|| s.get("nextPoll")))
    {
        properties["nextExecutionTime"] = next.clone();
    }
    if let Some(last) = stored.as_ref().and_then(|s| s.get("lastOccurrence")) {
        properties["lastExecutionTime"] = last.clone();
    }
    Ok(json!({
        "name": trigger.name,
        "id": format!("/workflows/{}/triggers/{}", wf.name, trigger.name),
        "type": "workflows/triggers",
        "properties": properties,
    }))
}

pub async fn list_triggers(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let mut value = Vec::new();
    for trigger in wf.workflow.triggers.keys() {
        value.push(trigger_resource(&state, &wf, trigger).await?);
    }
    Ok(reply::ok(json!({ "value": value })))
}

pub async fn get_trigger(
    State(state): State<Arc<HostState>>,
    Path((name, trigger)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    Ok(reply::ok(trigger_resource(&state, &wf, &trigger).await?))
}

/// `POST .../triggers/{t}/listCallbackUrl`, body empty, `{}` or `{"NotAfter", "KeyType"}`.
pub async fn list_callback_url(
    State(state): State<Arc<HostState>>,
    Path((name, trigger)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let def = find_trigger(&wf, &trigger)?;
    if !def.type_name.eq_ignore_ascii_case("Request") && !crate::webhook::is_webhook_trigger(def) {
        return Err(ApiError::bad_request(
            "TriggerHasNoCallbackUrl",
            format!(
                "trigger '{trigger}' is a {} trigger; only Request and HttpWebhook triggers have callback URLs",
                def.type_name
            ),
        ));
    }
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| ApiError::bad_request("InvalidRequestContent", format!("the body must be JSON such as {{\"NotAfter\": \"2030-01-01T00:00:00Z\", \"KeyType\": \"Primary\"}}: {err}")))?
    };
    let field = |name: &str| {
        options
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
    };
    let key = match field("KeyType") {
        None => KeyType::Primary,
        Some(text) => KeyType::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "InvalidKeyType",
                format!("KeyType '{text}' is not Primary or Secondary"),
            )
        })?,
    };
    let not_after = match field("NotAfter") {
        None => None,
        Some(text) => Some(
            conflux_security::parse_expiry(text)
                .ok_or_else(|| ApiError::bad_request("InvalidNotAfter", format!("NotAfter '{text}' is not an ISO 8601 date-time with offset, e.g. 2030-01-01T00:00:00Z")))?,
        ),
    };
    Ok(reply::ok(callback_url(
        &state, &wf, &def.name, key, not_after,
    )))
}

/// `POST .../triggers/{t}/run`: fires the trigger with the posted body (IP rules do not apply).
pub async fn run_trigger(
    State(state): State<Arc<HostState>>,
    Path((name, trigger)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let def = find_trigger(&wf, &trigger)?;
    if !wf.is_enabled() {
        return Err(ApiError::new(
            crate::reply::ErrorKind::Conflict,
            "WorkflowDisabled",
            format!("workflow '{}' is disabled", wf.name),
        ));
    }
    let mut outputs = json!({"headers": {}});
    if !body.is_empty() {
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        outputs["body"] = if crate::request::is_json_type(content_type) {
            serde_json::from_slice(&body).map_err(|err| {
                ApiError::bad_request(
                    "InvalidRequestContent",
                    format!("the body is not valid JSON: {err}"),
                )
            })?
        } else {
            Value::String(String::from_utf8_lossy(&body).into_owned())
        };
    }
    started_reply(fire(&state, &wf, def, outputs.into(), None).await?)
}

pub fn started_reply(mut fired: Fired) -> Result<Response, ApiError> {
    let mut headers = HeaderMap::new();
    if let Fired::Started(runs) = &mut fired {
        // Nobody waits here: the runs' Response actions answer no one.
        runs.iter_mut().for_each(crate::triggers::detach_response);
        if let Some(run) = runs.first() {
            reply::append_text(&mut headers, reply::WORKFLOW_RUN_ID, run.run_id.as_str());
        }
    }
    Ok(reply::accepted(headers))
}

/// `POST .../accessKeys/{primary|secondary}/regenerate`: every URL signed with that key stops working.
pub async fn regenerate_key(
    State(state): State<Arc<HostState>>,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let key = KeyType::parse(&key).ok_or_else(|| {
        ApiError::not_found(
            "KeyNotFound",
            format!("access key '{key}' does not exist; use primary or secondary"),
        )
    })?;
    let mut keys = AccessKeys::clone(&state.keys());
    keys.regenerate(key);
    crate::keys::save_access_keys(state.store.as_ref(), &state.master_key, &keys).await?;
    *state.access_keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
    tracing::info!(key = key.as_str(), "Access key regenerated.");
    Ok(reply::ok_empty())
}

/// `POST .../runs/{r}/cancel`
pub async fn cancel_run(
    State(state): State<Arc<HostState>>,
    Path((name, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run_id = conflux_store::RunId::new(run);
    crate::history::load_run(&state, &wf, &run_id).await?;
    state
        .runtime
        .cancel_run(&wf.name, &run_id)
        .await
        .map_err(runtime_error)?;
    Ok(reply::ok_empty())
}

/// A stored definition version as a resource (a Conflux extension: Logic Apps
/// Standard documents no versions API). The definition never carries the
/// default values of secure parameters.
fn version_resource(wf: &HostedWorkflow, version: &conflux_store::WorkflowVersion) -> Value {
    json!({
        "name": version.version_id,
        "id": format!("/workflows/{}/versions/{}", wf.name, version.version_id),
        "type": "workflows/versions",
        "properties": {
            "version": version.version_id,
            "createdTime": version.created,
            "definition": definition_without_secrets(&version.definition),
        }
    })
}

/// `GET .../workflows/{w}/versions`: the stored definition versions, newest first.
pub async fn list_versions(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let versions = state
        .store
        .list_workflow_versions(&WorkflowName::new(wf.name.as_str()))
        .await?;
    let value: Vec<Value> = versions.iter().map(|v| version_resource(&wf, v)).collect();
    Ok(reply::ok(json!({ "value": value })))
}

/// `GET .../workflows/{w}/versions/{v}`
pub async fn get_version(
    State(state): State<Arc<HostState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let found = state
        .store
        .get_workflow_version(&WorkflowName::new(wf.name.as_str()), &version)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "WorkflowVersionNotFound",
                format!("workflow '{}' has no version '{version}'", wf.name),
            )
        })?;
    Ok(reply::ok(version_resource(&wf, &found)))
}
