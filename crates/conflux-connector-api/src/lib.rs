//! The connector trait and everything a connector author depends on.
