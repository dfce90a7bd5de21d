//! Numbers as the math and comparison functions see them: integer, float or
//! decimal, with the widening rule Int < Float < Decimal.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::error::EvalError;
use crate::functions::args::{arg, ordinal};
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
    Decimal(Decimal),
}

impl Num {
    /// The number a value holds; numeric strings are not numbers.
    pub fn of(v: &Value) -> Option<Num> {
        match v {
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Float(f) => Some(Num::Float(*f)),
            Value::Decimal(d) => Some(Num::Decimal(*d)),
            _ => None,
        }
    }

    pub fn into_value(self) -> Value {
        match self {
            Num::Int(i) => Value::Int(i),
            Num::Float(f) => Value::Float(f),
            Num::Decimal(d) => Value::Decimal(d),
        }
    }

    pub fn to_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
            Num::Decimal(d) => Value::Decimal(d).as_f64().unwrap_or(f64::NAN),
        }
    }

    fn to_decimal(self) -> Result<Decimal, EvalError> {
        match self {
            Num::Int(i) => Ok(Decimal::from(i)),
            Num::Decimal(d) => Ok(d),
            Num::Float(f) => Decimal::try_from(f).map_err(|_| {
                EvalError::new(format!("the float {f} cannot be combined with a decimal"))
            }),
        }
    }

    pub fn is_zero(self) -> bool {
        match self {
            Num::Int(i) => i == 0,
            Num::Float(f) => f == 0.0,
            Num::Decimal(d) => d.is_zero(),
        }
    }
}

/// A numeric argument; anything else (including a numeric string) is an error
/// naming the argument and its type.
pub fn number_arg(args: &[Value], index: usize) -> Result<Num, EvalError> {
    let v = arg(args, index);
    Num::of(v).ok_or_else(|| {
        let hint = match v {
            Value::String(s) if s.trim().parse::<f64>().is_ok() => {
                " (convert text with int() or float() first)"
            }
            _ => "",
        };
        EvalError::new(format!(
            "the {} argument must be a number (Integer or Float), got {}{hint}",
            ordinal(index),
            v.type_name()
        ))
    })
}

/// The arithmetic operations.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// Applies `op` with the result type of the widest operand. Integer overflow,
/// division by zero and non-finite float results are errors.
pub fn apply(op: Op, a: Num, b: Num) -> Result<Num, EvalError> {
    if matches!(op, Op::Div | Op::Rem) && b.is_zero() {
        return Err(EvalError::new("the divisor (second argument) is 0"));
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => {
            let r = match op {
                Op::Add => x.checked_add(y),
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div => x.checked_div(y),
                Op::Rem => x.checked_rem(y),
            };
            r.map(Num::Int).ok_or_else(|| {
                EvalError::new(format!(
                    "the result of {x} and {y} does not fit in a 64-bit integer; \
                     use float() on an argument to compute with floats"
                ))
            })
        }
        (Num::Decimal(_), _) | (_, Num::Decimal(_)) => {
            let (x, y) = (a.to_decimal()?, b.to_decimal()?);
            let r = match op {
                Op::Add => x.checked_add(y),
                Op::Sub => x.checked_sub(y),
                Op::Mul => x.checked_mul(y),
                Op::Div => x.checked_div(y),
                Op::Rem => x.checked_rem(y),
            };
            r.map(Num::Decimal)
                .ok_or_else(|| EvalError::new("the decimal result is out of range"))
        }
        _ => {
            let (x, y) = (a.to_f64(), b.to_f64());
            let r = match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                Op::Rem => x % y,
            };
            if r.is_finite() {
                Ok(Num::Float(r))
            } else {
                Err(EvalError::new(format!(
                    "the result of {x} and {y} is not a finite number"
                )))
            }
        }
    }
}

/// Numeric order across integer, float and decimal; `None` when a float is NaN.
pub fn compare(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Decimal(_), Num::Float(_)) | (Num::Float(_), Num::Decimal(_)) => {
            a.to_f64().partial_cmp(&b.to_f64())
        }
        (Num::Decimal(_), _) | (_, Num::Decimal(_)) => match (a.to_decimal(), b.to_decimal()) {
            (Ok(x), Ok(y)) => Some(x.cmp(&y)),
            _ => a.to_f64().partial_cmp(&b.to_f64()),
        },
        (Num::Int(x), Num::Float(y)) => int_float_cmp(x, y),
        (Num::Float(x), Num::Int(y)) => int_float_cmp(y, x).map(Ordering::reverse),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
    }
}

/// Exact comparison of an integer with a float (no rounding of large integers).
fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // Beyond ±2^63 the float is outside the integer range altogether.
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc() as i64;
    match i.cmp(&whole) {
        Ordering::Equal => 0.0f64.partial_cmp(&f.fract()),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_and_errors() {
        assert_eq!(
            apply(Op::Add, Num::Int(1), Num::Int(2)).unwrap(),
            Num::Int(3)
        );
        assert_eq!(
            apply(Op::Add, Num::Int(1), Num::Float(2.0)).unwrap(),
            Num::Float(3.0)
        );
        assert!(apply(Op::Add, Num::Int(i64::MAX), Num::Int(1)).is_err());
        assert!(apply(Op::Div, Num::Int(i64::MIN), Num::Int(-1)).is_err());
        assert!(apply(Op::Div, Num::Float(1.0), Num::Float(0.0)).is_err());
    }

    #[test]
    fn int_float_order_is_exact() {
        assert_eq!(compare(Num::Int(2), Num::Float(2.5)), Some(Ordering::Less));
        assert_eq!(
            compare(Num::Int(3), Num::Float(2.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(compare(Num::Int(2), Num::Float(2.0)), Some(Ordering::Equal));
        assert_eq!(
            compare(Num::Float(-2.5), Num::Int(-2)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare(Num::Int(i64::MAX), Num::Float(1e19)),
            Some(Ordering::Less)
        );
    }
}
