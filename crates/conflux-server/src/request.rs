//! Turning an HTTP request into Request-trigger outputs.

use axum::http::HeaderMap;
use base64::Engine as _;
use conflux_expr::{Map as ExprMap, Value as ExprValue};
use serde_json::{Map, Value};

use crate::callback::QueryParams;

/// A parsed `relativePath` template such as `customer/{id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PathTemplate {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

impl PathTemplate {
    pub fn parse(template: &str) -> PathTemplate {
        PathTemplate {
            segments: template
                .trim_matches('/')
                .split('/')
                .filter(|s| !s.is_empty())
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Parameter(name.to_string()),
                        None => Segment::Literal(s.to_string()),
                    },
                )
                .collect(),
        }
    }

    /// Matches a concrete relative path (still percent-encoded); literal
    /// segments compare case-insensitively, parameters are decoded.
    pub fn matches(&self, path: &str) -> Option<Map<String, Value>> {
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Map::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            let decoded = percent_encoding::percent_decode_str(part)
                .decode_utf8_lossy()
                .into_owned();
            match segment {
                Segment::Literal(text) if text.eq_ignore_ascii_case(&decoded) => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(name) => {
                    params.insert(name.clone(), Value::String(decoded));
                }
            }
        }
        Some(params)
    }
}

/// Why a body could not be read as the caller declared it.
#[derive(Debug)]
pub struct BodyError(pub String);

/// What `{headers, queries?, relativePathParameters?}` of a trigger call's
/// outputs are made from; the body is read apart (`request_body`).
pub struct OutputsRequest<'a> {
    pub headers: &'a HeaderMap,
    pub query: &'a QueryParams<'a>,
    pub relative_path_parameters: Option<Map<String, Value>>,
    pub include_authorization: bool,
}

/// Built as the engine's values straight away: the body is parsed into them
/// without an intermediate JSON tree.
pub fn trigger_outputs(request: OutputsRequest<'_>, body: &[u8]) -> Result<ExprValue, BodyError> {
    let body = request_body(request.headers, body)?;
    Ok(outputs_with_body(&request, body.as_ref()))
}

/// The call's body as the engine's value, read as its content type says
/// (none for an empty body).
pub fn request_body(headers: &HeaderMap, body: &[u8]) -> Result<Option<ExprValue>, BodyError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    parse_body(content_type, body)
}

/// The outputs of a call whose body was already read.
pub fn outputs_with_body(request: &OutputsRequest<'_>, body: Option<&ExprValue>) -> ExprValue {
    let mut headers = conflux_expr::map_with_capacity(request.headers.keys_len());
    for (name, value) in request.headers {
        if !request.include_authorization && name == axum::http::header::AUTHORIZATION {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        let name = title_case(name.as_str());
        match headers.get_mut(&name) {
            // A repeated header's values are joined, as one header would carry them.
            Some(first) => *first = ExprValue::string(format!("{}, {value}", first.to_text())),
            None => {
                headers.insert(name, ExprValue::string(value));
            }
        }
    }
    let mut outputs = conflux_expr::map_with_capacity(4);
    outputs.insert("headers".into(), ExprValue::object(headers));
    if let Some(body) = body {
        outputs.insert("body".into(), body.clone());
    }
    // The signature is a credential; it never reaches run history.
    let queries: ExprMap = request
        .query
        .0
        .iter()
        .filter(|(name, _)| name != "sig")
        .map(|(n, v)| (n.as_ref().into(), ExprValue::string(v.as_ref())))
        .collect();
    if !queries.is_empty() {
        outputs.insert("queries".into(), ExprValue::object(queries));
    }
    if let Some(params) = &request.relative_path_parameters {
        outputs.insert(
            "relativePathParameters".into(),
            ExprValue::from(Value::Object(params.clone())),
        );
    }
    ExprValue::object(outputs)
}

pub fn is_json_type(content_type: &str) -> bool {
    // What nearly every JSON call sends, decided without parsing.
    if content_type == "application/json" {
        return true;
    }
    let essence = match content_type.as_bytes().iter().position(|&b| b == b';') {
        Some(at) => &content_type[..at],
        None => content_type,
    }
    .trim();
    let suffix = essence
        .len()
        .checked_sub(5)
        .and_then(|at| essence.get(at..));
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("text/json")
        || suffix.is_some_and(|s| s.eq_ignore_ascii_case("+json"))
}

fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Option<ExprValue>, BodyError> {
    if body.is_empty() {
        return Ok(None);
    }
    match content_type {
        Some(ct) if is_json_type(ct) => serde_json::from_slice(body).map(Some).map_err(|err| {
            BodyError(format!(
                "the request body is not valid JSON (line {}, column {}): {err}; fix the body or send another Content-Type",
                err.line(),
                err.column()
            ))
        }),
        // `text/plain` is kept in raw form (a string), as Logic Apps documents;
        // other types become a content envelope.
        Some(ct) if is_plain_text(ct) => match std::str::from_utf8(body) {
            Ok(text) => Ok(Some(ExprValue::string(text))),
            Err(_) => Ok(Some(envelope(ct, body))),
        },
        _ => Ok(Some(envelope(
            content_type.unwrap_or("application/octet-stream"),
            body,
        ))),
    }
}

fn is_plain_text(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("text/plain")
}

fn envelope(content_type: &str, body: &[u8]) -> ExprValue {
    let mut envelope = conflux_expr::map_with_capacity(2);
    envelope.insert("$content-type".into(), ExprValue::string(content_type));
    envelope.insert(
        "$content".into(),
        ExprValue::string(base64::engine::general_purpose::STANDARD.encode(body)),
    );
    ExprValue::object(envelope)
}

/// `content-type` → `Content-Type`: the first letter of every `-`-separated part upper-cased.
fn title_case(name: &str) -> conflux_expr::Key {
    // Built in place: a name of up to 23 bytes (nearly every header) needs
    // no allocation.
    let mut out = conflux_expr::KeyBuilder::new();
    let mut part_start = true;
    for c in name.chars() {
        out.push(if part_start {
            c.to_ascii_uppercase()
        } else {
            c
        });
        part_start = c == '-';
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn json_media_types_are_recognised_in_any_case() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/json",
            "application/vnd.api+json",
            " application/problem+JSON ;q=1",
        ] {
            assert!(is_json_type(json), "{json}");
        }
        for other in ["text/plain", "json", "application/jsonx", "", "+jso"] {
            assert!(!is_json_type(other), "{other}");
        }
    }

    #[test]
    fn header_names_are_title_cased_part_by_part() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(
            title_case("x-ms-client-tracking-id"),
            "X-Ms-Client-Tracking-Id"
        );
        assert_eq!(title_case("host"), "Host");
        assert_eq!(title_case("a--b-"), "A--B-");
        assert_eq!(title_case(""), "");
    }

    #[test]
    fn templates_capture_parameters() {
        let t = PathTemplate::parse("customer/{id}/orders/{order}");
        let params = t.matches("Customer/a%20b/orders/7").unwrap();
        assert_eq!(params["id"], "a b");
        assert_eq!(params["order"], "7");
        assert!(t.matches("customer/1/orders").is_none());
        assert!(t.matches("client/1/orders/2").is_none());
        assert!(PathTemplate::parse("").matches("").is_some());
    }

    #[test]
    fn outputs_hold_headers_body_and_queries_without_secrets() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("authorization", HeaderValue::from_static("Bearer x"));
        let query = QueryParams::parse(Some("sig=abc&sv=1.0&extra=1"));
        let outputs = trigger_outputs(
            OutputsRequest {
                headers: &headers,
                query: &query,
                relative_path_parameters: None,
                include_authorization: false,
            },
            br#"{"name": "Ada"}"#,
        )
        .unwrap()
        .to_json();
        assert_eq!(outputs["body"]["name"], "Ada");
        assert_eq!(outputs["headers"]["Content-Type"], "application/json");
        assert!(outputs["headers"].get("Authorization").is_none());
        assert!(outputs["queries"].get("sig").is_none());
        assert_eq!(outputs["queries"]["extra"], "1");
    }

    fn outputs_for(content_type: &'static str, body: &[u8]) -> Result<Value, BodyError> {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static(content_type));
        trigger_outputs(
            OutputsRequest {
                headers: &headers,
                query: &QueryParams::default(),
                relative_path_parameters: None,
                include_authorization: true,
            },
            body,
        )
        .map(|outputs| outputs.to_json())
    }

    #[test]
    fn malformed_json_is_an_error_and_other_types_are_content() {
        let err = outputs_for("application/json; charset=utf-8", b"{oops")
            .err()
            .unwrap();
        assert!(err.0.contains("line 1"), "{}", err.0);
        let outputs = outputs_for("text/plain; charset=utf-8", b"hi").unwrap();
        assert_eq!(outputs["body"], "hi");
        let outputs = outputs_for("application/xml", b"hi").unwrap();
        assert_eq!(outputs["body"]["$content-type"], "application/xml");
        assert_eq!(outputs["body"]["$content"], "aGk=");
        assert!(outputs_for("application/json", b"")
            .unwrap()
            .get("body")
            .is_none());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_paths_and_queries_never_panic(template in ".{0,40}", path in ".{0,40}", query in ".{0,60}") {
            let _ = PathTemplate::parse(&template).matches(&path);
            let _ = QueryParams::parse(Some(&query));
        }
    }
}
