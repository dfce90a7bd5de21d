//! Moving a timestamp: `addDays`, `addHours`, `addMinutes`, `addSeconds`,
//! `addToTime`, `subtractFromTime`, `getFutureTime`, `getPastTime`.
//!
//! Arithmetic is on the wall clock of the timestamp, as .NET's `DateTime.Add*`:
//! months and years clamp the day to the end of a shorter month
//! (`addToTime('2018-01-31', 1, 'Month')` is February 28).

use chrono::{Duration, Months, NaiveDateTime};

use crate::error::{EvalError, FnResult};
use crate::functions::args::{integer, string};
use crate::functions::{FnCtx, FunctionDef};
use crate::time::Timestamp;
use crate::value::Value;

use super::{in_range, render, timestamp};

/// The units `addToTime` and friends accept (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimeUnit {
    fn parse(text: &str) -> Result<TimeUnit, EvalError> {
        const UNITS: [(&str, TimeUnit); 7] = [
            ("Second", TimeUnit::Second),
            ("Minute", TimeUnit::Minute),
            ("Hour", TimeUnit::Hour),
            ("Day", TimeUnit::Day),
            ("Week", TimeUnit::Week),
            ("Month", TimeUnit::Month),
            ("Year", TimeUnit::Year),
        ];
        UNITS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
            .map(|(_, unit)| *unit)
            .ok_or_else(|| {
                EvalError::new(format!(
                    "the time unit '{text}' is not valid (use Second, Minute, Hour, Day, Week, Month or Year)"
                ))
            })
    }
}

/// `t` moved by `n` units; `None` when the result leaves the calendar.
fn shift(t: NaiveDateTime, n: i64, unit: TimeUnit) -> Option<NaiveDateTime> {
    let fixed = |d: Option<Duration>| d.and_then(|d| t.checked_add_signed(d));
    match unit {
        TimeUnit::Second => fixed(Duration::try_seconds(n)),
        TimeUnit::Minute => fixed(Duration::try_minutes(n)),
        TimeUnit::Hour => fixed(Duration::try_hours(n)),
        TimeUnit::Day => fixed(Duration::try_days(n)),
        TimeUnit::Week => fixed(Duration::try_weeks(n)),
        TimeUnit::Month | TimeUnit::Year => {
            let months = if unit == TimeUnit::Year {
                n.checked_mul(12)?
            } else {
                n
            };
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            if months >= 0 {
                t.checked_add_months(m)
            } else {
                t.checked_sub_months(m)
            }
        }
    }
}

fn shifted(ts: Timestamp, n: i64, unit: TimeUnit) -> Result<Timestamp, EvalError> {
    in_range(shift(ts.local, n, unit).map(|local| ts.with_local(local)))
}

fn add_fixed(args: &[Value], unit: TimeUnit) -> FnResult {
    let ts = timestamp(args, 0)?;
    let n = integer(args, 1)?;
    render(&shifted(ts, n, unit)?, args, 2)
}

fn add_days(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    add_fixed(args, TimeUnit::Day)
}

fn add_hours(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    add_fixed(args, TimeUnit::Hour)
}

fn add_minutes(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    add_fixed(args, TimeUnit::Minute)
}

fn add_seconds(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    add_fixed(args, TimeUnit::Second)
}

fn negate(n: i64) -> Result<i64, EvalError> {
    n.checked_neg()
        .ok_or_else(|| EvalError::new(format!("the interval {n} cannot be negated")))
}

fn add_to_time(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ts = timestamp(args, 0)?;
    let n = integer(args, 1)?;
    let unit = TimeUnit::parse(string(args, 2)?)?;
    render(&shifted(ts, n, unit)?, args, 3)
}

fn subtract_from_time(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ts = timestamp(args, 0)?;
    let n = negate(integer(args, 1)?)?;
    let unit = TimeUnit::parse(string(args, 2)?)?;
    render(&shifted(ts, n, unit)?, args, 3)
}

fn relative_to_now(ctx: &FnCtx<'_>, args: &[Value], sign: i64) -> FnResult {
    let n = integer(args, 0)?;
    let n = if sign < 0 { negate(n)? } else { n };
    let unit = TimeUnit::parse(string(args, 1)?)?;
    let now = Timestamp::from_utc(ctx.host.now());
    render(&shifted(now, n, unit)?, args, 2)
}

fn get_future_time(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    relative_to_now(ctx, args, 1)
}

fn get_past_time(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    relative_to_now(ctx, args, -1)
}

pub const ADD_DAYS: FunctionDef = FunctionDef {
    name: "addDays",
    min_args: 2,
    max_args: Some(3),
    body: add_days,
    examples: &[
        (
            "@addDays('2018-03-15T00:00:00Z', 10)",
            r#""2018-03-25T00:00:00.0000000Z""#,
        ),
        (
            "@addDays('2018-03-15T00:00:00Z', -5)",
            r#""2018-03-10T00:00:00.0000000Z""#,
        ),
    ],
};

pub const ADD_HOURS: FunctionDef = FunctionDef {
    name: "addHours",
    min_args: 2,
    max_args: Some(3),
    body: add_hours,
    examples: &[
        (
            "@addHours('2018-03-15T00:00:00Z', 10)",
            r#""2018-03-15T10:00:00.0000000Z""#,
        ),
        (
            "@addHours('2018-03-15T15:00:00Z', -5)",
            r#""2018-03-15T10:00:00.0000000Z""#,
        ),
    ],
};

pub const ADD_MINUTES: FunctionDef = FunctionDef {
    name: "addMinutes",
    min_args: 2,
    max_args: Some(3),
    body: add_minutes,
    examples: &[
        (
            "@addMinutes('2018-03-15T00:10:00Z', 10)",
            r#""2018-03-15T00:20:00.0000000Z""#,
        ),
        (
            "@addMinutes('2018-03-15T00:20:00Z', -5)",
            r#""2018-03-15T00:15:00.0000000Z""#,
        ),
    ],
};

pub const ADD_SECONDS: FunctionDef = FunctionDef {
    name: "addSeconds",
    min_args: 2,
    max_args: Some(3),
    body: add_seconds,
    examples: &[
        (
            "@addSeconds('2018-03-15T00:00:00Z', 10)",
            r#""2018-03-15T00:00:10.0000000Z""#,
        ),
        (
            "@addSeconds('2018-03-15T00:00:30Z', -5)",
            r#""2018-03-15T00:00:25.0000000Z""#,
        ),
    ],
};

pub const ADD_TO_TIME: FunctionDef = FunctionDef {
    name: "addToTime",
    min_args: 3,
    max_args: Some(4),
    body: add_to_time,
    examples: &[
        (
            "@addToTime('2018-01-01T00:00:00Z', 1, 'Day')",
            r#""2018-01-02T00:00:00.0000000Z""#,
        ),
        (
            "@addToTime('2018-01-01T00:00:00Z', 1, 'Day', 'D')",
            r#""Tuesday, January 2, 2018""#,
        ),
    ],
};

pub const SUBTRACT_FROM_TIME: FunctionDef = FunctionDef {
    name: "subtractFromTime",
    min_args: 3,
    max_args: Some(4),
    body: subtract_from_time,
    examples: &[
        (
            "@subtractFromTime('2018-01-02T00:00:00Z', 1, 'Day')",
            r#""2018-01-01T00:00:00.0000000Z""#,
        ),
        // The reference page shows "Monday, January, 1, 2018", which is not what
        // the `D` pattern produces; the rule wins (docs/expressions-datetime.md).
        (
            "@subtractFromTime('2018-01-02T00:00:00Z', 1, 'Day', 'D')",
            r#""Monday, January 1, 2018""#,
        ),
    ],
};

// The documented examples of these two depend on the current time, so they live
// in the unit tests, which fix the clock.
pub const GET_FUTURE_TIME: FunctionDef = FunctionDef {
    name: "getFutureTime",
    min_args: 2,
    max_args: Some(3),
    body: get_future_time,
    examples: &[],
};

pub const GET_PAST_TIME: FunctionDef = FunctionDef {
    name: "getPastTime",
    min_args: 2,
    max_args: Some(3),
    body: get_past_time,
    examples: &[],
};

#[cfg(test)]
mod tests {
    use super::super::test_support::{at, check, check_with};

    #[test]
    fn add_fixed_units() {
        check(&[
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "10"],
                r#""2018-03-25T00:00:00.0000000Z""#,
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "-5"],
                r#""2018-03-10T00:00:00.0000000Z""#,
            ),
            (
                "addDays",
                &["2018-03-15", "1"],
                r#""2018-03-16T00:00:00.0000000""#,
            ),
            (
                "addDays",
                &["03/15/2018", "1", "yyyy-MM-dd"],
                r#""2018-03-16""#,
            ),
            (
                "addDays",
                &["2018-03-15T13:00:00+02:00", "1"],
                r#""2018-03-16T11:00:00.0000000Z""#,
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00.1234567Z", "1"],
                r#""2018-03-16T00:00:00.1234567Z""#,
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "1", "null"],
                r#""2018-03-16T00:00:00.0000000Z""#,
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "2.0"],
                r#""2018-03-17T00:00:00.0000000Z""#,
            ),
            (
                "addHours",
                &["2018-03-15T00:00:00Z", "10"],
                r#""2018-03-15T10:00:00.0000000Z""#,
            ),
            (
                "addHours",
                &["2018-03-15T15:00:00Z", "-5"],
                r#""2018-03-15T10:00:00.0000000Z""#,
            ),
            (
                "addHours",
                &["2018-12-31T23:00:00Z", "1"],
                r#""2019-01-01T00:00:00.0000000Z""#,
            ),
            (
                "addMinutes",
                &["2018-03-15T00:10:00Z", "10"],
                r#""2018-03-15T00:20:00.0000000Z""#,
            ),
            (
                "addMinutes",
                &["2018-03-15T00:20:00Z", "-5"],
                r#""2018-03-15T00:15:00.0000000Z""#,
            ),
            (
                "addSeconds",
                &["2018-03-15T00:00:00Z", "10"],
                r#""2018-03-15T00:00:10.0000000Z""#,
            ),
            (
                "addSeconds",
                &["2018-03-15T00:00:30Z", "-5"],
                r#""2018-03-15T00:00:25.0000000Z""#,
            ),
            (
                "addSeconds",
                &["2018-03-15T00:00:30Z", "5", "s"],
                r#""2018-03-15T00:00:35""#,
            ),
        ]);
    }

    #[test]
    fn add_fixed_errors() {
        check(&[
            (
                "addDays",
                &["not a date", "1"],
                "error: the first argument: 'not a date' is not a valid timestamp",
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "\"1\""],
                "error: the second argument must be an Integer",
            ),
            (
                "addDays",
                &["5", "1"],
                "error: the first argument must be a String (a timestamp), got Integer",
            ),
            (
                "addDays",
                &["2018-03-15T00:00:00Z", "1", "q"],
                "error: the format 'q' is not valid",
            ),
            (
                "addDays",
                &["9999-12-31T00:00:00Z", "1"],
                "error: outside the supported range",
            ),
            (
                "addDays",
                &["0001-01-01T00:00:00Z", "-1"],
                "error: outside the supported range",
            ),
            (
                "addSeconds",
                &["2018-03-15T00:00:00Z", "9223372036854775807"],
                "error: outside the supported range",
            ),
        ]);
    }

    #[test]
    fn add_to_time_units() {
        check(&[
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "1", "Day"],
                r#""2018-01-02T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "1", "Day", "D"],
                r#""Tuesday, January 2, 2018""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "90", "second"],
                r#""2018-01-01T00:01:30.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "2", "MINUTE"],
                r#""2018-01-01T00:02:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "3", "Hour"],
                r#""2018-01-01T03:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "2", "Week"],
                r#""2018-01-15T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-31T00:00:00Z", "1", "Month"],
                r#""2018-02-28T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2020-01-31T00:00:00Z", "1", "Month"],
                r#""2020-02-29T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2020-02-29T00:00:00Z", "1", "Year"],
                r#""2021-02-28T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-03-31T00:00:00Z", "-1", "Month"],
                r#""2018-02-28T00:00:00.0000000Z""#,
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "1", "Days"],
                "error: the time unit 'Days' is not valid",
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "1", "5"],
                "error: the third argument must be a String",
            ),
            (
                "addToTime",
                &["2018-01-01T00:00:00Z", "8000", "Year"],
                "error: outside the supported range",
            ),
        ]);
    }

    #[test]
    fn subtract_from_time_units() {
        check(&[
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00Z", "1", "Day"],
                r#""2018-01-01T00:00:00.0000000Z""#,
            ),
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00Z", "1", "Day", "D"],
                r#""Monday, January 1, 2018""#,
            ),
            (
                "subtractFromTime",
                &["2018-03-31T00:00:00Z", "1", "Month"],
                r#""2018-02-28T00:00:00.0000000Z""#,
            ),
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00Z", "-1", "Week"],
                r#""2018-01-09T00:00:00.0000000Z""#,
            ),
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00", "1", "Year"],
                r#""2017-01-02T00:00:00.0000000""#,
            ),
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00Z", "-9223372036854775808", "Second"],
                "error: cannot be negated",
            ),
            (
                "subtractFromTime",
                &["2018-01-02T00:00:00Z", "1", "Fortnight"],
                "error: the time unit 'Fortnight' is not valid",
            ),
        ]);
    }

    #[test]
    fn future_and_past_use_the_host_clock() {
        check(&[
            (
                "getFutureTime",
                &["5", "Day"],
                r#""2018-03-06T00:00:00.0000000Z""#,
            ),
            (
                "getFutureTime",
                &["5", "Day", "D"],
                r#""Tuesday, March 6, 2018""#,
            ),
            (
                "getFutureTime",
                &["1", "Month"],
                r#""2018-04-01T00:00:00.0000000Z""#,
            ),
            (
                "getFutureTime",
                &["1", "Eon"],
                "error: the time unit 'Eon' is not valid",
            ),
        ]);
        let feb = at("2018-02-01T00:00:00Z");
        check_with(
            &feb,
            &[
                (
                    "getPastTime",
                    &["5", "Day"],
                    r#""2018-01-27T00:00:00.0000000Z""#,
                ),
                (
                    "getPastTime",
                    &["5", "Day", "D"],
                    r#""Saturday, January 27, 2018""#,
                ),
                ("getPastTime", &["1", "Year", "yyyy"], r#""2017""#),
            ],
        );
        let precise = at("2025-09-25T05:18:31.338479712Z");
        check_with(
            &precise,
            &[(
                "getFutureTime",
                &["1", "Second"],
                r#""2025-09-25T05:18:32.3384797Z""#,
            )],
        );
    }
}
