//! The Http action: one request (with retries per the retry policy), then the
//! 202/Location asynchronous pattern unless it is disabled, then pagination
//! when `paginationPolicy.minimumItemCount` is set.

use std::sync::Arc;
use std::time::Duration;

use conflux_definition::ActionDefinition;
use conflux_expr::{Content, Map, Value};
use conflux_store::ActionStatus;

use super::{error_value, Outcome};
use crate::executor::ExecutorError;
use crate::retry::RetryState;
use crate::state::RunCtx;

/// Polling interval of the async pattern when the server sends no Retry-After.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub retry_after: Option<Duration>,
}

pub(crate) enum Attempt {
    Done(Response),
    /// Connection-level failure (refused, reset, timed out).
    Transport(String),
    /// The authentication could not be applied (bad or unsupported settings,
    /// or the token endpoint refused); classified like an executor failure.
    Auth(ExecutorError),
}

pub(crate) async fn run(ctx: &Arc<RunCtx>, def: &ActionDefinition, inputs: Value) -> Outcome {
    let recorded_inputs = Some(sanitize(&inputs));
    let method = inputs
        .get("method")
        .map(|m| m.to_text().to_ascii_uppercase())
        .unwrap_or_else(|| "GET".into());
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return Outcome::failed(
            "InvalidTemplate",
            &format!("'{method}' is not an HTTP method"),
        )
        .with_inputs(recorded_inputs);
    };
    let uri = inputs.get("uri").map(|u| u.to_text()).unwrap_or_default();
    let mut url = match reqwest::Url::parse(&uri) {
        Ok(u) => u,
        Err(e) => {
            return Outcome::failed(
                "InvalidUri",
                &format!("The uri '{uri}' of action '{}' is not valid: {e}", def.name),
            )
            .with_inputs(recorded_inputs)
        }
    };
    if let Some(Value::Object(q)) = inputs.get("queries") {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in q.iter() {
            pairs.append_pair(k, &v.to_text());
        }
    }
    let mut retry = RetryState::new(&def.retry_policy, ctx.clock().now());
    let mut response = match send_retrying(ctx, &mut retry, &method, url.clone(), &inputs).await {
        Ok(r) => r,
        Err(failure) => {
            let mut o = failure.outcome(&format!("The request to '{uri}' failed"));
            o.inputs = recorded_inputs;
            o.retry_history = retry.history;
            return o;
        }
    };
    let asynchronous = !def.options.disable_async_pattern && !ctx.stateless;
    while asynchronous && response.status == 202 {
        let Some(location) = header(&response.headers, "location") else {
            break;
        };
        let Ok(poll_url) = url.join(&location) else {
            break;
        };
        sleep(ctx, response.retry_after.unwrap_or(DEFAULT_POLL_INTERVAL)).await;
        match send(ctx, &reqwest::Method::GET, poll_url, &Value::Null).await {
            Attempt::Done(r) => response = r,
            Attempt::Transport(msg) => {
                let mut o = Outcome::failed(
                    "ServiceUnavailable",
                    &format!("Polling '{location}' failed: {msg}"),
                );
                o.inputs = recorded_inputs;
                o.retry_history = retry.history;
                return o;
            }
            Attempt::Auth(e) => {
                let mut o = Outcome::failed(&e.code, &e.message);
                o.inputs = recorded_inputs;
                o.retry_history = retry.history;
                return o;
            }
        }
    }
    if let Some(minimum) = def.runtime.pagination_minimum_item_count {
        if let Err(failure) =
            paginate(ctx, def, &mut retry, &url, &inputs, &mut response, minimum).await
        {
            let mut o = failure;
            o.inputs = recorded_inputs;
            o.retry_history = retry.history;
            return o;
        }
    }
    let status = response.status;
    let outputs = outputs_value(response);
    let mut o = Outcome::ok(recorded_inputs, Some(outputs));
    o.retry_history = retry.history;
    // The action's code is the name of the final status (`OK`, `Created`, `NotFound`).
    let code = status_code_name(status);
    if status >= 400 {
        o.status = ActionStatus::Failed;
        o.error = Some(error_value(
            &code,
            &format!("The server responded with status {status}."),
        ));
    }
    o.code = Some(code);
    o
}

/// Why a request (after its retries) produced no response.
enum Failure {
    Transport(String),
    Auth(ExecutorError),
}

impl Failure {
    fn outcome(self, context: &str) -> Outcome {
        match self {
            Failure::Transport(msg) => {
                Outcome::failed("ServiceUnavailable", &format!("{context}: {msg}"))
            }
            Failure::Auth(e) => Outcome::failed(&e.code, &e.message),
        }
    }
}

/// One request, retried per the action's retry policy on 408, 429, 5xx,
/// connection failures and retryable authentication failures; each retried
/// attempt is added to `retry`'s history.
async fn send_retrying(
    ctx: &RunCtx,
    retry: &mut RetryState,
    method: &reqwest::Method,
    url: reqwest::Url,
    inputs: &Value,
) -> Result<Response, Failure> {
    loop {
        let started = ctx.clock().now();
        let attempt = send(ctx, method, url.clone(), inputs).await;
        let ended = ctx.clock().now();
        let (retryable, retry_after, code, message) = match &attempt {
            Attempt::Transport(msg) => (true, None, "ServiceUnavailable".to_string(), msg.clone()),
            Attempt::Done(r) if r.status == 408 || r.status == 429 || r.status >= 500 => (
                true,
                r.retry_after,
                status_code_name(r.status),
                format!("The server responded with status {}.", r.status),
            ),
            Attempt::Auth(e) => (
                e.retryable,
                e.retry_after,
                e.code.clone(),
                e.message.clone(),
            ),
            Attempt::Done(_) => (false, None, String::new(), String::new()),
        };
        if retryable {
            if let Some(delay) = retry.next_delay(retry_after) {
                retry.record(started, ended, &code, &error_value(&code, &message));
                sleep(ctx, delay).await;
                continue;
            }
        }
        return match attempt {
            Attempt::Done(r) => Ok(r),
            Attempt::Transport(msg) => Err(Failure::Transport(msg)),
            Attempt::Auth(e) => Err(Failure::Auth(e)),
        };
    }
}

/// Most pages one paginated action fetches, as the Standard host's
/// `Runtime.FlowRunRetryableActionJobCallback.MaximumPageCount`.
const MAX_PAGES: usize = 1000;

/// The `nextLink` (or `@odata.nextLink`) of a page, with the key it was under.
fn next_link(body: &Map) -> Option<(String, String)> {
    ["nextLink", "@odata.nextLink"]
        .iter()
        .find_map(|k| match body.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(((*k).to_string(), s.to_string())),
            _ => None,
        })
}

/// `runtimeConfiguration.paginationPolicy.minimumItemCount`: while the answer
/// is a successful page (`{"value": [...], "nextLink": ...}`) holding fewer
/// than `minimum` items in total, GETs the `nextLink` (resolved against the
/// page it came from, with the action's headers and authentication) and
/// appends that page's `value`. The outputs keep the first page's status and
/// headers; the body is the first page's with the merged `value` and the
/// `nextLink` of the last page fetched (absent when the pages ran out). A
/// page that fails ends the action with that page's response.
async fn paginate(
    ctx: &RunCtx,
    def: &ActionDefinition,
    retry: &mut RetryState,
    first_url: &reqwest::Url,
    inputs: &Value,
    response: &mut Response,
    minimum: u64,
) -> Result<(), Outcome> {
    if !(200..300).contains(&response.status) {
        return Ok(());
    }
    let Value::Object(first) = &response.body else {
        return Ok(());
    };
    let first = first.clone();
    let Some(Value::Array(items)) = first.get("value") else {
        return Ok(());
    };
    let mut items: Vec<Value> = items.to_vec();
    let mut next = next_link(&first);
    let mut page_url = first_url.clone();
    // Later pages are plain GETs: the action's body is not sent again.
    let page_inputs = match inputs {
        Value::Object(o) => {
            let mut m = (**o).clone();
            m.shift_remove("body");
            Value::object(m)
        }
        other => other.clone(),
    };
    let mut pages = 1;
    while (items.len() as u64) < minimum && pages < MAX_PAGES {
        let Some((_, link)) = &next else { break };
        let Ok(url) = page_url.join(link) else {
            return Err(Outcome::failed(
                "InvalidUri",
                &format!(
                    "The nextLink '{link}' of action '{}' is not a valid URL.",
                    def.name
                ),
            ));
        };
        // Each page gets the whole retry policy; its retries join the history.
        let mut page_retry = RetryState::new(&def.retry_policy, ctx.clock().now());
        let fetched = send_retrying(
            ctx,
            &mut page_retry,
            &reqwest::Method::GET,
            url.clone(),
            &page_inputs,
        )
        .await;
        retry.history.append(&mut page_retry.history);
        let page =
            fetched.map_err(|f| f.outcome(&format!("Fetching the next page '{link}' failed")))?;
        pages += 1;
        if !(200..300).contains(&page.status) {
            *response = page;
            return Ok(());
        }
        let Value::Object(body) = &page.body else {
            next = None;
            break;
        };
        if let Some(Value::Array(more)) = body.get("value") {
            items.extend(more.iter().cloned());
        }
        next = next_link(body);
        page_url = url;
    }
    let mut merged: Map = (*first).clone();
    merged.shift_remove("nextLink");
    merged.shift_remove("@odata.nextLink");
    merged.insert("value".into(), Value::array(items));
    if let Some((key, link)) = next {
        merged.insert(key.into(), Value::string(link));
    }
    response.body = Value::object(merged);
    Ok(())
}

async fn sleep(ctx: &RunCtx, d: Duration) {
    let until = ctx.clock().now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    ctx.clock().sleep_until(until).await;
}

pub(crate) fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// `Authorization` material never reaches run history.
pub(crate) fn sanitize(inputs: &Value) -> Value {
    let Value::Object(o) = inputs else {
        return inputs.clone();
    };
    let mut m = (**o).clone();
    if let Some(Value::Object(auth)) = m.get("authentication").cloned() {
        let mut a = (*auth).clone();
        for k in ["password", "value", "secret", "pfx"] {
            if a.contains_key(k) {
                a.insert(k.into(), Value::string("*sanitized*"));
            }
        }
        m.insert("authentication".into(), Value::object(a));
    }
    if let Some(Value::Object(h)) = m.get("headers").cloned() {
        let mut hh = (*h).clone();
        for (k, v) in hh.iter_mut() {
            if k.eq_ignore_ascii_case("authorization") {
                *v = Value::string("*sanitized*");
            }
        }
        m.insert("headers".into(), Value::object(hh));
    }
    Value::object(m)
}

/// Basic and Raw authentication, for an engine built without an authorizer;
/// any other type is refused with a clear error rather than sent unauthenticated.
fn builtin_authentication(
    http: &reqwest::Client,
    auth: &Value,
    method: &reqwest::Method,
    url: reqwest::Url,
) -> Result<reqwest::RequestBuilder, ExecutorError> {
    let kind = auth.get("type").map(|t| t.to_text()).unwrap_or_default();
    let req = http.request(method.clone(), url);
    match kind.to_ascii_lowercase().as_str() {
        "basic" => {
            let user = auth.get("username").map(|u| u.to_text()).unwrap_or_default();
            let pass = auth.get("password").map(|p| p.to_text());
            Ok(req.basic_auth(user, pass))
        }
        "raw" => match auth.get("value") {
            Some(v) => Ok(req.header("Authorization", v.to_text())),
            None => Err(ExecutorError::permanent(
                "InvalidAuthentication",
                "Raw authentication needs a 'value' (the Authorization header)",
            )),
        },
        other => Err(ExecutorError::permanent(
            "UnsupportedAuthentication",
            format!("authentication type '{other}' needs the host's outbound authenticator, which this engine was built without"),
        )),
    }
}

async fn send(
    ctx: &RunCtx,
    method: &reqwest::Method,
    url: reqwest::Url,
    inputs: &Value,
) -> Attempt {
    send_with(
        &ctx.engine.http,
        ctx.engine.authorizer.as_ref(),
        method,
        url,
        inputs,
    )
    .await
}

/// One request with the `headers`, `cookie`, `body` and `authentication` of
/// `inputs`; shared with the HttpWebhook action and trigger.
pub(crate) async fn send_with(
    http: &reqwest::Client,
    authorizer: Option<&Arc<dyn crate::executor::RequestAuthorizer>>,
    method: &reqwest::Method,
    url: reqwest::Url,
    inputs: &Value,
) -> Attempt {
    let authentication = inputs.get("authentication").filter(|a| !a.is_null());
    let mut req = match (authentication, authorizer) {
        (Some(auth), Some(authorizer)) => {
            match authorizer
                .request(&auth.to_json(), method.clone(), url.as_str())
                .await
            {
                Ok(req) => req,
                Err(e) => return Attempt::Auth(e),
            }
        }
        (Some(auth), None) => match builtin_authentication(http, &auth, method, url) {
            Ok(req) => req,
            Err(e) => return Attempt::Auth(e),
        },
        (None, _) => http.request(method.clone(), url),
    };
    let mut has_content_type = false;
    if let Some(Value::Object(h)) = inputs.get("headers") {
        for (k, v) in h.iter() {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            req = req.header(k.as_str(), v.to_text());
        }
    }
    if let Some(c) = inputs.get("cookie") {
        req = req.header("Cookie", c.to_text());
    }
    match inputs.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req = req.body(s.to_string()),
        Some(Value::Content(c)) => {
            if !has_content_type {
                req = req.header("Content-Type", c.content_type.clone());
            }
            req = req.body(c.data.clone());
        }
        Some(other) => {
            if let Some(c) = other.as_content() {
                req = req
                    .header("Content-Type", c.content_type.clone())
                    .body(c.data.clone());
            } else {
                if !has_content_type {
                    req = req.header("Content-Type", "application/json");
                }
                req = req.body(other.to_json_string());
            }
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Transport(e.to_string()),
    };
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let retry_after = header(&headers, "retry-after")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let content_type = header(&headers, "content-type").unwrap_or_default();
    let bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Attempt::Transport(e.to_string()),
    };
    Attempt::Done(Response {
        status,
        headers,
        body: decode_body(&content_type, &bytes),
        retry_after,
    })
}

/// JSON bodies are parsed, text is kept as a string, anything else is content.
fn decode_body(content_type: &str, bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("json") {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            return Value::from(v);
        }
    }
    if ct.is_empty() || ct.starts_with("text/") || ct.contains("json") {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return Value::string(s);
        }
    }
    Value::content(Content::new(content_type, bytes.to_vec()))
}

fn outputs_value(r: Response) -> Value {
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

/// `BadRequest`, `NotFound`, `InternalServerError`, ... as the runtime names codes.
pub(crate) fn status_code_name(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| {
            r.split(|c: char| !c.is_ascii_alphanumeric())
                .map(capitalise)
                .collect()
        })
        .unwrap_or_else(|| status.to_string())
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
