//! `add`, `sub`, `mul`, `div`, `mod`: two operands, integer when both are
//! integers (`div` then truncates), float otherwise, decimal if either is one.

use super::num::{apply, number_arg, Op};
use crate::error::FnResult;
use crate::functions::{FnCtx, FunctionDef};
use crate::value::Value;

fn binary(op: Op, args: &[Value]) -> FnResult {
    let (a, b) = (number_arg(args, 0)?, number_arg(args, 1)?);
    Ok(apply(op, a, b)?.into_value())
}

fn add(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    binary(Op::Add, args)
}

fn sub(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    binary(Op::Sub, args)
}

fn mul(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    binary(Op::Mul, args)
}

fn div(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    binary(Op::Div, args)
}

fn modulo(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    binary(Op::Rem, args)
}

pub const ADD: FunctionDef = FunctionDef {
    name: "add",
    min_args: 2,
    max_args: Some(2),
    body: add,
    examples: &[
        ("@add(1, 1.5)", "2.5"),
        ("@add(1, 2)", "3"),
        ("@add(-4, 1)", "-3"),
    ],
};

pub const SUB: FunctionDef = FunctionDef {
    name: "sub",
    min_args: 2,
    max_args: Some(2),
    body: sub,
    examples: &[("@sub(10.3, .3)", "10.0"), ("@sub(10, 3)", "7")],
};

pub const MUL: FunctionDef = FunctionDef {
    name: "mul",
    min_args: 2,
    max_args: Some(2),
    body: mul,
    examples: &[("@mul(1, 2)", "2"), ("@mul(1.5, 2)", "3.0")],
};

pub const DIV: FunctionDef = FunctionDef {
    name: "div",
    min_args: 2,
    max_args: Some(2),
    body: div,
    examples: &[
        ("@div(10, 5)", "2"),
        ("@div(11, 5)", "2"),
        ("@div(11, 5.0)", "2.2"),
        ("@div(11.0, 5)", "2.2"),
    ],
};

pub const MOD: FunctionDef = FunctionDef {
    name: "mod",
    min_args: 2,
    max_args: Some(2),
    body: modulo,
    examples: &[
        ("@mod(3, 2)", "1"),
        ("@mod(-5, 2)", "-1"),
        ("@mod(4, -3)", "1"),
    ],
};
