//! The Workflow Definition Language expression language.
//!
//! A JSON string in a workflow definition is either a literal, a whole-value
//! expression (`"@add(1, 2)"`, which keeps its type) or an interpolation template
//! (`"Total: @{add(1, 2)}"`, always a string). This crate classifies and compiles
//! such strings once, and evaluates the compiled form many times against an
//! [`EvalHost`] that supplies run state.

pub mod error;
pub mod functions;
pub mod host;
pub mod value;

pub use error::EvalError;
pub use host::{EvalHost, NoHost};
pub use value::{Content, Map, Value};
pub mod time;
