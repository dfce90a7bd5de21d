//! Converting between PostgreSQL wire values and JSON.
//!
//! Results: booleans, integers and floats become JSON numbers/booleans;
//! `numeric` becomes a string with every digit kept (a float would round);
//! `timestamptz` an RFC 3339 UTC string, `timestamp` the same without offset,
//! `date` and `time` ISO strings; `json`/`jsonb` the JSON itself; `uuid` its
//! text; `bytea` Conflux binary content; arrays JSON arrays; any other type
//! its text when the server's binary form is text (enums, `citext`, ...),
//! else binary content.

use std::error::Error;
use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, Kind, ToSql, Type};

type BoxError = Box<dyn Error + Sync + Send>;

/// A result value of any PostgreSQL type, as JSON.
#[derive(Debug)]
pub(crate) struct PgValue(pub(crate) Value);

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => json!(i16::from_sql(ty, raw)?),
            Type::INT4 => json!(i32::from_sql(ty, raw)?),
            Type::INT8 => json!(i64::from_sql(ty, raw)?),
            Type::OID => json!(u32::from_sql(ty, raw)?),
            Type::FLOAT4 => float(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => float(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Value::String(decode_numeric(raw)?),
            Type::JSON | Type::JSONB => Value::from_sql(ty, raw)?,
            Type::TIMESTAMPTZ => Value::String(
                DateTime::<Utc>::from_sql(ty, raw)?.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
            Type::TIMESTAMP => Value::String(
                NaiveDateTime::from_sql(ty, raw)?
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
            Type::DATE => {
                Value::String(NaiveDate::from_sql(ty, raw)?.format("%Y-%m-%d").to_string())
            }
            Type::TIME => Value::String(
                NaiveTime::from_sql(ty, raw)?
                    .format("%H:%M:%S%.f")
                    .to_string(),
            ),
            Type::UUID => Value::String(format_uuid(raw)?),
            Type::BYTEA => binary(raw),
            _ => match ty.kind() {
                Kind::Array(_) => {
                    let items = Vec::<Option<PgValue>>::from_sql(ty, raw)?;
                    Value::Array(
                        items
                            .into_iter()
                            .map(|v| v.map_or(Value::Null, |v| v.0))
                            .collect(),
                    )
                }
                _ => match std::str::from_utf8(raw) {
                    Ok(text) => Value::String(text.to_owned()),
                    Err(_) => binary(raw),
                },
            },
        };
        Ok(Self(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Self(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn float(f: f64) -> Value {
    // JSON has no NaN or infinities; keep them as PostgreSQL spells them.
    serde_json::Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
}

fn binary(raw: &[u8]) -> Value {
    json!({
        "$content-type": "application/octet-stream",
        "$content": base64::engine::general_purpose::STANDARD.encode(raw),
    })
}

fn format_uuid(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("a uuid must be 16 bytes".into());
    }
    let mut s = String::with_capacity(36);
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    Ok(s)
}

/// Decodes the binary `numeric` format (base-10000 digits) into exact decimal text.
fn decode_numeric(raw: &[u8]) -> Result<String, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i32::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    let digits = (0..ndigits)
        .map(|k| word(8 + 2 * k))
        .collect::<Result<Vec<_>, _>>()?;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digit = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            let _ = if i == 0 {
                write!(s, "{}", digit(i))
            } else {
                write!(s, "{:04}", digit(i))
            };
        }
    }
    if dscale > 0 {
        let mut fraction = String::new();
        let mut i = weight + 1;
        while fraction.len() < dscale {
            let _ = write!(fraction, "{:04}", digit(i));
            i += 1;
        }
        fraction.truncate(dscale);
        s.push('.');
        s.push_str(&fraction);
    }
    Ok(s)
}

/// A parameter sent in the text format: the server parses it as the type it
/// inferred for the placeholder, as it would a literal.
#[derive(Debug)]
pub(crate) struct TextParam(Option<String>);

impl TextParam {
    pub(crate) fn from_json(value: &Value) -> Self {
        Self(match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            other => Some(other.to_string()),
        })
    }
}

impl ToSql for TextParam {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> tokio_postgres::types::Format {
        tokio_postgres::types::Format::Text
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numerics_keep_every_digit() {
        // 12345678.9000 = digits [1234, 5678, 9000], weight 1, scale 4
        assert_eq!(
            decode_numeric(&numeric(3, 1, 0, 4, &[1234, 5678, 9000])).expect("ok"),
            "12345678.9000"
        );
        // -0.0005 = digits [5], weight -1, scale 4
        assert_eq!(
            decode_numeric(&numeric(1, -1, 0x4000, 4, &[5])).expect("ok"),
            "-0.0005"
        );
        // 0.00000001 = digits [1], weight -2, scale 8
        assert_eq!(
            decode_numeric(&numeric(1, -2, 0, 8, &[1])).expect("ok"),
            "0.00000001"
        );
        // 20000 = digits [2], weight 1, scale 0
        assert_eq!(
            decode_numeric(&numeric(1, 1, 0, 0, &[2])).expect("ok"),
            "20000"
        );
        assert_eq!(
            decode_numeric(&numeric(0, 0, 0xC000, 0, &[])).expect("ok"),
            "NaN"
        );
        assert!(decode_numeric(&[0, 1]).is_err());
    }

    #[test]
    fn uuids_print_hyphenated() {
        let raw: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            format_uuid(&raw).expect("ok"),
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_numeric_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_numeric(&raw);
        }
    }
}
