//! How JSON strings are classified, parsed and evaluated: literals, whole-value
//! expressions, interpolation, accessors and null safety, and the errors a user
//! sees when something is wrong.

mod expr_support;
use conflux_expr::{CompiledValue, NoHost, Template};
use expr_support::run_cases;
use serde_json::json;

#[test]
fn strings_are_classified_before_use() {
    run_cases(&[
        ("plain", "\"plain\""),
        ("a@b.com", "\"a@b.com\""),
        (" @add(1,2)", "\" @add(1,2)\""),
        ("array[1]", "\"array[1]\""),
        ("", "\"\""),
        ("@@", "\"@\""),
        ("@@add(1,2)", "\"@add(1,2)\""),
        ("@add(1,2)", "3"),
        ("@{add(1,2)}", "\"3\""),
        ("@parameters('fullName')", "\"Sophia Owen\""),
        ("@createArray(1, 'a')", "[1,\"a\"]"),
        ("@null", "null"),
        ("@true", "true"),
        ("@ add( 1 , 2 ) ", "3"),
    ]);
}

#[test]
fn interpolation_always_yields_text() {
    run_cases(&[
        ("Total: @{add(1, 2)} items", "\"Total: 3 items\""),
        ("@{variables('counter')}@{variables('counter')}", "\"11\""),
        ("@{null}", "\"\""),
        ("@{true}", "\"True\""),
        ("@{concat('hello ', 'Ada', 1)}", "\"hello Ada1\""),
        ("@{true}|@{false}", "\"True|False\""),
        ("@{div(5, 2.0)}", "\"2.5\""),
        ("@{mul(1.5, 2)}", "\"3\""),
        ("@{createArray(1, 'a')}", "\"[1,\\\"a\\\"]\""),
        (
            "id=@{triggerBody().order}",
            "\"id={\\\"id\\\":7,\\\"customer\\\":\\\"Contoso\\\"}\"",
        ),
        (
            "My age is @@{parameters('myAge')}",
            "\"My age is @{parameters('myAge')}\"",
        ),
        ("@@{x} and @{add(1,1)}", "\"@{x} and 2\""),
        ("@{concat('}', '{')}", "\"}{\""),
        ("@{'it''s'}", "\"it's\""),
        ("a @{'x'} b @{'y'} c", "\"a x b y c\""),
        ("@concat('@{', 'x')", "\"@{x\""),
    ]);
}

#[test]
fn accessors_read_properties_and_elements() {
    run_cases(&[
        ("@triggerBody().order.id", "7"),
        ("@triggerBody()['order']['customer']", "\"Contoso\""),
        ("@triggerBody()?['order']?['id']", "7"),
        ("@trigger().outputs?.body?.order.id", "7"),
        ("@triggerBody().ORDER.ID", "7"),
        ("@createArray(10, 20, 30)[1]", "20"),
        ("@createArray(10, 20, 30)[add(1, 1)]", "30"),
        ("@createArray(createArray(1, 2))[0][1]", "2"),
        ("@triggerBody()[concat('or', 'der')].id", "7"),
        ("@outputs('Get_user')['body']['name']", "\"Sophia\""),
    ]);
}

#[test]
fn null_safe_accessors_give_null_and_plain_ones_explain() {
    run_cases(&[
        ("@triggerBody()?['missing']", "null"),
        ("@triggerBody()?['missing']?['deeper']", "null"),
        ("@triggerBody()?.missing?.deeper", "null"),
        ("@createArray(1)?[5]", "null"),
        ("@createArray(4, 5)?.1", "5"),
        ("@createArray(4, 5).0", "4"),
        ("@coalesce(triggerBody()?['x'], 'default')", "\"default\""),
        ("@triggerBody()['missing']", "error: the property 'missing' does not exist (available: order); write ?['missing'] to get null when it is missing"),
        ("@triggerBody()?['missing']['deeper']", "error: cannot read the property 'deeper' of null; write ?['deeper'] to get null instead"),
        ("@createArray(1)[5]", "error: the index 5 is out of range for an array of 1 element"),
        ("@createArray(1)[-1]", "error: the index -1 is out of range"),
        ("@createArray(1).name", "error: cannot read the property 'name' of an Array"),
        ("@'text'.length", "error: cannot read the property 'length' of a String"),
        ("@createArray(1)[1.5]", "error: an index must be a string (property) or an integer"),
        ("@json('{}').x", "error: the property 'x' does not exist (the object is empty)"),
    ]);
}

#[test]
fn syntax_errors_name_the_column() {
    run_cases(&[
        (
            "@concat('a') x",
            "error: unexpected 'x' after the end of the expression",
        ),
        (
            "@length(\"Hello\")",
            "error: strings are written in single quotes",
        ),
        (
            "@add(1, 2",
            "error: expected ',' or ')' in the arguments of 'add'",
        ),
        ("@add(1,)", "error: expected an argument of 'add'"),
        ("@nosuch(1)", "error: unknown function 'nosuch'"),
        (
            "@concatt('a', 'b')",
            "error: unknown function 'concatt'; did you mean 'concat'?",
        ),
        ("@add(1, 2) + 3", "error: expressions have no operators"),
        ("@equals(1 == 1)", "error: expressions have no operators"),
        ("@foo", "error: a function call needs parentheses"),
        ("@'unterminated", "error: unterminated string"),
        ("@", "error: the expression is empty"),
        ("@{}", "error: the expression is empty"),
        ("x @{add(1,2)", "error: this '@{' is never closed"),
        ("@triggerBody()?", "error: expected '.' or '[' after '?'"),
        (
            "@triggerBody().",
            "error: expected a property name after '.'",
        ),
        (
            "@createArray(1)[]",
            "error: expected an index or property name",
        ),
        (
            "@add(99999999999999999999, 1)",
            "error: outside the 64-bit range",
        ),
        ("@12abc", "error: invalid number '12a'"),
    ]);
}

#[test]
fn parse_errors_point_a_caret_at_the_column() {
    let e = Template::compile("Hi @{concat('a' 'b')}").unwrap_err();
    assert_eq!(e.column, 17);
    assert_eq!(
        e.to_string(),
        "expected ',' or ')' in the arguments of 'concat' but found the string 'b' (column 17)\n  \
         Hi @{concat('a' 'b')}\n                  ^"
    );
    // Columns count characters, not bytes.
    let e = Template::compile("@concat('é', nope)").unwrap_err();
    assert_eq!(e.column, 14);
}

#[test]
fn nesting_and_length_are_capped_without_crashing() {
    let deep = format!("@{}1{}", "string(".repeat(500), ")".repeat(500));
    let e = Template::compile(&deep).unwrap_err();
    assert!(e.message.contains("nested more than 100 levels"), "{e}");
    let ok = format!("@{}1{}", "string(".repeat(90), ")".repeat(90));
    assert!(Template::compile(&ok).is_ok());
    let long = format!("@concat('{}')", "x".repeat(9000));
    let e = Template::compile(&long).unwrap_err();
    assert!(e.message.contains("the limit is 8192"), "{e}");
    let chain = format!("@json('{{}}'){}", "?.a".repeat(2000));
    assert_eq!(
        conflux_expr::eval_str(&chain, &NoHost).unwrap(),
        conflux_expr::Value::Null
    );
}

#[test]
fn function_errors_carry_the_canonical_name_once() {
    run_cases(&[
        ("@DIV(1, 0)", "error: div: the divisor"),
        ("@add(div(1, 0), 1)", "error: div: the divisor"),
    ]);
}

#[test]
fn template_api_reports_literals_sources_and_action_references() {
    let t = Template::compile("plain").unwrap();
    assert!(t.is_literal());
    assert_eq!(t.source(), "plain");
    let t = Template::compile("@@{not}").unwrap();
    assert!(t.is_literal());
    let t = Template::compile(
        "@{body('A')} @{outputs('B')?['x']} @{actions(concat('C', 'D'))} @{body('A')} @{result('Scope')} @{parameters('P')}",
    )
    .unwrap();
    assert!(!t.is_literal());
    assert_eq!(t.action_references(), vec!["A", "B", "Scope"]);
    let t = Template::compile("@if(true, formDataValue('F', 'k'), multipartBody('G', 0))").unwrap();
    assert_eq!(t.action_references(), vec!["F", "G"]);
}

#[test]
fn compiled_values_keep_literal_parts_and_evaluate_keys() {
    let json = json!({
        "static": {"a": [1, 2.5, "x", null, true], "b": "@@escaped"},
        "sum": "@add(1, 2)",
        "text": "n=@{add(1, 2)}",
        "@{concat('k', '1')}": [ "@body('Get_user').name", 3 ],
    });
    let cv = CompiledValue::compile(&json, "$.inputs").unwrap();
    assert!(!cv.is_literal());
    assert_eq!(cv.action_references(), vec!["Get_user"]);
    let host = conflux_expr::functions::workflow::example_context();
    assert_eq!(
        cv.eval(&host).unwrap().to_json_string(),
        r#"{"static":{"a":[1,2.5,"x",null,true],"b":"@escaped"},"sum":3,"text":"n=3","k1":["Sophia",3]}"#
    );
    let literal = CompiledValue::compile(&json!({"a": ["x", {"b": 1.0}]}), "$").unwrap();
    assert!(literal.is_literal());
    assert_eq!(
        literal.eval(&NoHost).unwrap().to_json_string(),
        r#"{"a":["x",{"b":1.0}]}"#
    );
}

#[test]
fn compiled_values_report_every_error_with_its_path() {
    let json = json!({
        "a": "@add(1,",
        "list": ["ok", "@nosuch()"],
        "odd key": {"@{": 1},
    });
    let errors = CompiledValue::compile(&json, "$.actions.Compose.inputs").unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "$.actions.Compose.inputs.a",
            "$.actions.Compose.inputs.list[1]",
            "$.actions.Compose.inputs['odd key']['@{'] (property name)",
        ]
    );
    assert!(errors[1]
        .to_string()
        .starts_with("$.actions.Compose.inputs.list[1]: unknown function 'nosuch'"));
}

#[test]
fn eval_str_turns_parse_errors_into_eval_errors() {
    let e = conflux_expr::eval_str("@add(1,", &NoHost).unwrap_err();
    assert!(
        e.message.starts_with("the expression could not be parsed:"),
        "{e}"
    );
    assert!(e.message.contains("column 8"), "{e}");
}

#[test]
fn compiled_forms_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Template>();
    shared::<CompiledValue>();
}

#[test]
fn literal_trees_are_shared_not_rebuilt() {
    let cv = CompiledValue::compile(&json!({"a": [1, 2, {"b": "x"}]}), "$").unwrap();
    let (one, two) = (cv.eval(&NoHost).unwrap(), cv.eval(&NoHost).unwrap());
    match (one, two) {
        (conflux_expr::Value::Object(x), conflux_expr::Value::Object(y)) => {
            assert!(std::sync::Arc::ptr_eq(&x, &y))
        }
        other => panic!("expected objects, got {other:?}"),
    }
}
