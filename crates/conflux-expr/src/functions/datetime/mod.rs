//! Date and time functions: arithmetic (`addDays`, `addToTime`, `getFutureTime`,
//! ...), calendar parts (`dayOfWeek`, `startOfMonth`, `ticks`, `dateDifference`),
//! time zones (`convertTimeZone`, ...) and text (`formatDateTime`,
//! `parseDateTime`, `utcNow`).
//!
//! Timestamps are strings. Each function parses its timestamp argument with
//! [`crate::time`], keeps its kind (UTC, or no zone) and renders the result with
//! the optional .NET format argument, `o` by default:
//! `addDays('2018-03-15T00:00:00Z', 10)` is `"2018-03-25T00:00:00.0000000Z"`,
//! `addDays('2018-03-15', 10)` is `"2018-03-25T00:00:00.0000000"`. A timestamp
//! written with an offset is moved to UTC first. The clock is the host's.

use crate::error::EvalError;
use crate::functions::args::{arg, ordinal, type_error};
use crate::time::{self, Culture, TimeError, Timestamp, TimestampKind};
use crate::value::Value;

use super::FunctionDef;

mod arithmetic;
mod calendar;
mod text;
mod zones;

pub static FUNCTIONS: &[FunctionDef] = &[
    arithmetic::ADD_DAYS,
    arithmetic::ADD_HOURS,
    arithmetic::ADD_MINUTES,
    arithmetic::ADD_SECONDS,
    arithmetic::ADD_TO_TIME,
    arithmetic::SUBTRACT_FROM_TIME,
    arithmetic::GET_FUTURE_TIME,
    arithmetic::GET_PAST_TIME,
    calendar::START_OF_DAY,
    calendar::START_OF_HOUR,
    calendar::START_OF_MONTH,
    calendar::DAY_OF_MONTH,
    calendar::DAY_OF_WEEK,
    calendar::DAY_OF_YEAR,
    calendar::TICKS,
    calendar::DATE_DIFFERENCE,
    zones::CONVERT_FROM_UTC,
    zones::CONVERT_TIME_ZONE,
    zones::CONVERT_TO_UTC,
    text::FORMAT_DATE_TIME,
    text::PARSE_DATE_TIME,
    text::UTC_NOW,
];

fn time_error(e: TimeError) -> EvalError {
    EvalError::new(e.to_string())
}

/// The timestamp argument at `index`, read as `en-US`/ISO text; an offset is
/// moved to UTC, as the runtime does.
fn timestamp(args: &[Value], index: usize) -> Result<Timestamp, EvalError> {
    timestamp_in(args, index, None)
}

/// Like [`timestamp`], trying `culture` when the text is not an `en-US` date.
fn timestamp_in(
    args: &[Value],
    index: usize,
    culture: Option<&Culture>,
) -> Result<Timestamp, EvalError> {
    let text = match arg(args, index) {
        Value::String(s) => s,
        other => return Err(type_error(index, "String (a timestamp)", other)),
    };
    let parsed = match time::parse_timestamp(text) {
        Ok(ts) => Ok(ts),
        Err(first) => match culture {
            Some(c) => time::parse_with_culture(text, c).map_err(|_| first),
            None => Err(first),
        },
    };
    parsed
        .map(|ts| ts.to_utc_kind())
        .map_err(|e| EvalError::new(format!("the {} argument: {e}", ordinal(index))))
}

/// An optional string argument (`null` or absent reads as not given).
fn optional_string(args: &[Value], index: usize) -> Result<Option<&str>, EvalError> {
    match arg(args, index) {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(type_error(index, "String", other)),
    }
}

/// Renders `ts` with the optional format argument at `index` (`o` when absent), `en-US`.
fn render(ts: &Timestamp, args: &[Value], index: usize) -> Result<Value, EvalError> {
    let format = optional_string(args, index)?.unwrap_or("o");
    time::format_timestamp(ts, format, &time::EN_US)
        .map(Value::string)
        .map_err(time_error)
}

/// The result of wall-clock arithmetic, checked against .NET's range (years 1–9999).
fn in_range(ts: Option<Timestamp>) -> Result<Timestamp, EvalError> {
    use chrono::Datelike as _;
    match ts {
        Some(ts) if (1..=9999).contains(&ts.local.year()) => Ok(ts),
        _ => Err(time_error(TimeError::OutOfRange)),
    }
}

/// True when `kind` carries a zone (the result is an instant, not a wall-clock time).
fn is_zoned(kind: TimestampKind) -> bool {
    !matches!(kind, TimestampKind::Unspecified)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Calls function bodies directly, with a host whose clock is fixed.

    use chrono::{DateTime, Utc};

    use crate::functions::{lookup, FnCtx};
    use crate::host::EvalHost;
    use crate::value::Value;

    pub struct FixedClock(pub DateTime<Utc>);

    impl EvalHost for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    /// `2018-03-01T00:00:00Z`, the "current time" of the getFutureTime examples.
    pub fn default_clock() -> FixedClock {
        at("2018-03-01T00:00:00Z")
    }

    pub fn at(now: &str) -> FixedClock {
        FixedClock(now.parse().expect("test clock"))
    }

    fn to_value(arg: &str) -> Value {
        Value::from_json_str(arg).unwrap_or_else(|_| Value::string(arg))
    }

    /// Calls `name` with arguments written as JSON when they parse as JSON (`5`,
    /// `null`, `"\"10\""`) and as plain strings otherwise (`2018-01-01T00:00:00Z`,
    /// `Day`); returns compact JSON or `error: message`.
    pub fn call_with(host: &dyn EvalHost, name: &str, args: &[&str]) -> String {
        let def = lookup(name).unwrap_or_else(|| panic!("{name} is not registered"));
        assert!(args.len() >= def.min_args, "{name}: too few arguments");
        assert!(
            def.max_args.is_none_or(|max| args.len() <= max),
            "{name}: too many arguments"
        );
        let values: Vec<Value> = args.iter().map(|a| to_value(a)).collect();
        match (def.body)(&FnCtx { host }, &values) {
            Ok(v) => v.to_json_string(),
            Err(e) => format!("error: {}", e.message),
        }
    }

    /// Asserts every `(function, args, expected)` case; `expected` is compact JSON
    /// or `error: <fragment>`. Lists every mismatch.
    pub fn check(cases: &[(&str, &[&str], &str)]) {
        check_with(&default_clock(), cases);
    }

    pub fn check_with(host: &dyn EvalHost, cases: &[(&str, &[&str], &str)]) {
        let mut failures = Vec::new();
        for (name, args, expected) in cases {
            let got = call_with(host, name, args);
            let ok = match expected.strip_prefix("error: ") {
                Some(fragment) => got.starts_with("error: ") && got.contains(fragment),
                None => got == *expected,
            };
            if !ok {
                failures.push(format!(
                    "  {name}{args:?}\n    expected {expected}\n    got      {got}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} case(s) failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
