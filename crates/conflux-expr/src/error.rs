//! Errors of the expression language.

use std::fmt;

/// A failure while evaluating a compiled expression. The message names the
/// function and the argument at fault (`substring: startIndex + length (12)
/// exceeds the length of the string (11)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

/// Shorthand for a function body's result.
pub type FnResult = Result<crate::value::Value, EvalError>;
