//! Built-in connectors.
