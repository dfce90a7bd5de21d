//! Conversion functions called directly (no parser), plus round-trip properties
//! of the encode/decode pairs.

use conflux_expr::functions::{lookup, FnCtx};
use conflux_expr::{Content, EvalError, NoHost, Value};
use proptest::prelude::*;

fn call(name: &str, args: &[Value]) -> Result<Value, EvalError> {
    let f = lookup(name).unwrap_or_else(|| panic!("{name} is registered"));
    (f.body)(&FnCtx { host: &NoHost }, args)
}

fn ok(name: &str, args: &[Value]) -> String {
    call(name, args)
        .unwrap_or_else(|e| panic!("{name} failed: {e}"))
        .to_json_string()
}

fn err(name: &str, args: &[Value]) -> String {
    match call(name, args) {
        Ok(v) => panic!("{name} returned {v} instead of failing"),
        Err(e) => e.message,
    }
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn i(n: i64) -> Value {
    Value::Int(n)
}

fn j(text: &str) -> Value {
    Value::from_json_str(text).expect("test JSON")
}

fn text_of(v: &Value) -> String {
    String::from_utf8(v.as_content().expect("content").data.clone()).expect("utf-8")
}

#[test]
fn array_and_create_array() {
    assert_eq!(ok("array", &[Value::Null]), "[null]");
    assert_eq!(ok("array", &[j("[1]")]), "[[1]]");
    assert_eq!(
        ok("createArray", &[i(1), s("a"), Value::Null]),
        r#"[1,"a",null]"#
    );
}

#[test]
fn bool_conversions() {
    assert_eq!(ok("bool", &[s(" TRUE ")]), "true");
    assert_eq!(ok("bool", &[Value::Float(0.0)]), "false");
    assert_eq!(ok("bool", &[Value::Null]), "false");
    assert_eq!(
        err("bool", &[s("yes")]),
        "'yes' is not a Boolean: use 'true' or 'false' (any case)"
    );
    assert!(err("bool", &[j("[]")]).contains("Array cannot be converted"));
}

#[test]
fn int_conversions() {
    assert_eq!(ok("int", &[s("+7")]), "7");
    assert_eq!(ok("int", &[Value::Float(3.0)]), "3");
    assert_eq!(ok("int", &[Value::Bool(true)]), "1");
    assert!(err("int", &[s("1.5")]).starts_with("'1.5' is not an integer"));
    assert!(err("int", &[s("9223372036854775808")]).contains("within 64 bits"));
    assert!(err("int", &[Value::Float(2.5)]).contains("fractional part"));
    assert_eq!(
        err("int", &[Value::Null]),
        "the first argument must be a String, got Null"
    );
}

#[test]
fn float_conversions() {
    assert_eq!(ok("float", &[s("1.5")]), "1.5");
    assert_eq!(ok("float", &[i(2)]), "2.0");
    assert_eq!(ok("float", &[s("1.234,5"), s("de-DE")]), "1234.5");
    assert_eq!(ok("float", &[s("-1E3")]), "-1000.0");
    assert_eq!(
        err("float", &[s("abc")]),
        "'abc' is not a floating-point number in the 'en-US' locale"
    );
    assert!(err("float", &[s("1"), s("nope")]).contains("'nope' is not supported"));
}

#[test]
fn decimal_keeps_precision_in_text() {
    let d = call("decimal", &[s("1.2345678912312131")]).unwrap();
    assert!(matches!(d, Value::Decimal(_)));
    assert_eq!(ok("string", &[d]), r#""1.2345678912312131""#);
    assert_eq!(
        ok("string", &[call("decimal", &[s("1e-3")]).unwrap()]),
        r#""0.001""#
    );
    assert!(err("decimal", &[s("x1")]).contains("not a decimal number"));
}

#[test]
fn string_of_every_kind() {
    assert_eq!(ok("string", &[Value::Float(0.1)]), r#""0.1""#);
    assert_eq!(ok("string", &[Value::Bool(false)]), r#""False""#);
    assert_eq!(ok("string", &[j(r#"[1,"a"]"#)]), r#""[1,\"a\"]""#);
    let xml = call("xml", &[s("<a>1</a>")]).unwrap();
    assert_eq!(ok("string", &[xml]), r#""<a>1</a>""#);
}

#[test]
fn json_from_text_content_and_xml() {
    assert_eq!(ok("json", &[s("42")]), "42");
    assert_eq!(ok("json", &[s(" \"x\" ")]), r#""x""#);
    assert_eq!(ok("json", &[j(r#"{"a":1}"#)]), r#"{"a":1}"#);
    let body = Value::content(Content::new(
        "application/json",
        br#"{"b":[true]}"#.to_vec(),
    ));
    assert_eq!(ok("json", &[body]), r#"{"b":[true]}"#);
    let xml = Value::content(Content::new(
        "text/xml",
        b"<r><v>1</v><v>2</v></r>".to_vec(),
    ));
    assert_eq!(ok("json", &[xml]), r#"{"r":{"v":["1","2"]}}"#);
    assert!(err("json", &[s("{oops")]).starts_with("the text is not valid JSON"));
}

#[test]
fn xml_from_text_objects_and_content() {
    let x = call("xml", &[j(r#"{"root":{"@id":"7","item":[1,2]}}"#)]).unwrap();
    assert_eq!(
        x.as_content().unwrap().content_type,
        "application/xml;charset=utf-8"
    );
    assert_eq!(
        text_of(&x),
        r#"<root id="7"><item>1</item><item>2</item></root>"#
    );
    assert_eq!(
        text_of(&call("xml", &[s(r#"{"a":{"b":"c"}}"#)]).unwrap()),
        "<a><b>c</b></a>"
    );
    assert!(err("xml", &[s("<a><b></a>")]).starts_with("the text is not well-formed XML"));
    assert!(err("xml", &[j(r#"{"a":1,"b":2}"#)]).contains("exactly one root property"));
    assert!(err("xml", &[j("[1]")]).contains("an Array cannot become XML"));
    // XML content passes through unchanged.
    let c = Value::content(Content::new("application/soap+xml", b"<e/>".to_vec()));
    assert_eq!(call("xml", std::slice::from_ref(&c)).unwrap(), c);
}

#[test]
fn json_and_xml_round_trip_documented_shape() {
    let obj = j(r#"{"person":{"@id":"1","name":"Sophia Owen","tags":["a","b"]}}"#);
    let xml = call("xml", std::slice::from_ref(&obj)).unwrap();
    assert_eq!(call("json", &[xml]).unwrap(), obj);
}

#[test]
fn base64_family() {
    assert_eq!(ok("base64", &[s("")]), r#""""#);
    assert_eq!(ok("base64", &[i(12)]), r#""MTI=""#);
    assert_eq!(ok("base64ToString", &[s("aGVsbG8")]), r#""hello""#);
    assert_eq!(ok("base64ToString", &[s("aGVs\nbG8=")]), r#""hello""#);
    assert_eq!(ok("decodeBase64", &[s("w6k=")]), r#""é""#);
    assert!(err("base64ToString", &[s("!!")]).starts_with("'!!' is not valid base64"));
    let bin = call("base64ToBinary", &[s("AP8=")]).unwrap();
    assert_eq!(bin.as_content().unwrap().data, vec![0u8, 255]);
    // Binary content re-encodes to the same base64.
    assert_eq!(ok("base64", &[bin]), r#""AP8=""#);
    assert_eq!(
        ok("binary", &[s("hi")]),
        r#"{"$content-type":"application/octet-stream","$content":"aGk="}"#
    );
}

#[test]
fn data_uris() {
    assert_eq!(
        ok(
            "dataUri",
            &[Value::content(Content::new("image/png", vec![1u8, 2]))]
        ),
        r#""data:image/png;base64,AQI=""#
    );
    assert_eq!(ok("dataUriToString", &[s("data:;base64,aGk=")]), r#""hi""#);
    assert_eq!(
        ok("dataUriToBinary", &[s("data:;base64,aGk=")]),
        r#"{"$content-type":"application/octet-stream","$content":"aGk="}"#
    );
    assert!(err("dataUriToString", &[s("hello")]).contains("must start with 'data:'"));
    assert!(err("dataUriToString", &[s("data:text/plain")]).contains("',' before the data"));
}

#[test]
fn uri_components() {
    assert_eq!(
        ok("uriComponent", &[s("a+b/c?d~e_f.g-h")]),
        r#""a%2Bb%2Fc%3Fd~e_f.g-h""#
    );
    assert_eq!(
        ok("uriComponentToString", &[s("a+b%20c%zz")]),
        r#""a+b c%zz""#
    );
    assert_eq!(ok("decodeUriComponent", &[s("%E2%82%AC")]), r#""€""#);
    assert_eq!(
        ok("uriComponentToBinary", &[s("%00%FF")]),
        r#"{"$content-type":"application/octet-stream","$content":"AP8=""#.to_string() + "}"
    );
}

proptest! {
    #[test]
    fn base64_round_trips(text in any::<String>()) {
        let encoded = call("base64", &[s(&text)]).unwrap();
        prop_assert_eq!(call("base64ToString", &[encoded]).unwrap(), s(&text));
    }

    #[test]
    fn uri_component_round_trips(text in any::<String>()) {
        let encoded = call("uriComponent", &[s(&text)]).unwrap();
        let plain = encoded.as_str().unwrap();
        prop_assert!(plain.bytes().all(|b| b.is_ascii_alphanumeric() || b"%-_.~".contains(&b)));
        prop_assert_eq!(call("uriComponentToString", &[encoded]).unwrap(), s(&text));
    }

    #[test]
    fn data_uri_round_trips(text in any::<String>()) {
        let uri = call("dataUri", &[s(&text)]).unwrap();
        prop_assert_eq!(call("dataUriToString", &[uri]).unwrap(), s(&text));
    }

    #[test]
    fn binary_round_trips_through_base64(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let encoded = proptest_base64(&bytes);
        let bin = call("base64ToBinary", &[s(&encoded)]).unwrap();
        prop_assert_eq!(&bin.as_content().unwrap().data, &bytes);
        prop_assert_eq!(call("base64", &[bin]).unwrap(), s(&encoded));
    }

    #[test]
    fn simple_objects_round_trip_through_xml(
        root in "[a-z][a-z0-9]{0,7}",
        props in proptest::collection::btree_map("[a-z][a-z0-9]{0,7}", "[a-zA-Z0-9 ,.!&<>]*[a-zA-Z0-9]", 1..5),
    ) {
        let inner: serde_json::Map<String, serde_json::Value> =
            props.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        let obj = Value::from(serde_json::json!({ root: inner }));
        let xml = call("xml", std::slice::from_ref(&obj)).unwrap();
        prop_assert_eq!(call("json", &[xml]).unwrap(), obj);
    }
}

/// Reference base64 encoding for the property test, via the `binary` function's
/// envelope (independent of `base64()` itself).
fn proptest_base64(bytes: &[u8]) -> String {
    Value::content(Content::new("application/octet-stream", bytes.to_vec()))
        .get("$content")
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("envelope has $content")
}

proptest! {
    #[test]
    fn parsers_never_panic(text in any::<String>()) {
        for f in ["json", "xml", "float", "int", "decimal", "bool", "base64ToString",
                  "dataUriToString", "uriComponentToString"] {
            let _ = call(f, &[s(&text)]);
        }
        let _ = call("dataUriToBinary", &[s(&format!("data:{text}"))]);
    }

    #[test]
    fn xml_like_text_never_panics(text in "<[a-z:]{1,3}( [a-z:]{1,3}='[^']{0,3}')?>[^<]{0,5}(<[/a-z:]{1,4}>){0,3}") {
        let _ = call("json", &[call("xml", &[s(&text)]).unwrap_or(Value::Null)]);
        let _ = call("xml", &[s(&text)]);
    }
}
