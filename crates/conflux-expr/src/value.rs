//! The value model of the expression language.
//!
//! A [`Value`] is JSON with two refinements the Logic Apps runtime also has:
//! integers and floats are distinct (`add(1, 2)` is `3`, `add(1.0, 2)` is `3.0`),
//! and binary content (`{"$content-type": ..., "$content": <base64>}`) is kept as
//! bytes with its media type. Strings, arrays, objects and content are behind
//! `Arc`, so cloning a value — an action output read by twenty expressions — is a
//! reference-count increment, never a deep copy.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

pub use crate::map::Map;

/// A property name: names up to 23 bytes (nearly all) are kept inline, so
/// building an object allocates nothing per property.
pub type Key = smol_str::SmolStr;

/// Builds a [`Key`] piece by piece, inline while it is short.
pub type KeyBuilder = smol_str::SmolStrBuilder;

/// An empty [`Map`] with room for `capacity` properties.
pub fn map_with_capacity(capacity: usize) -> Map {
    Map::with_capacity(capacity)
}

/// A value produced or consumed by an expression.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Produced only by `decimal()`; serialises as a (double precision) number.
    Decimal(Decimal),
    String(Arc<str>),
    Array(Arc<Vec<Value>>),
    Object(Arc<Map>),
    /// Binary or typed content (XML, octet-stream, form data, ...).
    Content(Arc<Content>),
}

/// Bytes with their media type; the JSON form is the `$content-type`/`$content` envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Property names of the binary content envelope.
pub const CONTENT_TYPE_KEY: &str = "$content-type";
pub const CONTENT_KEY: &str = "$content";

impl Content {
    pub fn new(content_type: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Content {
            content_type: content_type.into(),
            data: data.into(),
        }
    }

    /// The data as base64 text, as it appears in the `$content` property.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.data)
    }

    /// True when the media type says the bytes are XML.
    pub fn is_xml(&self) -> bool {
        let ct = self.content_type.to_ascii_lowercase();
        ct.contains("/xml") || ct.contains("+xml")
    }
}

impl Value {
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    pub fn object(map: Map) -> Value {
        Value::Object(Arc::new(map))
    }

    pub fn content(content: Content) -> Value {
        Value::Content(Arc::new(content))
    }

    /// The type name used in error messages (`Integer`, `String`, ...), as Logic Apps names them.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "Null",
            Value::Bool(_) => "Boolean",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Decimal(_) => "Decimal",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Object(_) => "Object",
            Value::Content(_) => "Binary",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Any numeric value as f64 (integers, floats and decimals).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Decimal(d) => d.to_string().parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Arc<Vec<Value>>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Arc<Map>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Binary content, whether held as bytes or as an envelope object
    /// (`{"$content-type": ..., "$content": <base64>}`) that came in as JSON.
    pub fn as_content(&self) -> Option<std::borrow::Cow<'_, Content>> {
        match self {
            Value::Content(c) => Some(std::borrow::Cow::Borrowed(c)),
            Value::Object(o) => {
                let data = o.get(CONTENT_KEY)?.as_str()?;
                let ct = match o.get(CONTENT_TYPE_KEY) {
                    Some(Value::String(s)) => s.to_string(),
                    _ => "application/octet-stream".to_string(),
                };
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.as_bytes())
                    .ok()?;
                Some(std::borrow::Cow::Owned(Content::new(ct, bytes)))
            }
            _ => None,
        }
    }

    /// Property lookup on objects (and the envelope properties of content). Exact,
    /// case-sensitive match first, then a case-insensitive one, as the runtime does.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self {
            Value::Object(o) => o
                .get(key)
                .or_else(|| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(key))
                        .map(|(_, v)| v)
                })
                .cloned(),
            Value::Content(c) => match key {
                k if k.eq_ignore_ascii_case(CONTENT_TYPE_KEY) => {
                    Some(Value::string(c.content_type.as_str()))
                }
                k if k.eq_ignore_ascii_case(CONTENT_KEY) => Some(Value::string(c.base64())),
                _ => None,
            },
            _ => None,
        }
    }

    /// Element lookup on arrays.
    pub fn index(&self, i: i64) -> Option<Value> {
        match self {
            Value::Array(a) if i >= 0 => a.get(i as usize).cloned(),
            _ => None,
        }
    }

    /// Text form, as `string()` and `@{...}` interpolation produce it: strings as they
    /// are, `null` as the empty string, booleans as `True`/`False` (.NET), numbers in
    /// invariant form, objects and arrays as compact JSON, XML content as its text,
    /// other content decoded as UTF-8.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "True".to_string(),
            Value::Bool(false) => "False".to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float_text(*f),
            Value::Decimal(d) => d.normalize().to_string(),
            Value::String(s) => s.to_string(),
            // A content envelope that came in as JSON (`{"$content-type", "$content"}`)
            // is text like the content it stands for.
            Value::Object(o) if is_envelope(o) => match self.as_content() {
                Some(c) => String::from_utf8_lossy(&c.data).into_owned(),
                None => self.to_json_string(),
            },
            Value::Array(_) | Value::Object(_) => self.to_json_string(),
            Value::Content(c) => String::from_utf8_lossy(&c.data).into_owned(),
        }
    }

    /// Compact JSON text of the value.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Conversion to `serde_json::Value` (content becomes its envelope).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Decimal(d) => d
                .to_string()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.to_string()),
            Value::Array(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Object(o) => J::Object(
                o.iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect::<serde_json::Map<_, _>>(),
            ),
            Value::Content(c) => {
                let mut m = serde_json::Map::new();
                m.insert(CONTENT_TYPE_KEY.into(), J::String(c.content_type.clone()));
                m.insert(CONTENT_KEY.into(), J::String(c.base64()));
                J::Object(m)
            }
        }
    }

    /// Parse JSON text into a value.
    pub fn from_json_str(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// An object holding exactly `$content` and, optionally, `$content-type`.
fn is_envelope(o: &Map) -> bool {
    o.contains_key(CONTENT_KEY)
        && o.len() <= 2
        && o.keys().all(|k| k == CONTENT_KEY || k == CONTENT_TYPE_KEY)
}

/// Float text the way .NET prints a double: shortest round-trip digits, no `.0`
/// on whole numbers, exponent form for very large or very small magnitudes.
pub fn format_float_text(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-5..1e15).contains(&abs) {
        // .NET: 1E+15, 1E-05, 1.5E+20
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        let width = if exp.abs() < 10 && exp < 0 { 2 } else { 1 };
        return format!("{mantissa}E{sign}{:0width$}", exp.abs(), width = width);
    }
    format!("{f}")
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::array(v)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Self {
        Value::object(m)
    }
}
impl From<Content> for Value {
    fn from(c: Content) -> Self {
        Value::content(c)
    }
}

impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Self {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => number_value(&n),
            J::String(s) => Value::String(s.into()),
            J::Array(a) => Value::array(a.into_iter().map(Value::from).collect()),
            J::Object(o) => Value::object(
                o.into_iter()
                    .map(|(k, v)| (k.into(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Value> for Value {
    /// Converts in place, without copying the JSON first.
    fn from(j: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => number_value(n),
            J::String(s) => Value::String(s.as_str().into()),
            J::Array(a) => Value::array(a.iter().map(Value::from).collect()),
            J::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (k.as_str().into(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

fn number_value(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else {
        Value::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json_string())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_unit(),
            Value::Decimal(d) => match d.to_string().parse::<f64>() {
                Ok(f) => s.serialize_f64(f),
                Err(_) => s.serialize_unit(),
            },
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o.iter() {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Content(c) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry(CONTENT_TYPE_KEY, &c.content_type)?;
                map.serialize_entry(CONTENT_KEY, &c.base64())?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut out = Map::with_capacity(access.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = access.next_entry::<crate::Key, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::object(out))
    }
}

/// Deserialisation errors from `Value` into typed data go through serde_json.
impl Value {
    pub fn deserialize_into<T: de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_their_fraction_in_json() {
        assert_eq!(Value::Float(3.0).to_json_string(), "3.0");
        assert_eq!(Value::Int(3).to_json_string(), "3");
    }

    #[test]
    fn property_lookup_prefers_the_exact_name_in_small_and_large_objects() {
        for extra in [0, crate::map::SMALL * 2] {
            let mut json = serde_json::json!({"Name": "upper", "name": "lower", "Only": 1});
            for i in 0..extra {
                json[format!("k{i}")] = serde_json::json!(i);
            }
            let v = Value::from(json);
            assert_eq!(
                v.get("name"),
                Some(Value::string("lower")),
                "{extra} extra keys"
            );
            assert_eq!(
                v.get("Name"),
                Some(Value::string("upper")),
                "{extra} extra keys"
            );
            assert_eq!(
                v.get("NAME"),
                Some(Value::string("upper")),
                "the first of the case-insensitive matches"
            );
            assert_eq!(v.get("only"), Some(Value::Int(1)), "{extra} extra keys");
            assert_eq!(v.get("missing"), None);
        }
    }

    #[test]
    fn borrowed_and_owned_json_convert_alike() {
        let json = serde_json::json!({
            "z": [1, 2.5, -3, null, true, "text"],
            "a": {"nested": {"$content-type": "text/plain", "$content": "aGk="}},
            "big": 18446744073709551615u64,
        });
        let borrowed = Value::from(&json);
        assert_eq!(borrowed, Value::from(json.clone()));
        assert_eq!(borrowed.get("big"), Some(Value::Float(u64::MAX as f64)));
        assert_eq!(borrowed.get("z").unwrap().to_json(), json["z"]);
        let keys: Vec<&str> = borrowed
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["z", "a", "big"]);
    }

    #[test]
    fn json_round_trip_keeps_int_float_and_order() {
        let v = Value::from_json_str(r#"{"b":1,"a":2.5,"c":[null,true,"x"]}"#).unwrap();
        assert_eq!(v.to_json_string(), r#"{"b":1,"a":2.5,"c":[null,true,"x"]}"#);
    }

    #[test]
    fn text_form_follows_dotnet() {
        assert_eq!(Value::Bool(true).to_text(), "True");
        assert_eq!(Value::Null.to_text(), "");
        assert_eq!(Value::Float(3.0).to_text(), "3");
        assert_eq!(Value::Float(2.5).to_text(), "2.5");
        assert_eq!(Value::Float(1e21).to_text(), "1E+21");
    }

    #[test]
    fn content_serialises_as_envelope_and_reads_back() {
        let v = Value::content(Content::new("text/plain", b"hi".to_vec()));
        assert_eq!(
            v.to_json_string(),
            r#"{"$content-type":"text/plain","$content":"aGk="}"#
        );
        let back = Value::from_json_str(&v.to_json_string()).unwrap();
        assert_eq!(back.as_content().unwrap().data, b"hi");
    }
}
