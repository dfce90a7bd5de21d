//! `isInt` and `isFloat`: whether text would convert with `int()` / `float()`.

use super::culture;
use crate::error::FnResult;
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

/// Integer text as `int()` accepts it: optional surrounding whitespace, an
/// optional sign, decimal digits, within 64 bits.
pub fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.strip_prefix('+').unwrap_or(t).parse().ok()
}

fn is_int(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Bool(parse_int(&args::text(args, 0)).is_some()))
}

fn is_float(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let culture = match args::arg(args, 1) {
        Value::Null => &culture::INVARIANT,
        _ => culture::resolve(Some(args::string(args, 1)?))?,
    };
    let text = args::text(args, 0);
    Ok(Value::Bool(culture::parse_number(&text, culture).is_some()))
}

pub const IS_INT: FunctionDef = FunctionDef {
    name: "isInt",
    min_args: 1,
    max_args: Some(1),
    body: is_int,
    examples: &[
        ("@isInt('10')", "true"),
        ("@isInt('-42')", "true"),
        ("@isInt('10.5')", "false"),
        ("@isInt('ten')", "false"),
    ],
};

pub const IS_FLOAT: FunctionDef = FunctionDef {
    name: "isFloat",
    min_args: 1,
    max_args: Some(2),
    body: is_float,
    examples: &[
        ("@isFloat('10,000.00')", "true"),
        ("@isFloat('10.000,00', 'de-DE')", "true"),
        ("@isFloat('abc')", "false"),
    ],
};
