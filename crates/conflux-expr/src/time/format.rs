//! .NET date and time format strings: the standard one-letter specifiers
//! (`d D f F g G M O R s t T u U Y`) and custom patterns (`yyyy-MM-dd HH:mm`,
//! quoted literals, `\` escapes, `%` single specifiers).

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::locale::{Culture, INVARIANT};
use super::timestamp::{Timestamp, TimestampKind};
use super::TimeError;

/// One element of a custom pattern. Counts are how often the letter repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Day(usize),
    /// `f`: exactly this many fraction digits.
    Fraction(usize),
    /// `F`: up to this many fraction digits, trailing zeros dropped.
    FractionTrimmed(usize),
    Era,
    Hour12(usize),
    Hour24(usize),
    Minute(usize),
    Month(usize),
    Second(usize),
    AmPm(usize),
    Year(usize),
    /// `z`, `zz`, `zzz`.
    Offset(usize),
    /// `K`.
    Kind,
    TimeSeparator,
    DateSeparator,
    Literal(String),
}

/// How a standard specifier changes the value before its pattern is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjust {
    None,
    /// `r`, `u`, `U`: show the instant in UTC.
    ToUtc,
}

/// A format resolved to a pattern, the culture its names come from and the adjustment.
pub(crate) struct Resolved<'c> {
    pub tokens: Vec<Token>,
    pub culture: &'c Culture,
    to_utc: bool,
}

/// Checks a format string without formatting anything.
pub fn validate_format(format: &str) -> Result<(), TimeError> {
    resolve(format, &super::locale::EN_US).map(|_| ())
}

/// Formats `ts` with a .NET format string in `culture`. An empty format means `o`.
pub fn format_timestamp(
    ts: &Timestamp,
    format: &str,
    culture: &Culture,
) -> Result<String, TimeError> {
    let resolved = resolve(format, culture)?;
    let ts = if resolved.to_utc {
        ts.to_utc_kind()
    } else {
        *ts
    };
    Ok(render(&ts, &resolved.tokens, resolved.culture))
}

/// Expands a standard specifier or tokenizes a custom pattern.
pub(crate) fn resolve<'c>(format: &str, culture: &'c Culture) -> Result<Resolved<'c>, TimeError> {
    let format = if format.is_empty() { "o" } else { format };
    let mut chars = format.chars();
    let (pattern, culture, adjust): (String, &Culture, Adjust) = match (chars.next(), chars.next())
    {
        (Some(c), None) => {
            let (p, invariant, adjust) = standard(c, culture).ok_or_else(|| TimeError::Format {
                    format: format.to_string(),
                    reason: format!(
                        "'{c}' is not a standard format specifier (use one of d D f F g G m M o O r R s t T u U y Y, or a custom pattern such as 'yyyy-MM-dd')"
                    ),
                })?;
            (p, if invariant { &INVARIANT } else { culture }, adjust)
        }
        _ => (format.to_string(), culture, Adjust::None),
    };
    let tokens = tokenize(&pattern).map_err(|reason| TimeError::Format {
        format: format.to_string(),
        reason,
    })?;
    Ok(Resolved {
        tokens,
        culture,
        to_utc: adjust == Adjust::ToUtc,
    })
}

/// The pattern of a standard specifier, whether it is culture-invariant, and
/// its adjustment. `None` for a letter that is not a standard specifier.
fn standard(c: char, culture: &Culture) -> Option<(String, bool, Adjust)> {
    let join = |a: &str, b: &str| format!("{a} {b}");
    Some(match c {
        'd' => (culture.short_date.to_string(), false, Adjust::None),
        'D' => (culture.long_date.to_string(), false, Adjust::None),
        'f' => (
            join(culture.long_date, culture.short_time),
            false,
            Adjust::None,
        ),
        'F' => (
            join(culture.long_date, culture.long_time),
            false,
            Adjust::None,
        ),
        'g' => (
            join(culture.short_date, culture.short_time),
            false,
            Adjust::None,
        ),
        'G' => (
            join(culture.short_date, culture.long_time),
            false,
            Adjust::None,
        ),
        'm' | 'M' => (culture.month_day.to_string(), false, Adjust::None),
        'o' | 'O' => (
            "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK".to_string(),
            true,
            Adjust::None,
        ),
        'r' | 'R' => (
            "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'".to_string(),
            true,
            Adjust::ToUtc,
        ),
        's' => (
            "yyyy'-'MM'-'dd'T'HH':'mm':'ss".to_string(),
            true,
            Adjust::None,
        ),
        't' => (culture.short_time.to_string(), false, Adjust::None),
        'T' => (culture.long_time.to_string(), false, Adjust::None),
        'u' => (
            "yyyy'-'MM'-'dd HH':'mm':'ss'Z'".to_string(),
            true,
            Adjust::ToUtc,
        ),
        'U' => (
            join(culture.long_date, culture.long_time),
            false,
            Adjust::ToUtc,
        ),
        'y' | 'Y' => (culture.year_month.to_string(), false, Adjust::None),
        _ => return None,
    })
}

/// Splits a custom pattern into tokens; the error says what is malformed.
pub(crate) fn tokenize(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let push_literal = |tokens: &mut Vec<Token>, text: &str| match tokens.last_mut() {
        Some(Token::Literal(s)) => s.push_str(text),
        _ => tokens.push(Token::Literal(text.to_string())),
    };
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        match c {
            'd' | 'f' | 'F' | 'g' | 'h' | 'H' | 'm' | 'M' | 's' | 't' | 'y' | 'z' | 'K' => {
                let token = match c {
                    'd' => Token::Day(run),
                    'f' | 'F' if run > 7 => {
                        return Err(format!(
                            "'{}' asks for more than 7 fraction digits",
                            c.to_string().repeat(run)
                        ))
                    }
                    'f' => Token::Fraction(run),
                    'F' => Token::FractionTrimmed(run),
                    'g' => Token::Era,
                    'h' => Token::Hour12(run.min(2)),
                    'H' => Token::Hour24(run.min(2)),
                    'm' => Token::Minute(run.min(2)),
                    'M' => Token::Month(run),
                    's' => Token::Second(run.min(2)),
                    't' => Token::AmPm(run.min(2)),
                    'y' => Token::Year(run),
                    'z' => Token::Offset(run.min(3)),
                    _ => Token::Kind,
                };
                if c == 'K' {
                    for _ in 0..run {
                        tokens.push(Token::Kind);
                    }
                } else {
                    tokens.push(token);
                }
                i += run;
            }
            ':' => {
                tokens.push(Token::TimeSeparator);
                i += 1;
            }
            '/' => {
                tokens.push(Token::DateSeparator);
                i += 1;
            }
            '\'' | '"' => {
                let close = chars[i + 1..].iter().position(|&x| x == c).ok_or_else(|| {
                    format!("the quoted text starting at position {i} is not closed")
                })?;
                let text: String = chars[i + 1..i + 1 + close].iter().collect();
                push_literal(&mut tokens, &text);
                i += close + 2;
            }
            '\\' => {
                let next = chars
                    .get(i + 1)
                    .ok_or_else(|| "it ends with an unescaped '\\'".to_string())?;
                push_literal(&mut tokens, &next.to_string());
                i += 2;
            }
            '%' => {
                // `%d` makes a lone letter a custom specifier rather than a standard one.
                match chars.get(i + 1) {
                    None | Some('%') => {
                        return Err(format!(
                            "'%' at position {i} is not followed by a specifier"
                        ))
                    }
                    Some(_) => i += 1,
                }
            }
            other => {
                push_literal(&mut tokens, &other.to_string());
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn render(ts: &Timestamp, tokens: &[Token], culture: &Culture) -> String {
    let t: &NaiveDateTime = &ts.local;
    let mut out = String::new();
    let ticks_fraction = t.nanosecond() / 100;
    let has_day_number = tokens.iter().any(|t| matches!(t, Token::Day(1 | 2)));
    for token in tokens {
        match token {
            Token::Day(1) => out.push_str(&t.day().to_string()),
            Token::Day(2) => out.push_str(&format!("{:02}", t.day())),
            Token::Day(3) => out.push_str(culture.day_abbreviations[weekday(t)]),
            Token::Day(_) => out.push_str(culture.day_names[weekday(t)]),
            Token::Fraction(n) => {
                let digits = format!("{ticks_fraction:07}");
                out.push_str(&digits[..*n]);
            }
            Token::FractionTrimmed(n) => {
                let digits = format!("{ticks_fraction:07}");
                let kept = digits[..*n].trim_end_matches('0');
                if kept.is_empty() {
                    // .NET drops the decimal point before an empty `F` fraction.
                    if out.ends_with('.') {
                        out.pop();
                    }
                } else {
                    out.push_str(kept);
                }
            }
            Token::Era => out.push_str("A.D."),
            Token::Hour12(n) => {
                let h = match t.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                pad(&mut out, i64::from(h), *n);
            }
            Token::Hour24(n) => pad(&mut out, i64::from(t.hour()), *n),
            Token::Minute(n) => pad(&mut out, i64::from(t.minute()), *n),
            Token::Second(n) => pad(&mut out, i64::from(t.second()), *n),
            Token::Month(1) => out.push_str(&t.month().to_string()),
            Token::Month(2) => out.push_str(&format!("{:02}", t.month())),
            Token::Month(3) => out.push_str(culture.month_abbreviations[t.month0() as usize]),
            Token::Month(_) => {
                let names = match culture.genitive_months {
                    Some(genitive) if has_day_number => genitive,
                    _ => culture.month_names,
                };
                out.push_str(names[t.month0() as usize]);
            }
            Token::AmPm(n) => {
                let designator = if t.hour() < 12 {
                    culture.am
                } else {
                    culture.pm
                };
                if *n == 1 {
                    out.extend(designator.chars().next());
                } else {
                    out.push_str(designator);
                }
            }
            Token::Year(n) => {
                let year = i64::from(t.year());
                match n {
                    1 => out.push_str(&(year % 100).to_string()),
                    2 => out.push_str(&format!("{:02}", year % 100)),
                    n => pad(&mut out, year, *n),
                }
            }
            Token::Offset(n) => {
                let seconds = ts.offset_seconds();
                let sign = if seconds < 0 { '-' } else { '+' };
                let (h, m) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
                match n {
                    1 => out.push_str(&format!("{sign}{h}")),
                    2 => out.push_str(&format!("{sign}{h:02}")),
                    _ => out.push_str(&format!("{sign}{h:02}:{m:02}")),
                }
            }
            Token::Kind => match ts.kind {
                TimestampKind::Utc => out.push('Z'),
                TimestampKind::Offset(_) => {
                    let seconds = ts.offset_seconds();
                    let sign = if seconds < 0 { '-' } else { '+' };
                    let (h, m) = (seconds.abs() / 3600, seconds.abs() % 3600 / 60);
                    out.push_str(&format!("{sign}{h:02}:{m:02}"));
                }
                TimestampKind::Unspecified => {}
            },
            Token::TimeSeparator => out.push_str(culture.time_separator),
            Token::DateSeparator => out.push_str(culture.date_separator),
            Token::Literal(s) => out.push_str(s),
        }
    }
    out
}

/// Sunday = 0, as .NET's `DayOfWeek`.
pub(crate) fn weekday(t: &NaiveDateTime) -> usize {
    t.weekday().num_days_from_sunday() as usize
}

fn pad(out: &mut String, value: i64, width: usize) {
    out.push_str(&format!("{value:0width$}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::locale::culture;
    use crate::time::parse_timestamp;

    fn fmt(ts: &str, format: &str) -> String {
        fmt_in(ts, format, "en-US")
    }

    fn fmt_in(ts: &str, format: &str, locale: &str) -> String {
        let ts = parse_timestamp(ts).expect("timestamp");
        format_timestamp(&ts, format, culture(locale).expect("culture")).expect(format)
    }

    fn fmt_err(format: &str) -> String {
        let ts = parse_timestamp("2018-01-01T00:00:00Z").expect("timestamp");
        format_timestamp(&ts, format, &super::super::locale::EN_US)
            .expect_err(format)
            .to_string()
    }

    const T: &str = "2025-09-25T05:18:31.3384797Z";

    #[test]
    fn standard_specifiers_en_us() {
        assert_eq!(fmt(T, "o"), "2025-09-25T05:18:31.3384797Z");
        assert_eq!(fmt(T, "O"), "2025-09-25T05:18:31.3384797Z");
        assert_eq!(fmt(T, ""), "2025-09-25T05:18:31.3384797Z");
        assert_eq!(fmt(T, "s"), "2025-09-25T05:18:31");
        assert_eq!(fmt(T, "u"), "2025-09-25 05:18:31Z");
        assert_eq!(fmt(T, "U"), "Thursday, September 25, 2025 5:18:31 AM");
        assert_eq!(fmt(T, "d"), "9/25/2025");
        assert_eq!(fmt(T, "D"), "Thursday, September 25, 2025");
        assert_eq!(fmt(T, "f"), "Thursday, September 25, 2025 5:18 AM");
        assert_eq!(fmt(T, "F"), "Thursday, September 25, 2025 5:18:31 AM");
        assert_eq!(fmt(T, "g"), "9/25/2025 5:18 AM");
        assert_eq!(fmt(T, "G"), "9/25/2025 5:18:31 AM");
        assert_eq!(fmt(T, "t"), "5:18 AM");
        assert_eq!(fmt(T, "T"), "5:18:31 AM");
        assert_eq!(fmt(T, "y"), "September 2025");
        assert_eq!(fmt(T, "M"), "September 25");
        assert_eq!(fmt(T, "r"), "Thu, 25 Sep 2025 05:18:31 GMT");
        assert_eq!(fmt(T, "R"), "Thu, 25 Sep 2025 05:18:31 GMT");
    }

    #[test]
    fn custom_patterns() {
        assert_eq!(fmt(T, "yyyy"), "2025");
        assert_eq!(fmt(T, "ddd, d MMM yyyy"), "Thu, 25 Sep 2025");
        assert_eq!(fmt(T, "yyyy-MM-dd"), "2025-09-25");
        assert_eq!(fmt(T, "yyyy-MM-ddTHH:mm:ss"), "2025-09-25T05:18:31");
        assert_eq!(fmt(T, "hh:mm tt"), "05:18 AM");
        assert_eq!(fmt("2025-09-25T17:00:00Z", "h t"), "5 P");
        assert_eq!(fmt(T, "fff"), "338");
        assert_eq!(fmt(T, "FFFFFFF"), "3384797");
        assert_eq!(fmt("2025-09-25T05:18:31.5Z", "ss.FFF"), "31.5");
        assert_eq!(fmt("2025-09-25T05:18:31Z", "ss.FFF"), "31");
        assert_eq!(fmt(T, "y yy yyy yyyyy"), "25 25 2025 02025");
        assert_eq!(fmt(T, "%d"), "25");
        assert_eq!(fmt(T, "%M"), "9");
        assert_eq!(fmt(T, "'Day' d \\o\\f MMMM"), "Day 25 of September");
        assert_eq!(fmt(T, "\"quoted\" yyyy"), "quoted 2025");
        assert_eq!(fmt(T, "zzz|zz|z|K"), "+00:00|+00|+0|Z");
        assert_eq!(fmt(T, "gg yyyy"), "A.D. 2025");
        assert_eq!(fmt(T, "HHmmss"), "051831");
    }

    #[test]
    fn kinds_render_in_k() {
        assert_eq!(
            fmt("2018-03-15T13:00:00", "o"),
            "2018-03-15T13:00:00.0000000"
        );
        assert_eq!(fmt("03/15/2018", "o"), "2018-03-15T00:00:00.0000000");
        assert_eq!(fmt("2018-03-15T13:00:00Z", "%K"), "Z");
        assert_eq!(fmt("2018-03-15T13:00:00", "zzz"), "+00:00");
    }

    #[test]
    fn cultures() {
        assert_eq!(
            fmt_in("01/31/2016", "dddd MMMM d", "fr-FR"),
            "dimanche janvier 31"
        );
        assert_eq!(
            fmt_in("01/31/2016", "dddd MMMM d", "es-es"),
            "domingo enero 31"
        );
        assert_eq!(fmt_in("01/31/2016", "d", "de-DE"), "31.01.2016");
        assert_eq!(
            fmt_in("01/31/2016", "D", "de-DE"),
            "Sonntag, 31. Januar 2016"
        );
        assert_eq!(fmt_in("01/31/2016", "d", "en-GB"), "31/01/2016");
        assert_eq!(fmt_in("01/31/2016", "D", "ja-JP"), "2016年1月31日日曜日");
        assert_eq!(
            fmt_in("01/31/2016", "D", "es-ES"),
            "domingo, 31 de enero de 2016"
        );
        assert_eq!(fmt_in("01/31/2016", "MM/dd/yyyy", "de-DE"), "01.31.2016");
        assert_eq!(fmt_in("01/31/2016", "d", ""), "01/31/2016");
        assert_eq!(fmt_in("01/31/2016 14:05:00", "T", "nl-NL"), "14:05:00");
        assert_eq!(
            fmt_in("01/04/2018", "D", "pl-PL"),
            "czwartek, 4 stycznia 2018"
        );
        assert_eq!(fmt_in("01/04/2018", "y", "pl-PL"), "styczeń 2018");
        assert_eq!(fmt_in("01/04/2018", "D", "ru-RU"), "4 января 2018 г.");
        assert_eq!(fmt_in("01/04/2018", "MMMM", "ru-RU"), "январь");
        assert_eq!(
            fmt_in("01/04/2018", "D", "fi-FI"),
            "torstai 4. tammikuuta 2018"
        );
        assert_eq!(
            fmt_in("01/04/2018 15:07:00", "g", "ko-KR"),
            "2018. 1. 4. 오후 3:07"
        );
        assert_eq!(fmt_in("01/04/2018", "D", "tr-TR"), "4 Ocak 2018 Perşembe");
    }

    #[test]
    fn invalid_formats_name_the_format() {
        assert!(fmt_err("x").contains("the format 'x' is not valid"));
        assert!(fmt_err("x").contains("not a standard format specifier"));
        assert!(fmt_err("ffffffff").contains("more than 7 fraction digits"));
        assert!(fmt_err("yyyy 'open").contains("not closed"));
        assert!(fmt_err("yyyy\\").contains("unescaped"));
        assert!(fmt_err("%").contains("not a standard format specifier"));
        assert!(fmt_err("yy%").contains("not followed by a specifier"));
    }
}
