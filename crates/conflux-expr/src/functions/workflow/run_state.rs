//! Functions that read the run through the host: `parameters`, `variables`,
//! `appsetting`, `workflow`, `item`, `items`, `iterationIndexes`, `result`,
//! `action`, `listCallbackUrl`.

use super::host_error;
use crate::error::FnResult;
use crate::functions::args::string;
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn parameters(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.parameter(string(args, 0)?).map_err(host_error)
}

fn variables(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.variable(string(args, 0)?).map_err(host_error)
}

fn appsetting(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.app_setting(string(args, 0)?).map_err(host_error)
}

fn workflow(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    ctx.host.workflow().map_err(host_error)
}

fn item(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    ctx.host.item().map_err(host_error)
}

fn items(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.items(string(args, 0)?).map_err(host_error)
}

fn iteration_indexes(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host
        .iteration_index(string(args, 0)?)
        .map_err(host_error)
}

fn result(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    ctx.host.result(string(args, 0)?).map_err(host_error)
}

fn action(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    ctx.host.current_action().map_err(host_error)
}

fn list_callback_url(ctx: &FnCtx<'_>, _: &[Value]) -> FnResult {
    ctx.host.list_callback_url().map_err(host_error)
}

pub const PARAMETERS: FunctionDef = FunctionDef {
    name: "parameters",
    min_args: 1,
    max_args: Some(1),
    body: parameters,
    examples: &[("@parameters('fullName')", "\"Sophia Owen\"")],
};

pub const VARIABLES: FunctionDef = FunctionDef {
    name: "variables",
    min_args: 1,
    max_args: Some(1),
    body: variables,
    examples: &[("@variables('counter')", "1")],
};

pub const APPSETTING: FunctionDef = FunctionDef {
    name: "appsetting",
    min_args: 1,
    max_args: Some(1),
    body: appsetting,
    examples: &[("@appsetting('Region')", "\"westeurope\"")],
};

pub const WORKFLOW: FunctionDef = FunctionDef {
    name: "workflow",
    min_args: 0,
    max_args: Some(0),
    body: workflow,
    examples: &[("@workflow().name", "\"order-flow\"")],
};

pub const ITEM: FunctionDef = FunctionDef {
    name: "item",
    min_args: 0,
    max_args: Some(0),
    body: item,
    examples: &[("@item()?.sku", "\"B-2\"")],
};

pub const ITEMS: FunctionDef = FunctionDef {
    name: "items",
    min_args: 1,
    max_args: Some(1),
    body: items,
    examples: &[("@items('For_each_order')?.sku", "\"B-2\"")],
};

pub const ITERATION_INDEXES: FunctionDef = FunctionDef {
    name: "iterationIndexes",
    min_args: 1,
    max_args: Some(1),
    body: iteration_indexes,
    examples: &[("@iterationIndexes('Until_done')", "2")],
};

pub const RESULT: FunctionDef = FunctionDef {
    name: "result",
    min_args: 1,
    max_args: Some(1),
    body: result,
    examples: &[("@result('Scope')[0].status", "\"Failed\"")],
};

pub const ACTION: FunctionDef = FunctionDef {
    name: "action",
    min_args: 0,
    max_args: Some(0),
    body: action,
    examples: &[("@action().name", "\"Until_done\"")],
};

pub const LIST_CALLBACK_URL: FunctionDef = FunctionDef {
    name: "listCallbackUrl",
    min_args: 0,
    max_args: Some(0),
    body: list_callback_url,
    examples: &[],
};
