//! Deep equality of values as collection functions compare items: numbers by
//! value (`1` equals `1.0`), objects by their properties regardless of order,
//! arrays element by element.

use crate::value::Value;

/// True when `a` and `b` are the same value.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Decimal(x), Value::Decimal(y)) => x == y,
        (
            Value::Int(_) | Value::Float(_) | Value::Decimal(_),
            Value::Int(_) | Value::Float(_) | Value::Decimal(_),
        ) => a.as_f64() == b.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Content(_), _) | (_, Value::Content(_)) => match (a.as_content(), b.as_content()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
        _ => a == b,
    }
}

/// A text key such that equal values (by [`values_equal`]) get equal keys, so
/// large collections can be deduplicated with a hash set instead of comparing
/// every pair. (Integers beyond 2^53 compared with floats are the one case where
/// `values_equal` is looser than the key.)
pub fn canonical_key(v: &Value) -> String {
    let mut out = String::new();
    write_key(v, &mut out);
    out
}

fn write_key(v: &Value, out: &mut String) {
    use std::fmt::Write as _;
    match v {
        Value::Null => out.push('z'),
        Value::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        Value::Int(i) => {
            let _ = write!(out, "n{i};");
        }
        Value::Float(_) | Value::Decimal(_) => {
            let f = v.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                let _ = write!(out, "n{};", f as i64);
            } else {
                let _ = write!(out, "n{f:?};");
            }
        }
        Value::String(s) => {
            let _ = write!(out, "s{}:{s}", s.len());
        }
        Value::Array(a) => {
            out.push('[');
            for item in a.iter() {
                write_key(item, out);
            }
            out.push(']');
        }
        Value::Object(_) | Value::Content(_) => match v.as_content() {
            Some(c) => {
                let _ = write!(out, "c{}:{}", c.content_type.len(), c.content_type);
                let _ = write!(out, "{};", c.base64());
            }
            None => {
                let Some(o) = v.as_object() else { return };
                let mut entries: Vec<(&crate::Key, &Value)> = o.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (k, item) in entries {
                    let _ = write!(out, "{}:{k}", k.len());
                    write_key(item, out);
                }
                out.push('}');
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value_and_objects_ignore_order() {
        assert!(values_equal(&Value::Int(1), &Value::Float(1.0)));
        let a = Value::from_json_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b = Value::from_json_str(r#"{"b":[1,2.0],"a":1}"#).unwrap();
        assert!(values_equal(&a, &b));
        assert!(!values_equal(&Value::from("1"), &Value::Int(1)));
        assert_eq!(canonical_key(&a), canonical_key(&b));
        assert_eq!(
            canonical_key(&Value::Int(1)),
            canonical_key(&Value::Float(1.0))
        );
        assert_ne!(
            canonical_key(&Value::from("1")),
            canonical_key(&Value::Int(1))
        );
        assert_ne!(
            canonical_key(&Value::from_json_str(r#"["ab","c"]"#).unwrap()),
            canonical_key(&Value::from_json_str(r#"["a","bc"]"#).unwrap())
        );
    }
}
