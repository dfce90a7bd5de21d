//! Timestamps as text: `formatDateTime`, `parseDateTime` and `utcNow`.

use crate::error::FnResult;
use crate::functions::args::string;
use crate::functions::{FnCtx, FunctionDef};
use crate::time::{self, Timestamp};
use crate::value::Value;

use super::{optional_string, time_error, timestamp_in};

fn locale(args: &[Value], index: usize) -> Result<&'static time::Culture, crate::EvalError> {
    match optional_string(args, index)? {
        None => Ok(&time::EN_US),
        Some(code) => time::culture(code).map_err(time_error),
    }
}

fn format_date_time(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let culture = locale(args, 2)?;
    let ts = timestamp_in(args, 0, Some(culture))?;
    let format = optional_string(args, 1)?.unwrap_or("o");
    time::format_timestamp(&ts, format, culture)
        .map(Value::string)
        .map_err(time_error)
}

fn parse_date_time(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let text = string(args, 0)?;
    let culture = locale(args, 1)?;
    let parsed = match optional_string(args, 2)? {
        Some(format) => time::parse_exact(text, format, culture, ctx.host.now().date_naive()),
        None => time::parse_with_culture(text, culture),
    };
    let ts = parsed.map_err(time_error)?.to_utc_kind();
    time::format_timestamp(&ts, "o", &time::INVARIANT)
        .map(Value::string)
        .map_err(time_error)
}

fn utc_now(ctx: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let now = Timestamp::from_utc(ctx.host.now());
    super::render(&now, args, 0)
}

pub const FORMAT_DATE_TIME: FunctionDef = FunctionDef {
    name: "formatDateTime",
    min_args: 1,
    max_args: Some(3),
    body: format_date_time,
    examples: &[
        (
            "@formatDateTime('03/15/2018')",
            r#""2018-03-15T00:00:00.0000000""#,
        ),
        (
            "@formatDateTime('03/15/2018 12:00:00', 'yyyy-MM-ddTHH:mm:ss')",
            r#""2018-03-15T12:00:00""#,
        ),
        (
            "@formatDateTime('01/31/2016', 'dddd MMMM d')",
            r#""Sunday January 31""#,
        ),
        (
            "@formatDateTime('01/31/2016', 'dddd MMMM d', 'fr-fr')",
            r#""dimanche janvier 31""#,
        ),
        (
            "@formatDateTime('01/31/2016', 'dddd MMMM d', 'fr-FR')",
            r#""dimanche janvier 31""#,
        ),
        (
            "@formatDateTime('01/31/2016', 'dddd MMMM d', 'es-es')",
            r#""domingo enero 31""#,
        ),
    ],
};

pub const PARSE_DATE_TIME: FunctionDef = FunctionDef {
    name: "parseDateTime",
    min_args: 1,
    max_args: Some(3),
    body: parse_date_time,
    examples: &[
        (
            "@parseDateTime('20/10/2014', 'fr-fr')",
            r#""2014-10-20T00:00:00.0000000""#,
        ),
        (
            "@parseDateTime('20 octobre 2010', 'fr-FR')",
            r#""2010-10-20T00:00:00.0000000""#,
        ),
        (
            "@parseDateTime('martes 20 octubre 2020', 'es-es')",
            r#""2020-10-20T00:00:00.0000000""#,
        ),
        (
            "@parseDateTime('21052019', 'fr-fr', 'ddMMyyyy')",
            r#""2019-05-21T00:00:00.0000000""#,
        ),
        (
            "@parseDateTime('20190521', 'fr-fr', 'yyyyMMdd')",
            r#""2019-05-21T00:00:00.0000000""#,
        ),
        (
            "@parseDateTime('10/20/2014 15h', 'en-US', 'MM/dd/yyyy HH\\h')",
            r#""2014-10-20T15:00:00.0000000""#,
        ),
    ],
};

// The documented examples depend on the current time; the unit tests fix the clock.
pub const UTC_NOW: FunctionDef = FunctionDef {
    name: "utcNow",
    min_args: 0,
    max_args: Some(1),
    body: utc_now,
    examples: &[],
};

#[cfg(test)]
mod tests {
    use super::super::test_support::{at, check, check_with};

    #[test]
    fn format_date_time_documented() {
        check(&[
            (
                "formatDateTime",
                &["03/15/2018"],
                r#""2018-03-15T00:00:00.0000000""#,
            ),
            (
                "formatDateTime",
                &["03/15/2018 12:00:00", "yyyy-MM-ddTHH:mm:ss"],
                r#""2018-03-15T12:00:00""#,
            ),
            (
                "formatDateTime",
                &["01/31/2016", "dddd MMMM d"],
                r#""Sunday January 31""#,
            ),
            (
                "formatDateTime",
                &["01/31/2016", "dddd MMMM d", "fr-fr"],
                r#""dimanche janvier 31""#,
            ),
            (
                "formatDateTime",
                &["01/31/2016", "dddd MMMM d", "fr-FR"],
                r#""dimanche janvier 31""#,
            ),
            (
                "formatDateTime",
                &["01/31/2016", "dddd MMMM d", "es-es"],
                r#""domingo enero 31""#,
            ),
        ]);
    }

    #[test]
    fn format_date_time_more() {
        check(&[
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z"],
                r#""2018-03-15T13:00:00.0000000Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00.1234567Z", "o"],
                r#""2018-03-15T13:00:00.1234567Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00+02:00"],
                r#""2018-03-15T11:00:00.0000000Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "r"],
                r#""Thu, 15 Mar 2018 13:00:00 GMT""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "u"],
                r#""2018-03-15 13:00:00Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "D", "de-DE"],
                r#""Donnerstag, 15. März 2018""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "g", "en-GB"],
                r#""15/03/2018 13:00""#,
            ),
            (
                "formatDateTime",
                &["31/01/2016", "d", "fr-FR"],
                r#""31/01/2016""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "", "en-US"],
                r#""2018-03-15T13:00:00.0000000Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "null", "de-DE"],
                r#""2018-03-15T13:00:00.0000000Z""#,
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "yyyy", "xx-XX"],
                "error: the locale 'xx-XX' is not supported",
            ),
            (
                "formatDateTime",
                &["2018-03-15T13:00:00Z", "j"],
                "error: the format 'j' is not valid",
            ),
            (
                "formatDateTime",
                &["someday"],
                "error: the first argument: 'someday' is not a valid timestamp",
            ),
        ]);
    }

    #[test]
    fn parse_date_time_documented() {
        check(&[
            (
                "parseDateTime",
                &["20/10/2014", "fr-fr"],
                r#""2014-10-20T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["20 octobre 2010", "fr-FR"],
                r#""2010-10-20T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["martes 20 octubre 2020", "es-es"],
                r#""2020-10-20T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["\"21052019\"", "fr-fr", "ddMMyyyy"],
                r#""2019-05-21T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["\"20190521\"", "fr-fr", "yyyyMMdd"],
                r#""2019-05-21T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["10/20/2014 15h", "en-US", "MM/dd/yyyy HH\\h"],
                r#""2014-10-20T15:00:00.0000000""#,
            ),
        ]);
    }

    #[test]
    fn parse_date_time_more() {
        check(&[
            (
                "parseDateTime",
                &["10/20/2014"],
                r#""2014-10-20T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["2014-10-20T15:00:00Z"],
                r#""2014-10-20T15:00:00.0000000Z""#,
            ),
            (
                "parseDateTime",
                &["2014-10-20T15:00:00+02:00"],
                r#""2014-10-20T13:00:00.0000000Z""#,
            ),
            (
                "parseDateTime",
                &["Montag, 20. Oktober 2014", "de-DE"],
                r#""2014-10-20T00:00:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["20-10-2014 15:30", "nl-NL"],
                r#""2014-10-20T15:30:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["15:30", "en-US", "HH:mm"],
                r#""2018-03-01T15:30:00.0000000""#,
            ),
            (
                "parseDateTime",
                &["20/10/2014", "en-US"],
                "error: there is no day 10 in month 20",
            ),
            (
                "parseDateTime",
                &["20/10/2014", "fr-FR", "yyyy-MM-dd"],
                "error: for the format 'yyyy-MM-dd'",
            ),
            (
                "parseDateTime",
                &["20/10/2014", "zz-ZZ"],
                "error: the locale 'zz-ZZ' is not supported",
            ),
            (
                "parseDateTime",
                &["20/10/2014", "fr-FR", "Q"],
                "error: the format 'Q' is not valid",
            ),
            (
                "parseDateTime",
                &["banana", "fr-FR"],
                "error: 'banana' is not a valid timestamp",
            ),
        ]);
    }

    #[test]
    fn utc_now_documented() {
        let clock = at("2025-09-25T05:18:31.3384797Z");
        check_with(
            &clock,
            &[
                ("utcNow", &[], r#""2025-09-25T05:18:31.3384797Z""#),
                ("utcNow", &["u"], r#""2025-09-25 05:18:31Z""#),
                (
                    "utcNow",
                    &["U"],
                    r#""Thursday, September 25, 2025 5:18:31 AM""#,
                ),
                ("utcNow", &["d"], r#""9/25/2025""#),
                ("utcNow", &["D"], r#""Thursday, September 25, 2025""#),
                ("utcNow", &["t"], r#""5:18 AM""#),
                ("utcNow", &["T"], r#""5:18:31 AM""#),
                ("utcNow", &["y"], r#""September 2025""#),
                ("utcNow", &["yyyy"], r#""2025""#),
                ("utcNow", &["ddd, d MMM yyyy"], r#""Thu, 25 Sep 2025""#),
                (
                    "utcNow",
                    &["yyyy-MM-ddTHH:mm:ss.fffK"],
                    r#""2025-09-25T05:18:31.338Z""#,
                ),
                ("utcNow", &["w"], "error: the format 'w' is not valid"),
            ],
        );
    }
}
