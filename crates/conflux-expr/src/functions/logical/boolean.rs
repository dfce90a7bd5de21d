//! `and`, `or`, `not`, `if`.
//!
//! The evaluator runs `and`, `or` and `if` lazily (it stops at the first deciding
//! argument and evaluates only the chosen branch); the bodies here give the same
//! answers when all arguments are already known.

use crate::error::{EvalError, FnResult};
use crate::functions::args::{boolean, type_error};
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn and(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    for i in 0..args.len() {
        if !boolean(args, i)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn or(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    for i in 0..args.len() {
        if boolean(args, i)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn not(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(!boolean(args, 0)?))
}

fn if_(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args {
        [Value::Bool(c), yes, no] => Ok(if *c { yes.clone() } else { no.clone() }),
        [other, _, _] => Err(type_error(0, "Boolean", other)),
        _ => Err(EvalError::new("expects three arguments")),
    }
}

pub const AND: FunctionDef = FunctionDef {
    name: "and",
    min_args: 1,
    max_args: None,
    body: and,
    examples: &[
        ("@and(true, true)", "true"),
        ("@and(false, true)", "false"),
        ("@and(true, true, false)", "false"),
        ("@and(false, div(1, 0))", "false"),
    ],
};

pub const OR: FunctionDef = FunctionDef {
    name: "or",
    min_args: 1,
    max_args: None,
    body: or,
    examples: &[
        ("@or(true, false)", "true"),
        ("@or(false, false)", "false"),
        ("@or(true, div(1, 0))", "true"),
    ],
};

pub const NOT: FunctionDef = FunctionDef {
    name: "not",
    min_args: 1,
    max_args: Some(1),
    body: not,
    examples: &[
        ("@not(false)", "true"),
        ("@not(true)", "false"),
        ("@not(equals(1, 2))", "true"),
    ],
};

pub const IF: FunctionDef = FunctionDef {
    name: "if",
    min_args: 3,
    max_args: Some(3),
    body: if_,
    examples: &[
        ("@if(equals(1, 1), 'yes', 'no')", "\"yes\""),
        ("@if(equals(1, 2), 'yes', 'no')", "\"no\""),
        ("@if(true, 1, div(1, 0))", "1"),
    ],
};
