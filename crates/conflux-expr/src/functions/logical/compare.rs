//! `equals` (deep, loose: `true` equals `1`, `1` equals `1.0`, `null` equals
//! `''`) and the orderings `greater`, `greaterOrEquals`, `less`, `lessOrEquals`
//! (numbers numerically, strings ordinally and case-sensitively, `null` as `''`).

use std::cmp::Ordering;

use crate::error::{EvalError, FnResult};
use crate::functions::math::num::{compare, Num};
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

/// Deep equality with the runtime's loose rules.
pub fn loose_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Bool(x), other) | (other, Value::Bool(x)) => match Num::of(other) {
            Some(n) => compare(n, Num::Int(i64::from(*x))) == Some(Ordering::Equal),
            None => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| loose_equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_equals(v, w)))
        }
        (Value::Content(_), _) | (_, Value::Content(_)) => match (a.as_content(), b.as_content()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        _ => match (Num::of(a), Num::of(b)) {
            (Some(x), Some(y)) => compare(x, y) == Some(Ordering::Equal),
            _ => false,
        },
    }
}

/// Order of two values for the comparison functions; incomparable types are an error.
pub fn order(a: &Value, b: &Value) -> Result<Ordering, EvalError> {
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::Null => Some(String::new()),
            Value::String(s) => Some(s.to_string()),
            _ => None,
        }
    };
    if let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) {
        return compare(x, y).ok_or_else(|| EvalError::new("cannot compare NaN"));
    }
    if let (Some(x), Some(y)) = (text(a), text(b)) {
        return Ok(x.cmp(&y));
    }
    if let (Value::Bool(x), Value::Bool(y)) = (a, b) {
        return Ok(x.cmp(y));
    }
    Err(EvalError::new(format!(
        "cannot compare {} with {}: both values must be numbers, or both strings",
        describe(a),
        describe(b)
    )))
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the String '{s}'"),
        Value::Array(_) | Value::Object(_) | Value::Content(_) => crate::eval::a_type(v),
        other => format!("the {} {}", other.type_name(), other.to_json_string()),
    }
}

fn equals(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(loose_equals(&args[0], &args[1])))
}

fn greater(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(order(&args[0], &args[1])? == Ordering::Greater))
}

fn greater_or_equals(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(order(&args[0], &args[1])? != Ordering::Less))
}

fn less(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(order(&args[0], &args[1])? == Ordering::Less))
}

fn less_or_equals(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(order(&args[0], &args[1])? != Ordering::Greater))
}

pub const EQUALS: FunctionDef = FunctionDef {
    name: "equals",
    min_args: 2,
    max_args: Some(2),
    body: equals,
    examples: &[
        ("@equals(true, 1)", "true"),
        ("@equals('abc', 'abcd')", "false"),
        ("@equals('abc', 'ABC')", "false"),
        ("@equals(1, 1.0)", "true"),
        ("@equals(null, '')", "true"),
        ("@equals(createArray(1, 'a'), createArray(1, 'a'))", "true"),
    ],
};

pub const GREATER: FunctionDef = FunctionDef {
    name: "greater",
    min_args: 2,
    max_args: Some(2),
    body: greater,
    examples: &[
        ("@greater(10, 5)", "true"),
        ("@greater('apple', 'banana')", "false"),
        ("@greater(2.5, 2)", "true"),
    ],
};

pub const GREATER_OR_EQUALS: FunctionDef = FunctionDef {
    name: "greaterOrEquals",
    min_args: 2,
    max_args: Some(2),
    body: greater_or_equals,
    examples: &[
        ("@greaterOrEquals(5, 5)", "true"),
        ("@greaterOrEquals('apple', 'banana')", "false"),
    ],
};

pub const LESS: FunctionDef = FunctionDef {
    name: "less",
    min_args: 2,
    max_args: Some(2),
    body: less,
    examples: &[
        ("@less(5, 10)", "true"),
        ("@less('banana', 'apple')", "false"),
    ],
};

pub const LESS_OR_EQUALS: FunctionDef = FunctionDef {
    name: "lessOrEquals",
    min_args: 2,
    max_args: Some(2),
    body: less_or_equals,
    examples: &[
        ("@lessOrEquals(10, 10)", "true"),
        ("@lessOrEquals('apply', 'apple')", "false"),
        ("@lessOrEquals(null, 'a')", "true"),
    ],
};
