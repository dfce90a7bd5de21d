//! Terminate, Wait, Response, Expression (date/time) and Workflow actions.

use std::sync::Arc;

use chrono::{DateTime, Months, Utc};
use conflux_definition::ActionDefinition;
use conflux_expr::{CompiledValue, EvalHost, Map, Value};
use conflux_store::RunStatus;

use super::{error_value, template_error, Outcome};
use crate::state::{lock, Host, NondetLog, RunCtx, Stop};
use crate::{ResponseMessage, StartRun};

fn eval(
    def: &ActionDefinition,
    host: &Host<'_>,
    inputs: &CompiledValue,
) -> Result<Value, Box<Outcome>> {
    inputs
        .eval(host)
        .map_err(|e| Box::new(template_error(def, &e)))
}

pub(super) fn terminate(
    def: &ActionDefinition,
    host: &Host<'_>,
    inputs: &CompiledValue,
) -> Outcome {
    let v = match eval(def, host, inputs) {
        Ok(v) => v,
        Err(o) => return *o,
    };
    let status_text = v
        .get("runStatus")
        .map(|s| s.to_text())
        .unwrap_or_else(|| "Failed".into());
    let status = match status_text.to_ascii_lowercase().as_str() {
        "succeeded" => RunStatus::Succeeded,
        "cancelled" => RunStatus::Cancelled,
        "failed" => RunStatus::Failed,
        other => {
            return Outcome::failed(
                "InvalidTemplate",
                &format!("'{other}' is not a Terminate runStatus (Failed, Cancelled, Succeeded)"),
            )
            .with_inputs(Some(v))
        }
    };
    let error = if status == RunStatus::Failed {
        let e = v.get("runError");
        let code = e
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|c| c.to_text())
            .unwrap_or_else(|| "Terminated".into());
        let message = e
            .as_ref()
            .and_then(|e| e.get("message"))
            .map(|m| m.to_text())
            .unwrap_or_else(|| "The run was terminated with status Failed.".into());
        Some(serde_json::json!({"code": code, "message": message}))
    } else {
        None
    };
    *lock(&host.run.terminate) = Some((status, error));
    host.run.stop(Stop::Terminated);
    Outcome::ok(Some(v), None)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    conflux_expr::time::parse_timestamp(text)
        .ok()
        .map(|t| t.local.and_utc())
}

/// Waits for an interval or until a timestamp. The start of the interval is
/// journaled before the wait begins (with any `utcNow()` of the inputs), so a
/// run resumed after a restart keeps the first deadline instead of waiting a
/// whole interval again.
pub(super) async fn wait(
    def: &ActionDefinition,
    host: &Host<'_>,
    inputs: &CompiledValue,
) -> Outcome {
    let key = crate::persist::replay_key(&def.name, &host.frame.repetition);
    let log = NondetLog::with_replay(host.run.nondet_replay.get(&key));
    let host = &Host {
        nondet: Some(&log),
        ..*host
    };
    let v = match eval(def, host, inputs) {
        Ok(v) => v,
        Err(o) => return *o,
    };
    let now = EvalHost::now(host);
    let values = std::mem::take(&mut *lock(&log.recorded));
    host.run
        .recorder
        .inputs_evaluated(host.run, def, host.frame, values)
        .await;
    let deadline = if let Some(iv) = v.get("interval") {
        let count = iv
            .get("count")
            .and_then(|c| c.as_i64().or_else(|| c.to_text().parse().ok()))
            .unwrap_or(0)
            .max(0);
        let unit = iv
            .get("unit")
            .map(|u| u.to_text().to_ascii_lowercase())
            .unwrap_or_default();
        let secs = |n: i64| now + chrono::Duration::seconds(n);
        match unit.as_str() {
            "second" => Some(secs(count)),
            "minute" => Some(secs(count * 60)),
            "hour" => Some(secs(count * 3600)),
            "day" => Some(secs(count * 86_400)),
            "week" => Some(secs(count * 604_800)),
            "month" => u32::try_from(count)
                .ok()
                .and_then(|c| now.checked_add_months(Months::new(c))),
            _ => None,
        }
    } else if let Some(u) = v.get("until") {
        u.get("timestamp").and_then(|t| parse_time(&t.to_text()))
    } else {
        None
    };
    let Some(deadline) = deadline else {
        return Outcome::failed(
            "InvalidTemplate",
            &format!(
                "The Wait action '{}' needs interval {{count, unit}} or until {{timestamp}}.",
                def.name
            ),
        )
        .with_inputs(Some(v));
    };
    host.run.clock().sleep_until(deadline).await;
    Outcome::ok(Some(v), None)
}

pub(super) fn response(def: &ActionDefinition, host: &Host<'_>, inputs: &CompiledValue) -> Outcome {
    let v = match eval(def, host, inputs) {
        Ok(v) => v,
        Err(o) => return *o,
    };
    let status = match v.get("statusCode") {
        None | Some(Value::Null) => 200,
        Some(s) => match s.as_i64().or_else(|| s.to_text().parse().ok()) {
            Some(n) if (200..600).contains(&n) && !(300..400).contains(&n) => n as u16,
            _ => {
                return Outcome::failed(
                    "InvalidResponseStatusCode",
                    &format!(
                        "The status code {} of Response '{}' must be a 2xx, 4xx or 5xx number.",
                        s.to_text(),
                        def.name
                    ),
                )
                .with_inputs(Some(v))
            }
        },
    };
    let headers: Vec<(String, String)> = match v.get("headers") {
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_text()))
            .collect(),
        _ => Vec::new(),
    };
    let body = match v.get("body") {
        // A content envelope that arrived as JSON (a trigger or HTTP body that was
        // not JSON) goes out as that content, with its own content type.
        Some(b @ Value::Object(_)) => match b.as_content() {
            Some(c) => Value::content(c.into_owned()),
            None => b,
        },
        other => other.unwrap_or(Value::Null),
    };
    let sender = lock(&host.run.response_tx).take();
    let Some(sender) = sender else {
        return Outcome::failed(
            "ActionResponseAlreadySent",
            "The response to the request has already been sent (or the run was not started by a request).",
        )
        .with_inputs(Some(v));
    };
    // Kept as values: turned into JSON only for a run whose end is stored.
    let sent = crate::state::SentResponse {
        status,
        headers: headers.clone(),
        body: body.clone(),
    };
    // The receiver is gone when the caller stopped waiting (its wait timed
    // out and it was already answered with an error): nobody gets this answer.
    if sender
        .send(ResponseMessage {
            status,
            headers,
            body,
        })
        .is_err()
    {
        return Outcome::failed(
            "ActionResponseTimedOut",
            "Nobody waits for this response any more: the caller's request timed out and was already answered (or whoever started the run stopped waiting).",
        )
        .with_inputs(Some(v));
    }
    *lock(&host.run.response_sent) = Some(sent);
    Outcome::ok(Some(v), None)
}

pub(super) fn expression(
    def: &ActionDefinition,
    host: &Host<'_>,
    kind: &str,
    inputs: &CompiledValue,
) -> Outcome {
    let v = match eval(def, host, inputs) {
        Ok(v) => v,
        Err(o) => return *o,
    };
    let arg = |k: &str| v.get(k).unwrap_or(Value::Null);
    let unit = || v.get("timeUnit").unwrap_or_else(|| Value::string("Hour"));
    let (function, args): (&str, Vec<Value>) = match kind {
        "addtotime" => ("addToTime", vec![arg("baseTime"), arg("interval"), unit()]),
        "subtractfromtime" => (
            "subtractFromTime",
            vec![arg("baseTime"), arg("interval"), unit()],
        ),
        "converttimezone" => (
            "convertTimeZone",
            vec![
                arg("baseTime"),
                arg("sourceTimeZone"),
                arg("destinationTimeZone"),
                v.get("formatString").unwrap_or_else(|| Value::string("o")),
            ],
        ),
        "currenttime" => ("utcNow", vec![]),
        "getfuturetime" => ("getFutureTime", vec![arg("interval"), unit()]),
        "getpasttime" => ("getPastTime", vec![arg("interval"), unit()]),
        other => {
            return Outcome::failed(
                "InvalidTemplate",
                &format!("'{other}' is not an Expression kind"),
            )
        }
    };
    let Some(f) = conflux_expr::functions::lookup(function) else {
        return Outcome::failed(
            "InvalidTemplate",
            &format!("the function {function} is not available"),
        );
    };
    let ctx = conflux_expr::functions::FnCtx { host };
    match (f.body)(&ctx, &args) {
        Ok(result) => {
            let mut out = conflux_expr::map_with_capacity(1);
            out.insert("body".into(), result);
            Outcome::ok(Some(v), Some(Value::object(out)))
        }
        Err(e) => {
            Outcome::failed("InvalidTemplate", &format!("{function}: {e}")).with_inputs(Some(v))
        }
    }
}

/// Calls another workflow registered in the same engine and waits for its Response.
pub(super) async fn call_workflow(
    ctx: &Arc<RunCtx>,
    _def: &ActionDefinition,
    inputs: Value,
) -> Outcome {
    let host = inputs.get("host").unwrap_or(Value::Null);
    let id = host
        .get("workflow")
        .and_then(|w| w.get("id"))
        .or_else(|| host.get("id"))
        .map(|i| i.to_text())
        .unwrap_or_default();
    let name = id.rsplit('/').next().unwrap_or("").to_string();
    let trigger = host
        .get("triggerName")
        .map(|t| t.to_text())
        .unwrap_or_else(|| "manual".into());
    let mut outputs = serde_json::Map::new();
    outputs.insert(
        "headers".into(),
        inputs
            .get("headers")
            .map(|h| h.to_json())
            .unwrap_or(serde_json::json!({})),
    );
    outputs.insert(
        "body".into(),
        inputs
            .get("body")
            .map(|b| b.to_json())
            .unwrap_or(serde_json::Value::Null),
    );
    let req = StartRun {
        workflow: name.clone(),
        trigger_name: trigger,
        trigger_outputs: Value::from(serde_json::Value::Object(outputs)).into(),
        client_tracking_id: ctx.client_tracking_id.as_deref().map(str::to_string),
    };
    let handle = match crate::start_run_shared(&ctx.engine, req, false).await {
        Ok(h) => h,
        Err(e) => {
            return Outcome::failed("WorkflowNotFound", &e.to_string()).with_inputs(Some(inputs))
        }
    };
    let Some(rx) = handle.response else {
        // A child without Response: its trigger accepts the call the way an HTTP
        // caller sees it (202, no body), and the action succeeds once the run started.
        let mut out = Map::default();
        out.insert("statusCode".into(), Value::Int(202));
        out.insert("headers".into(), Value::object(Map::default()));
        return Outcome::ok(Some(inputs), Some(Value::object(out)));
    };
    match rx.await {
        Ok(resp) => {
            let mut out = Map::default();
            out.insert("statusCode".into(), Value::Int(i64::from(resp.status)));
            let mut headers = Map::default();
            for (k, v) in &resp.headers {
                headers.insert(k.as_str().into(), Value::string(v.as_str()));
            }
            out.insert("headers".into(), Value::object(headers));
            out.insert("body".into(), resp.body);
            let mut o = Outcome::ok(Some(inputs), Some(Value::object(out)));
            // Named like the Http action's codes (`OK`, `InternalServerError`).
            let code = super::http::status_code_name(resp.status);
            o.code = Some(code.clone());
            if resp.status >= 400 {
                o.status = conflux_store::ActionStatus::Failed;
                o.error = Some(error_value(
                    &code,
                    &format!(
                        "The workflow '{name}' responded with status {}.",
                        resp.status
                    ),
                ));
            }
            o
        }
        Err(_) => Outcome::failed(
            "WorkflowRunFailed",
            &format!("The workflow '{name}' finished without sending a response."),
        )
        .with_inputs(Some(inputs)),
    }
}
