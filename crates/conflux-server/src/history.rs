//! Run history through the management API: runs, actions, repetitions,
//! trigger histories, resubmit, and the signed content links of inputs/outputs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::response::Response;
use conflux_definition::{ActionKind, ActionMap};
use conflux_security::{SasRequest, SAS_VERSION};
use conflux_store::{
    ActionRecord, ActionStatus, ContinuationToken, HistoryQuery, RepetitionKey, RunId, RunQuery,
    RunRecord, RunStatus, TriggerHistoryRecord, WorkflowName,
};
use serde_json::{json, Value};

use crate::callback::{content_link, content_path, QueryParams, CONTENT_PERMISSIONS};
use crate::management::find_workflow;
use crate::reply::{self, ApiError};
use crate::runtime::StartRequest;
use crate::state::{HostState, HostedWorkflow};
use crate::triggers::runtime_error;

const MANAGEMENT: &str = "/runtime/webhooks/workflow/api/management";

pub async fn load_run(
    state: &HostState,
    wf: &HostedWorkflow,
    run_id: &RunId,
) -> Result<RunRecord, ApiError> {
    state
        .store
        .get_run(run_id)
        .await?
        .filter(|run| run.workflow.as_str().eq_ignore_ascii_case(&wf.name))
        .ok_or_else(|| {
            ApiError::not_found(
                "RunNotFound",
                format!("workflow '{}' has no run '{run_id}'", wf.name),
            )
        })
}

fn run_resource(wf: &HostedWorkflow, run: &RunRecord) -> Value {
    json!({
        "name": run.run_id,
        "id": format!("/workflows/{}/runs/{}", wf.name, run.run_id),
        "type": "workflows/runs",
        "properties": {
            "waitEndTime": run.wait_end_time,
            "startTime": run.start_time,
            "endTime": run.end_time,
            "status": run.status.as_str(),
            "code": run.code,
            "error": run.error,
            "correlation": {"clientTrackingId": run.client_tracking_id},
            "workflow": {"name": run.version_id, "id": format!("/workflows/{}/versions/{}", wf.name, run.version_id), "type": "workflows/versions"},
            "trigger": run.trigger,
            "outputs": run.outputs.clone().unwrap_or_else(|| json!({})),
            "response": run.response,
        }
    })
}

/// `GET .../runs?$top=&$filter=status eq 'Failed'&$skiptoken=`
pub async fn list_runs(
    State(state): State<Arc<HostState>>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let top = match params.get("$top") {
        None => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            ApiError::bad_request(
                "InvalidTop",
                format!("$top '{text}' is not a positive number"),
            )
        })?),
    };
    let status = match params.get("$filter") {
        None => None,
        Some(filter) => Some(parse_status_filter(filter)?),
    };
    let query = RunQuery {
        status,
        top,
        continuation: params
            .get("$skiptoken")
            .map(|t| ContinuationToken::new(t.as_str())),
        ..RunQuery::default()
    };
    let page = state
        .store
        .list_runs(&WorkflowName::new(wf.name.as_str()), &query)
        .await?;
    let value: Vec<Value> = page
        .items
        .iter()
        .map(|run| run_resource(&wf, run))
        .collect();
    let mut body = json!({ "value": value });
    if let Some(next) = page.next {
        let mut link = format!(
            "{}{MANAGEMENT}/workflows/{}/runs?$skiptoken={}",
            state.base_url(),
            wf.name,
            crate::callback::encode(next.as_str())
        );
        if let Some(top) = top {
            link.push_str(&format!("&$top={top}"));
        }
        if let Some(filter) = params.get("$filter") {
            link.push_str(&format!("&$filter={}", crate::callback::encode(filter)));
        }
        body["nextLink"] = json!(link);
    }
    Ok(reply::ok(body))
}

/// Supports `status eq 'X'` (the filter the portal uses).
fn parse_status_filter(filter: &str) -> Result<RunStatus, ApiError> {
    let bad = || {
        ApiError::bad_request("InvalidFilter", format!("$filter '{filter}' is not supported; use status eq 'Failed' (or another run status)"))
    };
    let mut parts = filter.split_whitespace();
    let (Some(field), Some(op)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    let value: String = parts.collect::<Vec<_>>().join(" ");
    if !field.eq_ignore_ascii_case("status") || !op.eq_ignore_ascii_case("eq") {
        return Err(bad());
    }
    let value = value.trim().trim_matches('\'');
    value
        .parse::<RunStatus>()
        .map_err(|err| ApiError::bad_request("InvalidFilter", err.to_string()))
}

pub async fn get_run(
    State(state): State<Arc<HostState>>,
    Path((name, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run = load_run(&state, &wf, &RunId::new(run)).await?;
    Ok(reply::ok(run_resource(&wf, &run)))
}

/// Every action of the definition, depth first in document order, with
/// whether it sits inside a loop.
fn definition_actions(map: &ActionMap, in_loop: bool, out: &mut Vec<(String, bool)>) {
    for action in &map.actions {
        out.push((action.name.to_string(), in_loop));
        let child_in_loop = in_loop
            || matches!(
                action.kind,
                ActionKind::Foreach { .. } | ActionKind::Until { .. }
            );
        for child in action.kind.containers() {
            definition_actions(child, child_in_loop, out);
        }
    }
}

fn action_id(wf: &HostedWorkflow, run: &RunId, action: &str) -> String {
    format!("/workflows/{}/runs/{run}/actions/{action}", wf.name)
}

fn record_properties(state: &HostState, wf: &HostedWorkflow, record: &ActionRecord) -> Value {
    let now = state.clock.now();
    let mut properties = json!({
        "status": record.status.as_str(),
        "code": record.code,
        "startTime": record.start_time,
        "endTime": record.end_time,
        "correlation": {"actionTrackingId": record.tracking_id},
    });
    if let Some(error) = &record.error {
        properties["error"] = error.clone();
    }
    let repetition = (!record.repetition.is_none()).then(|| record.repetition.as_str());
    for (section, content, link_name) in [
        ("inputs", &record.inputs, "inputsLink"),
        ("outputs", &record.outputs, "outputsLink"),
    ] {
        if record.is_secured(section) {
            continue;
        }
        if let Some(content) = content {
            let size = serde_json::to_vec(content).map(|b| b.len()).unwrap_or(0);
            let path = content_path(
                &wf.name,
                record.run_id.as_str(),
                &record.name,
                repetition,
                section,
            );
            properties[link_name] = content_link(state, &path, now, size);
        }
    }
    if !record.secured_sections.is_empty() {
        properties["secureData"] = json!({"properties": record.secured_sections});
    }
    if !record.retry_history.is_empty() {
        properties["retryHistory"] = json!(record.retry_history);
    }
    if let Some(tracked) = &record.tracked_properties {
        properties["trackedProperties"] = tracked.clone();
    }
    if let Some(count) = record.iteration_count {
        properties["iterationCount"] = json!(count);
    }
    if !record.repetition_indexes.is_empty() {
        properties["repetitionIndexes"] = json!(record
            .repetition_indexes
            .iter()
            .map(|(scope, index)| json!({"scopeName": scope, "itemIndex": index}))
            .collect::<Vec<_>>());
    }
    properties
}

async fn action_resource(
    state: &HostState,
    wf: &HostedWorkflow,
    run: &RunRecord,
    name: &str,
    in_loop: bool,
    record: Option<&ActionRecord>,
) -> Result<Value, ApiError> {
    let mut properties = match record {
        Some(record) => record_properties(state, wf, record),
        // Never ran: Skipped once the run is over, Waiting while it goes on.
        None => {
            let status = if run.status.is_terminal() {
                ActionStatus::Skipped
            } else {
                ActionStatus::Waiting
            };
            json!({"status": status.as_str()})
        }
    };
    if in_loop {
        let repetitions = state.store.list_repetitions(&run.run_id, name).await?;
        properties["repetitionCount"] = json!(repetitions.len());
    }
    Ok(json!({
        "name": name,
        "id": action_id(wf, &run.run_id, name),
        "type": "workflows/runs/actions",
        "properties": properties,
    }))
}

pub async fn list_actions(
    State(state): State<Arc<HostState>>,
    Path((name, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run = load_run(&state, &wf, &RunId::new(run)).await?;
    let records = state.store.list_actions(&run.run_id).await?;
    let by_name: HashMap<&str, &ActionRecord> =
        records.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut names = Vec::new();
    definition_actions(&wf.workflow.actions, false, &mut names);
    let mut value = Vec::with_capacity(names.len());
    for (action, in_loop) in &names {
        value.push(
            action_resource(
                &state,
                &wf,
                &run,
                action,
                *in_loop,
                by_name.get(action.as_str()).copied(),
            )
            .await?,
        );
    }
    Ok(reply::ok(json!({ "value": value })))
}

pub async fn get_action(
    State(state): State<Arc<HostState>>,
    Path((name, run, action)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run = load_run(&state, &wf, &RunId::new(run)).await?;
    let mut names = Vec::new();
    definition_actions(&wf.workflow.actions, false, &mut names);
    let (action, in_loop) = names
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&action))
        .ok_or_else(|| {
            ApiError::not_found(
                "ActionNotFound",
                format!("workflow '{}' has no action '{action}'", wf.name),
            )
        })?;
    let record = state.store.get_action(&run.run_id, &action).await?;
    Ok(reply::ok(
        action_resource(&state, &wf, &run, &action, in_loop, record.as_ref()).await?,
    ))
}

fn repetition_resource(state: &HostState, wf: &HostedWorkflow, record: &ActionRecord) -> Value {
    json!({
        "name": record.repetition.as_str(),
        "id": format!("{}/repetitions/{}", action_id(wf, &record.run_id, &record.name), record.repetition),
        "type": "workflows/runs/actions/repetitions",
        "properties": record_properties(state, wf, record),
    })
}

pub async fn list_repetitions(
    State(state): State<Arc<HostState>>,
    Path((name, run, action)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run = load_run(&state, &wf, &RunId::new(run)).await?;
    let records = state.store.list_repetitions(&run.run_id, &action).await?;
    let value: Vec<Value> = records
        .iter()
        .map(|r| repetition_resource(&state, &wf, r))
        .collect();
    Ok(reply::ok(json!({ "value": value })))
}

pub async fn get_repetition(
    State(state): State<Arc<HostState>>,
    Path((name, run, action, repetition)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let run = load_run(&state, &wf, &RunId::new(run)).await?;
    let key = RepetitionKey::parse(&repetition)?;
    let record = state
        .store
        .get_repetition(&run.run_id, &action, &key)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "RepetitionNotFound",
                format!("action '{action}' has no repetition '{repetition}'"),
            )
        })?;
    Ok(reply::ok(repetition_resource(&state, &wf, &record)))
}

fn history_resource(state: &HostState, wf: &HostedWorkflow, entry: &TriggerHistoryRecord) -> Value {
    let mut properties = json!({
        "startTime": entry.start_time,
        "endTime": entry.end_time,
        "status": entry.status.as_str(),
        "code": entry.code,
        "fired": entry.fired,
    });
    if let Some(error) = &entry.error {
        properties["error"] = error.clone();
    }
    if let Some(outputs) = &entry.outputs {
        let size = serde_json::to_vec(outputs).map(|b| b.len()).unwrap_or(0);
        let path = history_content_path(&wf.name, &entry.trigger, entry.id.as_str());
        properties["outputsLink"] = content_link(state, &path, state.clock.now(), size);
    }
    if let Some(run) = &entry.run_id {
        properties["run"] = json!({"name": run, "id": format!("/workflows/{}/runs/{run}", wf.name), "type": "workflows/runs"});
    }
    json!({
        "name": entry.id,
        "id": format!("/workflows/{}/triggers/{}/histories/{}", wf.name, entry.trigger, entry.id),
        "type": "workflows/triggers/histories",
        "properties": properties,
    })
}

pub async fn list_histories(
    State(state): State<Arc<HostState>>,
    Path((name, trigger)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let query = HistoryQuery {
        top: params.get("$top").and_then(|t| t.parse().ok()),
        continuation: params
            .get("$skiptoken")
            .map(|t| ContinuationToken::new(t.as_str())),
    };
    state.history_writes.settled().await;
    let page = state
        .store
        .list_trigger_histories(&WorkflowName::new(wf.name.as_str()), &trigger, &query)
        .await?;
    let value: Vec<Value> = page
        .items
        .iter()
        .map(|h| history_resource(&state, &wf, h))
        .collect();
    let mut body = json!({ "value": value });
    if let Some(next) = page.next {
        let mut link = format!(
            "{}{MANAGEMENT}/workflows/{}/triggers/{trigger}/histories?$skiptoken={}",
            state.base_url(),
            wf.name,
            crate::callback::encode(next.as_str())
        );
        // The next page keeps the page size asked for.
        if let Some(top) = query.top {
            link.push_str(&format!("&$top={top}"));
        }
        body["nextLink"] = json!(link);
    }
    Ok(reply::ok(body))
}

async fn load_history(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &str,
    id: &str,
) -> Result<TriggerHistoryRecord, ApiError> {
    state.history_writes.settled().await;
    state
        .store
        .get_trigger_history(
            &WorkflowName::new(wf.name.as_str()),
            trigger,
            &RunId::new(id),
        )
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "TriggerHistoryNotFound",
                format!("trigger '{trigger}' has no history entry '{id}'"),
            )
        })
}

pub async fn get_history(
    State(state): State<Arc<HostState>>,
    Path((name, trigger, id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let entry = load_history(&state, &wf, &trigger, &id).await?;
    Ok(reply::ok(history_resource(&state, &wf, &entry)))
}

/// A new run from the recorded trigger outputs (conditions are not re-applied).
pub async fn resubmit(
    State(state): State<Arc<HostState>>,
    Path((name, trigger, id)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let entry = load_history(&state, &wf, &trigger, &id).await?;
    let outputs = entry.outputs.clone().ok_or_else(|| {
        ApiError::bad_request("TriggerOutputsUnavailable", "this history entry has no recorded outputs (they were secured); it cannot be resubmitted")
    })?;
    let started = state
        .runtime
        .start_run(StartRequest {
            workflow: wf.name.clone(),
            trigger_name: entry.trigger.clone(),
            trigger_outputs: outputs.into(),
            client_tracking_id: None,
            caller_drives: false,
        })
        .await
        .map_err(runtime_error)?;
    crate::management::started_reply(crate::triggers::Fired::Started(vec![started]))
}

/// `GET /runtime/webhooks/workflow/api/contents/...`: signed, expiring, IP-filtered.
pub async fn content(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let wf = find_workflow(&state, get("workflow"))?;
    let section = get("section");
    if section != "inputs" && section != "outputs" {
        return Err(ApiError::not_found(
            "ContentNotFound",
            "content links end in /inputs or /outputs",
        ));
    }
    let repetition = params.get("repetition").map(String::as_str);
    let path = content_path(&wf.name, get("run"), get("action"), repetition, section);
    check_content_access(&state, &wf, peer, &path, raw.as_deref())?;
    let run_id = RunId::new(get("run"));
    let key = match repetition {
        Some(rep) => RepetitionKey::parse(rep)?,
        None => RepetitionKey::none(),
    };
    let record = state
        .store
        .get_repetition(&run_id, get("action"), &key)
        .await?;
    let content = record
        .filter(|r| !r.is_secured(section))
        .and_then(|r| {
            if section == "inputs" {
                r.inputs
            } else {
                r.outputs
            }
        })
        .ok_or_else(|| {
            ApiError::not_found(
                "ContentNotFound",
                "this content does not exist or is secured",
            )
        })?;
    Ok(reply::ok(content))
}

fn history_content_path(workflow: &str, trigger: &str, id: &str) -> String {
    format!(
        "/runtime/webhooks/workflow/api/contents/{}/triggers/{}/histories/{}/outputs",
        crate::callback::encode(workflow),
        crate::callback::encode(trigger),
        crate::callback::encode(id)
    )
}

/// `GET /runtime/webhooks/workflow/api/contents/{w}/triggers/{t}/histories/{h}/outputs`
pub async fn history_content(
    State(state): State<Arc<HostState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((name, trigger, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let wf = find_workflow(&state, &name)?;
    let path = history_content_path(&wf.name, &trigger, &id);
    check_content_access(&state, &wf, peer, &path, raw.as_deref())?;
    let outputs = load_history(&state, &wf, &trigger, &id)
        .await?
        .outputs
        .ok_or_else(|| {
            ApiError::not_found(
                "ContentNotFound",
                "this content does not exist or is secured",
            )
        })?;
    Ok(reply::ok(outputs))
}

/// Content links are IP-filtered (`accessControl.contents`), signed and expiring.
fn check_content_access(
    state: &HostState,
    wf: &HostedWorkflow,
    peer: SocketAddr,
    path: &str,
    raw: Option<&str>,
) -> Result<(), ApiError> {
    if !wf.access.contents.allows(peer.ip()) {
        return Err(ApiError::forbidden(
            "AuthorizationFailedByIpAddress",
            format!("the caller address {} may not read run-history contents of workflow '{}' (accessControl.contents)", peer.ip(), wf.name),
        ));
    }
    let query = QueryParams::parse(raw);
    let sp = query.get("sp").unwrap_or("");
    if sp != CONTENT_PERMISSIONS || query.get("se").is_none() {
        return Err(ApiError::unauthorized(
            "AuthorizationFailed",
            "content links must carry the sp and se they were issued with",
        ));
    }
    state
        .keys()
        .verify(
            &SasRequest {
                path,
                permissions: sp,
                version: query.get("sv").unwrap_or(SAS_VERSION),
                expiry: query.get("se"),
            },
            query.get("sig").unwrap_or(""),
            state.clock.now(),
        )
        .map(|_| ())
        .map_err(|err| ApiError::unauthorized("AuthorizationFailed", err.to_string()))
}
