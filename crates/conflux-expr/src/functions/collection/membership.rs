//! `contains`, `empty`, `first`, `last`: questions about one collection.

use super::equality::values_equal;
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

fn not_a_collection(index: usize, expected: &str, got: &Value) -> EvalError {
    EvalError::new(format!(
        "the {} argument must be {expected}, got {}",
        args::ordinal(index),
        got.type_name()
    ))
}

fn contains(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let item = args::arg(args, 1);
    let found = match args::arg(args, 0) {
        Value::String(s) => s.contains(args::text(args, 1).as_ref()),
        Value::Array(a) => a.iter().any(|v| values_equal(v, item)),
        Value::Object(o) => {
            let key = args::text(args, 1);
            o.contains_key(key.as_ref())
        }
        other => {
            return Err(not_a_collection(
                0,
                "a String, an Array or an Object",
                other,
            ))
        }
    };
    Ok(Value::Bool(found))
}

fn empty(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let is_empty = match args::arg(args, 0) {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Content(c) => c.data.is_empty(),
        other => {
            return Err(not_a_collection(
                0,
                "a String, an Array or an Object",
                other,
            ))
        }
    };
    Ok(Value::Bool(is_empty))
}

/// The first or last character of `s` as .NET sees it (one UTF-16 unit),
/// keeping a surrogate pair whole rather than splitting it.
fn end_char(s: &str, last: bool) -> Value {
    let c = if last {
        s.chars().next_back()
    } else {
        s.chars().next()
    };
    match c {
        None => Value::Null,
        Some(c) => Value::from(c.to_string()),
    }
}

fn first(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(end_char(s, false)),
        Value::Array(a) => Ok(a.first().cloned().unwrap_or(Value::Null)),
        other => Err(not_a_collection(0, "a String or an Array", other)),
    }
}

fn last(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Ok(end_char(s, true)),
        Value::Array(a) => Ok(a.last().cloned().unwrap_or(Value::Null)),
        other => Err(not_a_collection(0, "a String or an Array", other)),
    }
}

pub const CONTAINS: FunctionDef = FunctionDef {
    name: "contains",
    min_args: 2,
    max_args: Some(2),
    body: contains,
    examples: &[
        ("@contains('hello world', 'world')", "true"),
        ("@contains('hello world', 'universe')", "false"),
        ("@contains('hello world', 'World')", "false"),
        ("@contains(createArray(1, 2, 3), 2)", "true"),
        ("@contains(json('{\"a\": 1}'), 'a')", "true"),
        ("@contains(json('{\"a\": 1}'), 1)", "false"),
    ],
};

pub const EMPTY: FunctionDef = FunctionDef {
    name: "empty",
    min_args: 1,
    max_args: Some(1),
    body: empty,
    examples: &[
        ("@empty('')", "true"),
        ("@empty('abc')", "false"),
        ("@empty(createArray())", "true"),
        ("@empty(json('{}'))", "true"),
        ("@empty(null)", "true"),
    ],
};

pub const FIRST: FunctionDef = FunctionDef {
    name: "first",
    min_args: 1,
    max_args: Some(1),
    body: first,
    examples: &[
        ("@first('hello')", "\"h\""),
        ("@first(createArray(0, 1, 2))", "0"),
        ("@first('')", "null"),
    ],
};

pub const LAST: FunctionDef = FunctionDef {
    name: "last",
    min_args: 1,
    max_args: Some(1),
    body: last,
    examples: &[
        ("@last('abcd')", "\"d\""),
        ("@last(createArray(0, 1, 2, 3))", "3"),
    ],
};
