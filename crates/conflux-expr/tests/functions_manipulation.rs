//! Manipulation functions called directly (no parser).

use conflux_expr::functions::{lookup, FnCtx};
use conflux_expr::{EvalError, NoHost, Value};

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

fn j(text: &str) -> Value {
    Value::from_json_str(text).expect("test JSON")
}

fn xml_text(v: &Value) -> String {
    String::from_utf8(v.as_content().expect("XML content").data.clone()).expect("utf-8")
}

const PRODUCE: &str = r#"<?xml version="1.0"?>
<produce>
  <item><name expired='true' price='12'>Gala</name><type>apple</type><count>20</count></item>
  <item><name expired='false' price='40'>Honeycrisp</name><type>apple</type><count>10</count></item>
</produce>"#;

#[test]
fn coalesce_skips_only_nulls() {
    assert_eq!(ok("coalesce", &[Value::Null]), "null");
    assert_eq!(ok("coalesce", &[Value::Null, j("[]")]), "[]");
    assert_eq!(ok("coalesce", &[j("{}"), s("x")]), "{}");
}

#[test]
fn property_functions_leave_the_input_alone() {
    let o = j(r#"{"a":1}"#);
    assert_eq!(
        ok("addProperty", &[o.clone(), s("b"), Value::Null]),
        r#"{"a":1,"b":null}"#
    );
    assert_eq!(
        err("addProperty", &[o.clone(), s("a"), s("x")]),
        "the property 'a' already exists; use setProperty() to change its value"
    );
    assert_eq!(
        ok("setProperty", &[o.clone(), s("a"), j("[2]")]),
        r#"{"a":[2]}"#
    );
    assert_eq!(ok("removeProperty", &[o.clone(), s("a")]), "{}");
    assert_eq!(o.to_json_string(), r#"{"a":1}"#);
    assert_eq!(
        err("setProperty", &[Value::Null, s("a"), s("x")]),
        "the first argument must be an Object, got Null"
    );
    assert_eq!(
        err("removeProperty", &[j("{}"), Value::Int(1)]),
        "the second argument must be a String, got Integer"
    );
}

#[test]
fn xpath_values_and_node_sets() {
    assert_eq!(
        ok("xpath", &[s(PRODUCE), s("sum(/produce/item/count)")]),
        "30"
    );
    assert_eq!(ok("xpath", &[s(PRODUCE), s("count(//item)")]), "2");
    assert_eq!(ok("xpath", &[s(PRODUCE), s("boolean(//item)")]), "true");
    assert_eq!(
        ok("xpath", &[s(PRODUCE), s("string(//name[@price>35])")]),
        r#""Honeycrisp""#
    );
    assert_eq!(
        ok("xpath", &[s(PRODUCE), s("/produce/item/name/text()")]),
        r#"["Gala","Honeycrisp"]"#
    );
    assert_eq!(
        ok("xpath", &[s(PRODUCE), s("//name/@price")]),
        r#"["12","40"]"#
    );
    assert_eq!(ok("xpath", &[s(PRODUCE), s("//missing")]), "[]");
    assert_eq!(ok("xpath", &[s(PRODUCE), s("name(/*)")]), r#""produce""#);
}

#[test]
fn xpath_elements_come_back_as_xml() {
    let one = call("xpath", &[s(PRODUCE), s("//name[@expired = 'true']")]).unwrap();
    assert_eq!(
        xml_text(&one),
        r#"<name expired="true" price="12">Gala</name>"#
    );
    let many = call("xpath", &[s(PRODUCE), s("//type")]).unwrap();
    let texts: Vec<String> = many.as_array().unwrap().iter().map(xml_text).collect();
    assert_eq!(texts, ["<type>apple</type>", "<type>apple</type>"]);
    // XML content from xml() is accepted as well as text.
    let doc = call("xml", &[s(PRODUCE)]).unwrap();
    assert_eq!(ok("xpath", &[doc, s("count(//name)")]), "2");
}

#[test]
fn xpath_understands_prefixes_declared_by_the_document() {
    let soap = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r>7</r></s:Body></s:Envelope>"#;
    assert_eq!(
        ok("xpath", &[s(soap), s("string(/s:Envelope/s:Body/r)")]),
        r#""7""#
    );
    assert_eq!(
        ok("xpath", &[s(soap), s("namespace-uri(/*)")]),
        r#""http://schemas.xmlsoap.org/soap/envelope/""#
    );
    assert_eq!(
        ok("xpath", &[s(soap), s("local-name(/*)")]),
        r#""Envelope""#
    );
}

#[test]
fn xpath_errors_name_the_problem() {
    assert!(err("xpath", &[s(PRODUCE), s("//[")]).contains("is not a valid XPath expression"));
    assert!(err("xpath", &[s("<a>"), s("/a")]).starts_with("the text is not well-formed XML"));
    assert_eq!(
        err("xpath", &[Value::Int(1), s("/a")]),
        "the first argument must be XML text or XML content, got Integer"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn xpath_with_any_expression(expr in "[/a-z@*\\[\\]()=<>'0-9 .:|-]{0,20}") {
            let _ = call("xpath", &[s(PRODUCE), s(&expr)]);
        }
    }
}
