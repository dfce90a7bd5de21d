//! The parse tree of one expression, before function names are resolved.

use crate::value::Value;

/// An expression and the column (1-based, in characters) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `'text'`, `12`, `1.5`, `true`, `false`, `null`.
    Literal(Value),
    /// `name(arg, ...)`; the name as written.
    Call { name: String, args: Vec<Expr> },
    /// A primary followed by one or more accessors.
    Access { target: Box<Expr>, steps: Vec<Step> },
}

/// One accessor: `.name`, `[expr]`, optionally made null-safe with a leading `?`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub null_safe: bool,
    pub key: Accessor,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    Name(String),
    Index(Expr),
}
