//! The HttpWebhook action: subscribe with a callback URL unique to this run,
//! action and repetition, wait until the URL is called, unsubscribe.
//!
//! The waiter is registered before the subscribe request leaves, so an
//! immediate callback is not lost. When the wait ends early (the action's
//! `limit.timeout`, a cancelled or terminated run) the action future is
//! dropped; the [`Subscription`] guard then sends the unsubscribe request in
//! the background. The subscribe exchange itself runs in its own task, so an
//! action that ends while the service is still answering is unsubscribed
//! once the answer arrives. An engine shutdown does not unsubscribe: the run resumes
//! later, subscribes again and waits on the same callback URL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use conflux_definition::{ActionDefinition, RetryPolicy};
use conflux_expr::{CompiledValue, EvalError, EvalHost, Map, Value};
use conflux_store::{ActionStatus, RepetitionKey};
use serde_json::Value as Json;

use super::{error_value, eval_recorded, template_error, Outcome};
use crate::actions::http;
use crate::retry::RetryState;
use crate::state::{Frame, Host, RunCtx, Stop};
use crate::webhook::{classify, is_retryable_status, target, CallbackKey, Sent};

/// The key of the callback an action (in one repetition) waits for.
pub(crate) fn callback_key(ctx: &RunCtx, action: &str, repetition: &[u32]) -> CallbackKey {
    CallbackKey {
        workflow: ctx.workflow_name().to_string(),
        run_id: ctx.run_id.to_string(),
        action: action.to_string(),
        repetition: RepetitionKey::from_indexes(repetition).as_str().to_string(),
    }
}

pub(crate) fn is_webhook(type_name: &str) -> bool {
    type_name.eq_ignore_ascii_case("HttpWebhook")
}

fn get_ci<'a>(map: &'a serde_json::Map<String, Json>, key: &str) -> Option<&'a Json> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

pub(crate) async fn run(
    ctx: &Arc<RunCtx>,
    def: &Arc<ActionDefinition>,
    frame: &Arc<Frame>,
) -> Outcome {
    let inputs = def.raw.get("inputs").and_then(Json::as_object);
    let Some(Json::Object(subscribe_raw)) = inputs.and_then(|i| get_ci(i, "subscribe")) else {
        return Outcome::failed(
            "InvalidTemplate",
            &format!(
                "The HttpWebhook action '{}' needs an 'inputs.subscribe' object with the subscribe request.",
                def.name
            ),
        );
    };
    let mut subscribe_raw = subscribe_raw.clone();
    let policy = match subscribe_raw.remove("retryPolicy") {
        Some(p) => match retry_policy(&p) {
            Ok(p) => p,
            Err(message) => {
                return Outcome::failed(
                    "InvalidTemplate",
                    &format!(
                        "The subscribe retryPolicy of action '{}' {message}",
                        def.name
                    ),
                )
            }
        },
        None => def.retry_policy.clone(),
    };
    let subscribe_compiled = match compile(
        &Json::Object(subscribe_raw),
        &format!("{}.inputs.subscribe", def.path),
    ) {
        Ok(c) => c,
        Err(message) => return Outcome::failed("InvalidTemplate", &message),
    };
    let unsubscribe_compiled = match inputs.and_then(|i| get_ci(i, "unsubscribe")) {
        None | Some(Json::Null) => None,
        Some(u) => match compile(u, &format!("{}.inputs.unsubscribe", def.path)) {
            Ok(c) => Some(c),
            Err(message) => return Outcome::failed("InvalidTemplate", &message),
        },
    };

    let key = callback_key(ctx, &def.name, &frame.repetition);
    let callbacks = ctx.engine.webhooks.clone();
    let callback_url = match callbacks.callback_url(&key) {
        Ok(u) => u,
        Err(message) => return Outcome::failed("WebhookCallbackUnavailable", &message),
    };
    let secret = reqwest::Url::parse(&callback_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "sig")
            .map(|(_, v)| v.into_owned())
    });

    // Registered before the subscribe request leaves: the subscriber may call back at once.
    let (waiter_id, callback) = callbacks.wait(&key);
    let phase = Arc::new(Mutex::new(Phase::Subscribing));
    let subscription = Subscription {
        ctx: ctx.clone(),
        key,
        waiter_id,
        phase: phase.clone(),
        action: def.name.to_string(),
    };

    let subscribe = match eval_recorded(ctx, def, frame, &subscribe_compiled).await {
        Ok(v) => v,
        Err(e) => return template_error(def, &e),
    };
    let mut recorded = conflux_expr::map_with_capacity(2);
    recorded.insert("subscribe".into(), mask(&subscribe, &secret));

    let (method, url) = match target(&subscribe) {
        Ok(t) => t,
        Err(message) => {
            return Outcome::failed(
                "InvalidUri",
                &format!(
                    "The subscribe request of action '{}' is not valid: {message}",
                    def.name
                ),
            )
            .with_inputs(Some(Value::object(recorded)))
        }
    };
    // The exchange runs in its own task, so an action cut short (timeout,
    // cancellation) does not cut it short too: once the service has answered,
    // the unsubscribe request is known and is sent (see `Subscription`).
    let job = SubscribeJob {
        ctx: ctx.clone(),
        def: def.clone(),
        frame: frame.clone(),
        subscribe,
        method,
        url,
        policy,
        recorded,
        unsubscribe: unsubscribe_compiled,
        secret,
        phase,
    };
    let subscribed = match tokio::spawn(subscribe_phase(job)).await {
        Ok(Ok(s)) => s,
        Ok(Err(outcome)) => return outcome,
        Err(_) => {
            return Outcome::failed(
                "WebhookSubscribeFailed",
                &format!(
                    "The subscribe request of action '{}' was interrupted.",
                    def.name
                ),
            )
        }
    };

    let outputs = match callback.await {
        Ok(outputs) => outputs,
        Err(_) => {
            let mut o = Outcome::failed(
                "WebhookCallbackLost",
                &format!(
                    "The wait of action '{}' for its callback ended without one.",
                    def.name
                ),
            );
            o.inputs = Some(Value::object(subscribed.recorded));
            return o;
        }
    };
    if let Some(request) = subscription.take_unsubscribe() {
        unsubscribe(ctx, &subscription.action, &request).await;
    }
    let mut o = Outcome::ok(
        Some(Value::object(subscribed.recorded)),
        Some(callback_outputs(outputs)),
    );
    o.retry_history = subscribed.retry_history;
    o.status = ActionStatus::Succeeded;
    o
}

/// Recorded inputs never show the callback's signature or credentials.
fn mask(v: &Value, secret: &Option<String>) -> Value {
    match secret {
        Some(s) if !s.is_empty() => mask_secret(&http::sanitize(v), s),
        _ => http::sanitize(v),
    }
}

/// What the subscribe exchange needs, owned so it can run in its own task.
struct SubscribeJob {
    ctx: Arc<RunCtx>,
    def: Arc<ActionDefinition>,
    frame: Arc<Frame>,
    subscribe: Value,
    method: reqwest::Method,
    url: reqwest::Url,
    policy: RetryPolicy,
    recorded: Map,
    unsubscribe: Option<CompiledValue>,
    secret: Option<String>,
    phase: Arc<Mutex<Phase>>,
}

/// A subscription the service accepted.
struct Subscribed {
    recorded: Map,
    retry_history: Vec<Json>,
}

/// Sends the subscribe request (with its retry policy) and evaluates the
/// unsubscribe request against the answer. An `Err` is the action's outcome.
async fn subscribe_phase(job: SubscribeJob) -> Result<Subscribed, Outcome> {
    let SubscribeJob {
        ctx,
        def,
        frame,
        subscribe,
        method,
        url,
        policy,
        mut recorded,
        unsubscribe: unsubscribe_compiled,
        secret,
        phase,
    } = job;
    let mut retry = RetryState::new(&policy, ctx.clock().now());
    let reply = loop {
        let started = ctx.clock().now();
        let sent = classify(
            http::send_with(
                &ctx.engine.http,
                ctx.engine.authorizer.as_ref(),
                &method,
                url.clone(),
                &subscribe,
            )
            .await,
        );
        let ended = ctx.clock().now();
        let (retryable, retry_after, code, message) = match &sent {
            Sent::Reply(r) if is_retryable_status(r.status) => (
                true,
                r.retry_after,
                http::status_code_name(r.status),
                format!(
                    "The subscribe request was answered with status {}.",
                    r.status
                ),
            ),
            Sent::Reply(_) => (false, None, String::new(), String::new()),
            Sent::Failed(e) => (e.retryable, None, e.code.clone(), e.message.clone()),
        };
        if retryable {
            if let Some(delay) = retry.next_delay(retry_after) {
                retry.record(started, ended, &code, &error_value(&code, &message));
                sleep(&ctx, delay).await;
                continue;
            }
        }
        match sent {
            Sent::Reply(r) => break r,
            Sent::Failed(e) => {
                let mut o = Outcome::failed(
                    &e.code,
                    &format!(
                        "The subscribe request of action '{}' failed: {}",
                        def.name, e.message
                    ),
                );
                o.inputs = Some(Value::object(recorded));
                o.retry_history = retry.history;
                return Err(o);
            }
        }
    };
    let status = reply.status;
    let subscribe_outputs = reply_value(reply);
    if status >= 400 {
        let code = http::status_code_name(status);
        let mut o = Outcome::failed(
            &code,
            &format!(
                "The subscribe request of action '{}' was answered with status {status}.",
                def.name
            ),
        );
        o.inputs = Some(Value::object(recorded));
        o.outputs = Some(subscribe_outputs);
        o.retry_history = retry.history;
        return Err(o);
    }

    let mut request = None;
    if let Some(compiled) = &unsubscribe_compiled {
        // `action()` in the unsubscribe request sees the subscribe exchange.
        let mut record = conflux_expr::map_with_capacity(3);
        record.insert("name".into(), Value::string(&*def.name));
        record.insert("inputs".into(), Value::object(recorded.clone()));
        record.insert("outputs".into(), subscribe_outputs.clone());
        let host = UnsubscribeHost {
            inner: Host::of(&ctx, &frame, &def),
            record: Value::object(record),
        };
        match compiled.eval(&host) {
            Ok(v) => {
                recorded.insert("unsubscribe".into(), mask(&v, &secret));
                request = Some(v);
            }
            Err(e) => {
                // Nothing can be unsubscribed with a broken request.
                let mut o = template_error(&def, &e);
                o.inputs = Some(Value::object(recorded));
                o.retry_history = retry.history;
                return Err(o);
            }
        }
    }
    let abandoned = {
        let mut p = lock(&phase);
        if matches!(*p, Phase::Abandoned) {
            true
        } else {
            *p = Phase::Subscribed(request.clone());
            false
        }
    };
    if abandoned {
        // The action ended while the service was answering.
        if let Some(r) = request {
            if ctx.stop_reason() != Some(Stop::Shutdown) {
                unsubscribe(&ctx, &def.name, &r).await;
            }
        }
        return Err(Outcome::failed(
            "Cancelled",
            "The action ended while subscribing.",
        ));
    }
    Ok(Subscribed {
        recorded,
        retry_history: retry.history,
    })
}

/// `{headers, body}` of the callback request.
fn callback_outputs(json: Json) -> Value {
    let mut m = conflux_expr::map_with_capacity(2);
    m.insert(
        "headers".into(),
        json.get("headers")
            .map(Value::from)
            .unwrap_or_else(|| Value::object(Map::default())),
    );
    if let Some(body) = json.get("body") {
        m.insert("body".into(), Value::from(body));
    }
    Value::object(m)
}

fn reply_value(r: http::Response) -> Value {
    let mut headers = conflux_expr::map_with_capacity(r.headers.len());
    for (k, v) in r.headers {
        headers.insert(k.into(), Value::string(v));
    }
    let mut m = conflux_expr::map_with_capacity(3);
    m.insert("statusCode".into(), Value::Int(i64::from(r.status)));
    m.insert("headers".into(), Value::object(headers));
    m.insert("body".into(), r.body);
    Value::object(m)
}

fn compile(json: &Json, path: &str) -> Result<CompiledValue, String> {
    CompiledValue::compile(json, path).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.error))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Replaces the callback signature wherever it appears in recorded inputs.
fn mask_secret(v: &Value, secret: &str) -> Value {
    match v {
        Value::String(s) if s.contains(secret) => Value::string(s.replace(secret, "*sanitized*")),
        Value::Object(o) => {
            let mut m = conflux_expr::map_with_capacity(o.len());
            for (k, x) in o.iter() {
                m.insert(k.clone(), mask_secret(x, secret));
            }
            Value::object(m)
        }
        Value::Array(a) => Value::array(a.iter().map(|x| mask_secret(x, secret)).collect()),
        other => other.clone(),
    }
}

/// `retryPolicy` inside `subscribe` (the action-level one is used otherwise).
fn retry_policy(json: &Json) -> Result<RetryPolicy, String> {
    let Some(obj) = json.as_object() else {
        return Err("must be an object with a 'type'".into());
    };
    let kind = obj
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("default")
        .to_ascii_lowercase();
    let count = match obj.get("count") {
        None => 4,
        Some(c) => c
            .as_u64()
            .filter(|n| (1..=90).contains(n))
            .map(|n| n as u32)
            .ok_or("has a 'count' that is not an integer from 1 to 90")?,
    };
    let duration = |name: &str| -> Result<Option<Duration>, String> {
        match obj.get(name) {
            None => Ok(None),
            Some(Json::String(s)) => conflux_expr::time::parse_duration(s)
                .ok()
                .and_then(|d| d.to_std())
                .map(Some)
                .ok_or_else(|| format!("has a '{name}' that is not a positive ISO 8601 duration")),
            Some(_) => Err(format!("has a '{name}' that is not a duration string")),
        }
    };
    let interval = duration("interval")?;
    Ok(match kind.as_str() {
        "default" => RetryPolicy::Default,
        "none" => RetryPolicy::None,
        "fixed" => RetryPolicy::Fixed {
            count,
            interval: interval.ok_or("of type fixed needs an 'interval'")?,
        },
        "exponential" => RetryPolicy::Exponential {
            count,
            interval: interval.ok_or("of type exponential needs an 'interval'")?,
            minimum_interval: duration("minimumInterval")?.unwrap_or(Duration::from_secs(5)),
            maximum_interval: duration("maximumInterval")?.unwrap_or(Duration::from_secs(86_400)),
        },
        other => return Err(format!("has the unknown type '{other}'")),
    })
}

async fn sleep(ctx: &RunCtx, d: Duration) {
    let until = ctx.clock().now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    ctx.clock().sleep_until(until).await;
}

/// Sends an unsubscribe request once; a failure is logged (without the
/// request's URL or credentials) and otherwise ignored.
async fn unsubscribe(ctx: &RunCtx, action: &str, request: &Value) {
    let (method, url) = match target(request) {
        Ok(t) => t,
        Err(message) => {
            tracing::warn!(workflow = %ctx.workflow_name(), run = %ctx.run_id, action, %message, "The unsubscribe request is not valid.");
            return;
        }
    };
    let sent = classify(
        http::send_with(
            &ctx.engine.http,
            ctx.engine.authorizer.as_ref(),
            &method,
            url,
            request,
        )
        .await,
    );
    match sent {
        Sent::Reply(r) if r.status < 400 => {
            tracing::debug!(workflow = %ctx.workflow_name(), run = %ctx.run_id, action, "Unsubscribed.");
        }
        Sent::Reply(r) => {
            tracing::warn!(workflow = %ctx.workflow_name(), run = %ctx.run_id, action, status = r.status, "The unsubscribe request was refused.");
        }
        Sent::Failed(e) => {
            tracing::warn!(workflow = %ctx.workflow_name(), run = %ctx.run_id, action, code = %e.code, message = %e.message, "The unsubscribe request failed.");
        }
    }
}

/// Where the subscribe exchange stands, shared by the action and its task.
enum Phase {
    Subscribing,
    /// Accepted; the unsubscribe request, if the action has one.
    Subscribed(Option<Value>),
    /// The action ended before the service answered: the task unsubscribes.
    Abandoned,
    Done,
}

fn lock(phase: &Mutex<Phase>) -> std::sync::MutexGuard<'_, Phase> {
    phase.lock().unwrap_or_else(|e| e.into_inner())
}

/// The waiter and the subscription. Dropped before the callback arrived
/// (timeout, cancellation, termination), it unsubscribes in the background —
/// or, while the service is still answering the subscribe request, leaves
/// that to the subscribe task. At an engine shutdown it keeps the
/// subscription for the resumed run.
struct Subscription {
    ctx: Arc<RunCtx>,
    key: CallbackKey,
    waiter_id: u64,
    phase: Arc<Mutex<Phase>>,
    action: String,
}

impl Subscription {
    /// The unsubscribe request, once; later drops send nothing.
    fn take_unsubscribe(&self) -> Option<Value> {
        match std::mem::replace(&mut *lock(&self.phase), Phase::Done) {
            Phase::Subscribed(request) => request,
            _ => None,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.ctx.engine.webhooks.forget(&self.key, self.waiter_id);
        let request = {
            let mut p = lock(&self.phase);
            match std::mem::replace(&mut *p, Phase::Done) {
                Phase::Subscribing => {
                    *p = Phase::Abandoned;
                    return;
                }
                Phase::Subscribed(Some(request)) => request,
                _ => return,
            }
        };
        if self.ctx.stop_reason() == Some(Stop::Shutdown) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let ctx = self.ctx.clone();
        let action = std::mem::take(&mut self.action);
        runtime.spawn(async move { unsubscribe(&ctx, &action, &request).await });
    }
}

/// The run's host, with `action()` answering the subscribe exchange.
struct UnsubscribeHost<'a> {
    inner: Host<'a>,
    record: Value,
}

impl EvalHost for UnsubscribeHost<'_> {
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        self.inner.parameter(name)
    }
    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        self.inner.variable(name)
    }
    fn trigger(&self) -> Result<Value, EvalError> {
        self.inner.trigger()
    }
    fn action(&self, name: &str) -> Result<Value, EvalError> {
        self.inner.action(name)
    }
    fn current_action(&self) -> Result<Value, EvalError> {
        Ok(self.record.clone())
    }
    fn item(&self) -> Result<Value, EvalError> {
        self.inner.item()
    }
    fn items(&self, loop_name: &str) -> Result<Value, EvalError> {
        self.inner.items(loop_name)
    }
    fn iteration_index(&self, loop_name: &str) -> Result<Value, EvalError> {
        self.inner.iteration_index(loop_name)
    }
    fn result(&self, scope_name: &str) -> Result<Value, EvalError> {
        self.inner.result(scope_name)
    }
    fn workflow(&self) -> Result<Value, EvalError> {
        self.inner.workflow()
    }
    fn app_setting(&self, name: &str) -> Result<Value, EvalError> {
        self.inner.app_setting(name)
    }
    fn list_callback_url(&self) -> Result<Value, EvalError> {
        self.inner.list_callback_url()
    }
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn new_guid(&self) -> uuid::Uuid {
        self.inner.new_guid()
    }
    fn random(&self, min: i64, max: i64) -> i64 {
        self.inner.random(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_retry_policies_parse() {
        let p = retry_policy(&serde_json::json!({"type": "fixed", "count": 2, "interval": "PT1S"}));
        assert_eq!(
            p,
            Ok(RetryPolicy::Fixed {
                count: 2,
                interval: Duration::from_secs(1)
            })
        );
        assert_eq!(
            retry_policy(&serde_json::json!({"type": "none"})),
            Ok(RetryPolicy::None)
        );
        assert!(retry_policy(&serde_json::json!({"type": "fixed"})).is_err());
        assert!(retry_policy(&serde_json::json!({"type": "sometimes"})).is_err());
    }

    #[test]
    fn the_signature_is_masked_everywhere() {
        let v = Value::from(
            &serde_json::json!({"body": {"cb": "http://h/x?sig=abc&sv=1"}, "list": ["abc"]}),
        );
        let masked = mask_secret(&v, "abc").to_json();
        assert_eq!(masked["body"]["cb"], "http://h/x?sig=*sanitized*&sv=1");
        assert_eq!(masked["list"][0], "*sanitized*");
    }
}
