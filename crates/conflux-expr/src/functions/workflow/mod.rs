//! Workflow (run-state) functions. They read everything through the
//! [`EvalHost`](crate::host::EvalHost): the engine answers them over a run,
//! `conflux eval` over a JSON context.
//!
//! Their `examples` are evaluated against [`example_context`].

use super::FunctionDef;
use crate::context::JsonContext;
use crate::error::EvalError;

mod actions;
pub mod form;
mod run_state;
mod trigger;

pub static FUNCTIONS: &[FunctionDef] = &[
    run_state::PARAMETERS,
    run_state::VARIABLES,
    trigger::TRIGGER,
    trigger::TRIGGER_OUTPUTS,
    trigger::TRIGGER_BODY,
    trigger::TRIGGER_FORM_DATA_VALUE,
    trigger::TRIGGER_FORM_DATA_MULTI_VALUES,
    trigger::TRIGGER_MULTIPART_BODY,
    actions::ACTIONS,
    actions::OUTPUTS,
    actions::ACTION_OUTPUTS,
    actions::BODY,
    actions::ACTION_BODY,
    actions::FORM_DATA_VALUE,
    actions::FORM_DATA_MULTI_VALUES,
    actions::MULTIPART_BODY,
    run_state::ACTION,
    run_state::ITEM,
    run_state::ITEMS,
    run_state::ITERATION_INDEXES,
    run_state::RESULT,
    run_state::WORKFLOW,
    run_state::APPSETTING,
    run_state::LIST_CALLBACK_URL,
];

/// Drops a leading `function: ` a host put on its message, so the evaluator's
/// prefix names the function the user actually called (`outputs: the action
/// 'x' is not defined`, not `outputs: actions: ...`).
fn host_error(e: EvalError) -> EvalError {
    match e.message.split_once(": ") {
        Some((head, rest)) if super::lookup(head).is_some() => EvalError::new(rest),
        _ => e,
    }
}

/// The run state the examples of this family are written against.
pub fn example_context() -> JsonContext {
    let json = serde_json::json!({
        "parameters": {"fullName": "Sophia Owen"},
        "variables": {"counter": 1},
        "appsettings": {"Region": "westeurope"},
        "workflow": {"name": "order-flow", "run": {"name": "08584737551867954143243946780CU57"}},
        "triggerOutputs": {
            "headers": {"Content-Type": "application/json"},
            "body": {"order": {"id": 7, "customer": "Contoso"}}
        },
        "outputs": {
            "Get_user": {"statusCode": 200, "body": {"name": "Sophia"}},
            "Post_form": {"body": {
                "$content-type": "application/x-www-form-urlencoded",
                "$content": "Y2l0eT1Pc2xvJnRhZz1hJnRhZz1i",
                "$formdata": [
                    {"key": "city", "value": "Oslo"},
                    {"key": "tag", "value": "a"},
                    {"key": "tag", "value": "b"}
                ]
            }},
            "Upload": {"body": {
                "$content-type": "multipart/form-data; boundary=b",
                "$multipart": [
                    {"headers": {"Content-Disposition": "form-data; name=\"note\""}, "body": "hi"}
                ]
            }}
        },
        "items": {"For_each_order": {"sku": "B-2"}},
        "iterationIndexes": {"Until_done": 2},
        "result": {"Scope": [{"name": "Charge", "status": "Failed"}]},
        "action": {"name": "Until_done", "status": "Running"}
    });
    JsonContext::from_json(&json).unwrap_or_default()
}
