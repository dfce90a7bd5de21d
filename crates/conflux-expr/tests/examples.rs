//! Every documented example of every function family, run through the parser
//! and evaluator against the example run state.

mod expr_support;
use conflux_expr::functions;
use expr_support::eval_text;

#[test]
fn every_documented_example_holds() {
    let host = functions::workflow::example_context();
    let mut failures = Vec::new();
    let mut count = 0;
    for def in functions::all() {
        for (expr, expected) in def.examples {
            count += 1;
            let text = if expr.starts_with('@') {
                expr.to_string()
            } else {
                format!("@{expr}")
            };
            let got = eval_text(&text, &host);
            let ok = if let Some(fragment) = expected.strip_prefix("error") {
                got.starts_with("error: ") && got.contains(fragment.trim_start_matches(':').trim())
            } else {
                match (
                    serde_json::from_str::<serde_json::Value>(expected),
                    serde_json::from_str::<serde_json::Value>(&got),
                ) {
                    (Ok(want), Ok(have)) => want == have,
                    _ => false,
                }
            };
            if !ok {
                failures.push(format!(
                    "  {}: {expr}\n    expected {expected}\n    got      {got}",
                    def.name
                ));
            }
        }
    }
    assert!(count > 0, "no examples found");
    assert!(
        failures.is_empty(),
        "{} of {count} documented examples do not hold:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_function_name_is_unique_and_resolvable() {
    let mut seen = std::collections::HashSet::new();
    for def in functions::all() {
        assert!(
            seen.insert(def.name.to_ascii_lowercase()),
            "duplicate function {}",
            def.name
        );
        let found = functions::lookup(&def.name.to_ascii_uppercase()).expect("resolvable");
        assert_eq!(found.name, def.name);
        if let Some(max) = def.max_args {
            assert!(max >= def.min_args, "{}: max_args < min_args", def.name);
        }
    }
}
