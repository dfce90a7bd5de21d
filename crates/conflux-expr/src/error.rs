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

/// A syntax error in an expression: where it is (1-based column, counted in
/// characters of the whole JSON string) and what is wrong. `Display` shows the
/// message, the text, and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The whole JSON string the expression was written in.
    pub expression: String,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(expression: &str, column: usize, message: impl Into<String>) -> Self {
        ParseError {
            expression: expression.to_string(),
            column: column.max(1),
            message: message.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long or multi-line texts are shown as one line so the caret lines up.
        let shown: String = self
            .expression
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        write!(
            f,
            "{} (column {})\n  {}\n  {}^",
            self.message,
            self.column,
            shown,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for EvalError {
    fn from(e: ParseError) -> Self {
        EvalError::new(format!(
            "the expression could not be parsed: {} at column {} of '{}'",
            e.message, e.column, e.expression
        ))
    }
}

/// A parse error located in a JSON document (`$.actions.Compose.inputs.a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub path: String,
    pub error: ParseError,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for CompileError {}
