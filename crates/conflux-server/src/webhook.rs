//! Webhooks: the callback endpoint of waiting HttpWebhook actions, and the
//! subscriptions of HttpWebhook triggers.
//!
//! An action's callback URL is
//! `/runtime/webhooks/workflow/api/callbacks/{workflow}/runs/{run}/actions/{action}[/repetitions/{rep}]`
//! signed like a trigger URL (`sp=/actions/callback`); a POST to it hands
//! `{headers, body}` to the waiting action. An HttpWebhook trigger's callback
//! URL is its signed invoke URL (the one a Request trigger would have); the
//! trigger subscribes when the host starts or the workflow is enabled, and
//! unsubscribes when the workflow is disabled. A keyed fingerprint of the
//! evaluated subscribe request is kept in trigger state, so a restart does not
//! subscribe again unless the request changed. Next to it the trigger state
//! keeps the unsubscribe request evaluated when the subscription was made,
//! sealed with the master key (it may carry credentials): when the subscribe
//! request changed, that stored request ends the old subscription before the
//! new one is made, and disabling sends it rather than what the current
//! definition would evaluate to. State without it (written before it was
//! kept) falls back to evaluating the current definition's unsubscribe.
//! When the host starts, a subscription recorded for a trigger that no
//! longer listens (its workflow folder removed, the trigger removed or no
//! longer a webhook, or the workflow disabled without the subscription
//! having been cleared) is ended the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use conflux_definition::TriggerDefinition;
use conflux_engine::{CallbackKey, CallbackSigner, WebhookCallbacks, WebhookClient};
use conflux_expr::{CompiledValue, EvalError, EvalHost};
use conflux_security::{KeyType, SasRequest, SAS_VERSION};
use conflux_store::WorkflowName;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::callback::{encode, QueryParams, API_VERSION};
use crate::reply::{self, ApiError};
use crate::request::{trigger_outputs, OutputsRequest};
use crate::state::{HostState, HostedWorkflow};

/// `sp` of an action callback URL.
pub const ACTION_CALLBACK_PERMISSIONS: &str = "/actions/callback";

/// Trigger state field: fingerprint of the evaluated subscribe request.
const SUBSCRIPTION: &str = "subscription";
/// Trigger state field: base64 of the sealed unsubscribe request evaluated
/// when the subscription was made.
const SEALED_UNSUBSCRIBE: &str = "sealedUnsubscribe";

/// The longest wait between two subscribe attempts of a trigger.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What the host needs for webhooks: the engine's waiter registry and a
/// client for subscribe/unsubscribe requests.
pub struct WebhookHosting {
    pub callbacks: Arc<WebhookCallbacks>,
    pub client: WebhookClient,
    /// The subscribe task of each workflow with an HttpWebhook trigger.
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl WebhookHosting {
    pub fn new(callbacks: Arc<WebhookCallbacks>, client: WebhookClient) -> WebhookHosting {
        WebhookHosting {
            callbacks,
            client,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    fn replace_task(&self, workflow: &str, task: Option<JoinHandle<()>>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = tasks.remove(workflow) {
            old.abort();
        }
        if let Some(task) = task {
            tasks.insert(workflow.to_string(), task);
        }
    }
}

pub fn is_webhook_trigger(trigger: &TriggerDefinition) -> bool {
    trigger.type_name.eq_ignore_ascii_case("HttpWebhook")
}

/// The signed path of an action callback.
pub fn action_callback_path(key: &CallbackKey) -> String {
    let mut path = format!(
        "/runtime/webhooks/workflow/api/callbacks/{}/runs/{}/actions/{}",
        encode(&key.workflow),
        encode(&key.run_id),
        encode(&key.action)
    );
    if !key.repetition.is_empty() {
        path.push_str(&format!("/repetitions/{}", encode(&key.repetition)));
    }
    path
}

/// Signs action callback URLs with the host's primary access key.
struct Signer {
    state: Weak<HostState>,
}

impl CallbackSigner for Signer {
    fn callback_url(&self, key: &CallbackKey) -> String {
        let path = action_callback_path(key);
        let Some(state) = self.state.upgrade() else {
            return path;
        };
        let sig = state.keys().sign(
            KeyType::Primary,
            &SasRequest {
                path: &path,
                permissions: ACTION_CALLBACK_PERMISSIONS,
                version: SAS_VERSION,
                expiry: None,
            },
        );
        format!(
            "{}{path}?api-version={API_VERSION}&sp={}&sv={SAS_VERSION}&sig={sig}",
            state.base_url(),
            encode(ACTION_CALLBACK_PERMISSIONS)
        )
    }
}

/// Installs the URL signer once the public base URL is known.
pub fn install_signer(state: &Arc<HostState>) {
    if let Some(hosting) = state.webhooks.get() {
        hosting.callbacks.set_signer(Arc::new(Signer {
            state: Arc::downgrade(state),
        }));
    }
}

/// `POST .../callbacks/{workflow}/runs/{run}/actions/{action}`
pub async fn action_callback(
    State(state): State<Arc<HostState>>,
    Path((workflow, run_id, action)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = CallbackKey {
        workflow,
        run_id,
        action,
        repetition: String::new(),
    };
    deliver(&state, key, query, headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `POST .../callbacks/{workflow}/runs/{run}/actions/{action}/repetitions/{repetition}`
pub async fn action_callback_repetition(
    State(state): State<Arc<HostState>>,
    Path((workflow, run_id, action, repetition)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = CallbackKey {
        workflow,
        run_id,
        action,
        repetition,
    };
    deliver(&state, key, query, headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn deliver(
    state: &HostState,
    key: CallbackKey,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(query.as_deref());
    let path = action_callback_path(&key);
    let sig = query.get("sig").unwrap_or_default();
    let verified = state.keys().verify(
        &SasRequest {
            path: &path,
            permissions: query.get("sp").unwrap_or_default(),
            version: query.get("sv").unwrap_or_default(),
            expiry: query.get("se"),
        },
        sig,
        state.clock.now(),
    );
    if let Err(err) = verified {
        return Err(ApiError::unauthorized(
            "AuthorizationFailed",
            err.to_string(),
        ));
    }
    if query.get("sp") != Some(ACTION_CALLBACK_PERMISSIONS) {
        return Err(ApiError::unauthorized(
            "AuthorizationFailed",
            "the signed permissions `sp` do not allow calling back an action; use the URL the action sent",
        ));
    }
    let Some(hosting) = state.webhooks.get() else {
        return Err(not_waiting());
    };
    if !hosting.callbacks.is_waiting(&key) {
        return Err(not_waiting());
    }
    let bytes = crate::triggers::read_body(body, &headers, state.config.max_body_bytes).await?;
    let mut outputs = trigger_outputs(
        OutputsRequest {
            headers: &headers,
            query: &QueryParams::default(),
            relative_path_parameters: None,
            include_authorization: false,
        },
        &bytes,
    )
    .map_err(|err| ApiError::bad_request("InvalidRequestContent", err.0))?
    .to_json();
    if let Some(o) = outputs.as_object_mut() {
        o.remove("queries");
    }
    hosting
        .callbacks
        .deliver(&key, outputs)
        .map_err(|_| not_waiting())?;
    tracing::debug!(workflow = %key.workflow, run = %key.run_id, action = %key.action, "Webhook callback delivered.");
    Ok(reply::ok_empty())
}

fn not_waiting() -> ApiError {
    ApiError::not_found(
        "WebhookNotWaiting",
        "no action is waiting for this callback: the run or action is unknown, or the action already finished (called back, timed out or cancelled)",
    )
}

/// Subscribes every enabled workflow's HttpWebhook triggers (in the background,
/// retrying with backoff), and ends the subscriptions the store still holds
/// for triggers that no longer listen.
pub fn subscribe_all(state: &Arc<HostState>) {
    for wf in &state.workflows {
        if wf.is_enabled() && wf.workflow.triggers.values().any(is_webhook_trigger) {
            start_subscribing(state, wf);
        }
    }
    if state.webhooks.get().is_some() {
        tokio::spawn(end_stale_subscriptions(state.clone()));
    }
}

/// Ends the subscriptions recorded for HttpWebhook triggers that are not
/// listening: the workflow's folder is gone, the trigger was removed or is
/// no longer a webhook (both while the host was stopped), or the workflow is
/// disabled and its subscription was not cleared then. The subscribed service would otherwise keep calling a URL that
/// starts nothing. A gone trigger is ended with the unsubscribe request
/// kept when it subscribed (its definition is gone with it).
async fn end_stale_subscriptions(state: Arc<HostState>) {
    let Some(hosting) = state.webhooks.get() else {
        return;
    };
    let stored = match state.store.list_trigger_states().await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %e, "Could not list trigger states; subscriptions of removed webhook triggers are not ended.");
            return;
        }
    };
    for entry in stored
        .into_iter()
        .filter(|entry| entry.state.get(SUBSCRIPTION).is_some())
    {
        let hosted = state.workflow(entry.workflow.as_str()).and_then(|wf| {
            wf.workflow
                .triggers
                .get(&entry.trigger)
                .filter(|t| is_webhook_trigger(t))
                .map(|trigger| (wf, trigger))
        });
        match hosted {
            // Subscribed, or being subscribed, by `keep_subscribed`.
            Some((wf, _)) if wf.is_enabled() => {}
            Some((wf, trigger)) => {
                tracing::info!(workflow = %wf.name, trigger = %trigger.name, "The workflow is disabled but its webhook trigger subscription was not ended; ending it.");
                unsubscribe(&state, hosting, wf, trigger).await;
            }
            None => end_removed_subscription(&state, hosting, &entry).await,
        }
    }
}

/// Ends the subscription of a trigger that is no longer hosted and clears
/// its state, whether or not the request succeeds (nothing would retry it:
/// a trigger that comes back subscribes anew).
async fn end_removed_subscription(
    state: &HostState,
    hosting: &WebhookHosting,
    entry: &conflux_store::TriggerState,
) {
    let (workflow, trigger) = (entry.workflow.as_str(), entry.trigger.as_str());
    let sent = match open_unsubscribe(state, workflow, trigger, &entry.state) {
        Some(request) => Some(hosting.client.send(&request).await),
        None => None,
    };
    if let Err(e) = state
        .store
        .put_trigger_state(&entry.workflow, trigger, None)
        .await
    {
        tracing::warn!(workflow, trigger, error = %e, "Could not clear the state of a webhook trigger no longer in the project.");
    }
    // Logged once the state is cleared: the subscription is over for good.
    match sent {
        Some(Ok(_)) => {
            tracing::info!(
                workflow,
                trigger,
                "Webhook trigger no longer in the project unsubscribed."
            );
        }
        Some(Err(e)) => {
            tracing::warn!(workflow, trigger, error = %e, "Webhook trigger no longer in the project could not unsubscribe.");
        }
        None => {
            tracing::warn!(workflow, trigger, "Webhook trigger no longer in the project cannot unsubscribe: no unsubscribe request was kept with its subscription, and its definition is gone.");
        }
    }
}

fn start_subscribing(state: &Arc<HostState>, wf: &Arc<HostedWorkflow>) {
    let Some(hosting) = state.webhooks.get() else {
        tracing::warn!(workflow = %wf.name, "HttpWebhook triggers need a host built with webhook support; the trigger does not subscribe.");
        return;
    };
    let task = tokio::spawn(keep_subscribed(state.clone(), wf.clone()));
    hosting.replace_task(&wf.name, Some(task));
}

async fn keep_subscribed(state: Arc<HostState>, wf: Arc<HostedWorkflow>) {
    let Some(hosting) = state.webhooks.get() else {
        return;
    };
    for trigger in wf
        .workflow
        .triggers
        .values()
        .filter(|t| is_webhook_trigger(t))
    {
        let mut delay = Duration::from_secs(1);
        loop {
            if !wf.is_enabled() {
                return;
            }
            match subscribe_once(&state, hosting, &wf, trigger).await {
                Ok(true) => {
                    tracing::info!(workflow = %wf.name, trigger = %trigger.name, "Webhook trigger subscribed.");
                    break;
                }
                Ok(false) => {
                    tracing::debug!(workflow = %wf.name, trigger = %trigger.name, "Webhook trigger already subscribed with the same request.");
                    break;
                }
                Err(message) => {
                    tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %message, retry_in_secs = delay.as_secs(), "Webhook trigger subscription failed; retrying.");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// Subscribes unless the stored fingerprint matches; `Ok(false)` when unchanged.
/// A subscription made with another request is ended first with the
/// unsubscribe request stored for it.
async fn subscribe_once(
    state: &HostState,
    hosting: &WebhookHosting,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
) -> Result<bool, String> {
    let request = evaluate(state, wf, trigger, "subscribe")?
        .ok_or_else(|| format!("{}.inputs.subscribe is missing", trigger.path))?;
    let fingerprint = fingerprint(state, &request);
    let workflow = WorkflowName::new(wf.name.as_str());
    let stored = state
        .store
        .get_trigger_state(&workflow, &trigger.name)
        .await
        .map_err(|e| format!("reading the trigger state failed: {e}"))?;
    if stored
        .as_ref()
        .and_then(|s| s.get(SUBSCRIPTION))
        .and_then(Value::as_str)
        == Some(fingerprint.as_str())
    {
        if let Some(stored) = &stored {
            rewrap_if_needed(state, wf, trigger, stored).await;
        }
        return Ok(false);
    }
    if let Some(old) = stored
        .as_ref()
        .and_then(|s| open_unsubscribe(state, &wf.name, &trigger.name, s))
    {
        match hosting.client.send(&old).await {
            Ok(_) => {
                tracing::info!(workflow = %wf.name, trigger = %trigger.name, "Webhook trigger unsubscribed the subscription made with an earlier subscribe request.");
                // Sent once: a retried subscribe must not send it again.
                state
                    .store
                    .put_trigger_state(&workflow, &trigger.name, None)
                    .await
                    .map_err(|e| format!("clearing the old subscription failed: {e}"))?;
            }
            Err(e) => {
                // Kept, so a retry or a disable tries it again.
                tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "Webhook trigger could not unsubscribe the subscription made with an earlier subscribe request; subscribing with the new request anyway.");
            }
        }
    }
    // Evaluated now, with what the subscribe request saw, so that disabling
    // later ends this subscription even if the definition changes meanwhile.
    let unsubscribe = match evaluate(state, wf, trigger, "unsubscribe") {
        Ok(request) => request,
        Err(message) => {
            tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %message, "Webhook trigger unsubscribe request is not valid; it is not kept with the subscription.");
            None
        }
    };
    hosting
        .client
        .send(&request)
        .await
        .map_err(|e| e.to_string())?;
    let mut record = json!({SUBSCRIPTION: fingerprint, "subscribedAt": state.clock.now()});
    if let Some(unsubscribe) = unsubscribe {
        record[SEALED_UNSUBSCRIBE] = json!(seal_unsubscribe(state, wf, trigger, &unsubscribe));
    }
    state
        .store
        .put_trigger_state(&workflow, &trigger.name, Some(record))
        .await
        .map_err(|e| format!("the subscription succeeded but could not be recorded: {e}"))?;
    Ok(true)
}

/// What binds a sealed unsubscribe request to its workflow and trigger.
fn unsubscribe_aad(workflow: &str, trigger: &str) -> Vec<u8> {
    format!("webhook-unsubscribe/{workflow}/{trigger}").into_bytes()
}

fn seal_unsubscribe(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    request: &Value,
) -> String {
    let sealed = state.master_key.seal(
        request.to_string().as_bytes(),
        &unsubscribe_aad(&wf.name, &trigger.name),
    );
    BASE64.encode(sealed)
}

/// The unsubscribe request kept in trigger state; `None` when there is none
/// (state of an older version) or it cannot be opened (logged).
fn open_unsubscribe(
    state: &HostState,
    workflow: &str,
    trigger: &str,
    stored: &Value,
) -> Option<Value> {
    let text = stored.get(SEALED_UNSUBSCRIBE)?.as_str()?;
    let opened = BASE64
        .decode(text)
        .map_err(|_| "it is not base64".to_string())
        .and_then(|blob| {
            state
                .master_key
                .open(&blob, &unsubscribe_aad(workflow, trigger))
                .map_err(|e| e.to_string())
        })
        .and_then(|plain| {
            serde_json::from_slice::<Value>(&plain)
                .map_err(|_| "it is not a JSON request".to_string())
        });
    match opened {
        Ok(request) => Some(request),
        Err(reason) => {
            tracing::warn!(workflow, trigger, error = %reason, "The stored webhook trigger unsubscribe request cannot be opened.");
            None
        }
    }
}

/// After a master key rotation, seals the stored unsubscribe request again
/// under the current key, so the old key can be retired.
async fn rewrap_if_needed(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    stored: &Value,
) {
    let Some(blob) = stored
        .get(SEALED_UNSUBSCRIBE)
        .and_then(Value::as_str)
        .and_then(|text| BASE64.decode(text).ok())
    else {
        return;
    };
    if !state.master_key.needs_rewrap(&blob) {
        return;
    }
    let rewrapped = match state
        .master_key
        .rewrap(&blob, &unsubscribe_aad(&wf.name, &trigger.name))
    {
        Ok(rewrapped) => rewrapped,
        Err(e) => {
            tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "The stored webhook trigger unsubscribe request cannot be sealed under the current master key.");
            return;
        }
    };
    let mut record = stored.clone();
    record[SEALED_UNSUBSCRIBE] = json!(BASE64.encode(rewrapped));
    if let Err(e) = state
        .store
        .put_trigger_state(
            &WorkflowName::new(wf.name.as_str()),
            &trigger.name,
            Some(record),
        )
        .await
    {
        tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "Could not store the webhook trigger state sealed under the current master key.");
    }
}

/// A keyed MAC of the evaluated request: equal requests give equal values,
/// and nothing of the request (which may carry credentials) can be read back.
fn fingerprint(state: &HostState, request: &Value) -> String {
    let canonical = request.to_string();
    state.keys().sign(
        KeyType::Primary,
        &SasRequest {
            path: &canonical,
            permissions: "/webhook/subscription",
            version: SAS_VERSION,
            expiry: None,
        },
    )
}

/// Reacts to the management API enabling or disabling a workflow: subscribe
/// (in the background) or unsubscribe (before answering).
pub async fn workflow_toggled(state: &Arc<HostState>, name: &str, enabled: bool) {
    let Some(wf) = state.workflow(name).cloned() else {
        return;
    };
    if !wf.workflow.triggers.values().any(is_webhook_trigger) {
        return;
    }
    if enabled {
        start_subscribing(state, &wf);
        return;
    }
    let Some(hosting) = state.webhooks.get() else {
        return;
    };
    hosting.replace_task(&wf.name, None);
    for trigger in wf
        .workflow
        .triggers
        .values()
        .filter(|t| is_webhook_trigger(t))
    {
        unsubscribe(state, hosting, &wf, trigger).await;
    }
}

/// Ends the trigger's subscription with the unsubscribe request stored when
/// it was made, else with the one the current definition evaluates to.
async fn unsubscribe(
    state: &HostState,
    hosting: &WebhookHosting,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
) {
    let workflow = WorkflowName::new(wf.name.as_str());
    let stored = match state
        .store
        .get_trigger_state(&workflow, &trigger.name)
        .await
    {
        Ok(stored) => stored
            .as_ref()
            .and_then(|s| open_unsubscribe(state, &wf.name, &trigger.name, s)),
        Err(e) => {
            tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "Could not read the webhook trigger state; unsubscribing with the current definition.");
            None
        }
    };
    let request = match stored {
        Some(request) => Ok(Some(request)),
        None => evaluate(state, wf, trigger, "unsubscribe"),
    };
    match request {
        Ok(Some(request)) => match hosting.client.send(&request).await {
            Ok(_) => {
                tracing::info!(workflow = %wf.name, trigger = %trigger.name, "Webhook trigger unsubscribed.");
            }
            Err(e) => {
                tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "Webhook trigger unsubscribe failed.");
            }
        },
        Ok(None) => {}
        Err(message) => {
            tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %message, "Webhook trigger unsubscribe request is not valid.");
        }
    }
    // Enabling again subscribes again.
    if let Err(e) = state
        .store
        .put_trigger_state(&workflow, &trigger.name, None)
        .await
    {
        tracing::warn!(workflow = %wf.name, trigger = %trigger.name, error = %e, "Could not clear the webhook trigger state.");
    }
}

/// Evaluates `inputs.subscribe` or `inputs.unsubscribe` of a trigger
/// (`retryPolicy` left out); `None` when the section is absent.
fn evaluate(
    state: &HostState,
    wf: &HostedWorkflow,
    trigger: &TriggerDefinition,
    section: &str,
) -> Result<Option<Value>, String> {
    let inputs = trigger.raw.get("inputs").and_then(Value::as_object);
    let raw = inputs.and_then(|i| {
        i.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(section))
            .map(|(_, v)| v)
    });
    let Some(raw) = raw.filter(|r| !r.is_null()) else {
        return Ok(None);
    };
    let mut raw = raw.clone();
    if let Some(o) = raw.as_object_mut() {
        o.remove("retryPolicy");
    }
    let path = format!("{}.inputs.{section}", trigger.path);
    let compiled = CompiledValue::compile(&raw, &path).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.error))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let callback = crate::callback::callback_url(state, wf, &trigger.name, KeyType::Primary, None);
    let host = SubscriptionHost {
        workflow: &wf.name,
        parameters: &wf.parameters,
        settings: &state.app_settings,
        callback_url: callback["value"].as_str().unwrap_or_default().to_string(),
        now: state.clock.now(),
    };
    compiled
        .eval(&host)
        .map(|v| Some(v.to_json()))
        .map_err(|e| format!("{path}: {e}"))
}

/// What a trigger's subscribe/unsubscribe expressions can see.
struct SubscriptionHost<'a> {
    workflow: &'a str,
    parameters: &'a HashMap<String, Value>,
    settings: &'a HashMap<String, String>,
    callback_url: String,
    now: DateTime<Utc>,
}

impl EvalHost for SubscriptionHost<'_> {
    fn parameter(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        self.parameters
            .get(name)
            .map(conflux_expr::Value::from)
            .ok_or_else(|| EvalError::new(format!("the workflow has no parameter '{name}'")))
    }

    fn app_setting(&self, name: &str) -> Result<conflux_expr::Value, EvalError> {
        self.settings
            .get(name)
            .map(|v| conflux_expr::Value::string(v.as_str()))
            .ok_or_else(|| EvalError::new(format!("app setting '{name}' is not defined")))
    }

    fn workflow(&self) -> Result<conflux_expr::Value, EvalError> {
        Ok(conflux_expr::Value::from(&json!({
            "id": format!("/workflows/{}", self.workflow),
            "name": self.workflow,
            "type": "workflows",
        })))
    }

    fn list_callback_url(&self) -> Result<conflux_expr::Value, EvalError> {
        Ok(conflux_expr::Value::string(self.callback_url.as_str()))
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_paths_name_the_repetition_only_inside_loops() {
        let mut key = CallbackKey {
            workflow: "wf one".into(),
            run_id: "0858".into(),
            action: "Wait_for_approval".into(),
            repetition: String::new(),
        };
        assert_eq!(
            action_callback_path(&key),
            "/runtime/webhooks/workflow/api/callbacks/wf%20one/runs/0858/actions/Wait_for_approval"
        );
        key.repetition = "000001".into();
        assert!(
            action_callback_path(&key).ends_with("/actions/Wait_for_approval/repetitions/000001")
        );
    }
}
