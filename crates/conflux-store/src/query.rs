//! Query parameters and paged results.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{RunId, RunStatus};
use crate::StoreError;

/// Page size used when a query does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 30;
/// Largest page a query returns; larger `top` values are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 250;

/// Which runs of a workflow to list (newest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    /// Only runs with this status.
    pub status: Option<RunStatus>,
    /// Only runs started at or after this instant.
    pub started_after: Option<DateTime<Utc>>,
    /// Only runs started before this instant.
    pub started_before: Option<DateTime<Utc>>,
    /// Page size: default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`].
    pub top: Option<u32>,
    /// Where to continue: the `next` of the previous page.
    pub continuation: Option<ContinuationToken>,
}

/// Which trigger history entries to list (newest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryQuery {
    /// Page size: default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`].
    pub top: Option<u32>,
    /// Where to continue: the `next` of the previous page.
    pub continuation: Option<ContinuationToken>,
}

/// The effective page size for a requested `top`.
pub fn page_size(top: Option<u32>) -> u32 {
    top.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// One page of results and the token for the next page, if there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records of this page, newest first.
    pub items: Vec<T>,
    /// Pass as `continuation` to get the following page; `None` on the last page.
    pub next: Option<ContinuationToken>,
}

/// An opaque position in a listing, safe to put in a URL (`$skiptoken`).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContinuationToken(String);

impl ContinuationToken {
    const PREFIX: &'static str = "c1";

    /// The token that continues after `last` (the last id of a page).
    pub fn after(last: &RunId) -> Self {
        let hex: String = last.as_str().bytes().map(|b| format!("{b:02x}")).collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }

    /// Wraps a token received from a client; checked when used.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The id the page ended with; `InvalidInput` for a token this store did not issue.
    pub fn last_id(&self) -> Result<RunId, StoreError> {
        let invalid = || {
            StoreError::InvalidInput {
            what: "continuation token is malformed; pass back the token of the previous page unchanged".into(),
        }
        };
        let hex = self.0.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        if hex.is_empty() || hex.len() % 2 != 0 || !hex.is_ascii() {
            return Err(invalid());
        }
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| invalid())?;
        String::from_utf8(bytes)
            .map(RunId::new)
            .map_err(|_| invalid())
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContinuationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContinuationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContinuationToken({})", self.0)
    }
}

/// Counters and sizes describing a store, for monitoring and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Batches committed successfully since the store was opened.
    pub batches_committed: u64,
    /// Batches refused or failed since the store was opened.
    pub batches_failed: u64,
    /// Database transactions the writer committed (several batches share one).
    pub transactions: u64,
    /// Batches submitted and not yet answered.
    pub pending: u64,
    /// Size of the database, when the backend can tell.
    pub size_bytes: Option<u64>,
    /// Allocated but unused space inside the database, when the backend can tell.
    pub free_bytes: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_rejects_foreign_text() {
        let id = RunId::new("08584737551867954143243946780");
        assert_eq!(ContinuationToken::after(&id).last_id().unwrap(), id);
        for bad in ["", "c1", "c1z0", "c1abc", "xyz", "c1ff"] {
            let result = ContinuationToken::new(bad).last_id();
            assert!(
                matches!(result, Err(StoreError::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn page_size_defaults_and_clamps() {
        assert_eq!(page_size(None), 30);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(1000)), 250);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::ContinuationToken;
    use crate::model::{RepetitionKey, RunId};

    proptest! {
        #[test]
        fn client_supplied_tokens_and_keys_never_panic(text in ".*") {
            let _ = ContinuationToken::new(text.clone()).last_id();
            let _ = RepetitionKey::parse(&text);
            let _ = RunId::new(text).timestamp();
        }

        #[test]
        fn tokens_round_trip_any_id(id in ".+") {
            let id = RunId::new(id);
            prop_assert_eq!(ContinuationToken::after(&id).last_id().unwrap(), id);
        }

        #[test]
        fn repetition_keys_round_trip(indexes in proptest::collection::vec(0u32..1_000_000, 0..8)) {
            let key = RepetitionKey::from_indexes(&indexes);
            prop_assert_eq!(RepetitionKey::parse(key.as_str()).unwrap().indexes().unwrap(), indexes);
        }
    }
}
