//! Math functions: `add`, `sub`, `mul`, `div`, `mod`, `max`, `min`, `range`, `rand`.
//!
//! Integers stay integers (`div(11, 5)` is `2`), any float operand makes the
//! result a float, any decimal a decimal. Numeric strings are not numbers here:
//! the runtime rejects them, and so do we, naming the argument and its type.

use super::FunctionDef;

mod arith;
mod extremes;
pub mod num;
mod range;

pub static FUNCTIONS: &[FunctionDef] = &[
    arith::ADD,
    arith::SUB,
    arith::MUL,
    arith::DIV,
    arith::MOD,
    extremes::MAX,
    extremes::MIN,
    range::RANGE,
    range::RAND,
];
