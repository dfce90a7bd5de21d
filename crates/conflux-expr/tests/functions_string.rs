//! String functions called directly (no parser): edge cases and error messages.

use conflux_expr::functions::{lookup, FnCtx};
use conflux_expr::{EvalError, EvalHost, NoHost, Value};

fn call_with(host: &dyn EvalHost, name: &str, args: &[Value]) -> Result<Value, EvalError> {
    let f = lookup(name).unwrap_or_else(|| panic!("{name} is registered"));
    (f.body)(&FnCtx { host }, args)
}

fn call(name: &str, args: &[Value]) -> Result<Value, EvalError> {
    call_with(&NoHost, name, args)
}

/// The result as compact JSON.
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
fn concat_turns_every_value_into_text() {
    assert_eq!(ok("concat", &[s("a")]), r#""a""#);
    assert_eq!(
        ok("concat", &[s("n="), i(5), s(" f="), Value::Float(2.5)]),
        r#""n=5 f=2.5""#
    );
    assert_eq!(
        ok("concat", &[Value::Bool(false), Value::Null]),
        r#""False""#
    );
    assert_eq!(
        ok("concat", &[j(r#"{"a":[1]}"#), s("!")]),
        r#""{\"a\":[1]}!""#
    );
}

#[test]
fn case_insensitive_searches() {
    assert_eq!(ok("startsWith", &[s("Hello"), s("hE")]), "true");
    assert_eq!(ok("endsWith", &[s("Hello"), s("LO")]), "true");
    assert_eq!(ok("endsWith", &[s("Hello"), s("")]), "true");
    assert_eq!(ok("indexOf", &[s("ÄBC"), s("bc")]), "1");
    assert_eq!(ok("indexOf", &[s("abc"), s("")]), "0");
    assert_eq!(ok("lastIndexOf", &[s("abcABC"), s("b")]), "4");
    assert_eq!(
        err("indexOf", &[i(1), s("x")]),
        "the first argument must be a String, got Integer"
    );
}

#[test]
fn indexes_count_utf16_units() {
    // The emoji is two .NET characters.
    assert_eq!(ok("indexOf", &[s("😀x"), s("x")]), "2");
    assert_eq!(ok("length", &[s("😀x")]), "3");
    assert_eq!(ok("substring", &[s("😀xyz"), i(2), i(2)]), r#""xy""#);
    assert_eq!(ok("slice", &[s("a😀b"), i(-1)]), r#""b""#);
    // Cutting a surrogate pair never panics.
    assert_eq!(ok("substring", &[s("😀"), i(1)]), "\"\u{FFFD}\"");
}

#[test]
fn nth_index_of_counts_from_either_end() {
    assert_eq!(ok("nthIndexOf", &[s("abcabcabc"), s("ABC"), i(3)]), "6");
    assert_eq!(ok("nthIndexOf", &[s("abcabcabc"), s("abc"), i(-2)]), "3");
    assert_eq!(ok("nthIndexOf", &[s("abcabcabc"), s("abc"), i(-4)]), "-1");
    assert_eq!(ok("nthIndexOf", &[s("aaaa"), s("aa"), i(2)]), "1");
    assert!(err("nthIndexOf", &[s("a"), s("a"), i(0)]).contains("must not be 0"));
}

#[test]
fn replace_is_case_sensitive_and_global() {
    assert_eq!(ok("replace", &[s("a.b.c"), s("."), s("")]), r#""abc""#);
    assert_eq!(ok("replace", &[s("Aa"), s("a"), s("x")]), r#""Ax""#);
    assert!(err("replace", &[s("abc"), s(""), s("x")]).contains("must not be empty"));
}

#[test]
fn split_keeps_empty_pieces() {
    assert_eq!(ok("split", &[s(""), s(",")]), r#"[""]"#);
    assert_eq!(ok("split", &[s("a::b"), s("::")]), r#"["a","b"]"#);
    assert_eq!(ok("split", &[s(",a,"), s(",")]), r#"["","a",""]"#);
}

#[test]
fn substring_errors_say_which_bound_is_wrong() {
    assert_eq!(ok("substring", &[s("hello world"), i(11)]), r#""""#);
    assert_eq!(
        err("substring", &[s("hello world"), i(6), i(6)]),
        "startIndex + length (12) exceeds the length of the string (11); use slice() to stop at the end of the string"
    );
    assert_eq!(
        err("substring", &[s("hello"), i(-1)]),
        "startIndex (-1) must not be negative"
    );
    assert_eq!(
        err("substring", &[s("hello"), i(6)]),
        "startIndex (6) exceeds the length of the string (5)"
    );
    assert_eq!(
        err("substring", &[s("hello"), i(1), i(-2)]),
        "length (-2) must not be negative"
    );
    assert_eq!(
        err("substring", &[s("hello"), s("1")]),
        "the second argument must be an Integer, got String"
    );
}

#[test]
fn slice_clamps_instead_of_failing() {
    assert_eq!(ok("slice", &[s("Hello"), i(-30)]), r#""Hello""#);
    assert_eq!(ok("slice", &[s("Hello"), i(1), i(-30)]), r#""""#);
    assert_eq!(ok("slice", &[s(""), i(0), i(3)]), r#""""#);
}

#[test]
fn case_and_whitespace() {
    assert_eq!(ok("toUpper", &[s("straße 1")]), r#""STRAßE 1""#);
    assert_eq!(ok("toLower", &[s("ΟΔΟΣ")]), r#""οδοσ""#);
    assert_eq!(ok("toLower", &[s("ÀB-1")]), r#""àb-1""#);
    assert_eq!(ok("trim", &[s("\t a b \n")]), r#""a b""#);
}

#[test]
fn length_of_strings_and_arrays_only() {
    assert_eq!(ok("length", &[s("")]), "0");
    assert_eq!(ok("length", &[j("[1,[2,3]]")]), "2");
    assert_eq!(
        err("length", &[j("{}")]),
        "the argument must be a String or an Array, got Object"
    );
    assert!(err("length", &[Value::Null]).contains("got Null"));
}

#[test]
fn chunk_splits_strings_and_arrays() {
    assert_eq!(ok("chunk", &[s("abcde"), i(2)]), r#"["ab","cd","e"]"#);
    assert_eq!(ok("chunk", &[j("[]"), i(3)]), "[]");
    assert!(err("chunk", &[s("abc"), i(0)]).contains("greater than 0"));
}

#[test]
fn format_number_standard_custom_and_locales() {
    let f = |n: Value, fmt: &str| ok("formatNumber", &[n, s(fmt)]);
    assert_eq!(f(i(1234567890), "#,##0.00"), r#""1,234,567,890.00""#);
    assert_eq!(f(Value::Float(17.35), "C2"), r#""$17.35""#);
    assert_eq!(f(i(-5), "N1"), r#""-5.0""#);
    assert_eq!(f(Value::Float(0.125), "P1"), r#""12.5 %""#);
    assert_eq!(f(i(255), "x"), r#""ff""#);
    assert_eq!(f(Value::Float(1.5), "000.000"), r#""001.500""#);
    assert_eq!(f(Value::Float(-1.5), "#.#;(#.#)"), r#""(1.5)""#);
    assert_eq!(
        ok("formatNumber", &[Value::Float(1234.5), s("N2"), s("de-de")]),
        r#""1.234,50""#
    );
    assert_eq!(
        ok("formatNumber", &[Value::Float(17.35), s("C2"), s("is-IS")]),
        r#""17,35 kr""#
    );
    assert!(err("formatNumber", &[i(1), s("N"), s("xx-XX")]).contains("'xx-XX' is not supported"));
    assert_eq!(
        err("formatNumber", &[s("12"), s("N")]),
        "the first argument must be a Number, got String"
    );
    assert!(err("formatNumber", &[Value::Float(1.5), s("D2")]).contains("needs an Integer"));
}

struct FixedGuid;

impl EvalHost for FixedGuid {
    fn new_guid(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(0xc2ecc88d_88c8_4096_912c_d6f2e2b138ce)
    }
}

#[test]
fn guid_formats() {
    let g = |fmt: &[Value]| call_with(&FixedGuid, "guid", fmt).unwrap().to_json_string();
    assert_eq!(g(&[]), r#""c2ecc88d-88c8-4096-912c-d6f2e2b138ce""#);
    assert_eq!(g(&[s("N")]), r#""c2ecc88d88c84096912cd6f2e2b138ce""#);
    assert_eq!(g(&[s("B")]), r#""{c2ecc88d-88c8-4096-912c-d6f2e2b138ce}""#);
    assert_eq!(g(&[s("P")]), r#""(c2ecc88d-88c8-4096-912c-d6f2e2b138ce)""#);
    assert_eq!(
        g(&[s("X")]),
        r#""{0xc2ecc88d,0x88c8,0x4096,{0x91,0x2c,0xd6,0xf2,0xe2,0xb1,0x38,0xce}}""#
    );
    assert!(call_with(&FixedGuid, "guid", &[s("Q")])
        .unwrap_err()
        .message
        .contains("'Q'"));
    // The default host gives a fresh GUID each time.
    assert_ne!(ok("guid", &[]), ok("guid", &[]));
}

#[test]
fn is_int_and_is_float() {
    assert_eq!(ok("isInt", &[s(" 12 ")]), "true");
    assert_eq!(ok("isInt", &[s("99999999999999999999")]), "false");
    assert_eq!(ok("isInt", &[s("")]), "false");
    assert_eq!(ok("isFloat", &[s("1e5")]), "true");
    assert_eq!(ok("isFloat", &[s("10,5"), s("fr-FR")]), "true");
    assert_eq!(ok("isFloat", &[s("10,5,0.1"), s("fr-FR")]), "false");
    assert!(err("isFloat", &[s("1"), s("zz")]).contains("not supported"));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::Int),
            any::<f64>().prop_map(Value::Float),
            (-1e30f64..1e30).prop_map(Value::Float),
        ]
    }

    proptest! {
        #[test]
        fn format_number_with_any_pattern(n in number(), format in "[0#.,;%‰Ee+\\-'\"\\\\ a-z]{0,12}") {
            let _ = call("formatNumber", &[n, s(&format)]);
        }

        #[test]
        fn format_number_with_standard_formats(n in number(), letter in "[CDEFGNPRXcdefgnprx]", p in 0u32..120) {
            let _ = call("formatNumber", &[n.clone(), s(&format!("{letter}{p}"))]);
            let _ = call("formatNumber", &[n, s(&letter), s("de-DE")]);
        }

        #[test]
        fn string_functions_with_any_text(text in any::<String>(), search in "\\PC{0,3}", a in -8i64..8, b in -8i64..8) {
            for f in ["indexOf", "lastIndexOf", "startsWith", "endsWith", "split", "replace"] {
                let _ = call(f, &[s(&text), s(&search), s("x")]);
            }
            let _ = call("nthIndexOf", &[s(&text), s(&search), i(a)]);
            let _ = call("substring", &[s(&text), i(a), i(b)]);
            let _ = call("slice", &[s(&text), i(a), i(b)]);
            let _ = call("chunk", &[s(&text), i(a)]);
            let _ = call("isFloat", &[s(&text)]);
            let _ = call("isInt", &[s(&text)]);
        }
    }
}
