//! The function library: one module per family, one [`FunctionDef`] per function,
//! one [`all`] list that the compiler resolves names against.
//!
//! A function body receives its already-evaluated arguments (arity is checked when
//! the expression is compiled, so a body may index `args` up to `min_args`) and a
//! [`FnCtx`] for the run state. It returns a value or an [`EvalError`] whose message
//! does NOT repeat the function name: the evaluator prefixes `name: `.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::FnResult;
use crate::host::EvalHost;
use crate::value::Value;

pub mod args;
pub mod collection;
pub mod conversion;
pub mod datetime;
pub mod logical;
pub mod manipulation;
pub mod math;
pub mod string;
pub mod uri;
pub mod workflow;

/// What a function body may use besides its arguments.
pub struct FnCtx<'a> {
    pub host: &'a dyn EvalHost,
}

/// The signature of a function body.
pub type FnBody = fn(&FnCtx<'_>, &[Value]) -> FnResult;

/// One function of the library.
pub struct FunctionDef {
    /// Canonical name as documented (`formatDateTime`); lookup is case-insensitive.
    pub name: &'static str,
    pub min_args: usize,
    /// `None` for variadic functions.
    pub max_args: Option<usize>,
    pub body: FnBody,
    /// Documented examples, `(expression, expected JSON)`; run as tests.
    pub examples: &'static [(&'static str, &'static str)],
}

/// Every function, from every family.
pub fn all() -> impl Iterator<Item = &'static FunctionDef> {
    [
        string::FUNCTIONS,
        collection::FUNCTIONS,
        logical::FUNCTIONS,
        conversion::FUNCTIONS,
        math::FUNCTIONS,
        datetime::FUNCTIONS,
        uri::FUNCTIONS,
        manipulation::FUNCTIONS,
        workflow::FUNCTIONS,
    ]
    .into_iter()
    .flatten()
}

/// Case-insensitive lookup by name.
pub fn lookup(name: &str) -> Option<&'static FunctionDef> {
    static INDEX: OnceLock<HashMap<String, &'static FunctionDef>> = OnceLock::new();
    INDEX
        .get_or_init(|| all().map(|f| (f.name.to_ascii_lowercase(), f)).collect())
        .get(&name.to_ascii_lowercase())
        .copied()
}
