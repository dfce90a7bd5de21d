//! The run engine: scheduling, built-in actions, retries, durable runs.
