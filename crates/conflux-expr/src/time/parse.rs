//! Reading timestamp text the way .NET's `DateTime.Parse` does: ISO 8601,
//! RFC 1123, and culture formats (`03/15/2018`, `20 octobre 2010`).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};

use super::format::weekday;
use super::locale::{Culture, EN_US};
use super::timestamp::{truncate_to_ticks, Timestamp, TimestampKind};
use super::TimeError;

fn invalid(text: &str, hint: impl Into<String>) -> TimeError {
    TimeError::Timestamp {
        text: text.to_string(),
        hint: hint.into(),
    }
}

const GENERAL_HINT: &str =
    " (use ISO 8601 such as '2018-03-15T13:00:00Z', or a date such as '03/15/2018')";

/// Parses a timestamp argument: ISO 8601, RFC 1123, or an `en-US` date and time.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, TimeError> {
    parse_with_culture(text, &EN_US)
}

/// Parses free-form text the way .NET's `DateTime.Parse` does for `culture`:
/// ISO 8601 and RFC 1123 first, then the culture's day/month order and names.
pub fn parse_with_culture(text: &str, culture: &Culture) -> Result<Timestamp, TimeError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid(text, " (it is empty)"));
    }
    if let Some(ts) = parse_iso(trimmed) {
        return Ok(ts);
    }
    if let Some(ts) = parse_rfc1123(trimmed) {
        return Ok(ts);
    }
    parse_loose(trimmed, culture).map_err(|why| match why {
        Some(reason) => invalid(text, format!(" ({reason})")),
        None => invalid(text, GENERAL_HINT),
    })
}

/// ISO 8601: `yyyy-MM-dd[(T| )HH:mm[:ss[.f…]]][Z|±hh[:mm]]`.
fn parse_iso(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, num(5, 2)?, num(8, 2)?)?;
    if b.len() == 10 {
        return Some(Timestamp::unspecified(date.and_time(NaiveTime::MIN)));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = num(11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = num(14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut nanos = 0;
    if b.get(i) == Some(&b':') {
        second = num(i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let kept = &s[i + 1..i + 1 + digits.min(9)];
            nanos = format!("{kept:0<9}").parse().ok()?;
            i += 1 + digits;
        }
    }
    let local = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let kind = match &s[i..] {
        "" => TimestampKind::Unspecified,
        "Z" | "z" => TimestampKind::Utc,
        zone => TimestampKind::Offset(parse_offset(zone)?),
    };
    Some(Timestamp {
        local: truncate_to_ticks(local),
        kind,
    })
}

/// `+hh:mm`, `-hhmm`, `+hh`.
pub(super) fn parse_offset(zone: &str) -> Option<FixedOffset> {
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || zone[1..].matches(':').count() > 1 {
        return None;
    }
    let (h, m): (i32, i32) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// RFC 1123: `Thu, 25 Sep 2025 05:18:31 GMT`.
fn parse_rfc1123(s: &str) -> Option<Timestamp> {
    let t = DateTime::parse_from_rfc2822(s).ok()?;
    let ts = Timestamp::from_utc(t.with_timezone(&Utc));
    Some(ts)
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Num(u32, usize),
    Word(String),
    Punct(char),
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(d);
                chars.next();
            }
            let len = digits.len();
            out.push(Piece::Num(digits.parse().unwrap_or(u32::MAX), len));
        } else if c.is_alphabetic() && !matches!(c, '年' | '月' | '日' | '년' | '월' | '일') {
            let mut word = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_alphabetic() || **d == '-') {
                word.push(d);
                chars.next();
            }
            out.push(Piece::Word(word));
        } else {
            if !c.is_whitespace() {
                out.push(Piece::Punct(c));
            }
            chars.next();
        }
    }
    out
}

fn same_word(word: &str, name: &str) -> bool {
    let name = name.trim_end_matches('.');
    !name.is_empty() && word.to_lowercase() == name.to_lowercase()
}

fn name_index(word: &str, full: &[&str], abbreviated: &[&str]) -> Option<usize> {
    full.iter()
        .position(|n| same_word(word, n))
        .or_else(|| abbreviated.iter().position(|n| same_word(word, n)))
}

/// Letters only, lower case: `a. m.` → `am`, so designators compare however spaced.
fn letters(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphabetic())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Free-form parse; `Err(Some(reason))` when the text looked like a date but was wrong.
fn parse_loose(text: &str, culture: &Culture) -> Result<Timestamp, Option<String>> {
    let mut normalized = text.to_string();
    // Designators with dots or spaces (`a. m.`) would otherwise fall apart into pieces.
    for (designator, marker) in [(culture.am, " AM "), (culture.pm, " PM ")] {
        if designator.contains(['.', ' ']) {
            replace_ignoring_case(&mut normalized, designator, marker);
        }
    }
    let pieces = pieces(&normalized);
    let mut numbers: Vec<(u32, usize)> = Vec::new();
    let mut month_name = None;
    let mut day_name = None;
    let mut time: Option<(u32, u32, u32, u32)> = None;
    let mut afternoon: Option<bool> = None;
    let mut kind = TimestampKind::Unspecified;
    let time_separators = [':', culture.time_separator.chars().next().unwrap_or(':')];
    let mut i = 0;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Num(h, _)
                if time.is_none()
                    && matches!(pieces.get(i + 1), Some(Piece::Punct(c)) if time_separators.contains(c) && (*c == ':' || numbers.len() >= 3 || month_name.is_some()))
                    && matches!(pieces.get(i + 2), Some(Piece::Num(..))) =>
            {
                let Some(Piece::Num(m, _)) = pieces.get(i + 2) else {
                    return Err(None);
                };
                let (mut s, mut frac) = (0, 0);
                i += 3;
                if matches!(pieces.get(i), Some(Piece::Punct(c)) if time_separators.contains(c)) {
                    if let Some(Piece::Num(sec, _)) = pieces.get(i + 1) {
                        s = *sec;
                        i += 2;
                        if let (Some(Piece::Punct('.' | ',')), Some(Piece::Num(f, len))) =
                            (pieces.get(i), pieces.get(i + 1))
                        {
                            frac = fraction_nanos(*f, *len);
                            i += 2;
                        }
                    }
                }
                time = Some((*h, *m, s, frac));
                continue;
            }
            Piece::Num(n, len) => numbers.push((*n, *len)),
            Piece::Word(w) => {
                if let Some(m) = name_index(w, &culture.month_names, &culture.month_abbreviations)
                    .or_else(|| {
                        culture
                            .genitive_months
                            .and_then(|g| g.iter().position(|n| same_word(w, n)))
                    })
                    .or_else(|| name_index(w, &EN_US.month_names, &EN_US.month_abbreviations))
                {
                    month_name = Some(m as u32 + 1);
                } else if let Some(d) =
                    name_index(w, &culture.day_names, &culture.day_abbreviations)
                        .or_else(|| name_index(w, &EN_US.day_names, &EN_US.day_abbreviations))
                {
                    day_name = Some(d);
                } else if letters(w) == letters(culture.am) || w.eq_ignore_ascii_case("am") {
                    afternoon = Some(false);
                } else if letters(w) == letters(culture.pm) || w.eq_ignore_ascii_case("pm") {
                    afternoon = Some(true);
                } else if ["z", "utc", "gmt"].contains(&w.to_lowercase().as_str()) && time.is_some()
                {
                    kind = TimestampKind::Utc;
                } else if w.eq_ignore_ascii_case("t") && numbers.len() == 3 {
                    // ISO-like separator between date and time.
                } else if culture
                    .filler_words
                    .iter()
                    .chain(EN_US.filler_words)
                    .any(|f| same_word(w, f))
                {
                    // Connecting words (`20 de octubre`) carry no value.
                } else {
                    return Err(None);
                }
            }
            Piece::Punct(c @ ('+' | '-'))
                if time.is_some() && (numbers.len() >= 3 || month_name.is_some()) =>
            {
                let Some(Piece::Num(h, len)) = pieces.get(i + 1) else {
                    return Err(None);
                };
                let mut zone = format!("{c}{h:0width$}", width = *len);
                i += 2;
                if let (Some(Piece::Punct(':')), Some(Piece::Num(m, _))) =
                    (pieces.get(i), pieces.get(i + 1))
                {
                    zone.push_str(&format!(":{m:02}"));
                    i += 2;
                }
                let offset = parse_offset(&zone)
                    .ok_or_else(|| Some(format!("'{zone}' is not a valid UTC offset")))?;
                kind = TimestampKind::Offset(offset);
                continue;
            }
            Piece::Punct(_) => {}
        }
        i += 1;
    }
    let (year, month, day) = match (month_name, numbers.as_slice()) {
        (Some(month), [(a, alen), (b, blen)]) => {
            if *alen >= 3 || *a > 31 {
                (year_of(*a, *alen), month, *b)
            } else {
                (year_of(*b, *blen), month, *a)
            }
        }
        (None, [(a, alen), (b, _), (c, clen)]) => {
            if *alen >= 3 {
                (year_of(*a, *alen), *b, *c)
            } else {
                match date_order(culture) {
                    DateOrder::Mdy => (year_of(*c, *clen), *a, *b),
                    DateOrder::Dmy => (year_of(*c, *clen), *b, *a),
                    DateOrder::Ymd => (year_of(*a, *alen), *b, *c),
                }
            }
        }
        (Some(_), [_]) | (None, [_, _]) => {
            return Err(Some("the year is missing".to_string()));
        }
        _ => return Err(None),
    };
    let date = i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
        .ok_or_else(|| {
            Some(format!(
                "there is no day {day} in month {month} of year {year}"
            ))
        })?;
    let (mut hour, minute, second, nanos) = time.unwrap_or((0, 0, 0, 0));
    match afternoon {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let local = date
        .and_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| {
            Some(format!(
                "{hour:02}:{minute:02}:{second:02} is not a valid time of day"
            ))
        })?;
    if let Some(d) = day_name {
        if d != weekday(&local) {
            return Err(Some(
                "the day of the week does not match the date".to_string(),
            ));
        }
    }
    Ok(Timestamp {
        local: truncate_to_ticks(local),
        kind,
    })
}

/// Replaces the first case-insensitive occurrence of `needle`.
fn replace_ignoring_case(text: &mut String, needle: &str, with: &str) {
    let wanted = needle.to_lowercase();
    let found = text.char_indices().map(|(i, _)| i).find(|&i| {
        text.get(i..i + needle.len())
            .is_some_and(|s| s.to_lowercase() == wanted)
    });
    if let Some(i) = found {
        text.replace_range(i..i + needle.len(), with);
    }
}

pub(super) fn fraction_nanos(value: u32, len: usize) -> u32 {
    let digits = format!("{value:0len$}");
    format!("{:0<9}", &digits[..digits.len().min(9)])
        .parse()
        .unwrap_or(0)
}

/// Two-digit years fall in 1950–2049, as .NET's Gregorian calendar reads them.
pub(super) fn year_of(value: u32, len: usize) -> u32 {
    if len <= 2 {
        if value < 50 {
            2000 + value
        } else {
            1900 + value
        }
    } else {
        value
    }
}

enum DateOrder {
    Mdy,
    Dmy,
    Ymd,
}

fn date_order(culture: &Culture) -> DateOrder {
    let p = culture.short_date;
    let pos = |c: char| p.find(c).unwrap_or(usize::MAX);
    let (y, m, d) = (pos('y'), pos('M'), pos('d'));
    if y < m && y < d {
        DateOrder::Ymd
    } else if d < m {
        DateOrder::Dmy
    } else {
        DateOrder::Mdy
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

    fn parse(text: &str) -> Timestamp {
        parse_timestamp(text).expect(text)
    }

    fn loose(text: &str, locale: &str) -> NaiveDateTime {
        parse_with_culture(text, culture(locale).expect("culture"))
            .expect(text)
            .local
    }

    #[test]
    fn iso_forms_and_kinds() {
        assert_eq!(parse("2018-03-15T13:00:00Z").kind, TimestampKind::Utc);
        assert_eq!(
            parse("2018-03-15T13:00:00").kind,
            TimestampKind::Unspecified
        );
        assert_eq!(parse("2018-03-15").local, ts(2018, 3, 15, 0, 0, 0));
        assert_eq!(parse("2018-03-15 13:00").local, ts(2018, 3, 15, 13, 0, 0));
        let offset = parse("2018-03-15T13:00:00+02:00");
        assert_eq!(
            offset.kind,
            TimestampKind::Offset(FixedOffset::east_opt(7200).expect("offset"))
        );
        assert_eq!(offset.instant().naive_utc(), ts(2018, 3, 15, 11, 0, 0));
        assert_eq!(parse("2018-03-15T13:00:00-0530").offset_seconds(), -19800);
        assert_eq!(
            parse("2018-03-15T13:00:00.1234567Z").local.nanosecond(),
            123_456_700
        );
        assert_eq!(
            parse("2018-03-15T13:00:00.123456789Z").local.nanosecond(),
            123_456_700
        );
        assert_eq!(
            parse("2018-03-15T13:00:00.5Z").local.nanosecond(),
            500_000_000
        );
    }

    #[test]
    fn other_common_forms() {
        assert_eq!(parse("03/15/2018").local, ts(2018, 3, 15, 0, 0, 0));
        assert_eq!(parse("03/15/2018").kind, TimestampKind::Unspecified);
        assert_eq!(parse("01/01/2018 00:00:00").local, ts(2018, 1, 1, 0, 0, 0));
        assert_eq!(parse("3/5/2018 1:30 PM").local, ts(2018, 3, 5, 13, 30, 0));
        assert_eq!(
            parse("3/5/2018 12:10:00 AM").local,
            ts(2018, 3, 5, 0, 10, 0)
        );
        let rfc = parse("Thu, 25 Sep 2025 05:18:31 GMT");
        assert_eq!(
            (rfc.local, rfc.kind),
            (ts(2025, 9, 25, 5, 18, 31), TimestampKind::Utc)
        );
        assert_eq!(parse("January 31, 2016").local, ts(2016, 1, 31, 0, 0, 0));
        assert_eq!(parse("2016/01/31").local, ts(2016, 1, 31, 0, 0, 0));
    }

    #[test]
    fn culture_forms() {
        assert_eq!(loose("20/10/2014", "fr-fr"), ts(2014, 10, 20, 0, 0, 0));
        assert_eq!(loose("20 octobre 2010", "fr-FR"), ts(2010, 10, 20, 0, 0, 0));
        assert_eq!(
            loose("martes 20 octubre 2020", "es-es"),
            ts(2020, 10, 20, 0, 0, 0)
        );
        assert_eq!(
            loose("20 de octubre de 2020", "es-ES"),
            ts(2020, 10, 20, 0, 0, 0)
        );
        assert_eq!(
            loose("20.10.2014 15:30", "de-DE"),
            ts(2014, 10, 20, 15, 30, 0)
        );
        assert_eq!(loose("2014/10/20", "ja-JP"), ts(2014, 10, 20, 0, 0, 0));
        assert_eq!(loose("2014年10月20日", "ja-JP"), ts(2014, 10, 20, 0, 0, 0));
        assert_eq!(loose("4 stycznia 2018", "pl-PL"), ts(2018, 1, 4, 0, 0, 0));
        assert_eq!(loose("4 января 2018 г.", "ru-RU"), ts(2018, 1, 4, 0, 0, 0));
        assert_eq!(loose("2018. 1. 4.", "ko-KR"), ts(2018, 1, 4, 0, 0, 0));
        assert_eq!(loose("2018년 1월 4일", "ko-KR"), ts(2018, 1, 4, 0, 0, 0));
    }

    #[test]
    fn rejected_text_says_why() {
        let err = |t: &str| parse_timestamp(t).expect_err(t).to_string();
        assert!(err("").contains("empty"));
        assert!(err("hello").contains("not a valid timestamp"));
        assert!(err("2018-01-01T80:00:00.0000000Z").contains("not a valid timestamp"));
        assert!(err("02/30/2018").contains("no day 30 in month 2"));
        assert!(err("Monday, January 2, 2018").contains("day of the week"));
        assert!(err("March 5").contains("year is missing"));
    }
}
