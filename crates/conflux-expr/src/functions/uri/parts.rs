//! `uriHost`, `uriPath`, `uriPathAndQuery`, `uriPort`, `uriQuery`, `uriScheme`:
//! parts of an absolute URI, parsed with the WHATWG URL rules.

use url::Url;

use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::Value;

fn parse(args: &[Value]) -> Result<Url, EvalError> {
    let text = args::string(args, 0)?;
    Url::parse(text.trim()).map_err(|e| {
        EvalError::new(format!(
            "'{text}' is not an absolute URI ({e}); it needs a scheme such as https://"
        ))
    })
}

fn path_of(url: &Url) -> String {
    let path = url.path();
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

fn query_of(url: &Url) -> String {
    url.query().map(|q| format!("?{q}")).unwrap_or_default()
}

fn uri_host(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let url = parse(args)?;
    Ok(Value::from(url.host_str().unwrap_or("")))
}

fn uri_path(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(path_of(&parse(args)?)))
}

fn uri_path_and_query(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let url = parse(args)?;
    Ok(Value::from(format!("{}{}", path_of(&url), query_of(&url))))
}

fn uri_port(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let url = parse(args)?;
    // .NET reports -1 for a scheme without a known default port.
    Ok(Value::Int(
        url.port_or_known_default().map_or(-1, i64::from),
    ))
}

fn uri_query(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(query_of(&parse(args)?)))
}

fn uri_scheme(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::from(parse(args)?.scheme()))
}

pub const URI_HOST: FunctionDef = FunctionDef {
    name: "uriHost",
    min_args: 1,
    max_args: Some(1),
    body: uri_host,
    examples: &[(
        "@uriHost('https://www.localhost.com:8080')",
        "\"www.localhost.com\"",
    )],
};

pub const URI_PATH: FunctionDef = FunctionDef {
    name: "uriPath",
    min_args: 1,
    max_args: Some(1),
    body: uri_path,
    examples: &[
        (
            "@uriPath('https://www.contoso.com/catalog/shownew.htm?date=today')",
            "\"/catalog/shownew.htm\"",
        ),
        ("@uriPath('https://www.contoso.com')", "\"/\""),
    ],
};

pub const URI_PATH_AND_QUERY: FunctionDef = FunctionDef {
    name: "uriPathAndQuery",
    min_args: 1,
    max_args: Some(1),
    body: uri_path_and_query,
    examples: &[(
        "@uriPathAndQuery('https://www.contoso.com/catalog/shownew.htm?date=today')",
        "\"/catalog/shownew.htm?date=today\"",
    )],
};

pub const URI_PORT: FunctionDef = FunctionDef {
    name: "uriPort",
    min_args: 1,
    max_args: Some(1),
    body: uri_port,
    examples: &[
        ("@uriPort('https://www.localhost:8080')", "8080"),
        ("@uriPort('https://www.contoso.com')", "443"),
        ("@uriPort('http://www.contoso.com')", "80"),
    ],
};

pub const URI_QUERY: FunctionDef = FunctionDef {
    name: "uriQuery",
    min_args: 1,
    max_args: Some(1),
    body: uri_query,
    examples: &[
        (
            "@uriQuery('https://www.contoso.com/catalog/shownew.htm?date=today')",
            "\"?date=today\"",
        ),
        ("@uriQuery('https://www.contoso.com/')", "\"\""),
    ],
};

pub const URI_SCHEME: FunctionDef = FunctionDef {
    name: "uriScheme",
    min_args: 1,
    max_args: Some(1),
    body: uri_scheme,
    examples: &[(
        "@uriScheme('https://www.contoso.com/catalog/shownew.htm?date=today')",
        "\"https\"",
    )],
};
