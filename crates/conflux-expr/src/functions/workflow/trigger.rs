//! The trigger functions: `trigger`, `triggerOutputs`, `triggerBody` and the
//! form-data/multipart readers of the trigger's body.

use super::form::{form_value, form_values, multipart_body};
use super::host_error;
use crate::error::FnResult;
use crate::functions::args::{integer, string};
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn trigger_record(ctx: &FnCtx<'_>) -> FnResult {
    ctx.host.trigger().map_err(host_error)
}

/// `trigger().outputs`, null when the trigger has none.
fn outputs_of(ctx: &FnCtx<'_>) -> FnResult {
    ctx.host.trigger_outputs().map_err(host_error)
}

/// `trigger().outputs.body`, null when there is none.
fn body_of(ctx: &FnCtx<'_>) -> FnResult {
    ctx.host.trigger_body().map_err(host_error)
}

fn trigger(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    trigger_record(ctx)
}

fn trigger_outputs(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    outputs_of(ctx)
}

fn trigger_body(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    body_of(ctx)
}

fn trigger_form_data_value(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    form_value(&body_of(ctx)?, string(args, 0)?)
}

fn trigger_form_data_multi_values(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::array(form_values(&body_of(ctx)?, string(args, 0)?)?))
}

fn trigger_multipart_body(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    multipart_body(&body_of(ctx)?, integer(args, 0)?)
}

pub const TRIGGER: FunctionDef = FunctionDef {
    name: "trigger",
    min_args: 0,
    max_args: Some(0),
    body: trigger,
    examples: &[("@trigger().status", "\"Succeeded\"")],
};

pub const TRIGGER_OUTPUTS: FunctionDef = FunctionDef {
    name: "triggerOutputs",
    min_args: 0,
    max_args: Some(0),
    body: trigger_outputs,
    examples: &[(
        "@triggerOutputs()['headers']['Content-Type']",
        "\"application/json\"",
    )],
};

pub const TRIGGER_BODY: FunctionDef = FunctionDef {
    name: "triggerBody",
    min_args: 0,
    max_args: Some(0),
    body: trigger_body,
    examples: &[
        ("@triggerBody()?['order']?['id']", "7"),
        ("@triggerBody()?['missing']?['id']", "null"),
    ],
};

pub const TRIGGER_FORM_DATA_VALUE: FunctionDef = FunctionDef {
    name: "triggerFormDataValue",
    min_args: 1,
    max_args: Some(1),
    body: trigger_form_data_value,
    examples: &[],
};

pub const TRIGGER_FORM_DATA_MULTI_VALUES: FunctionDef = FunctionDef {
    name: "triggerFormDataMultiValues",
    min_args: 1,
    max_args: Some(1),
    body: trigger_form_data_multi_values,
    examples: &[],
};

pub const TRIGGER_MULTIPART_BODY: FunctionDef = FunctionDef {
    name: "triggerMultipartBody",
    min_args: 1,
    max_args: Some(1),
    body: trigger_multipart_body,
    examples: &[],
};
