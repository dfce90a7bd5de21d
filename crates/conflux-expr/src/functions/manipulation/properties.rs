//! `coalesce`, `addProperty`, `setProperty`, `removeProperty`.
//!
//! The property functions return a new object and leave their argument as it
//! was; to change a nested property, nest the calls
//! (`setProperty(o, 'p', setProperty(o['p'], 'c', v))`).

use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::{Map, Value};

fn coalesce(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    Ok(args
        .iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null))
}

/// The object argument as an editable map (content envelopes included).
fn object_arg(args: &[Value]) -> Result<Map, EvalError> {
    match args::arg(args, 0) {
        Value::Object(o) => Ok(o.as_ref().clone()),
        other => Err(args::type_error(0, "Object", other)),
    }
}

fn add_property(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let mut map = object_arg(args)?;
    let name = args::string(args, 1)?;
    if map.contains_key(name) {
        return Err(EvalError::new(format!(
            "the property '{name}' already exists; use setProperty() to change its value"
        )));
    }
    map.insert(name.into(), args::arg(args, 2).clone());
    Ok(Value::object(map))
}

fn set_property(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let mut map = object_arg(args)?;
    let name = args::string(args, 1)?;
    map.insert(name.into(), args::arg(args, 2).clone());
    Ok(Value::object(map))
}

fn remove_property(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let name = args::string(args, 1)?;
    let object = args::arg(args, 0);
    let Value::Object(o) = object else {
        return Err(args::type_error(0, "Object", object));
    };
    if !o.contains_key(name) {
        return Ok(object.clone());
    }
    let mut map = o.as_ref().clone();
    map.shift_remove(name);
    Ok(Value::object(map))
}

pub const COALESCE: FunctionDef = FunctionDef {
    name: "coalesce",
    min_args: 1,
    max_args: None,
    body: coalesce,
    examples: &[
        ("@coalesce(null, true, false)", "true"),
        ("@coalesce(null, 'hello', 'world')", "\"hello\""),
        ("@coalesce(null, null, null)", "null"),
        ("@coalesce(null, '', 'x')", "\"\""),
    ],
};

pub const ADD_PROPERTY: FunctionDef = FunctionDef {
    name: "addProperty",
    min_args: 3,
    max_args: Some(3),
    body: add_property,
    examples: &[
        (
            "@addProperty(json('{ \"firstName\": \"Sophia\", \"surName\": \"Owen\" }'), 'middleName', 'Anne')",
            r#"{"firstName":"Sophia","surName":"Owen","middleName":"Anne"}"#,
        ),
        (
            "@addProperty(json('{\"a\": 1}'), 'a', 2)",
            "error: the property 'a' already exists",
        ),
        (
            "@setProperty(json('{ \"customerName\": { \"firstName\": \"Sophia\", \"surName\": \"Owen\" } }'), 'customerName', addProperty(json('{ \"customerName\": { \"firstName\": \"Sophia\", \"surName\": \"Owen\" } }')['customerName'], 'middleName', 'Anne'))",
            r#"{"customerName":{"firstName":"Sophia","surName":"Owen","middleName":"Anne"}}"#,
        ),
    ],
};

pub const SET_PROPERTY: FunctionDef = FunctionDef {
    name: "setProperty",
    min_args: 3,
    max_args: Some(3),
    body: set_property,
    examples: &[
        (
            "@setProperty(json('{ \"firstName\": \"Sophia\", \"surName\": \"Owen\" }'), 'surName', 'Hartnett')",
            r#"{"firstName":"Sophia","surName":"Hartnett"}"#,
        ),
        (
            "@setProperty(json('{ \"customerName\": { \"firstName\": \"Sophia\", \"surName\": \"Owen\" } }'), 'customerName', setProperty(json('{ \"customerName\": { \"firstName\": \"Sophia\", \"surName\": \"Owen\" } }')['customerName'], 'surName', 'Hartnett'))",
            r#"{"customerName":{"firstName":"Sophia","surName":"Hartnett"}}"#,
        ),
    ],
};

pub const REMOVE_PROPERTY: FunctionDef = FunctionDef {
    name: "removeProperty",
    min_args: 2,
    max_args: Some(2),
    body: remove_property,
    examples: &[
        (
            "@removeProperty(json('{ \"firstName\": \"Sophia\", \"middleName\": \"Anne\", \"surName\": \"Owen\" }'), 'middleName')",
            r#"{"firstName":"Sophia","surName":"Owen"}"#,
        ),
        (
            "@removeProperty(json('{ \"customerName\": { \"firstName\": \"Sophia\", \"middleName\": \"Anne\", \"surName\": \"Owen\" } }')['customerName'], 'middleName')",
            r#"{"firstName":"Sophia","surName":"Owen"}"#,
        ),
        ("@removeProperty(json('{\"a\": 1}'), 'b')", r#"{"a":1}"#),
    ],
};
