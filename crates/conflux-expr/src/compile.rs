//! From parse tree to the compiled form that is evaluated many times.
//!
//! Function names are resolved here, once, to `&'static FunctionDef`, and their
//! arity is checked, so evaluation never looks a name up. `if`, `and` and `or`
//! become dedicated nodes because they evaluate their arguments lazily.

use std::sync::Arc;

use crate::ast::{Accessor, Expr, ExprKind};
use crate::error::ParseError;
use crate::functions::{self, FunctionDef};
use crate::value::Value;

/// A compiled expression.
pub(crate) enum Node {
    Const(Value),
    Call {
        def: &'static FunctionDef,
        args: Box<[Node]>,
    },
    /// `if(condition, whenTrue, whenFalse)`: only the chosen branch is evaluated.
    If(Box<[Node; 3]>),
    /// `and(...)`: stops at the first `false`.
    And(Box<[Node]>),
    /// `or(...)`: stops at the first `true`.
    Or(Box<[Node]>),
    /// A value followed by accessors; kept flat so long chains need no recursion.
    Path {
        base: Box<Node>,
        steps: Box<[PathStep]>,
    },
}

pub(crate) struct PathStep {
    pub null_safe: bool,
    pub key: Key,
}

pub(crate) enum Key {
    /// `.name` or `['name']`.
    Name(Arc<str>),
    /// `[3]`.
    Index(i64),
    /// `[expression]`, resolved when evaluated.
    Dynamic(Node),
}

/// Resolves the functions of a parse tree. `source` is the text errors point into.
pub(crate) fn compile(expr: Expr, source: &str) -> Result<Node, ParseError> {
    match expr.kind {
        ExprKind::Literal(v) => Ok(Node::Const(v)),
        ExprKind::Call { name, args } => {
            let def = functions::lookup(&name).ok_or_else(|| {
                ParseError::new(source, expr.column, unknown_function_message(&name))
            })?;
            check_arity(def, args.len()).map_err(|m| ParseError::new(source, expr.column, m))?;
            let args = args
                .into_iter()
                .map(|a| compile(a, source))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(match def.name {
                "if" => match <[Node; 3]>::try_from(args) {
                    Ok(three) => Node::If(Box::new(three)),
                    Err(args) => Node::Call {
                        def,
                        args: args.into_boxed_slice(),
                    },
                },
                "and" => Node::And(args.into_boxed_slice()),
                "or" => Node::Or(args.into_boxed_slice()),
                _ => Node::Call {
                    def,
                    args: args.into_boxed_slice(),
                },
            })
        }
        ExprKind::Access { target, steps } => {
            let base = compile(*target, source)?;
            let steps = steps
                .into_iter()
                .map(|s| {
                    let key = match s.key {
                        Accessor::Name(n) => Key::Name(n.into()),
                        Accessor::Index(e) => match compile(e, source)? {
                            Node::Const(Value::String(s)) => Key::Name(s),
                            Node::Const(Value::Int(i)) => Key::Index(i),
                            other => Key::Dynamic(other),
                        },
                    };
                    Ok(PathStep {
                        null_safe: s.null_safe,
                        key,
                    })
                })
                .collect::<Result<Vec<_>, ParseError>>()?;
            Ok(Node::Path {
                base: Box::new(base),
                steps: steps.into_boxed_slice(),
            })
        }
    }
}

fn check_arity(def: &FunctionDef, given: usize) -> Result<(), String> {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let ok = given >= def.min_args && def.max_args.is_none_or(|max| given <= max);
    if ok {
        return Ok(());
    }
    let expected = match def.max_args {
        Some(max) if max == def.min_args => format!("{max} {}", plural(max)),
        Some(max) => format!("{} to {max} arguments", def.min_args),
        None => format!("at least {} {}", def.min_args, plural(def.min_args)),
    };
    Err(format!(
        "'{}' takes {expected} but {given} {} given",
        def.name,
        if given == 1 { "was" } else { "were" }
    ))
}

fn unknown_function_message(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let best = functions::all()
        .map(|f| (edit_distance(&lower, &f.name.to_ascii_lowercase()), f.name))
        .min();
    match best {
        Some((d, suggestion)) if d <= 2 => {
            format!("unknown function '{name}'; did you mean '{suggestion}'?")
        }
        _ => format!("unknown function '{name}'"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Functions whose first argument names an action (or a scope, for `result`).
const ACTION_REFERENCING: &[&str] = &[
    "actions",
    "outputs",
    "body",
    "actionOutputs",
    "actionBody",
    "result",
    "formDataValue",
    "formDataMultiValues",
    "multipartBody",
];

/// Appends the action names given as string literals to action-reading functions.
pub(crate) fn collect_action_references(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Const(_) => {}
        Node::Call { def, args } => {
            if ACTION_REFERENCING.contains(&def.name) {
                if let Some(Node::Const(Value::String(name))) = args.first() {
                    if !out.iter().any(|n| n.as_str() == &**name) {
                        out.push(name.to_string());
                    }
                }
            }
            args.iter().for_each(|a| collect_action_references(a, out));
        }
        Node::If(args) => args.iter().for_each(|a| collect_action_references(a, out)),
        Node::And(args) | Node::Or(args) => {
            args.iter().for_each(|a| collect_action_references(a, out))
        }
        Node::Path { base, steps } => {
            collect_action_references(base, out);
            for s in steps.iter() {
                if let Key::Dynamic(n) = &s.key {
                    collect_action_references(n, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("add", "add"), 0);
        assert_eq!(edit_distance("ad", "add"), 1);
        assert_eq!(edit_distance("concatt", "concat"), 1);
    }
}
