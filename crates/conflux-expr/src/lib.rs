//! The Workflow Definition Language expression language.
//!
//! A JSON string in a workflow definition is either a literal, a whole-value
//! expression (`"@add(1, 2)"`, which keeps its type) or an interpolation template
//! (`"Total: @{add(1, 2)}"`, always a string). This crate classifies and compiles
//! such strings once, and evaluates the compiled form many times against an
//! [`EvalHost`] that supplies run state.
//!
//! ```
//! use conflux_expr::{NoHost, Template, Value};
//!
//! let sum = Template::compile("@add(1, 2)").unwrap();
//! assert_eq!(sum.eval(&NoHost).unwrap(), Value::Int(3));
//! let text = Template::compile("Total: @{add(1, 2)}").unwrap();
//! assert_eq!(text.eval(&NoHost).unwrap(), Value::from("Total: 3"));
//! ```

pub mod ast;
mod compile;
pub mod context;
pub mod error;
mod eval;
pub mod functions;
pub mod host;
pub mod lexer;
pub mod map;
pub mod parser;
pub mod template;
pub mod value;

pub use context::JsonContext;
pub use error::{CompileError, EvalError, ParseError};
pub use host::{EvalHost, NoHost};
pub use template::{eval_str, CompiledValue, Template};
pub use value::{map_with_capacity, Content, Key, KeyBuilder, Map, Value};
pub mod time;
