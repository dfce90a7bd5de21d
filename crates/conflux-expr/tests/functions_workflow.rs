//! The workflow family against the example run state
//! (`conflux_expr::functions::workflow::example_context`), one case per line.

mod expr_support;
use expr_support::run_cases;

#[test]
fn run_state_is_read_through_the_host() {
    run_cases(&[
        ("@parameters('fullName')", "\"Sophia Owen\""),
        ("@PARAMETERS('fullName')", "\"Sophia Owen\""),
        ("@variables('counter')", "1"),
        ("@appsetting('Region')", "\"westeurope\""),
        ("@workflow().name", "\"order-flow\""),
        ("@item().sku", "\"B-2\""),
        ("@items('For_each_order')['sku']", "\"B-2\""),
        ("@iterationIndexes('Until_done')", "2"),
        ("@result('Scope')[0]['status']", "\"Failed\""),
        ("@action().status", "\"Running\""),
    ]);
}

#[test]
fn trigger_and_action_shortcuts_read_outputs_and_body() {
    run_cases(&[
        ("@trigger().outputs.body.order.id", "7"),
        ("@triggerOutputs().body.order.customer", "\"Contoso\""),
        (
            "@triggerBody().order",
            "{\"id\":7,\"customer\":\"Contoso\"}",
        ),
        ("@triggerbody()?.order?.missing", "null"),
        ("@actions('Get_user').outputs.statusCode", "200"),
        ("@outputs('Get_user').body.name", "\"Sophia\""),
        ("@body('Get_user')", "{\"name\":\"Sophia\"}"),
        ("@actionBody('Get_user').name", "\"Sophia\""),
        ("@actionOutputs('Get_user').statusCode", "200"),
        ("@formDataValue('Post_form', 'city')", "\"Oslo\""),
        ("@formDataMultiValues('Post_form', 'tag')", "[\"a\",\"b\"]"),
        ("@formDataMultiValues('Post_form', 'none')", "[]"),
        (
            "@formDataValue('Post_form', 'tag')",
            "error: formDataValue: the form key 'tag' has 2 values",
        ),
        (
            "@formDataValue('Get_user', 'x')",
            "error: formDataValue: the body is not form data",
        ),
        ("@multipartBody('Upload', 0)", "\"hi\""),
        (
            "@multipartBody('Upload', 3)",
            "error: multipartBody: the part index 3 is out of range",
        ),
    ]);
}

#[test]
fn missing_names_are_clear_errors() {
    run_cases(&[
        (
            "@parameters('nope')",
            "error: parameters: the parameter 'nope' is not defined (defined: fullName)",
        ),
        (
            "@variables('nope')",
            "error: variables: the variable 'nope' is not defined",
        ),
        (
            "@outputs('Nope')",
            "error: outputs: the action 'Nope' is not defined",
        ),
        (
            "@body('Nope')",
            "error: body: the action 'Nope' is not defined",
        ),
        (
            "@items('Nope')",
            "error: items: the loop 'Nope' is not defined",
        ),
        (
            "@parameters(1)",
            "error: parameters: the first argument must be a String, got Integer",
        ),
        (
            "@parameters()",
            "error: 'parameters' takes 1 argument but 0 were given",
        ),
    ]);
}

#[test]
fn without_run_state_the_functions_say_so() {
    let host = conflux_expr::NoHost;
    let e = conflux_expr::eval_str("@triggerBody()", &host).unwrap_err();
    assert_eq!(
        e.message,
        "triggerBody: not available in this context (no run state is attached)"
    );
    let e = conflux_expr::eval_str("@body('A')", &host).unwrap_err();
    assert!(e.message.starts_with("body: 'A' is not available"), "{e}");
}

#[test]
fn trigger_form_data_reads_the_trigger_body() {
    let ctx = conflux_expr::JsonContext::from_json(&serde_json::json!({
        "triggerBody": {
            "$content-type": "application/x-www-form-urlencoded",
            "$content": "bmFtZT1BbmElMjBCJms9MSZrPTI="
        }
    }))
    .unwrap();
    let eval = |e: &str| conflux_expr::eval_str(e, &ctx).map(|v| v.to_json_string());
    assert_eq!(eval("@triggerFormDataValue('name')").unwrap(), "\"Ana B\"");
    assert_eq!(
        eval("@triggerFormDataMultiValues('k')").unwrap(),
        "[\"1\",\"2\"]"
    );
    assert!(eval("@triggerMultipartBody(0)")
        .unwrap_err()
        .message
        .starts_with("triggerMultipartBody: the body is not multipart content"));
}
