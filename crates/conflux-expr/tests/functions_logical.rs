//! The logical family, one case per line.

mod expr_support;
use expr_support::run_cases;

#[test]
fn equals_is_deep_and_loose_about_numbers_booleans_and_null() {
    run_cases(&[
        ("@equals(1, 1)", "true"),
        ("@equals(1, 1.0)", "true"),
        ("@equals(1, 2)", "false"),
        ("@equals(true, 1)", "true"),
        ("@equals(false, 0)", "true"),
        ("@equals(true, 2)", "false"),
        ("@equals('a', 'a')", "true"),
        ("@equals('a', 'A')", "false"),
        ("@equals('1', 1)", "false"),
        ("@equals(null, '')", "true"),
        ("@equals(null, null)", "true"),
        ("@equals(null, 0)", "false"),
        (
            "@equals(json('{\"a\":[1,2],\"b\":null}'), json('{\"b\":null,\"a\":[1,2.0]}'))",
            "true",
        ),
        (
            "@equals(json('{\"a\":1}'), json('{\"a\":1,\"b\":2}'))",
            "false",
        ),
        ("@equals(createArray(1, 2), createArray(2, 1))", "false"),
        ("@equals(triggerBody()?['missing'], '')", "true"),
    ]);
}

#[test]
fn orderings_compare_numbers_numerically_and_strings_ordinally() {
    run_cases(&[
        ("@greater(10, 5)", "true"),
        ("@greater(5, 10)", "false"),
        ("@greater(2.5, 2)", "true"),
        ("@greater('apple', 'banana')", "false"),
        ("@greater('b', 'B')", "true"),
        ("@greaterOrEquals(5, 5.0)", "true"),
        ("@less(-1, 0)", "true"),
        ("@less('10', '9')", "true"),
        ("@lessOrEquals('a', 'a')", "true"),
        ("@lessOrEquals(null, 'a')", "true"),
        ("@greater('a', null)", "true"),
        (
            "@greater(1, '0')",
            "error: greater: cannot compare the Integer 1 with the String '0'",
        ),
        (
            "@less(createArray(1), 2)",
            "error: less: cannot compare an Array",
        ),
        ("@greater(null, 1)", "error: greater: cannot compare"),
    ]);
}

#[test]
fn and_or_not_need_booleans() {
    run_cases(&[
        ("@and(true, true)", "true"),
        ("@and(true, false)", "false"),
        ("@and(true)", "true"),
        ("@or(false, false, true)", "true"),
        ("@or(false)", "false"),
        ("@not(true)", "false"),
        (
            "@not(1)",
            "error: not: the first argument must be a Boolean, got Integer",
        ),
        (
            "@and(true, 'true')",
            "error: and: argument 2 must be a Boolean, but it is a String (\"true\")",
        ),
        (
            "@or(false, null)",
            "error: or: argument 2 must be a Boolean",
        ),
        (
            "@and()",
            "error: 'and' takes at least 1 argument but 0 were given",
        ),
    ]);
}

#[test]
fn and_or_if_evaluate_only_what_decides_the_result() {
    run_cases(&[
        ("@and(false, div(1, 0))", "false"),
        ("@or(true, div(1, 0))", "true"),
        ("@and(true, div(1, 0))", "error: div: the divisor"),
        ("@if(true, 'yes', div(1, 0))", "\"yes\""),
        ("@if(false, div(1, 0), 'no')", "\"no\""),
        ("@if(equals(1, 1), createArray(1), 2)", "[1]"),
        (
            "@if(1, 'a', 'b')",
            "error: if: the condition must be a Boolean, but it is an Integer",
        ),
        (
            "@if(true, 'a')",
            "error: 'if' takes 3 arguments but 2 were given",
        ),
    ]);
}
