//! Logical comparison functions: `and`, `or`, `not`, `if`, `equals`, `greater`,
//! `greaterOrEquals`, `less`, `lessOrEquals`. (`isInt`/`isFloat`, listed with
//! them in the reference, live with the string functions.)

use super::FunctionDef;

mod boolean;
pub mod compare;

pub static FUNCTIONS: &[FunctionDef] = &[
    boolean::AND,
    boolean::OR,
    boolean::NOT,
    boolean::IF,
    compare::EQUALS,
    compare::GREATER,
    compare::GREATER_OR_EQUALS,
    compare::LESS,
    compare::LESS_OR_EQUALS,
];
