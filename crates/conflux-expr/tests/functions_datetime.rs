//! The date and time family through the parser and evaluator, one case per line.
//! Clock-dependent cases run against a host whose `now()` is fixed.

mod expr_support;

use chrono::{DateTime, Utc};
use conflux_expr::EvalHost;
use expr_support::{eval_text, run_cases};
use proptest::prelude::*;

struct FixedClock(DateTime<Utc>);

impl EvalHost for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn run_at(now: &str, cases: &[(&str, &str)]) {
    let host = FixedClock(now.parse().expect("clock"));
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(expr, expected)| {
            let got = eval_text(expr, &host);
            let ok = match expected.strip_prefix("error: ") {
                Some(fragment) => got.starts_with("error: ") && got.contains(fragment),
                None => got == *expected,
            };
            (!ok).then(|| format!("  {expr}\n    expected {expected}\n    got      {got}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn documented_clock_examples() {
    run_at(
        "2018-03-01T00:00:00Z",
        &[
            (
                "@getFutureTime(5, 'Day')",
                r#""2018-03-06T00:00:00.0000000Z""#,
            ),
            (
                "@getFutureTime(5, 'Day', 'D')",
                r#""Tuesday, March 6, 2018""#,
            ),
        ],
    );
    run_at(
        "2018-02-01T00:00:00Z",
        &[
            (
                "@getPastTime(5, 'Day')",
                r#""2018-01-27T00:00:00.0000000Z""#,
            ),
            (
                "@getPastTime(5, 'Day', 'D')",
                r#""Saturday, January 27, 2018""#,
            ),
        ],
    );
    run_at(
        "2025-09-25T05:18:31.3384797Z",
        &[
            ("@utcNow()", r#""2025-09-25T05:18:31.3384797Z""#),
            ("@utcNow('u')", r#""2025-09-25 05:18:31Z""#),
            (
                "@utcNow('U')",
                r#""Thursday, September 25, 2025 5:18:31 AM""#,
            ),
            ("@utcNow('d')", r#""9/25/2025""#),
            ("@utcNow('D')", r#""Thursday, September 25, 2025""#),
            ("@utcNow('t')", r#""5:18 AM""#),
            ("@utcNow('T')", r#""5:18:31 AM""#),
            ("@utcNow('y')", r#""September 2025""#),
            ("@utcNow('yyyy')", r#""2025""#),
            ("@utcNow('ddd, d MMM yyyy')", r#""Thu, 25 Sep 2025""#),
        ],
    );
}

#[test]
fn functions_compose() {
    run_at(
        "2024-02-29T10:15:00Z",
        &[
            (
                "@formatDateTime(addDays(utcNow(), 1), 'yyyy-MM-dd')",
                r#""2024-03-01""#,
            ),
            (
                "@convertFromUtc(utcNow(), 'W. Europe Standard Time', 'HH:mm')",
                r#""11:15""#,
            ),
            ("@dayOfWeek(startOfMonth(utcNow()))", "4"),
            (
                "@dateDifference(startOfDay(utcNow()), utcNow())",
                r#""10:15:00""#,
            ),
            (
                "@less(ticks(getPastTime(1, 'Hour')), ticks(utcNow()))",
                "true",
            ),
            (
                "@addToTime(utcNow(), 1, 'Year', 'yyyy-MM-dd')",
                r#""2025-02-28""#,
            ),
            ("Today is @{utcNow('dddd')}.", r#""Today is Thursday.""#),
            (
                "@formatDateTime(utcNow(), 'D', 'de-DE')",
                r#""Donnerstag, 29. Februar 2024""#,
            ),
        ],
    );
}

#[test]
fn timestamps_keep_their_kind() {
    run_cases(&[
        (
            "@addHours('2018-03-15T00:00:00Z', 1)",
            r#""2018-03-15T01:00:00.0000000Z""#,
        ),
        (
            "@addHours('2018-03-15T00:00:00', 1)",
            r#""2018-03-15T01:00:00.0000000""#,
        ),
        (
            "@addHours('2018-03-15T00:00:00-05:00', 1)",
            r#""2018-03-15T06:00:00.0000000Z""#,
        ),
        (
            "@formatDateTime('2018-03-15T00:00:00.1Z')",
            r#""2018-03-15T00:00:00.1000000Z""#,
        ),
        (
            "@formatDateTime('Thu, 15 Mar 2018 13:00:00 GMT')",
            r#""2018-03-15T13:00:00.0000000Z""#,
        ),
        (
            "@formatDateTime('2018-03-15 13:00:00', 'K')",
            "error: the format 'K' is not valid",
        ),
        ("@formatDateTime('2018-03-15 13:00:00', '%K')", r#""""#),
    ]);
}

#[test]
fn errors_name_the_function_and_the_fault() {
    run_cases(&[
        (
            "@addDays('yesterday', 1)",
            "error: addDays: the first argument: 'yesterday' is not a valid timestamp",
        ),
        (
            "@addToTime('2018-01-01', 1, 'Decade')",
            "error: addToTime: the time unit 'Decade' is not valid",
        ),
        (
            "@formatDateTime('2018-01-01', 'Q')",
            "error: formatDateTime: the format 'Q' is not valid",
        ),
        (
            "@formatDateTime('2018-01-01', 'd', 'tlh-KX')",
            "error: formatDateTime: the locale 'tlh-KX' is not supported",
        ),
        (
            "@convertTimeZone('2018-01-01', 'UTC', 'Atlantis')",
            "error: convertTimeZone: the time zone 'Atlantis'",
        ),
        (
            "@convertToUtc('2018-03-11T02:30:00', 'Pacific Standard Time')",
            "error: convertToUtc: 2018-03-11T02:30:00 does not exist",
        ),
        (
            "@ticks(1)",
            "error: ticks: the first argument must be a String",
        ),
        ("@dayOfYear()", "error: 'dayOfYear' takes"),
    ]);
}

proptest! {
    /// Whatever text arrives as a timestamp or a format, the functions answer
    /// with a value or an error, never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}", format in "[dDfFgGhHKmMstyz%'\\\\:/. -]{0,12}") {
        let host = FixedClock("2024-01-01T00:00:00Z".parse().expect("clock"));
        let quote = |s: &str| s.replace('\'', "''");
        let _ = eval_text(&format!("@formatDateTime('{}')", quote(&text)), &host);
        let _ = eval_text(&format!("@parseDateTime('{}', 'fr-FR')", quote(&text)), &host);
        let _ = eval_text(&format!("@utcNow('{}')", quote(&format)), &host);
        let _ = eval_text(&format!("@parseDateTime('{}', 'en-US', '{}')", quote(&text), quote(&format)), &host);
    }

    /// Duration text, well-formed or not, never panics, nor does using the result.
    #[test]
    fn arbitrary_durations_never_panic(text in "-?[PpT0-9YMWDHS.,]{0,24}|\\PC{0,24}") {
        if let Ok(d) = conflux_expr::time::parse_duration(&text) {
            let _ = d.to_std();
            let _ = d.add_to("2024-01-31T00:00:00Z".parse().expect("instant"));
        }
    }
}
