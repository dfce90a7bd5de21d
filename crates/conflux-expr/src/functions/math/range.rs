//! `range` (consecutive integers) and `rand` (a random integer from the host).

use crate::error::{EvalError, FnResult};
use crate::functions::args::integer;
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

/// The documented limits of `range()`.
pub const MAX_RANGE_COUNT: i64 = 100_000;
const MAX_RANGE_END: i64 = 2_147_483_647;

fn range(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let start = integer(args, 0)?;
    let count = integer(args, 1)?;
    if !(0..=MAX_RANGE_COUNT).contains(&count) {
        return Err(EvalError::new(format!(
            "the count (second argument) must be between 0 and {MAX_RANGE_COUNT}, got {count}"
        )));
    }
    match start.checked_add(count) {
        Some(end) if end <= MAX_RANGE_END => {}
        _ => {
            return Err(EvalError::new(format!(
                "start + count must not exceed {MAX_RANGE_END}, got {start} + {count}"
            )))
        }
    }
    Ok(Value::array(
        (start..start + count).map(Value::Int).collect(),
    ))
}

fn rand(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let min = integer(args, 0)?;
    let max = integer(args, 1)?;
    if min >= max {
        return Err(EvalError::new(format!(
            "the minimum ({min}) must be less than the maximum ({max})"
        )));
    }
    Ok(Value::Int(ctx.host.random(min, max)))
}

pub const RANGE: FunctionDef = FunctionDef {
    name: "range",
    min_args: 2,
    max_args: Some(2),
    body: range,
    examples: &[("@range(1, 4)", "[1,2,3,4]"), ("@range(5, 0)", "[]")],
};

pub const RAND: FunctionDef = FunctionDef {
    name: "rand",
    min_args: 2,
    max_args: Some(2),
    body: rand,
    // One possible value only, so the result is certain.
    examples: &[("@rand(7, 8)", "7")],
};
