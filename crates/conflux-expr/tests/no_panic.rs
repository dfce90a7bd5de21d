//! Arbitrary input never panics the compiler or the evaluator.

use conflux_expr::{functions::workflow::example_context, CompiledValue, Template};
use proptest::prelude::*;

fn exercise(text: &str) {
    let host = example_context();
    if let Ok(t) = Template::compile(text) {
        // The evaluator turns a panicking function body into an error; that is
        // still a bug to find here.
        if let Err(e) = t.eval(&host) {
            assert!(
                !e.message.contains("internal error while evaluating"),
                "{text}: {e}"
            );
        }
        let _ = t.action_references();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn expression_like_strings(text in "@?\\{?[a-zA-Z(),'\\[\\]?.@{} 0-9\\-+é]{0,60}\\}?") {
        exercise(&text);
    }

    #[test]
    fn calls_with_mixed_arguments(
        name in prop::sample::select(conflux_expr::functions::all().map(|f| f.name).collect::<Vec<_>>()),
        args in prop::collection::vec(
            prop::sample::select(vec![
                "1", "-1", "0", "2.5", "'a'", "''", "null", "true", "createArray(1,'x')",
                "json('{\"a\":1}')", "9223372036854775807", "'2018-03-15T13:00:00Z'", "range(0,3)",
                "triggerBody()", "'<a>1</a>'", "'Pacific Standard Time'", "'Day'", "-9223372036854775808",
            ]),
            0..4,
        ),
    ) {
        exercise(&format!("@{name}({})", args.join(",")));
    }

    #[test]
    fn json_trees(key in "[@{}a-z']{0,6}", leaf in "[@{}a-z()',]{0,12}") {
        let json = serde_json::json!({ key: [leaf.clone(), {"k": leaf}] });
        if let Ok(cv) = CompiledValue::compile(&json, "$") {
            let _ = cv.eval(&example_context());
        }
    }
}
