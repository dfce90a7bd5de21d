//! datetime functions.

use super::FunctionDef;

pub static FUNCTIONS: &[FunctionDef] = &[];
