//! Time primitives shared with the rest of Conflux: ISO 8601 durations, Windows
//! time-zone names, timestamp parsing and .NET-style formatting.
//!
//! Workflow definitions carry time the way the Logic Apps runtime (a .NET
//! service) reads and writes it: timestamps are strings that remember whether
//! they were UTC, had an offset or had no zone at all; formats are .NET format
//! strings; zones are Windows time-zone IDs. Everything here is pure: the clock
//! is always passed in.
//!
//! ```
//! use conflux_expr::time::{parse_duration, windows_zone};
//!
//! let retry = parse_duration("PT20S").expect("valid duration");
//! assert_eq!(retry.to_std(), Some(std::time::Duration::from_secs(20)));
//! assert_eq!(windows_zone("Pacific Standard Time"), Some(chrono_tz::America::Los_Angeles));
//! ```

mod duration;
mod exact;
mod format;
mod locale;
mod parse;
mod timestamp;
mod zones;

pub use duration::{parse_duration, IsoDuration};
pub use exact::parse_exact;
pub use format::{format_timestamp, validate_format};
pub use locale::{culture, Culture, EN_US, INVARIANT};
pub use parse::{parse_timestamp, parse_with_culture};
pub use timestamp::{Timestamp, TimestampKind};
pub use zones::{local_to_utc, windows_zone};

/// A time value or description that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// An ISO 8601 duration (`PT5S`, `P1D`) was malformed; `reason` says how.
    #[error("'{text}' is not a valid ISO 8601 duration: {reason}")]
    Duration { text: String, reason: String },
    /// A timestamp string could not be parsed.
    #[error("'{text}' is not a valid timestamp{hint}")]
    Timestamp { text: String, hint: String },
    /// A .NET format string is not valid.
    #[error("the format '{format}' is not valid: {reason}")]
    Format { format: String, reason: String },
    /// A locale code is not one Conflux knows.
    #[error("the locale '{0}' is not supported (use an RFC 4646 code such as 'en-US', 'de-DE', 'fr-FR')")]
    Locale(String),
    /// A time-zone name is neither a Windows time-zone ID nor an IANA name.
    #[error("the time zone '{0}' is not a known Windows time-zone ID (such as 'Pacific Standard Time' or 'UTC')")]
    Zone(String),
    /// A computation left the representable range (years 1 to 9999).
    #[error("the resulting time is outside the supported range (years 1 to 9999)")]
    OutOfRange,
    /// A wall-clock time that the clocks skip when daylight saving time starts.
    #[error("{local} does not exist in the time zone '{zone}': the clocks skip it when daylight saving time starts")]
    SkippedLocalTime { local: String, zone: String },
}

impl From<TimeError> for crate::error::EvalError {
    fn from(e: TimeError) -> Self {
        crate::error::EvalError::new(e.to_string())
    }
}
