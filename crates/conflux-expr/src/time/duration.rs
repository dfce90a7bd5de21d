//! ISO 8601 durations (`P1D`, `PT5S`, `P1Y2M10DT2H30M`), as workflow definitions
//! use them for retry intervals, timeouts, Wait actions and recurrences.

use chrono::{DateTime, Duration as ChronoDuration, Months, Utc};

use super::TimeError;

/// A parsed ISO 8601 duration. Components are kept apart because years and
/// months have no fixed length: `P1M` after January 31 lands on February 28/29.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IsoDuration {
    pub years: i64,
    pub months: i64,
    pub weeks: i64,
    pub days: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: f64,
    /// A leading `-` (`-PT1H`): the whole duration points backwards.
    pub negative: bool,
}

/// Parses `[-]P[nY][nM][nW][nD][T[nH][nM][n[.n]S]]`. Only seconds may have a
/// fraction (either `.` or `,` as separator), as the XML Schema duration rules allow.
pub fn parse_duration(text: &str) -> Result<IsoDuration, TimeError> {
    let fail = |reason: &str| TimeError::Duration {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let (negative, rest) = match trimmed.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let rest = rest
        .strip_prefix('P')
        .or_else(|| rest.strip_prefix('p'))
        .ok_or_else(|| fail("it must start with 'P' (for example 'PT30S' or 'P1D')"))?;
    if rest.is_empty() {
        return Err(fail("it has no components after 'P'"));
    }
    let mut d = IsoDuration {
        negative,
        ..IsoDuration::default()
    };
    let (date_part, time_part) = match rest.find(['T', 't']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    // Designators must appear in this order, each at most once.
    let mut order = 0;
    for (number, unit) in components(date_part).map_err(|r| fail(&r))? {
        let rank = match unit {
            'Y' => 1,
            'M' => 2,
            'W' => 3,
            'D' => 4,
            'H' | 'S' => return Err(fail(&format!("'{unit}' must come after 'T'"))),
            other => {
                return Err(fail(&format!(
                    "'{other}' is not a date designator (Y, M, W, D)"
                )))
            }
        };
        if rank <= order {
            return Err(fail(&format!("'{unit}' is repeated or out of order")));
        }
        order = rank;
        let n = whole(&number, unit).map_err(|r| fail(&r))?;
        match unit {
            'Y' => d.years = n,
            'M' => d.months = n,
            'W' => d.weeks = n,
            _ => d.days = n,
        }
    }
    if let Some(time_part) = time_part {
        if time_part.is_empty() {
            return Err(fail("'T' must be followed by hours, minutes or seconds"));
        }
        let mut order = 0;
        for (number, unit) in components(time_part).map_err(|r| fail(&r))? {
            let rank = match unit {
                'H' => 1,
                'M' => 2,
                'S' => 3,
                other => {
                    return Err(fail(&format!(
                        "'{other}' is not a time designator (H, M, S)"
                    )))
                }
            };
            if rank <= order {
                return Err(fail(&format!("'{unit}' is repeated or out of order")));
            }
            order = rank;
            match unit {
                'H' => d.hours = whole(&number, unit).map_err(|r| fail(&r))?,
                'M' => d.minutes = whole(&number, unit).map_err(|r| fail(&r))?,
                _ => {
                    d.seconds = number
                        .replace(',', ".")
                        .parse::<f64>()
                        .map_err(|_| fail(&format!("'{number}' is not a number of seconds")))?
                }
            }
        }
    }
    Ok(d)
}

/// Splits `1Y2M10D` into `[("1",'Y'), ("2",'M'), ("10",'D')]`.
fn components(text: &str) -> Result<Vec<(String, char)>, String> {
    let mut out = Vec::new();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' || c == ',' {
            number.push(c);
        } else if c.is_ascii_alphabetic() {
            if number.is_empty() {
                return Err(format!("'{c}' has no number before it"));
            }
            out.push((std::mem::take(&mut number), c.to_ascii_uppercase()));
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    if !number.is_empty() {
        return Err(format!(
            "the number '{number}' has no unit designator after it"
        ));
    }
    Ok(out)
}

fn whole(number: &str, unit: char) -> Result<i64, String> {
    if number.contains(['.', ',']) {
        return Err(format!(
            "only seconds may have a fraction, not '{number}{unit}'"
        ));
    }
    number
        .parse::<i64>()
        .map_err(|_| format!("'{number}' is too large for '{unit}'"))
}

impl IsoDuration {
    /// The fixed length of the duration, or `None` when it has years or months
    /// (their length depends on the date) or points backwards.
    pub fn to_std(&self) -> Option<std::time::Duration> {
        if self.negative || self.years != 0 || self.months != 0 {
            return None;
        }
        let days = self.weeks.checked_mul(7)?.checked_add(self.days)?;
        let whole_secs = days
            .checked_mul(86_400)?
            .checked_add(self.hours.checked_mul(3600)?)?
            .checked_add(self.minutes.checked_mul(60)?)?;
        let total = whole_secs as f64 + self.seconds;
        if !(0.0..=1e15).contains(&total) {
            return None;
        }
        Some(
            std::time::Duration::from_secs(u64::try_from(whole_secs).ok()?)
                + std::time::Duration::from_secs_f64(self.seconds),
        )
    }

    /// `t` moved by this duration: years and months first (clamping the day to
    /// the end of a shorter month, as .NET `AddMonths` does), then the fixed part.
    /// `None` when the result leaves chrono's range.
    pub fn add_to(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = self.years.checked_mul(12)?.checked_add(self.months)?;
        let months_u = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
        let fixed = ChronoDuration::try_weeks(self.weeks)?
            .checked_add(&ChronoDuration::try_days(self.days)?)?
            .checked_add(&ChronoDuration::try_hours(self.hours)?)?
            .checked_add(&ChronoDuration::try_minutes(self.minutes)?)?
            .checked_add(&ChronoDuration::nanoseconds(
                (self.seconds * 1e9).round().clamp(-9e18, 9e18) as i64,
            ))?;
        let forward = (months >= 0) != self.negative;
        let shifted = if forward {
            t.checked_add_months(months_u)?
        } else {
            t.checked_sub_months(months_u)?
        };
        if self.negative {
            shifted.checked_sub_signed(fixed)
        } else {
            shifted.checked_add_signed(fixed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    fn d(text: &str) -> IsoDuration {
        parse_duration(text).expect(text)
    }

    fn err(text: &str) -> String {
        parse_duration(text).expect_err(text).to_string()
    }

    fn at(y: i32, m: u32, day: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn fixed_lengths() {
        assert_eq!(d("PT5S").to_std(), Some(Duration::from_secs(5)));
        assert_eq!(d("PT0.5S").to_std(), Some(Duration::from_millis(500)));
        assert_eq!(d("P1D").to_std(), Some(Duration::from_secs(86_400)));
        assert_eq!(d("P2W").to_std(), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(d("PT1H30M").to_std(), Some(Duration::from_secs(5400)));
        assert_eq!(d("pt20s").to_std(), Some(Duration::from_secs(20)));
        assert_eq!(d("P1DT2H").to_std(), Some(Duration::from_secs(93_600)));
    }

    #[test]
    fn components_are_kept() {
        let x = d("P1Y2M10DT2H30M");
        assert_eq!(
            (x.years, x.months, x.days, x.hours, x.minutes),
            (1, 2, 10, 2, 30)
        );
        assert_eq!(x.to_std(), None);
        assert!(d("-PT1H").negative);
        assert_eq!(d("-PT1H").to_std(), None);
    }

    #[test]
    fn calendar_addition() {
        assert_eq!(
            d("P1M").add_to(at(2024, 1, 31, 0)),
            Some(at(2024, 2, 29, 0))
        );
        assert_eq!(
            d("P1Y").add_to(at(2024, 2, 29, 0)),
            Some(at(2025, 2, 28, 0))
        );
        assert_eq!(
            d("P1DT1H").add_to(at(2024, 3, 1, 0)),
            Some(at(2024, 3, 2, 1))
        );
        assert_eq!(
            d("-P1M").add_to(at(2024, 3, 31, 5)),
            Some(at(2024, 2, 29, 5))
        );
        assert_eq!(
            d("-PT2H").add_to(at(2024, 3, 1, 1)),
            Some(at(2024, 2, 29, 23))
        );
    }

    #[test]
    fn malformed_durations_say_why() {
        assert!(err("5S").contains("must start with 'P'"));
        assert!(err("P").contains("no components"));
        assert!(err("PT").contains("'T' must be followed"));
        assert!(err("P5H").contains("after 'T'"));
        assert!(err("PT1.5M").contains("only seconds may have a fraction"));
        assert!(err("P1D1D").contains("repeated or out of order"));
        assert!(err("PT5").contains("no unit designator"));
        assert!(err("P1X").contains("not a date designator"));
        assert!(err("PT1 S").contains("unexpected character"));
    }
}
