//! Table-style helpers shared by the expression tests: one line per case.

#![allow(dead_code)]

use conflux_expr::functions::workflow::example_context;
use conflux_expr::{EvalHost, Template};

/// Evaluates `expr` against the example run state and returns the compact JSON
/// of the value, or `error: <message>`.
pub fn eval_text(expr: &str, host: &dyn EvalHost) -> String {
    match Template::compile(expr) {
        Err(e) => format!("error: {}", e.message),
        Ok(t) => match t.eval(host) {
            Ok(v) => v.to_json_string(),
            Err(e) => format!("error: {}", e.message),
        },
    }
}

/// Runs every `(expression, expected)` case and fails listing every mismatch.
/// `expected` is compact JSON, or `error: <text the message must contain>`.
pub fn run_cases(cases: &[(&str, &str)]) {
    let host = example_context();
    let mut failures = Vec::new();
    for (expr, expected) in cases {
        let got = eval_text(expr, &host);
        let ok = match expected.strip_prefix("error: ") {
            Some(fragment) => got.starts_with("error: ") && got.contains(fragment),
            None => got == *expected,
        };
        if !ok {
            failures.push(format!(
                "  {expr}\n    expected {expected}\n    got      {got}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
