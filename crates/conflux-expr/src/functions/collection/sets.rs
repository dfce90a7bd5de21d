//! `intersection` and `union` of arrays or of objects.

use std::collections::HashSet;

use super::equality::{canonical_key, values_equal};
use crate::error::{EvalError, FnResult};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::{Map, Value};

/// The collections, all arrays or all objects (never mixed).
enum Collections<'a> {
    Arrays(Vec<&'a [Value]>),
    Objects(Vec<&'a Map>),
}

fn collections(args: &[Value]) -> Result<Collections<'_>, EvalError> {
    match args::arg(args, 0) {
        Value::Array(_) => {
            let mut out = Vec::with_capacity(args.len());
            for i in 0..args.len() {
                out.push(args::array(args, i)?.as_slice());
            }
            Ok(Collections::Arrays(out))
        }
        Value::Object(_) => {
            let mut out = Vec::with_capacity(args.len());
            for i in 0..args.len() {
                out.push(args::object(args, i)?.as_ref());
            }
            Ok(Collections::Objects(out))
        }
        other => Err(EvalError::new(format!(
            "the collections must be all Arrays or all Objects, got {} as the first argument",
            other.type_name()
        ))),
    }
}

fn push_unique(out: &mut Vec<Value>, seen: &mut HashSet<String>, v: &Value) {
    if seen.insert(canonical_key(v)) {
        out.push(v.clone());
    }
}

fn intersection(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match collections(args)? {
        Collections::Arrays(arrays) => {
            let others: Vec<HashSet<String>> = arrays[1..]
                .iter()
                .map(|a| a.iter().map(canonical_key).collect())
                .collect();
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for v in arrays[0] {
                let key = canonical_key(v);
                if others.iter().all(|keys| keys.contains(&key)) && seen.insert(key) {
                    out.push(v.clone());
                }
            }
            Ok(Value::array(out))
        }
        Collections::Objects(objects) => {
            let mut out = Map::default();
            for (k, v) in objects[0] {
                let everywhere = objects[1..]
                    .iter()
                    .all(|o| o.get(k).is_some_and(|w| values_equal(v, w)));
                if everywhere {
                    let last = objects.last().and_then(|o| o.get(k)).unwrap_or(v);
                    out.insert(k.clone(), last.clone());
                }
            }
            Ok(Value::object(out))
        }
    }
}

fn union(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    match collections(args)? {
        Collections::Arrays(arrays) => {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for v in arrays.iter().flat_map(|a| a.iter()) {
                push_unique(&mut out, &mut seen, v);
            }
            Ok(Value::array(out))
        }
        Collections::Objects(objects) => {
            let mut out = Map::default();
            for (k, v) in objects.iter().flat_map(|o| o.iter()) {
                out.insert(k.clone(), v.clone());
            }
            Ok(Value::object(out))
        }
    }
}

pub const INTERSECTION: FunctionDef = FunctionDef {
    name: "intersection",
    min_args: 1,
    max_args: None,
    body: intersection,
    examples: &[
        (
            "@intersection(createArray(1, 2, 3), createArray(101, 2, 1, 10), createArray(6, 8, 1, 2))",
            "[1,2]",
        ),
        (
            "@intersection(json('{\"a\": 1, \"b\": 2}'), json('{\"a\": 1, \"b\": 3}'))",
            r#"{"a":1}"#,
        ),
    ],
};

pub const UNION: FunctionDef = FunctionDef {
    name: "union",
    min_args: 1,
    max_args: None,
    body: union,
    examples: &[
        (
            "@union(createArray(1, 2, 3), createArray(1, 2, 10, 101))",
            "[1,2,3,10,101]",
        ),
        (
            "@union(json('{\"a\": 1, \"b\": 2}'), json('{\"b\": 3, \"c\": 4}'))",
            r#"{"a":1,"b":3,"c":4}"#,
        ),
    ],
};
