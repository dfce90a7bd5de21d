//! The timestamp value of the expression language: a wall-clock time with
//! 100-ns resolution and what is known about its zone, as .NET's `DateTime`
//! keeps a `Kind`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};

/// What a timestamp says about its zone, which decides what `K` renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampKind {
    /// Written with `Z` (or produced in UTC): `K` renders `Z`.
    Utc,
    /// Written with an offset (`+02:00`): `K` renders the offset.
    Offset(FixedOffset),
    /// Written without zone (`2018-03-15T13:00:00`, `03/15/2018`): `K` renders nothing.
    Unspecified,
}

/// A wall-clock time with 100-ns resolution (as .NET's `DateTime`) and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// The time as written: UTC for `Utc`, local to the offset for `Offset`.
    pub local: NaiveDateTime,
    pub kind: TimestampKind,
}

/// Ticks from 0001-01-01T00:00:00 to 1970-01-01T00:00:00.
pub(super) const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

impl Timestamp {
    /// A UTC instant, truncated to 100 ns.
    pub fn from_utc(t: DateTime<Utc>) -> Timestamp {
        Timestamp {
            local: truncate_to_ticks(t.naive_utc()),
            kind: TimestampKind::Utc,
        }
    }

    /// A wall-clock time with no zone.
    pub fn unspecified(local: NaiveDateTime) -> Timestamp {
        Timestamp {
            local: truncate_to_ticks(local),
            kind: TimestampKind::Unspecified,
        }
    }

    /// The same kind at another wall-clock time.
    pub fn with_local(&self, local: NaiveDateTime) -> Timestamp {
        Timestamp {
            local,
            kind: self.kind,
        }
    }

    /// The instant this timestamp denotes. A zone-less time is read as UTC,
    /// as the Logic Apps runtime (whose servers run in UTC) does.
    pub fn instant(&self) -> DateTime<Utc> {
        match self.kind {
            TimestampKind::Offset(offset) => Utc.from_utc_datetime(
                &(self.local - chrono::Duration::seconds(i64::from(offset.local_minus_utc()))),
            ),
            TimestampKind::Utc | TimestampKind::Unspecified => Utc.from_utc_datetime(&self.local),
        }
    }

    /// An offset timestamp moved to UTC; UTC and zone-less ones unchanged.
    pub fn to_utc_kind(&self) -> Timestamp {
        match self.kind {
            TimestampKind::Offset(_) => Timestamp::from_utc(self.instant()),
            _ => *self,
        }
    }

    /// The offset from UTC in seconds (0 unless the kind is `Offset`).
    pub fn offset_seconds(&self) -> i32 {
        match self.kind {
            TimestampKind::Offset(offset) => offset.local_minus_utc(),
            _ => 0,
        }
    }

    /// .NET `DateTime.Ticks` of the wall-clock time: 100-ns intervals since 0001-01-01.
    pub fn ticks(&self) -> i64 {
        let t = self.local.and_utc();
        UNIX_EPOCH_TICKS + t.timestamp() * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100)
    }
}

/// The round-trip form (`o`): `2018-03-15T13:00:00.0000000Z`, no suffix when
/// zone-less, the offset for offset timestamps.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = super::format_timestamp(self, "o", &super::locale::INVARIANT)
            .map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

pub(super) fn truncate_to_ticks(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond() % 1_000_000_000 / 100 * 100;
    t.with_nanosecond(nanos).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    fn parse(text: &str) -> Timestamp {
        parse_timestamp(text).expect(text)
    }

    #[test]
    fn display_is_the_round_trip_form() {
        assert_eq!(
            parse("2018-03-15T13:00:00Z").to_string(),
            "2018-03-15T13:00:00.0000000Z"
        );
        assert_eq!(
            parse("2018-03-15T13:00:00.25").to_string(),
            "2018-03-15T13:00:00.2500000"
        );
        assert_eq!(
            parse("2018-03-15T13:00:00-05:30").to_string(),
            "2018-03-15T13:00:00.0000000-05:30"
        );
        assert_eq!(
            parse("2018-03-15T13:00:00-05:30").to_utc_kind().to_string(),
            "2018-03-15T18:30:00.0000000Z"
        );
    }

    #[test]
    fn ticks_match_dotnet() {
        assert_eq!(parse("0001-01-01T00:00:00Z").ticks(), 0);
        assert_eq!(parse("1970-01-01T00:00:00Z").ticks(), UNIX_EPOCH_TICKS);
        assert_eq!(
            parse("2018-03-15T13:27:36.1234567Z").ticks(),
            636_567_172_561_234_567
        );
    }
}
