//! Time primitives shared with the rest of Conflux: ISO 8601 durations, Windows
//! time-zone names, timestamp parsing and .NET-style formatting.
