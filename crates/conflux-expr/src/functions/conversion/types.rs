//! Type conversions: `array`, `createArray`, `bool`, `int`, `float`, `decimal`, `string`.

use std::str::FromStr;

use rust_decimal::Decimal;

use crate::error::{EvalError, FnResult};
use crate::functions::string::{culture, numeric};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

fn array(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::array(vec![args::arg(args, 0).clone()]))
}

fn create_array(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::array(args.to_vec()))
}

fn bool_(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::Null => Ok(Value::Bool(false)),
        Value::Int(i) => Ok(Value::Bool(*i != 0)),
        Value::Float(f) => Ok(Value::Bool(*f != 0.0)),
        Value::Decimal(d) => Ok(Value::Bool(!d.is_zero())),
        Value::String(s) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(EvalError::new(format!(
                "'{s}' is not a Boolean: use 'true' or 'false' (any case)"
            ))),
        },
        other => Err(EvalError::new(format!(
            "a {} cannot be converted to a Boolean; pass a Boolean, a number or the text 'true'/'false'",
            other.type_name()
        ))),
    }
}

fn whole_number(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f))
        .then_some(f as i64)
}

fn int(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
        Value::String(s) => numeric::parse_int(s).map(Value::Int).ok_or_else(|| {
            EvalError::new(format!(
                "'{s}' is not an integer (digits with an optional sign, within 64 bits)"
            ))
        }),
        v @ (Value::Float(_) | Value::Decimal(_)) => v
            .as_f64()
            .and_then(whole_number)
            .map(Value::Int)
            .ok_or_else(|| {
                EvalError::new(format!(
                    "{} has a fractional part or is out of range and cannot become an Integer",
                    v.to_text()
                ))
            }),
        other => Err(args::type_error(0, "String", other)),
    }
}

fn float(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let culture = match args::arg(args, 1) {
        Value::Null => culture::resolve(None)?,
        _ => culture::resolve(Some(args::string(args, 1)?))?,
    };
    match args::arg(args, 0) {
        Value::String(s) => culture::parse_number(s, culture)
            .map(Value::Float)
            .ok_or_else(|| {
                EvalError::new(format!(
                    "'{s}' is not a floating-point number in the '{}' locale",
                    if culture.name.is_empty() {
                        "invariant"
                    } else {
                        culture.name
                    }
                ))
            }),
        v @ (Value::Int(_) | Value::Float(_) | Value::Decimal(_)) => {
            Ok(Value::Float(v.as_f64().unwrap_or(f64::NAN)))
        }
        other => Err(args::type_error(0, "String", other)),
    }
}

/// Parses decimal text, with or without an exponent.
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    Decimal::from_str(t)
        .ok()
        .or_else(|| Decimal::from_scientific(t).ok())
}

fn decimal(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::String(s) => parse_decimal(s).map(Value::Decimal).ok_or_else(|| {
            EvalError::new(format!(
                "'{s}' is not a decimal number (at most 28 significant digits)"
            ))
        }),
        Value::Int(i) => Ok(Value::Decimal(Decimal::from(*i))),
        Value::Float(f) => Decimal::try_from(*f)
            .map(Value::Decimal)
            .map_err(|_| EvalError::new(format!("{f} is out of the decimal range"))),
        Value::Decimal(d) => Ok(Value::Decimal(*d)),
        other => Err(args::type_error(0, "String", other)),
    }
}

fn string(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(args::arg(args, 0).to_text()))
}

pub const ARRAY: FunctionDef = FunctionDef {
    name: "array",
    min_args: 1,
    max_args: Some(1),
    body: array,
    examples: &[("@array('hello')", r#"["hello"]"#)],
};

pub const CREATE_ARRAY: FunctionDef = FunctionDef {
    name: "createArray",
    min_args: 0,
    max_args: None,
    body: create_array,
    examples: &[
        (
            "@createArray('h', 'e', 'l', 'l', 'o')",
            r#"["h","e","l","l","o"]"#,
        ),
        ("@createArray()", "[]"),
    ],
};

pub const BOOL: FunctionDef = FunctionDef {
    name: "bool",
    min_args: 1,
    max_args: Some(1),
    body: bool_,
    examples: &[
        ("@bool(1)", "true"),
        ("@bool(0)", "false"),
        ("@bool(-1)", "true"),
        ("@bool('true')", "true"),
        ("@bool('false')", "false"),
    ],
};

pub const INT: FunctionDef = FunctionDef {
    name: "int",
    min_args: 1,
    max_args: Some(1),
    body: int,
    examples: &[("@int('10')", "10"), ("@int(' -3 ')", "-3")],
};

pub const FLOAT: FunctionDef = FunctionDef {
    name: "float",
    min_args: 1,
    max_args: Some(2),
    body: float,
    examples: &[
        ("@float('10,000.333')", "10000.333"),
        ("@float('10.000,333', 'de-DE')", "10000.333"),
        ("@float('12,3,4,5678')", "12345678.0"),
        ("@float('1234567,8+')", "12345678.0"),
        ("@float('12345,6,78,-')", "-12345678.0"),
        ("@float('-12,345,678,')", "-12345678.0"),
        ("@float('12345678.-')", "-12345678.0"),
        ("@float('.12345678')", "0.12345678"),
    ],
};

pub const DECIMAL: FunctionDef = FunctionDef {
    name: "decimal",
    min_args: 1,
    max_args: Some(1),
    body: decimal,
    examples: &[
        ("@decimal('1.2345678912312131')", "1.234567891231213"),
        (
            "@string(decimal('1.2345678912312131'))",
            "\"1.2345678912312131\"",
        ),
    ],
};

pub const STRING: FunctionDef = FunctionDef {
    name: "string",
    min_args: 1,
    max_args: Some(1),
    body: string,
    examples: &[
        ("@string(10)", "\"10\""),
        (
            "@string(json('{ \"name\": \"Sophie Owen\" }'))",
            r#""{\"name\":\"Sophie Owen\"}""#,
        ),
        ("@string(null)", "\"\""),
        ("@string(true)", "\"True\""),
    ],
};
