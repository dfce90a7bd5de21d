//! Calendar parts of a timestamp: `startOfDay`, `startOfHour`, `startOfMonth`,
//! `dayOfMonth`, `dayOfWeek`, `dayOfYear`, `ticks`, and the span between two
//! timestamps, `dateDifference`.

use chrono::{Datelike, NaiveTime, Timelike};

use crate::error::FnResult;
use crate::functions::{FnCtx, FunctionDef};
use crate::time::Timestamp;
use crate::value::Value;

use super::{render, timestamp};

fn start_of_day(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ts = timestamp(args, 0)?;
    render(
        &ts.with_local(ts.local.date().and_time(NaiveTime::MIN)),
        args,
        1,
    )
}

fn start_of_hour(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ts = timestamp(args, 0)?;
    let hour = NaiveTime::from_hms_opt(ts.local.hour(), 0, 0).unwrap_or(NaiveTime::MIN);
    render(&ts.with_local(ts.local.date().and_time(hour)), args, 1)
}

fn start_of_month(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ts = timestamp(args, 0)?;
    let first = ts.local.date().with_day(1).unwrap_or(ts.local.date());
    render(&ts.with_local(first.and_time(NaiveTime::MIN)), args, 1)
}

fn day_of_month(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Int(i64::from(timestamp(args, 0)?.local.day())))
}

fn day_of_week(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let day = timestamp(args, 0)?.local.weekday().num_days_from_sunday();
    Ok(Value::Int(i64::from(day)))
}

fn day_of_year(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Int(i64::from(timestamp(args, 0)?.local.ordinal())))
}

fn ticks(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(Value::Int(timestamp(args, 0)?.ticks()))
}

/// `end − start` as .NET prints a `TimeSpan`: `[-][d.]hh:mm:ss[.fffffff]`.
fn date_difference(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let start = timestamp(args, 0)?;
    let end = timestamp(args, 1)?;
    let ticks = instant_ticks(&end) - instant_ticks(&start);
    Ok(Value::string(timespan_text(ticks)))
}

fn timespan_text(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let t = ticks.unsigned_abs();
    let fraction = t % 10_000_000;
    let total_seconds = t / 10_000_000;
    let (days, hours) = (total_seconds / 86_400, total_seconds / 3600 % 24);
    let (minutes, seconds) = (total_seconds / 60 % 60, total_seconds % 60);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{hours:02}:{minutes:02}:{seconds:02}"));
    if fraction > 0 {
        out.push_str(&format!(".{fraction:07}"));
    }
    out
}

/// Ticks of the instant (zone-less times read as UTC), for differences.
fn instant_ticks(ts: &Timestamp) -> i64 {
    Timestamp::from_utc(ts.instant()).ticks()
}

pub const START_OF_DAY: FunctionDef = FunctionDef {
    name: "startOfDay",
    min_args: 1,
    max_args: Some(2),
    body: start_of_day,
    examples: &[(
        "@startOfDay('2018-03-15T13:30:30Z')",
        r#""2018-03-15T00:00:00.0000000Z""#,
    )],
};

pub const START_OF_HOUR: FunctionDef = FunctionDef {
    name: "startOfHour",
    min_args: 1,
    max_args: Some(2),
    body: start_of_hour,
    examples: &[(
        "@startOfHour('2018-03-15T13:30:30Z')",
        r#""2018-03-15T13:00:00.0000000Z""#,
    )],
};

pub const START_OF_MONTH: FunctionDef = FunctionDef {
    name: "startOfMonth",
    min_args: 1,
    max_args: Some(2),
    body: start_of_month,
    examples: &[
        (
            "@startOfMonth('2018-03-15T13:30:30Z')",
            r#""2018-03-01T00:00:00.0000000Z""#,
        ),
        (
            "@startOfMonth('2018-03-15T13:30:30Z', 'yyyy-MM-dd')",
            r#""2018-03-01""#,
        ),
    ],
};

pub const DAY_OF_MONTH: FunctionDef = FunctionDef {
    name: "dayOfMonth",
    min_args: 1,
    max_args: Some(1),
    body: day_of_month,
    examples: &[("@dayOfMonth('2018-03-15T13:27:36Z')", "15")],
};

pub const DAY_OF_WEEK: FunctionDef = FunctionDef {
    name: "dayOfWeek",
    min_args: 1,
    max_args: Some(1),
    body: day_of_week,
    examples: &[("@dayOfWeek('2018-03-15T13:27:36Z')", "4")],
};

pub const DAY_OF_YEAR: FunctionDef = FunctionDef {
    name: "dayOfYear",
    min_args: 1,
    max_args: Some(1),
    body: day_of_year,
    examples: &[("@dayOfYear('2018-03-15T13:27:36Z')", "74")],
};

pub const TICKS: FunctionDef = FunctionDef {
    name: "ticks",
    min_args: 1,
    max_args: Some(1),
    body: ticks,
    examples: &[("@ticks('2018-03-15T13:27:36Z')", "636567172560000000")],
};

pub const DATE_DIFFERENCE: FunctionDef = FunctionDef {
    name: "dateDifference",
    min_args: 2,
    max_args: Some(2),
    body: date_difference,
    examples: &[(
        "@dateDifference('2015-02-08', '2018-07-30')",
        r#""1268.00:00:00""#,
    )],
};

#[cfg(test)]
mod tests {
    use super::super::test_support::check;

    #[test]
    fn start_of_period() {
        check(&[
            (
                "startOfDay",
                &["2018-03-15T13:30:30Z"],
                r#""2018-03-15T00:00:00.0000000Z""#,
            ),
            (
                "startOfDay",
                &["2018-03-15T13:30:30"],
                r#""2018-03-15T00:00:00.0000000""#,
            ),
            (
                "startOfDay",
                &["2018-03-15T13:30:30Z", "d"],
                r#""3/15/2018""#,
            ),
            (
                "startOfDay",
                &["2018-03-15T01:30:30+03:00"],
                r#""2018-03-14T00:00:00.0000000Z""#,
            ),
            (
                "startOfHour",
                &["2018-03-15T13:30:30.5Z"],
                r#""2018-03-15T13:00:00.0000000Z""#,
            ),
            (
                "startOfHour",
                &["2018-03-15T13:30:30Z", "HH:mm"],
                r#""13:00""#,
            ),
            (
                "startOfMonth",
                &["2018-03-15T13:30:30Z"],
                r#""2018-03-01T00:00:00.0000000Z""#,
            ),
            (
                "startOfMonth",
                &["2018-03-15T13:30:30Z", "yyyy-MM-dd"],
                r#""2018-03-01""#,
            ),
            (
                "startOfMonth",
                &["tomorrow"],
                "error: 'tomorrow' is not a valid timestamp",
            ),
            (
                "startOfMonth",
                &["2018-03-15T13:30:30Z", "%"],
                "error: the format '%' is not valid",
            ),
        ]);
    }

    #[test]
    fn calendar_parts() {
        check(&[
            ("dayOfMonth", &["2018-03-15T13:27:36Z"], "15"),
            ("dayOfMonth", &["03/01/2018"], "1"),
            ("dayOfWeek", &["2018-03-15T13:27:36Z"], "4"),
            ("dayOfWeek", &["2018-03-18T00:00:00Z"], "0"),
            ("dayOfWeek", &["2018-03-17T23:59:59Z"], "6"),
            ("dayOfYear", &["2018-03-15T13:27:36Z"], "74"),
            ("dayOfYear", &["2016-12-31"], "366"),
            ("dayOfYear", &["2018-12-31"], "365"),
            (
                "dayOfWeek",
                &["null"],
                "error: the first argument must be a String (a timestamp), got Null",
            ),
        ]);
    }

    #[test]
    fn ticks_since_year_one() {
        check(&[
            ("ticks", &["2018-03-15T13:27:36Z"], "636567172560000000"),
            (
                "ticks",
                &["2018-03-15T13:27:36.1234567Z"],
                "636567172561234567",
            ),
            ("ticks", &["0001-01-01T00:00:00Z"], "0"),
            ("ticks", &["1970-01-01"], "621355968000000000"),
            (
                "ticks",
                &["2018-03-15T15:27:36+02:00"],
                "636567172560000000",
            ),
        ]);
    }

    #[test]
    fn date_difference_as_timespan() {
        check(&[
            (
                "dateDifference",
                &["2015-02-08", "2018-07-30"],
                r#""1268.00:00:00""#,
            ),
            (
                "dateDifference",
                &["2018-07-30", "2015-02-08"],
                r#""-1268.00:00:00""#,
            ),
            (
                "dateDifference",
                &["2018-01-01T00:00:00Z", "2018-01-01T05:04:03Z"],
                r#""05:04:03""#,
            ),
            (
                "dateDifference",
                &["2018-01-01T00:00:00Z", "2018-01-02T00:00:00.5Z"],
                r#""1.00:00:00.5000000""#,
            ),
            (
                "dateDifference",
                &["2018-01-01T00:00:00Z", "2018-01-01T00:00:00Z"],
                r#""00:00:00""#,
            ),
            (
                "dateDifference",
                &["2018-01-01T00:00:00Z", "2018-01-01T02:00:00+02:00"],
                r#""00:00:00""#,
            ),
            (
                "dateDifference",
                &["2018-01-01T00:00:00Z", "soon"],
                "error: the second argument: 'soon' is not a valid timestamp",
            ),
        ]);
    }
}
