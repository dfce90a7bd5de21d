//! Parsing against an exact .NET format, as `DateTime.ParseExact` does:
//! `parseDateTime('21052019', 'fr-FR', 'ddMMyyyy')`.

use chrono::{Datelike, NaiveDate};

use super::format::{resolve, weekday, Token};
use super::locale::Culture;
use super::parse::{fraction_nanos, parse_offset, year_of};
use super::timestamp::{truncate_to_ticks, Timestamp, TimestampKind};
use super::TimeError;

/// Parses `text` against a .NET format (standard specifier or custom pattern),
/// as `DateTime.ParseExact` does. A format without date parts takes the date of
/// `default_date` (the current date); otherwise a missing year is that date's
/// year and a missing month or day is 1.
pub fn parse_exact(
    text: &str,
    format: &str,
    culture: &Culture,
    default_date: NaiveDate,
) -> Result<Timestamp, TimeError> {
    let resolved = resolve(format, culture)?;
    let fail = |reason: String| TimeError::Timestamp {
        text: text.to_string(),
        hint: format!(" for the format '{format}' ({reason})"),
    };
    let mut m = Matcher {
        chars: text.trim().chars().collect(),
        pos: 0,
    };
    let c = resolved.culture;
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut hour12 = None;
    let mut afternoon = None;
    let mut day_name = None;
    let mut kind = TimestampKind::Unspecified;
    for token in &resolved.tokens {
        match token {
            Token::Day(n @ (1 | 2)) => {
                day = Some(m.digits(if *n == 1 { 1 } else { 2 }, 2).map_err(&fail)?)
            }
            Token::Day(n) => {
                let names = if *n == 3 {
                    &c.day_abbreviations
                } else {
                    &c.day_names
                };
                day_name = Some(m.name(names).map_err(&fail)?);
            }
            Token::Month(n @ (1 | 2)) => {
                month = Some(m.digits(if *n == 1 { 1 } else { 2 }, 2).map_err(&fail)?)
            }
            Token::Month(n) => {
                let mut names: Vec<&str> = if *n == 3 {
                    c.month_abbreviations.to_vec()
                } else {
                    c.month_names.to_vec()
                };
                names.extend(c.genitive_months.iter().flatten());
                month = Some(m.name(&names).map_err(&fail)? as u32 % 12 + 1);
            }
            Token::Year(n @ (1 | 2)) => {
                let v = m.digits(*n, 2).map_err(&fail)?;
                year = Some(year_of(v, 2));
            }
            Token::Year(n) => year = Some(m.digits((*n).max(4), (*n).max(4)).map_err(&fail)?),
            Token::Hour12(n) => hour12 = Some(m.digits(*n, 2).map_err(&fail)?),
            Token::Hour24(n) => hour = m.digits(*n, 2).map_err(&fail)?,
            Token::Minute(n) => minute = m.digits(*n, 2).map_err(&fail)?,
            Token::Second(n) => second = m.digits(*n, 2).map_err(&fail)?,
            Token::Fraction(n) | Token::FractionTrimmed(n) => {
                let min = if matches!(token, Token::Fraction(_)) {
                    *n
                } else {
                    0
                };
                let start = m.pos;
                let v = m.digits(min, *n).map_err(&fail)?;
                nanos = fraction_nanos(v, m.pos - start);
            }
            Token::AmPm(n) => {
                let (am, pm) = if *n == 1 {
                    (
                        c.am.chars().take(1).collect::<String>(),
                        c.pm.chars().take(1).collect::<String>(),
                    )
                } else {
                    (c.am.to_string(), c.pm.to_string())
                };
                afternoon = Some(m.name(&[am.as_str(), pm.as_str()]).map_err(&fail)? == 1);
            }
            Token::Era => {
                let _ = m.literal("A.D.") || m.literal("AD");
            }
            Token::Offset(_) | Token::Kind => {
                if m.literal("Z") {
                    kind = TimestampKind::Utc;
                } else if matches!(m.peek(), Some('+' | '-')) {
                    let start = m.pos;
                    m.pos += 1;
                    while matches!(m.peek(), Some(c) if c.is_ascii_digit() || c == ':') {
                        m.pos += 1;
                    }
                    let zone: String = m.chars[start..m.pos].iter().collect();
                    let offset = parse_offset(&zone)
                        .ok_or_else(|| fail(format!("'{zone}' is not a valid UTC offset")))?;
                    kind = TimestampKind::Offset(offset);
                } else if matches!(token, Token::Offset(_)) {
                    return Err(fail(format!(
                        "expected a UTC offset at position {}",
                        m.pos + 1
                    )));
                }
            }
            Token::TimeSeparator => m.expect(c.time_separator).map_err(&fail)?,
            Token::DateSeparator => m.expect(c.date_separator).map_err(&fail)?,
            Token::Literal(s) => m.expect(s).map_err(&fail)?,
        }
    }
    if m.pos < m.chars.len() {
        let rest: String = m.chars[m.pos..].iter().collect();
        return Err(fail(format!(
            "unexpected '{rest}' at position {}",
            m.pos + 1
        )));
    }
    if let Some(h) = hour12 {
        if !(1..=12).contains(&h) {
            return Err(fail(format!("hour {h} is not on a 12-hour clock")));
        }
        hour = h % 12;
        if afternoon == Some(true) {
            hour += 12;
        }
    } else if afternoon == Some(true) && hour < 12 {
        hour += 12;
    }
    let no_date = year.is_none() && month.is_none() && day.is_none();
    let y = year.map_or(default_date.year(), |y| y as i32);
    let (mo, d) = if no_date {
        (default_date.month(), default_date.day())
    } else {
        (month.unwrap_or(1), day.unwrap_or(1))
    };
    let date = NaiveDate::from_ymd_opt(y, mo, d)
        .ok_or_else(|| fail(format!("there is no day {d} in month {mo} of year {y}")))?;
    let local = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| {
            fail(format!(
                "{hour:02}:{minute:02}:{second:02} is not a valid time of day"
            ))
        })?;
    if let Some(dn) = day_name {
        if dn != weekday(&local) {
            return Err(fail(
                "the day of the week does not match the date".to_string(),
            ));
        }
    }
    if matches!(format, "r" | "R" | "u") {
        kind = TimestampKind::Utc;
    }
    Ok(Timestamp {
        local: truncate_to_ticks(local),
        kind,
    })
}

/// A cursor over the text being parsed.
struct Matcher {
    chars: Vec<char>,
    pos: usize,
}

impl Matcher {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Between `min` and `max` digits (greedy).
    fn digits(&mut self, min: usize, max: usize) -> Result<u32, String> {
        let start = self.pos;
        while self.pos - start < max && matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
            self.pos += 1;
        }
        let count = self.pos - start;
        if count < min {
            return Err(format!("expected {min} digit(s) at position {}", start + 1));
        }
        if count == 0 {
            return Ok(0);
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        s.parse().map_err(|_| format!("'{s}' is not a number"))
    }

    /// The longest of `names` at the cursor, case-insensitively; its index.
    fn name(&mut self, names: &[&str]) -> Result<usize, String> {
        let best = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty() && self.is_next(n))
            .max_by_key(|(_, n)| n.chars().count());
        match best {
            Some((i, n)) => {
                self.pos += n.chars().count();
                Ok(i)
            }
            None => Err(format!(
                "expected one of {} at position {}",
                names.join(", "),
                self.pos + 1
            )),
        }
    }

    /// True when `s` comes next, compared character by character ignoring case.
    fn is_next(&self, s: &str) -> bool {
        let wanted: Vec<char> = s.chars().collect();
        let end = self.pos + wanted.len();
        end <= self.chars.len()
            && self.chars[self.pos..end]
                .iter()
                .zip(&wanted)
                .all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
    }

    /// Consumes `s` if it is next (case-insensitive).
    fn literal(&mut self, s: &str) -> bool {
        if self.is_next(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    /// Requires `s` next; a space in the pattern matches any run of whitespace.
    fn expect(&mut self, s: &str) -> Result<(), String> {
        for wanted in s.chars() {
            if wanted.is_whitespace() {
                if !matches!(self.peek(), Some(c) if c.is_whitespace()) {
                    return Err(format!("expected a space at position {}", self.pos + 1));
                }
                while matches!(self.peek(), Some(c) if c.is_whitespace()) {
                    self.pos += 1;
                }
            } else if !self.literal(&wanted.to_string()) {
                return Err(format!("expected '{wanted}' at position {}", self.pos + 1));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::locale::culture;
    use chrono::{NaiveDateTime, Timelike};

    fn ts(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|x| x.and_hms_opt(h, mi, s))
            .expect("valid")
    }

    fn exact(text: &str, locale: &str, format: &str) -> Result<NaiveDateTime, String> {
        let today = NaiveDate::from_ymd_opt(2024, 6, 1).expect("valid");
        parse_exact(text, format, culture(locale).expect("culture"), today)
            .map(|t| t.local)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn exact_patterns_with_genitive_months() {
        assert_eq!(
            exact("4 stycznia 2018", "pl-PL", "d MMMM yyyy"),
            Ok(ts(2018, 1, 4, 0, 0, 0))
        );
        assert_eq!(
            exact("styczeń 2018", "pl-PL", "MMMM yyyy"),
            Ok(ts(2018, 1, 1, 0, 0, 0))
        );
    }

    #[test]
    fn exact_patterns() {
        assert_eq!(
            exact("21052019", "fr-fr", "ddMMyyyy"),
            Ok(ts(2019, 5, 21, 0, 0, 0))
        );
        assert_eq!(
            exact("20190521", "fr-fr", "yyyyMMdd"),
            Ok(ts(2019, 5, 21, 0, 0, 0))
        );
        assert_eq!(
            exact("10/20/2014 15h", "en-US", "MM/dd/yyyy HH\\h"),
            Ok(ts(2014, 10, 20, 15, 0, 0))
        );
        assert_eq!(
            exact("20.10.2014", "de-DE", "d"),
            Ok(ts(2014, 10, 20, 0, 0, 0))
        );
        assert_eq!(
            exact("Oct 5, 14 3:04 pm", "en-US", "MMM d, yy h:mm tt"),
            Ok(ts(2014, 10, 5, 15, 4, 0))
        );
        assert_eq!(
            exact("13:45", "en-US", "HH:mm"),
            Ok(ts(2024, 6, 1, 13, 45, 0))
        );
        assert_eq!(
            exact("2014-10-20T15:00:00.5000000Z", "en-US", "o").map(|t| t.nanosecond()),
            Ok(500_000_000)
        );
        assert!(exact("2014-10-20", "en-US", "dd/MM/yyyy")
            .expect_err("mismatch")
            .contains("for the format 'dd/MM/yyyy'"));
        assert!(exact("2014-10-20x", "en-US", "yyyy-MM-dd")
            .expect_err("extra")
            .contains("unexpected 'x'"));
        assert!(exact("lundi 21/05/2019", "fr-FR", "dddd dd/MM/yyyy")
            .expect_err("weekday")
            .contains("day of the week"));
    }
}
