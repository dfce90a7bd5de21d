//! Base64, data URI and URI-component encodings, to and from text and binary.
//!
//! Text is always encoded as UTF-8. Binary results are [`Content`] values
//! (`application/octet-stream` unless a data URI names its own media type);
//! functions that read binary accept content and its JSON envelope alike.

use std::borrow::Cow;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::{Content, Value};

pub const OCTET_STREAM: &str = "application/octet-stream";

/// Decoding accepts base64 with or without its `=` padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Characters `uriComponent` leaves alone: the RFC 3986 unreserved set.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The bytes an encoding function encodes: content as it is, anything else as UTF-8 text.
fn input_bytes(args: &[Value]) -> Cow<'_, [u8]> {
    let v = args::arg(args, 0);
    if let Value::Content(c) = v {
        return Cow::Borrowed(&c.data);
    }
    if let Some(c) = v.as_content() {
        return Cow::Owned(c.into_owned().data);
    }
    match args::text(args, 0) {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// Decodes base64 text (whitespace is ignored, padding optional).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, EvalError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT
        .decode(compact.as_bytes())
        .map_err(|e| EvalError::new(format!("'{}' is not valid base64: {e}", shorten(text))))
}

fn shorten(text: &str) -> Cow<'_, str> {
    if text.chars().count() > 40 {
        Cow::Owned(format!("{}…", text.chars().take(40).collect::<String>()))
    } else {
        Cow::Borrowed(text)
    }
}

fn utf8(bytes: Vec<u8>) -> Value {
    Value::from(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The bytes of a base64 argument: text to decode, or binary content as it is.
fn base64_arg(args: &[Value]) -> Result<Vec<u8>, EvalError> {
    match args::arg(args, 0) {
        Value::String(s) => decode_base64(s),
        Value::Null => Ok(Vec::new()),
        v => match v.as_content() {
            Some(c) => Ok(c.into_owned().data),
            None => Err(args::type_error(0, "String", v)),
        },
    }
}

fn base64(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(STANDARD.encode(input_bytes(args))))
}

fn base64_to_string(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(utf8(base64_arg(args)?))
}

fn base64_to_binary(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::content(Content::new(
        OCTET_STREAM,
        base64_arg(args)?,
    )))
}

fn binary(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::content(Content::new(
        OCTET_STREAM,
        input_bytes(args).into_owned(),
    )))
}

fn data_uri(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let v = args::arg(args, 0);
    let (media_type, bytes) = match v.as_content() {
        Some(c) => (c.content_type.clone(), c.into_owned().data),
        None => (
            "text/plain;charset=utf-8".to_string(),
            args::text(args, 0).into_owned().into_bytes(),
        ),
    };
    Ok(Value::from(format!(
        "data:{media_type};base64,{}",
        STANDARD.encode(bytes)
    )))
}

/// A decoded `data:` URI: its media type (empty when absent) and bytes.
pub fn parse_data_uri(uri: &str) -> Result<(String, Vec<u8>), EvalError> {
    let rest = uri
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .map(|_| &uri[5..])
        .ok_or_else(|| {
            EvalError::new(format!(
                "'{}' is not a data URI: it must start with 'data:'",
                shorten(uri)
            ))
        })?;
    let (meta, data) = rest.split_once(',').ok_or_else(|| {
        EvalError::new(format!(
            "'{}' is not a data URI: the ',' before the data is missing",
            shorten(uri)
        ))
    })?;
    let (media_type, is_base64) = match meta.rsplit_once(';') {
        Some((mt, flag)) if flag.trim().eq_ignore_ascii_case("base64") => (mt, true),
        _ => (meta, false),
    };
    let bytes = if is_base64 {
        let unescaped = percent_decode_str(data).decode_utf8_lossy();
        decode_base64(&unescaped)?
    } else {
        percent_decode_str(data).collect()
    };
    Ok((media_type.trim().to_string(), bytes))
}

fn data_uri_arg(args: &[Value]) -> Result<(String, Vec<u8>), EvalError> {
    match args::arg(args, 0) {
        Value::String(s) => parse_data_uri(s),
        v => match v.as_content() {
            // Binary content already is what a data URI decodes to.
            Some(c) => Ok((c.content_type.clone(), c.into_owned().data)),
            None => Err(args::type_error(0, "String", v)),
        },
    }
}

fn data_uri_to_string(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(utf8(data_uri_arg(args)?.1))
}

fn data_uri_to_binary(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let (media_type, bytes) = data_uri_arg(args)?;
    let media_type = if media_type.is_empty() {
        OCTET_STREAM.to_string()
    } else {
        media_type
    };
    Ok(Value::content(Content::new(media_type, bytes)))
}

/// Percent-encodes text as a URI component (everything but `A-Z a-z 0-9 - _ . ~`).
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

fn uri_component(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let bytes = input_bytes(args);
    let text = String::from_utf8_lossy(&bytes);
    Ok(Value::from(encode_component(&text)))
}

fn component_bytes(args: &[Value]) -> Result<Vec<u8>, EvalError> {
    match args::arg(args, 0) {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(percent_decode_str(s).collect()),
        other => Err(args::type_error(0, "String", other)),
    }
}

fn uri_component_to_string(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(utf8(component_bytes(args)?))
}

fn uri_component_to_binary(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::content(Content::new(
        OCTET_STREAM,
        component_bytes(args)?,
    )))
}

const HELLO_BINARY: &str = r#"{"$content-type":"application/octet-stream","$content":"aGVsbG8="}"#;
const HELLO_TEXT_BINARY: &str =
    r#"{"$content-type":"text/plain;charset=utf-8","$content":"aGVsbG8="}"#;
const CONTOSO_BINARY: &str =
    r#"{"$content-type":"application/octet-stream","$content":"aHR0cHM6Ly9jb250b3NvLmNvbQ=="}"#;

pub const BASE64: FunctionDef = FunctionDef {
    name: "base64",
    min_args: 1,
    max_args: Some(1),
    body: base64,
    examples: &[("@base64('hello')", "\"aGVsbG8=\"")],
};

pub const BASE64_TO_STRING: FunctionDef = FunctionDef {
    name: "base64ToString",
    min_args: 1,
    max_args: Some(1),
    body: base64_to_string,
    examples: &[("@base64ToString('aGVsbG8=')", "\"hello\"")],
};

pub const DECODE_BASE64: FunctionDef = FunctionDef {
    name: "decodeBase64",
    body: base64_to_string,
    examples: &[("@decodeBase64('aGVsbG8=')", "\"hello\"")],
    ..BASE64_TO_STRING
};

pub const BASE64_TO_BINARY: FunctionDef = FunctionDef {
    name: "base64ToBinary",
    min_args: 1,
    max_args: Some(1),
    body: base64_to_binary,
    examples: &[("@base64ToBinary('aGVsbG8=')", HELLO_BINARY)],
};

pub const BINARY: FunctionDef = FunctionDef {
    name: "binary",
    min_args: 1,
    max_args: Some(1),
    body: binary,
    examples: &[("@binary('hello')", HELLO_BINARY)],
};

pub const DATA_URI: FunctionDef = FunctionDef {
    name: "dataUri",
    min_args: 1,
    max_args: Some(1),
    body: data_uri,
    examples: &[(
        "@dataUri('hello')",
        "\"data:text/plain;charset=utf-8;base64,aGVsbG8=\"",
    )],
};

pub const DATA_URI_TO_STRING: FunctionDef = FunctionDef {
    name: "dataUriToString",
    min_args: 1,
    max_args: Some(1),
    body: data_uri_to_string,
    examples: &[
        (
            "@dataUriToString('data:text/plain;charset=utf-8;base64,aGVsbG8=')",
            "\"hello\"",
        ),
        (
            "@dataUriToString('data:,Hello%2C%20World')",
            "\"Hello, World\"",
        ),
    ],
};

pub const DATA_URI_TO_BINARY: FunctionDef = FunctionDef {
    name: "dataUriToBinary",
    min_args: 1,
    max_args: Some(1),
    body: data_uri_to_binary,
    examples: &[(
        "@dataUriToBinary('data:text/plain;charset=utf-8;base64,aGVsbG8=')",
        HELLO_TEXT_BINARY,
    )],
};

pub const DECODE_DATA_URI: FunctionDef = FunctionDef {
    name: "decodeDataUri",
    examples: &[(
        "@decodeDataUri('data:text/plain;charset=utf-8;base64,aGVsbG8=')",
        HELLO_TEXT_BINARY,
    )],
    ..DATA_URI_TO_BINARY
};

pub const URI_COMPONENT: FunctionDef = FunctionDef {
    name: "uriComponent",
    min_args: 1,
    max_args: Some(1),
    body: uri_component,
    examples: &[
        (
            "@uriComponent('https://contoso.com')",
            "\"https%3A%2F%2Fcontoso.com\"",
        ),
        ("@uriComponent('a b&c=é')", "\"a%20b%26c%3D%C3%A9\""),
    ],
};

pub const ENCODE_URI_COMPONENT: FunctionDef = FunctionDef {
    name: "encodeUriComponent",
    examples: &[(
        "@encodeUriComponent('https://contoso.com')",
        "\"https%3A%2F%2Fcontoso.com\"",
    )],
    ..URI_COMPONENT
};

pub const URI_COMPONENT_TO_STRING: FunctionDef = FunctionDef {
    name: "uriComponentToString",
    min_args: 1,
    max_args: Some(1),
    body: uri_component_to_string,
    examples: &[(
        "@uriComponentToString('https%3A%2F%2Fcontoso.com')",
        "\"https://contoso.com\"",
    )],
};

pub const DECODE_URI_COMPONENT: FunctionDef = FunctionDef {
    name: "decodeUriComponent",
    examples: &[(
        "@decodeUriComponent('https%3A%2F%2Fcontoso.com')",
        "\"https://contoso.com\"",
    )],
    ..URI_COMPONENT_TO_STRING
};

pub const URI_COMPONENT_TO_BINARY: FunctionDef = FunctionDef {
    name: "uriComponentToBinary",
    min_args: 1,
    max_args: Some(1),
    body: uri_component_to_binary,
    examples: &[(
        "@uriComponentToBinary('https%3A%2F%2Fcontoso.com')",
        CONTOSO_BINARY,
    )],
};
