//! Converting between MySQL values and JSON.
//!
//! Results: integers and floats become JSON numbers (`TINYINT(1)`, MySQL's
//! `BOOLEAN`, stays 0/1: the server does not distinguish it); `DECIMAL` a
//! string with every digit kept; `DATETIME` and `TIMESTAMP` ISO 8601 strings
//! without offset (TIMESTAMP in UTC: the session runs in UTC), `DATE` and
//! `TIME` ISO strings; `JSON` columns the JSON itself (MySQL; MariaDB reports
//! them as text); `BIT` a number; binary strings and BLOBs Conflux binary
//! content; other strings text.

use base64::Engine as _;
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::{Column, Value as MyValue};
use serde_json::{json, Value};

/// The binary character set: a string column with it holds bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// A JSON parameter as a MySQL value; the server converts strings to the
/// column's type as it would a literal.
pub(crate) fn to_param(value: &Value) -> MyValue {
    match value {
        Value::Null => MyValue::NULL,
        Value::Bool(b) => MyValue::Int(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => MyValue::Int(i),
            (None, Some(u), _) => MyValue::UInt(u),
            (_, _, Some(f)) => MyValue::Double(f),
            _ => MyValue::Bytes(n.to_string().into_bytes()),
        },
        Value::String(s) => MyValue::Bytes(s.clone().into_bytes()),
        other => MyValue::Bytes(other.to_string().into_bytes()),
    }
}

/// A result value as JSON, interpreted by its column.
pub(crate) fn to_json(column: &Column, value: MyValue) -> Value {
    let ty = column.column_type();
    match value {
        MyValue::NULL => Value::Null,
        MyValue::Int(i) => json!(i),
        MyValue::UInt(u) => json!(u),
        MyValue::Float(f) => float(f64::from(f)),
        MyValue::Double(f) => float(f),
        MyValue::Date(year, month, day, hour, minute, second, micros) => {
            if ty == ColumnType::MYSQL_TYPE_DATE {
                Value::String(format!("{year:04}-{month:02}-{day:02}"))
            } else {
                let mut s =
                    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
                push_micros(&mut s, micros);
                Value::String(s)
            }
        }
        MyValue::Time(negative, days, hours, minutes, seconds, micros) => {
            let hours = u64::from(days) * 24 + u64::from(hours);
            let mut s = format!(
                "{}{hours:02}:{minutes:02}:{seconds:02}",
                if negative { "-" } else { "" }
            );
            push_micros(&mut s, micros);
            Value::String(s)
        }
        MyValue::Bytes(bytes) => bytes_to_json(column, ty, bytes),
    }
}

fn bytes_to_json(column: &Column, ty: ColumnType, bytes: Vec<u8>) -> Value {
    match ty {
        ColumnType::MYSQL_TYPE_JSON => {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| text_or_binary(bytes))
        }
        ColumnType::MYSQL_TYPE_BIT => {
            json!(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
        }
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => text_or_binary(bytes),
        _ if column.character_set() == BINARY_CHARSET
            && column.flags().contains(ColumnFlags::BINARY_FLAG) =>
        {
            binary(&bytes)
        }
        _ => text_or_binary(bytes),
    }
}

fn text_or_binary(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(text) => Value::String(text),
        Err(e) => binary(e.as_bytes()),
    }
}

fn binary(bytes: &[u8]) -> Value {
    json!({
        "$content-type": "application/octet-stream",
        "$content": base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

fn push_micros(s: &mut String, micros: u32) {
    if micros > 0 {
        let digits = format!("{micros:06}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
    }
}
