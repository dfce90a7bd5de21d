//! The math family, one case per line.

mod expr_support;
use expr_support::run_cases;

#[test]
fn arithmetic_keeps_integers_and_widens_to_float() {
    run_cases(&[
        ("@add(1,2)", "3"),
        ("@add(1.0,2)", "3.0"),
        ("@add(1,1.5)", "2.5"),
        ("@sub(10.3, .3)", "10.0"),
        ("@sub(1, 3)", "-2"),
        ("@mul(3, 4)", "12"),
        ("@mul(0.5, 4)", "2.0"),
        ("@div(11,5)", "2"),
        ("@div(11.0,5)", "2.2"),
        ("@div(11,5.0)", "2.2"),
        ("@div(-7, 2)", "-3"),
        ("@mod(-5, 2)", "-1"),
        ("@mod(4, -3)", "1"),
        ("@mod(5.5, 2)", "1.5"),
        ("@add(1e3, 1)", "1001.0"),
        ("@add(-1, +2)", "1"),
    ]);
}

#[test]
fn arithmetic_errors_are_reported() {
    run_cases(&[
        (
            "@div(1, 0)",
            "error: div: the divisor (second argument) is 0",
        ),
        ("@div(1.5, 0.0)", "error: div: the divisor"),
        ("@mod(1, 0)", "error: mod: the divisor"),
        (
            "@add(9223372036854775807, 1)",
            "error: add: the result of 9223372036854775807 and 1 does not fit",
        ),
        (
            "@mul(9223372036854775807, 2)",
            "error: does not fit in a 64-bit integer",
        ),
        ("@div(-9223372036854775808, -1)", "error: div:"),
        ("@mul(1e308, 10)", "error: not a finite number"),
        (
            "@add('1', 2)",
            "error: add: the first argument must be a number (Integer or Float), got String",
        ),
        (
            "@sub(1, null)",
            "error: sub: the second argument must be a number",
        ),
        ("@add(1, true)", "error: got Boolean"),
        ("@add(1)", "error: 'add' takes 2 arguments but 1 was given"),
        (
            "@add(1, 2, 3)",
            "error: 'add' takes 2 arguments but 3 were given",
        ),
    ]);
}

#[test]
fn decimals_win_over_other_numbers() {
    run_cases(&[
        ("@add(decimal('1.1'), 2)", "3.1"),
        ("@add(decimal('0.1'), decimal('0.2'))", "0.3"),
        ("@add(0.1, 0.2)", "0.30000000000000004"),
    ]);
}

#[test]
fn max_and_min_accept_arguments_or_one_array() {
    run_cases(&[
        ("@max(1, 5, 3)", "5"),
        ("@max(createArray(1, 5, 3))", "5"),
        ("@max(1, 2.5)", "2.5"),
        ("@max(3, 2.5)", "3"),
        ("@min(4, -2, 7)", "-2"),
        ("@min(createArray(0.5, 1))", "0.5"),
        ("@max(7)", "7"),
        ("@max(createArray())", "error: max: the array is empty"),
        (
            "@max(1, 'a')",
            "error: max: the second argument must be a number",
        ),
        (
            "@min(createArray(1, 'x'))",
            "error: min: the array element [1] must be a number",
        ),
        ("@max()", "error: 'max' takes at least 1 argument"),
    ]);
}

#[test]
fn range_and_rand() {
    run_cases(&[
        ("@range(1, 4)", "[1,2,3,4]"),
        ("@range(-2, 3)", "[-2,-1,0]"),
        ("@range(0, 0)", "[]"),
        ("@length(range(0, 100000))", "100000"),
        (
            "@range(0, 100001)",
            "error: range: the count (second argument) must be between 0 and 100000",
        ),
        ("@range(0, -1)", "error: range: the count"),
        (
            "@range(2147483647, 1)",
            "error: range: start + count must not exceed 2147483647",
        ),
        ("@rand(3, 4)", "3"),
        (
            "@rand(5, 5)",
            "error: rand: the minimum (5) must be less than the maximum (5)",
        ),
        (
            "@rand('1', 5)",
            "error: rand: the first argument must be an Integer, got String",
        ),
    ]);
}

#[test]
fn rand_stays_in_its_range() {
    let host = conflux_expr::NoHost;
    for _ in 0..200 {
        let v = conflux_expr::eval_str("@rand(-3, 3)", &host).unwrap();
        let n = v.as_i64().unwrap();
        assert!((-3..3).contains(&n), "{n}");
    }
}
