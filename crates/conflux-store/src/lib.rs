//! Run history, journal and trigger state storage (SQLite embedded, PostgreSQL scale-out).
