//! `join`, `skip`, `take`, `reverse` and `sort`.

use std::cmp::Ordering;

use crate::error::{EvalError, FnResult};
use crate::functions::string::{check_result_length, utf16};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

fn join(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let items = args::array(args, 0)?;
    let delimiter = args::text(args, 1);
    let parts: Vec<String> = items.iter().map(Value::to_text).collect();
    let out = parts.join(delimiter.as_ref());
    check_result_length(&out)?;
    Ok(Value::from(out))
}

fn count(args: &[Value]) -> Result<usize, EvalError> {
    let n = args::integer(args, 1)?;
    if n < 0 {
        return Err(EvalError::new(format!(
            "the count ({n}) must not be negative"
        )));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

fn skip(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let n = count(args)?;
    match args::arg(args, 0) {
        Value::Array(a) => Ok(Value::array(a.iter().skip(n).cloned().collect())),
        Value::String(s) => {
            let units = utf16::units(s);
            Ok(Value::from(utf16::text(&units[n.min(units.len())..])))
        }
        other => Err(collection_error(other)),
    }
}

fn take(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let n = count(args)?;
    match args::arg(args, 0) {
        Value::Array(a) => Ok(Value::array(a.iter().take(n).cloned().collect())),
        Value::String(s) => {
            let units = utf16::units(s);
            Ok(Value::from(utf16::text(&units[..n.min(units.len())])))
        }
        other => Err(collection_error(other)),
    }
}

fn collection_error(got: &Value) -> EvalError {
    EvalError::new(format!(
        "the first argument must be an Array or a String, got {}",
        got.type_name()
    ))
}

fn reverse(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let mut items = args::array(args, 0)?.to_vec();
    items.reverse();
    Ok(Value::array(items))
}

/// Order of two sort keys: nulls first, then numbers by value, strings
/// ordinally, booleans false before true. Mixed kinds cannot be ordered.
fn compare_keys(a: &Value, b: &Value) -> Result<Ordering, EvalError> {
    match (a, b) {
        (Value::Null, Value::Null) => Ok(Ordering::Equal),
        (Value::Null, _) => Ok(Ordering::Less),
        (_, Value::Null) => Ok(Ordering::Greater),
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal)),
            _ => Err(EvalError::new(format!(
                "cannot order {} against {}: sort keys must be all numbers, all strings or all booleans",
                args::a(a.type_name()),
                args::a(b.type_name())
            ))),
        },
    }
}

fn sort(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let items = args::array(args, 0)?;
    let key = match args::arg(args, 1) {
        Value::Null => None,
        _ => Some(args::string(args, 1)?),
    };
    let mut keyed: Vec<(Value, Value)> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let k = match key {
            None => item.clone(),
            Some(name) => match item {
                Value::Object(o) => o.get(name).cloned().unwrap_or(Value::Null),
                other => {
                    return Err(EvalError::new(format!(
                        "sorting by '{name}' needs every item to be an Object, found {}",
                        args::a(other.type_name())
                    )))
                }
            },
        };
        if matches!(k, Value::Array(_) | Value::Object(_) | Value::Content(_)) {
            return Err(EvalError::new(format!(
                "cannot sort by {} value: sort keys must be numbers, strings or booleans",
                args::a(k.type_name())
            )));
        }
        keyed.push((k, item.clone()));
    }
    let mut failure = None;
    keyed.sort_by(|(a, _), (b, _)| {
        compare_keys(a, b).unwrap_or_else(|e| {
            failure.get_or_insert(e);
            Ordering::Equal
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(Value::array(keyed.into_iter().map(|(_, v)| v).collect()))
}

pub const JOIN: FunctionDef = FunctionDef {
    name: "join",
    min_args: 2,
    max_args: Some(2),
    body: join,
    examples: &[
        ("@join(createArray('a', 'b', 'c'), '.')", "\"a.b.c\""),
        ("@join(createArray(1, null, true), ', ')", "\"1, , True\""),
    ],
};

pub const SKIP: FunctionDef = FunctionDef {
    name: "skip",
    min_args: 2,
    max_args: Some(2),
    body: skip,
    examples: &[
        ("@skip(createArray(0, 1, 2, 3), 1)", "[1,2,3]"),
        ("@skip('abcde', 3)", "\"de\""),
        ("@skip(createArray(0, 1), 5)", "[]"),
    ],
};

pub const TAKE: FunctionDef = FunctionDef {
    name: "take",
    min_args: 2,
    max_args: Some(2),
    body: take,
    examples: &[
        ("@take('abcde', 3)", "\"abc\""),
        ("@take(createArray(0, 1, 2, 3, 4), 3)", "[0,1,2]"),
        ("@take('ab', 5)", "\"ab\""),
    ],
};

pub const REVERSE: FunctionDef = FunctionDef {
    name: "reverse",
    min_args: 1,
    max_args: Some(1),
    body: reverse,
    examples: &[("@reverse(createArray(0, 1, 2, 3))", "[3,2,1,0]")],
};

pub const SORT: FunctionDef = FunctionDef {
    name: "sort",
    min_args: 1,
    max_args: Some(2),
    body: sort,
    examples: &[
        ("@sort(createArray(2, 1, 0, 3))", "[0,1,2,3]"),
        (
            "@sort(createArray(json('{ \"first\": \"Amalie\", \"last\": \"Rose\" }'), json('{ \"first\": \"Elise\", \"last\": \"Renee\" }')), 'last')",
            r#"[{"first":"Elise","last":"Renee"},{"first":"Amalie","last":"Rose"}]"#,
        ),
        ("@reverse(sort(createArray('b', 'c', 'a')))", r#"["c","b","a"]"#),
    ],
};
