//! URI parsing functions called directly (no parser).

use conflux_expr::functions::{lookup, FnCtx};
use conflux_expr::{EvalError, NoHost, Value};

fn call(name: &str, uri: &str) -> Result<Value, EvalError> {
    let f = lookup(name).unwrap_or_else(|| panic!("{name} is registered"));
    (f.body)(&FnCtx { host: &NoHost }, &[Value::from(uri)])
}

fn ok(name: &str, uri: &str) -> String {
    call(name, uri)
        .unwrap_or_else(|e| panic!("{name} failed: {e}"))
        .to_json_string()
}

#[test]
fn parts_of_a_full_uri() {
    let uri = "HTTPS://user@Example.COM:8443/a%20b/c?x=1&y=2#frag";
    assert_eq!(ok("uriScheme", uri), r#""https""#);
    assert_eq!(ok("uriHost", uri), r#""example.com""#);
    assert_eq!(ok("uriPort", uri), "8443");
    assert_eq!(ok("uriPath", uri), r#""/a%20b/c""#);
    assert_eq!(ok("uriQuery", uri), r#""?x=1&y=2""#);
    assert_eq!(ok("uriPathAndQuery", uri), r#""/a%20b/c?x=1&y=2""#);
}

#[test]
fn defaults_when_parts_are_missing() {
    assert_eq!(ok("uriPath", "http://contoso.com"), r#""/""#);
    assert_eq!(
        ok("uriPathAndQuery", "http://contoso.com?q=1"),
        r#""/?q=1""#
    );
    assert_eq!(ok("uriQuery", "http://contoso.com/?"), r#""?""#);
    assert_eq!(ok("uriPort", "ftp://files.contoso.com"), "21");
    assert_eq!(ok("uriPort", "wss://contoso.com"), "443");
    assert_eq!(ok("uriPort", "custom://contoso.com"), "-1");
}

#[test]
fn relative_uris_are_errors() {
    let e = call("uriHost", "/just/a/path").unwrap_err();
    assert!(
        e.message
            .starts_with("'/just/a/path' is not an absolute URI"),
        "{}",
        e.message
    );
}
