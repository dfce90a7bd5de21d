//! `json()` and `xml()`: parse text into JSON values or XML content.

use super::xml_map::{self, XML_CONTENT_TYPE};
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::{Content, Value};

fn parse_json_text(text: &str) -> FnResult {
    let trimmed = text.trim_start_matches('\u{feff}');
    Value::from_json_str(trimmed)
        .map_err(|e| EvalError::new(format!("the text is not valid JSON ({e})")))
}

fn json(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match args::arg(args, 0) {
        Value::Null => Ok(Value::object(Default::default())),
        Value::String(s) => parse_json_text(s),
        v @ (Value::Content(_) | Value::Object(_)) => match v.as_content() {
            Some(c) => {
                let text = String::from_utf8_lossy(&c.data);
                if c.is_xml() {
                    xml_map::xml_to_json(&text)
                } else {
                    parse_json_text(&text)
                }
            }
            // A plain object already is JSON.
            None => Ok(v.clone()),
        },
        v @ Value::Array(_) => Ok(v.clone()),
        other => Err(args::type_error(0, "String", other)),
    }
}

fn xml_from_text(text: &str) -> FnResult {
    if text.trim_start().starts_with('{') {
        if let Ok(Value::Object(o)) = Value::from_json_str(text) {
            return xml_content(xml_map::json_to_xml(&o)?);
        }
    }
    xml_map::parse_xml(text)?;
    xml_content(text.to_string())
}

fn xml_content(text: String) -> FnResult {
    Ok(Value::content(Content::new(
        XML_CONTENT_TYPE,
        text.into_bytes(),
    )))
}

fn xml(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = args::arg(args, 0);
    match v {
        Value::String(s) => xml_from_text(s),
        Value::Object(o) => match v.as_content() {
            Some(c) => content_to_xml(&c),
            None => xml_content(xml_map::json_to_xml(o)?),
        },
        Value::Content(c) => content_to_xml(c),
        Value::Array(_) => Err(EvalError::new(
            "an Array cannot become XML; wrap it in an object with one root property, such as {\"root\": {\"item\": [...]}}",
        )),
        other => Err(args::type_error(0, "String", other)),
    }
}

fn content_to_xml(c: &Content) -> FnResult {
    if c.is_xml() {
        return Ok(Value::content(c.clone()));
    }
    xml_from_text(&String::from_utf8_lossy(&c.data))
}

pub const JSON: FunctionDef = FunctionDef {
    name: "json",
    min_args: 1,
    max_args: Some(1),
    body: json,
    examples: &[
        ("@json('[1, 2, 3]')", "[1,2,3]"),
        ("@json('{\"fullName\": \"Sophia Owen\"}')", r#"{"fullName":"Sophia Owen"}"#),
        (
            "@json(xml('<?xml version=\"1.0\"?> <root> <person id=\"1\"> <name>Sophia Owen</name> <occupation>Engineer</occupation> </person> </root>'))",
            r#"{"?xml":{"@version":"1.0"},"root":{"person":{"@id":"1","name":"Sophia Owen","occupation":"Engineer"}}}"#,
        ),
        (
            "@json(xml('<?xml version=\"1.0\"?> <root> <person id=\"1\"> <name>Sophia Owen</name> <occupation>Engineer</occupation> </person> <person id=\"2\"> <name>John Doe</name> <occupation>Engineer</occupation> </person> </root>'))",
            r#"{"?xml":{"@version":"1.0"},"root":{"person":[{"@id":"1","name":"Sophia Owen","occupation":"Engineer"},{"@id":"2","name":"John Doe","occupation":"Engineer"}]}}"#,
        ),
        ("@json(null)", "{}"),
    ],
};

pub const XML: FunctionDef = FunctionDef {
    name: "xml",
    min_args: 1,
    max_args: Some(1),
    body: xml,
    examples: &[
        (
            "@xml('<name>Sophia Owen</name>')",
            r#"{"$content-type":"application/xml;charset=utf-8","$content":"PG5hbWU+U29waGlhIE93ZW48L25hbWU+"}"#,
        ),
        (
            "@xml(json('{ \"name\": \"Sophia Owen\" }'))",
            r#"{"$content-type":"application/xml;charset=utf-8","$content":"PG5hbWU+U29waGlhIE93ZW48L25hbWU+"}"#,
        ),
        (
            "@string(xml(json('{\"person\": {\"name\": \"Sophia Owen\", \"city\": \"Seattle\"}}')))",
            "\"<person><name>Sophia Owen</name><city>Seattle</city></person>\"",
        ),
    ],
};
