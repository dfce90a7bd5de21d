//! Manipulation functions for JSON objects and XML: `coalesce`, the property
//! functions and `xpath`.

use super::FunctionDef;

mod properties;
mod xpath;

pub static FUNCTIONS: &[FunctionDef] = &[
    properties::COALESCE,
    properties::ADD_PROPERTY,
    properties::SET_PROPERTY,
    properties::REMOVE_PROPERTY,
    xpath::XPATH,
];
