//! `max` and `min`: of several numbers, or of the numbers in one array. The
//! winning value keeps its own type (`max(1, 2.5)` is `2.5`, `max(3, 2.5)` is `3`).

use std::cmp::Ordering;

use super::num::{compare, Num};
use crate::error::{EvalError, FnResult};
use crate::functions::args::ordinal;
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn extreme(args: &[Value], keep: Ordering) -> FnResult {
    let (items, in_array) = match args {
        [Value::Array(a)] => (&a[..], true),
        _ => (args, false),
    };
    let mut best: Option<(Num, &Value)> = None;
    for (i, v) in items.iter().enumerate() {
        let n = Num::of(v).ok_or_else(|| {
            let which = if in_array {
                format!("the array element [{i}]")
            } else {
                format!("the {} argument", ordinal(i))
            };
            EvalError::new(format!(
                "{which} must be a number (Integer or Float), got {}",
                v.type_name()
            ))
        })?;
        best = match best {
            None => Some((n, v)),
            Some((b, bv)) => match compare(n, b) {
                Some(o) if o == keep => Some((n, v)),
                Some(_) => Some((b, bv)),
                None => return Err(EvalError::new("cannot compare NaN")),
            },
        };
    }
    best.map(|(_, v)| v.clone())
        .ok_or_else(|| EvalError::new("the array is empty; there is no value to return"))
}

fn max(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    extreme(args, Ordering::Greater)
}

fn min(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    extreme(args, Ordering::Less)
}

pub const MAX: FunctionDef = FunctionDef {
    name: "max",
    min_args: 1,
    max_args: None,
    body: max,
    examples: &[
        ("@max(1, 2, 3)", "3"),
        ("@max(createArray(1, 2, 3))", "3"),
        ("@max(1, 2.5)", "2.5"),
    ],
};

pub const MIN: FunctionDef = FunctionDef {
    name: "min",
    min_args: 1,
    max_args: None,
    body: min,
    examples: &[
        ("@min(1, 2, 3)", "1"),
        ("@min(createArray(1, 2, 3))", "1"),
        ("@min(-1.5, 0)", "-1.5"),
    ],
};
