//! Collection functions called directly (no parser).

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

fn i(n: i64) -> Value {
    Value::Int(n)
}

fn j(text: &str) -> Value {
    Value::from_json_str(text).expect("test JSON")
}

#[test]
fn contains_by_collection_kind() {
    assert_eq!(ok("contains", &[s("abc"), s("B")]), "false");
    assert_eq!(ok("contains", &[s("a1"), i(1)]), "true");
    assert_eq!(
        ok("contains", &[j(r#"[{"a":1}]"#), j(r#"{"a":1.0}"#)]),
        "true"
    );
    assert_eq!(ok("contains", &[j("[1,2]"), s("1")]), "false");
    assert_eq!(ok("contains", &[j(r#"{"Key":1}"#), s("key")]), "false");
    assert_eq!(
        err("contains", &[Value::Null, s("x")]),
        "the first argument must be a String, an Array or an Object, got Null"
    );
}

#[test]
fn empty_and_its_errors() {
    assert_eq!(ok("empty", &[j("[0]")]), "false");
    assert_eq!(ok("empty", &[j(r#"{"a":null}"#)]), "false");
    assert!(err("empty", &[i(0)]).contains("got Integer"));
}

#[test]
fn first_and_last() {
    assert_eq!(ok("first", &[j("[]")]), "null");
    assert_eq!(ok("last", &[s("")]), "null");
    assert_eq!(ok("last", &[s("a😀")]), r#""😀""#);
    assert_eq!(ok("first", &[Value::Null]), "null");
    assert!(err("first", &[j("{}")]).contains("got Object"));
}

#[test]
fn intersection_and_union() {
    assert_eq!(ok("intersection", &[j("[1,1,2]"), j("[2,1]")]), "[1,2]");
    assert_eq!(ok("intersection", &[j("[1]"), j("[]")]), "[]");
    assert_eq!(ok("union", &[j("[1,1]"), j("[1.0,2]")]), "[1,2]");
    assert_eq!(
        ok(
            "union",
            &[j(r#"{"a":1}"#), j(r#"{"a":2,"b":1}"#), j(r#"{"b":3}"#)]
        ),
        r#"{"a":2,"b":3}"#
    );
    assert_eq!(
        err("union", &[j("[1]"), j("{}")]),
        "the second argument must be an Array, got Object"
    );
    assert!(err("intersection", &[s("a"), s("b")]).contains("all Arrays or all Objects"));
}

#[test]
fn join_skip_take_reverse() {
    assert_eq!(ok("join", &[j("[]"), s(",")]), r#""""#);
    assert_eq!(
        ok("join", &[j(r#"[1.5,{"a":1}]"#), s("|")]),
        r#""1.5|{\"a\":1}""#
    );
    assert!(err("join", &[s("abc"), s(",")]).contains("must be an Array"));
    assert_eq!(ok("skip", &[j("[1,2,3]"), i(0)]), "[1,2,3]");
    assert_eq!(ok("take", &[j("[1,2,3]"), i(0)]), "[]");
    assert_eq!(ok("take", &[s("😀a"), i(2)]), r#""😀""#);
    assert_eq!(
        err("skip", &[j("[1]"), i(-1)]),
        "the count (-1) must not be negative"
    );
    assert_eq!(ok("reverse", &[j("[]")]), "[]");
}

#[test]
fn sort_orders_primitives_and_objects_by_key() {
    assert_eq!(ok("sort", &[j(r#"["b","a","C"]"#)]), r#"["C","a","b"]"#);
    assert_eq!(ok("sort", &[j("[2.5,1,2]")]), "[1,2,2.5]");
    assert_eq!(ok("sort", &[j("[true,false]")]), "[false,true]");
    assert_eq!(
        ok("sort", &[j(r#"[{"n":2},{"m":1},{"n":1}]"#), s("n")]),
        r#"[{"m":1},{"n":1},{"n":2}]"#
    );
    assert!(err("sort", &[j(r#"[1,"a"]"#)]).contains("cannot order"));
    assert!(err("sort", &[j("[1,2]"), s("n")]).contains("needs every item to be an Object"));
    assert!(err("sort", &[j("[[1],[0]]")]).contains("cannot sort by an Array"));
}
