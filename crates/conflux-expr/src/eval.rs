//! Evaluation of compiled expressions against an [`EvalHost`].

use crate::compile::{Key, Node, PathStep};
use crate::error::EvalError;
use crate::functions::{FnCtx, FunctionDef};
use crate::host::EvalHost;
use crate::value::Value;

/// Arguments of calls with at most this many are kept on the stack.
const INLINE_ARGS: usize = 4;

/// Evaluates `node`. Arguments are evaluated left to right.
pub(crate) fn eval_node(node: &Node, host: &dyn EvalHost) -> Result<Value, EvalError> {
    match node {
        Node::Const(v) => Ok(v.clone()),
        Node::Call { def, args } => call(def, args, host),
        Node::If(args) => {
            let [cond, yes, no] = &**args;
            match eval_node(cond, host)? {
                Value::Bool(true) => eval_node(yes, host),
                Value::Bool(false) => eval_node(no, host),
                other => Err(EvalError::new(format!(
                    "if: the condition must be a Boolean, but it is {} ({})",
                    a_type(&other),
                    short(&other)
                ))),
            }
        }
        Node::And(args) => logical_chain("and", args, false, host),
        Node::Or(args) => logical_chain("or", args, true, host),
        Node::Path { base, steps } => {
            let mut current = eval_node(base, host)?;
            for step in steps.iter() {
                current = access(current, step, host)?;
            }
            Ok(current)
        }
    }
}

fn call(def: &FunctionDef, args: &[Node], host: &dyn EvalHost) -> Result<Value, EvalError> {
    let ctx = FnCtx { host };
    let result = if args.len() <= INLINE_ARGS {
        let mut buf: [Value; INLINE_ARGS] = Default::default();
        for (slot, arg) in buf.iter_mut().zip(args) {
            *slot = eval_node(arg, host)?;
        }
        guarded(def, &ctx, &buf[..args.len()])
    } else {
        let values = args
            .iter()
            .map(|a| eval_node(a, host))
            .collect::<Result<Vec<_>, _>>()?;
        guarded(def, &ctx, &values)
    };
    result.map_err(|e| prefix(def.name, e))
}

/// Runs a function body; a panic inside it (a bug, possibly in a third-party
/// parser it uses) becomes an evaluation error instead of taking the run down.
fn guarded(def: &FunctionDef, ctx: &FnCtx<'_>, args: &[Value]) -> Result<Value, EvalError> {
    let body = def.body;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(ctx, args))).unwrap_or_else(
        |payload| {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(EvalError::new(format!(
                "internal error while evaluating this function ({detail}); please report it \
                 with the expression"
            )))
        },
    )
}

/// Prefixes a function's error with its name, unless a host already did.
fn prefix(name: &str, e: EvalError) -> EvalError {
    let already = e
        .message
        .split_once(": ")
        .is_some_and(|(head, _)| head.eq_ignore_ascii_case(name));
    if already {
        e
    } else {
        EvalError::new(format!("{name}: {}", e.message))
    }
}

/// `and`/`or`: stop at the first argument equal to `stop_at` and return it.
fn logical_chain(
    name: &str,
    args: &[Node],
    stop_at: bool,
    host: &dyn EvalHost,
) -> Result<Value, EvalError> {
    for (i, arg) in args.iter().enumerate() {
        match eval_node(arg, host)? {
            Value::Bool(b) if b == stop_at => return Ok(Value::Bool(stop_at)),
            Value::Bool(_) => {}
            other => {
                return Err(EvalError::new(format!(
                    "{name}: argument {} must be a Boolean, but it is {} ({})",
                    i + 1,
                    a_type(&other),
                    short(&other)
                )))
            }
        }
    }
    Ok(Value::Bool(!stop_at))
}

fn access(target: Value, step: &PathStep, host: &dyn EvalHost) -> Result<Value, EvalError> {
    let dynamic;
    let key = match &step.key {
        Key::Dynamic(node) => {
            dynamic = eval_node(node, host)?;
            match &dynamic {
                Value::String(s) => KeyRef::Name(s),
                Value::Int(i) => KeyRef::Index(*i),
                Value::Null if step.null_safe => return Ok(Value::Null),
                other => {
                    return Err(EvalError::new(format!(
                        "an index must be a string (property) or an integer (array element), \
                         but it is {} ({})",
                        a_type(other),
                        short(other)
                    )))
                }
            }
        }
        Key::Name(n) => KeyRef::Name(n),
        Key::Index(i) => KeyRef::Index(*i),
    };
    let safe_hint = |k: &KeyRef<'_>| match k {
        KeyRef::Name(n) => format!("?['{}']", n.replace('\'', "''")),
        KeyRef::Index(i) => format!("?[{i}]"),
    };
    match (&target, &key) {
        (Value::Null, _) if step.null_safe => Ok(Value::Null),
        (Value::Null, k) => Err(EvalError::new(format!(
            "cannot read {} of null; write {} to get null instead",
            k.describe(),
            safe_hint(k)
        ))),
        (Value::Object(_) | Value::Content(_), KeyRef::Name(name)) => match target.get(name) {
            Some(v) => Ok(v),
            None if step.null_safe => Ok(Value::Null),
            None => Err(EvalError::new(format!(
                "the property '{name}' does not exist{}; write {} to get null when it is missing",
                available(&target),
                safe_hint(&key)
            ))),
        },
        (Value::Array(items), KeyRef::Index(i)) => index_array(items, *i, step.null_safe),
        // `.0` on an array reads like an index.
        (Value::Array(items), KeyRef::Name(name)) if name.parse::<i64>().is_ok() => {
            index_array(items, name.parse().unwrap_or(-1), step.null_safe)
        }
        (other, k) => Err(EvalError::new(format!(
            "cannot read {} of {} ({})",
            k.describe(),
            a_type(other),
            short(other)
        ))),
    }
}

fn index_array(items: &[Value], i: i64, null_safe: bool) -> Result<Value, EvalError> {
    let found = usize::try_from(i).ok().and_then(|i| items.get(i));
    match found {
        Some(v) => Ok(v.clone()),
        None if null_safe => Ok(Value::Null),
        None => Err(EvalError::new(format!(
            "the index {i} is out of range for an array of {} element{}; write ?[{i}] to get null instead",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        ))),
    }
}

enum KeyRef<'a> {
    Name(&'a str),
    Index(i64),
}

impl KeyRef<'_> {
    fn describe(&self) -> String {
        match self {
            KeyRef::Name(n) => format!("the property '{n}'"),
            KeyRef::Index(i) => format!("the element [{i}]"),
        }
    }
}

/// ` (available: a, b, c)` for error messages about a missing property.
fn available(target: &Value) -> String {
    const SHOWN: usize = 8;
    match target {
        Value::Object(o) if o.is_empty() => " (the object is empty)".into(),
        Value::Object(o) => {
            let names: Vec<&str> = o.keys().take(SHOWN).map(|k| k.as_str()).collect();
            let more = if o.len() > SHOWN { ", ..." } else { "" };
            format!(" (available: {}{more})", names.join(", "))
        }
        Value::Content(_) => " (content has '$content-type' and '$content')".into(),
        _ => String::new(),
    }
}

/// The value's type with its article: `an Integer`, `a String`.
pub(crate) fn a_type(v: &Value) -> String {
    let name = v.type_name();
    let article = match name.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U') => "an",
        _ => "a",
    };
    format!("{article} {name}")
}

/// A value shortened for an error message.
pub(crate) fn short(v: &Value) -> String {
    const MAX: usize = 60;
    let text = v.to_json_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::NoHost;

    fn explode(_: &FnCtx<'_>, _: &[Value]) -> crate::error::FnResult {
        panic!("boom")
    }

    static EXPLODE: FunctionDef = FunctionDef {
        name: "explode",
        min_args: 0,
        max_args: Some(0),
        body: explode,
        examples: &[],
    };

    #[test]
    fn a_panicking_function_body_becomes_an_error() {
        let node = Node::Call {
            def: &EXPLODE,
            args: Box::new([]),
        };
        let e = eval_node(&node, &NoHost).unwrap_err();
        assert!(
            e.message
                .starts_with("explode: internal error while evaluating this function (boom)"),
            "{e}"
        );
    }
}
