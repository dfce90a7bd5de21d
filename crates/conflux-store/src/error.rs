//! The one error type of this crate.

/// Everything that can go wrong in a store. Messages name the operation and
/// the record involved, never payload contents (which may hold secrets).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused something, e.g. creating the database directory.
    #[error("{op}: {source}; check that the path exists and is writable")]
    Io {
        /// What the store was doing.
        op: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("{op}: SQLite error: {source}")]
    Sqlite {
        /// What the store was doing.
        op: String,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A record the operation needs does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// Which record, e.g. `run 0858...`.
        what: String,
    },
    /// The write contradicts what is stored, e.g. a finished run asked to
    /// change status, or a run id that already exists. The whole batch was
    /// rolled back.
    #[error("conflict: {what}")]
    Conflict {
        /// What contradicted what.
        what: String,
    },
    /// Stored data could not be decoded.
    #[error(
        "corrupt data: {what}; the database may have been edited by hand or by a newer Conflux"
    )]
    Corrupt {
        /// Which column of which record.
        what: String,
    },
    /// A caller-supplied value is malformed (continuation token, status text, repetition key).
    #[error("invalid input: {what}")]
    InvalidInput {
        /// What was wrong.
        what: String,
    },
    /// The store's writer has stopped (the store is shutting down or its thread died).
    #[error("the store is closed: {what}")]
    Closed {
        /// What could not be done.
        what: String,
    },
}

impl StoreError {
    /// Wraps a SQLite error with the operation that failed.
    pub(crate) fn sqlite(op: impl Into<String>, source: rusqlite::Error) -> Self {
        Self::Sqlite {
            op: op.into(),
            source,
        }
    }
}
