//! Argument coercion shared by the function bodies.
//!
//! Every helper takes the argument's 0-based position so the error can say which
//! argument was wrong ("the second argument must be an Integer, got String"),
//! which is what a user needs to find the fault in a long expression.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::EvalError;
use crate::value::{Content, Map, Value};

/// "first", "second", ... for error messages.
pub fn ordinal(index: usize) -> Cow<'static, str> {
    const NAMES: [&str; 10] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
        "tenth",
    ];
    match NAMES.get(index) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(format!("{}th", index + 1)),
    }
}

/// "an Integer", "a String": a type name with its article, for messages.
pub fn a(type_name: &str) -> String {
    format!("{} {type_name}", article(type_name))
}

fn article(type_name: &str) -> &'static str {
    match type_name.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U' | 'a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// The standard type mismatch error: "the second argument must be an Integer, got String".
pub fn type_error(index: usize, expected: &str, got: &Value) -> EvalError {
    EvalError::new(format!(
        "the {} argument must be {} {expected}, got {}",
        ordinal(index),
        article(expected),
        got.type_name()
    ))
}

/// The argument at `index`, or `Null` when an optional argument was not given.
pub fn arg(args: &[Value], index: usize) -> &Value {
    static NULL: Value = Value::Null;
    args.get(index).unwrap_or(&NULL)
}

/// A string argument (strictly a string: numbers are not accepted).
pub fn string(args: &[Value], index: usize) -> Result<&str, EvalError> {
    match arg(args, index) {
        Value::String(s) => Ok(s),
        other => Err(type_error(index, "String", other)),
    }
}

/// A string argument where `null` reads as the empty string, as most string
/// functions of the runtime accept a missing optional property.
pub fn string_or_empty(args: &[Value], index: usize) -> Result<&str, EvalError> {
    match arg(args, index) {
        Value::String(s) => Ok(s),
        Value::Null => Ok(""),
        other => Err(type_error(index, "String", other)),
    }
}

/// Any value as text (numbers, booleans, objects as JSON), as `concat` does.
pub fn text(args: &[Value], index: usize) -> Cow<'_, str> {
    match arg(args, index) {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_text()),
    }
}

/// An integer argument. Floats with no fraction are accepted (`skip(x, 2.0)`),
/// as are integer-valued decimals.
pub fn integer(args: &[Value], index: usize) -> Result<i64, EvalError> {
    match arg(args, index) {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        Value::Decimal(d) if d.fract().is_zero() => {
            i64::try_from(*d).map_err(|_| type_error(index, "Integer", arg(args, index)))
        }
        other => Err(type_error(index, "Integer", other)),
    }
}

/// An optional integer argument (`None` when absent or null).
pub fn opt_integer(args: &[Value], index: usize) -> Result<Option<i64>, EvalError> {
    match arg(args, index) {
        Value::Null => Ok(None),
        _ => integer(args, index).map(Some),
    }
}

/// A number argument as f64 (integers, floats, decimals).
pub fn number(args: &[Value], index: usize) -> Result<f64, EvalError> {
    let v = arg(args, index);
    v.as_f64().ok_or_else(|| type_error(index, "Number", v))
}

/// A boolean argument.
pub fn boolean(args: &[Value], index: usize) -> Result<bool, EvalError> {
    match arg(args, index) {
        Value::Bool(b) => Ok(*b),
        other => Err(type_error(index, "Boolean", other)),
    }
}

/// An array argument.
pub fn array(args: &[Value], index: usize) -> Result<&Arc<Vec<Value>>, EvalError> {
    match arg(args, index) {
        Value::Array(a) => Ok(a),
        other => Err(type_error(index, "Array", other)),
    }
}

/// An object argument (content envelopes are objects too).
pub fn object(args: &[Value], index: usize) -> Result<&Arc<Map>, EvalError> {
    match arg(args, index) {
        Value::Object(o) => Ok(o),
        other => Err(type_error(index, "Object", other)),
    }
}

/// Binary content: `Value::Content`, or a `$content` envelope object.
pub fn content(args: &[Value], index: usize) -> Result<Cow<'_, Content>, EvalError> {
    let v = arg(args, index);
    v.as_content().ok_or_else(|| type_error(index, "Binary", v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_name_position_article_and_actual_type() {
        let args = [Value::Int(1), Value::from("x")];
        assert_eq!(
            integer(&args, 1).unwrap_err().message,
            "the second argument must be an Integer, got String"
        );
        assert_eq!(
            string(&args, 0).unwrap_err().message,
            "the first argument must be a String, got Integer"
        );
        assert_eq!(ordinal(11), "12th");
    }

    #[test]
    fn integers_accept_whole_floats_only() {
        assert_eq!(integer(&[Value::Float(2.0)], 0).unwrap(), 2);
        assert!(integer(&[Value::Float(2.5)], 0).is_err());
        assert_eq!(opt_integer(&[], 0).unwrap(), None);
    }
}
