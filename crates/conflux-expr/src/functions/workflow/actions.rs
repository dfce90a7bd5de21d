//! The action functions: `actions`, `outputs`/`actionOutputs`, `body`/`actionBody`,
//! `formDataValue`, `formDataMultiValues`, `multipartBody`.

use super::form::{form_value, form_values, multipart_body};
use super::host_error;
use crate::error::FnResult;
use crate::functions::args::{integer, string};
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn record(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.action(string(args, 0)?).map_err(host_error)
}

/// `actions(name).outputs`, null when the action has none.
fn outputs_of(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host
        .action_outputs(string(args, 0)?)
        .map_err(host_error)
}

/// `actions(name).outputs.body`, null when there is none.
fn body_of(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(outputs_of(ctx, args)?.get("body").unwrap_or_default())
}

fn actions(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    record(ctx, args)
}

fn outputs(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    outputs_of(ctx, args)
}

fn body(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    body_of(ctx, args)
}

fn form_data_value(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    form_value(&body_of(ctx, args)?, string(args, 1)?)
}

fn form_data_multi_values(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::array(form_values(
        &body_of(ctx, args)?,
        string(args, 1)?,
    )?))
}

fn multipart(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    multipart_body(&body_of(ctx, args)?, integer(args, 1)?)
}

pub const ACTIONS: FunctionDef = FunctionDef {
    name: "actions",
    min_args: 1,
    max_args: Some(1),
    body: actions,
    examples: &[("@actions('Get_user').status", "\"Succeeded\"")],
};

pub const OUTPUTS: FunctionDef = FunctionDef {
    name: "outputs",
    min_args: 1,
    max_args: Some(1),
    body: outputs,
    examples: &[("@outputs('Get_user')['statusCode']", "200")],
};

pub const ACTION_OUTPUTS: FunctionDef = FunctionDef {
    name: "actionOutputs",
    min_args: 1,
    max_args: Some(1),
    body: outputs,
    examples: &[("@actionOutputs('Get_user').statusCode", "200")],
};

pub const BODY: FunctionDef = FunctionDef {
    name: "body",
    min_args: 1,
    max_args: Some(1),
    body,
    examples: &[
        ("@body('Get_user').name", "\"Sophia\""),
        ("@{body('Get_user')?.age}", "\"\""),
    ],
};

pub const ACTION_BODY: FunctionDef = FunctionDef {
    name: "actionBody",
    min_args: 1,
    max_args: Some(1),
    body,
    examples: &[("@actionBody('Get_user')['name']", "\"Sophia\"")],
};

pub const FORM_DATA_VALUE: FunctionDef = FunctionDef {
    name: "formDataValue",
    min_args: 2,
    max_args: Some(2),
    body: form_data_value,
    examples: &[("@formDataValue('Post_form', 'city')", "\"Oslo\"")],
};

pub const FORM_DATA_MULTI_VALUES: FunctionDef = FunctionDef {
    name: "formDataMultiValues",
    min_args: 2,
    max_args: Some(2),
    body: form_data_multi_values,
    examples: &[("@formDataMultiValues('Post_form', 'tag')", "[\"a\",\"b\"]")],
};

pub const MULTIPART_BODY: FunctionDef = FunctionDef {
    name: "multipartBody",
    min_args: 2,
    max_args: Some(2),
    body: multipart,
    examples: &[("@multipartBody('Upload', 0)", "\"hi\"")],
};
