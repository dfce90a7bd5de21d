//! Case-insensitive searches: `startsWith`, `endsWith`, `indexOf`, `lastIndexOf`,
//! `nthIndexOf`. Indexes are UTF-16 code-unit positions (see [`super::utf16`]).

use super::utf16;
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

fn folded(args: &[Value], index: usize) -> Result<Vec<u16>, EvalError> {
    Ok(utf16::fold(&utf16::units(args::string(args, index)?)))
}

fn index_value(found: Option<usize>) -> Value {
    Value::Int(found.map_or(-1, |i| i as i64))
}

fn starts_with(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (text, prefix) = (folded(args, 0)?, folded(args, 1)?);
    Ok(Value::Bool(text.starts_with(&prefix)))
}

fn ends_with(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (text, suffix) = (folded(args, 0)?, folded(args, 1)?);
    Ok(Value::Bool(text.ends_with(&suffix)))
}

fn index_of(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (text, search) = (folded(args, 0)?, folded(args, 1)?);
    Ok(index_value(utf16::find_from(&text, &search, 0)))
}

fn last_index_of(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (text, search) = (folded(args, 0)?, folded(args, 1)?);
    // The documented empty-string rules, in the documented order.
    let found = match (text.is_empty(), search.is_empty()) {
        (true, true) => Some(0),
        (true, false) => None,
        (false, true) => Some(text.len() - 1),
        (false, false) => utf16::rfind_upto(&text, &search, usize::MAX),
    };
    Ok(index_value(found))
}

fn nth_index_of(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (text, search) = (folded(args, 0)?, folded(args, 1)?);
    let n = args::integer(args, 2)?;
    if n == 0 {
        return Err(EvalError::new(
            "the occurrence (third argument) must not be 0: use 1 for the first occurrence or -1 for the last",
        ));
    }
    let mut found = None;
    if n > 0 {
        let mut from = 0;
        for _ in 0..n {
            match utf16::find_from(&text, &search, from) {
                Some(i) => {
                    found = Some(i);
                    from = i + 1;
                }
                None => return Ok(Value::Int(-1)),
            }
        }
    } else {
        let mut upto = Some(usize::MAX);
        for _ in 0..n.unsigned_abs() {
            let Some(limit) = upto else {
                return Ok(Value::Int(-1));
            };
            match utf16::rfind_upto(&text, &search, limit) {
                Some(i) => {
                    found = Some(i);
                    upto = i.checked_sub(1);
                }
                None => return Ok(Value::Int(-1)),
            }
        }
    }
    Ok(index_value(found))
}

pub const STARTS_WITH: FunctionDef = FunctionDef {
    name: "startsWith",
    min_args: 2,
    max_args: Some(2),
    body: starts_with,
    examples: &[
        ("@startsWith('hello world', 'hello')", "true"),
        ("@startsWith('hello world', 'greetings')", "false"),
        ("@startsWith('Hello World', 'HELLO')", "true"),
    ],
};

pub const ENDS_WITH: FunctionDef = FunctionDef {
    name: "endsWith",
    min_args: 2,
    max_args: Some(2),
    body: ends_with,
    examples: &[
        ("@endsWith('hello world', 'world')", "true"),
        ("@endsWith('hello world', 'universe')", "false"),
    ],
};

pub const INDEX_OF: FunctionDef = FunctionDef {
    name: "indexOf",
    min_args: 2,
    max_args: Some(2),
    body: index_of,
    examples: &[
        ("@indexOf('hello world', 'world')", "6"),
        ("@indexOf('hello world', 'WORLD')", "6"),
        ("@indexOf('hello world', 'universe')", "-1"),
    ],
};

pub const LAST_INDEX_OF: FunctionDef = FunctionDef {
    name: "lastIndexOf",
    min_args: 2,
    max_args: Some(2),
    body: last_index_of,
    examples: &[
        ("@lastIndexOf('hello world hello world', 'world')", "18"),
        ("@lastIndexOf('hello world hello world', '')", "22"),
        ("@lastIndexOf('', '')", "0"),
        ("@lastIndexOf('', 'a')", "-1"),
    ],
};

pub const NTH_INDEX_OF: FunctionDef = FunctionDef {
    name: "nthIndexOf",
    min_args: 3,
    max_args: Some(3),
    body: nth_index_of,
    examples: &[
        ("@nthIndexOf('123456789123465789', '1', 1)", "0"),
        ("@nthIndexOf('123456789123465789', '1', 2)", "9"),
        ("@nthIndexOf('123456789123465789', '12', 2)", "9"),
        ("@nthIndexOf('123456789123465789', '6', 4)", "-1"),
        ("@nthIndexOf('123456789123465789', '1', -1)", "9"),
    ],
};
