//! Collection functions over arrays, strings and objects. Items are compared
//! with [`values_equal`] (numbers by value, objects regardless of key order).

use super::FunctionDef;

mod equality;
mod membership;
mod sequence;
mod sets;

pub use equality::values_equal;

pub static FUNCTIONS: &[FunctionDef] = &[
    membership::CONTAINS,
    membership::EMPTY,
    membership::FIRST,
    membership::LAST,
    sets::INTERSECTION,
    sets::UNION,
    sequence::JOIN,
    sequence::SKIP,
    sequence::TAKE,
    sequence::REVERSE,
    sequence::SORT,
];
