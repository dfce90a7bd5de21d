//! Variable actions: InitializeVariable (several variables per action), Set,
//! Increment/Decrement, AppendToArray, AppendToString.

use conflux_definition::{ActionDefinition, VariableOp};
use conflux_expr::{CompiledValue, Value};

use super::{template_error, Outcome};
use crate::state::{lock, Host};

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "integer" => matches!(v, Value::Int(_)),
        "float" => matches!(v, Value::Int(_) | Value::Float(_) | Value::Decimal(_)),
        "string" => matches!(v, Value::String(_)),
        "boolean" => matches!(v, Value::Bool(_)),
        "array" => matches!(v, Value::Array(_)),
        "object" => matches!(v, Value::Object(_) | Value::Content(_)),
        _ => false,
    }
}

pub(super) fn initialize(
    def: &ActionDefinition,
    host: &Host<'_>,
    inputs: &CompiledValue,
) -> Outcome {
    let v = match inputs.eval(host) {
        Ok(v) => v,
        Err(e) => return template_error(def, &e),
    };
    let Some(Value::Array(list)) = v.get("variables") else {
        return Outcome::failed(
            "InvalidTemplate",
            "InitializeVariable needs inputs.variables",
        )
        .with_inputs(Some(v));
    };
    let mut set = Vec::with_capacity(list.len());
    for entry in list.iter() {
        let name = entry.get("name").map(|n| n.to_text()).unwrap_or_default();
        let t = entry
            .get("type")
            .map(|t| t.to_text().to_ascii_lowercase())
            .unwrap_or_default();
        let value = match (entry.get("value"), t.as_str()) {
            (Some(v), "float") => match v {
                Value::Int(i) => Value::Float(i as f64),
                other => other,
            },
            (Some(v), _) => v,
            (None, "integer") => Value::Int(0),
            (None, "float") => Value::Float(0.0),
            (None, "boolean") => Value::Bool(false),
            (None, "string") => Value::string(""),
            (None, "array") => Value::array(Vec::new()),
            (None, _) => Value::Null,
        };
        if !value.is_null() && !type_ok(&t, &value) {
            return Outcome::failed(
                "InvalidVariableValue",
                &format!(
                    "The variable '{name}' is declared as '{t}' but its value is of type '{}'.",
                    value.type_name()
                ),
            )
            .with_inputs(Some(v.clone()));
        }
        let mut vars = lock(&host.run.variables);
        let key = name.to_ascii_lowercase();
        if vars.contains_key(&key) {
            drop(vars);
            return Outcome::failed(
                "InvalidOperationOnVariable",
                &format!("The variable '{name}' is already initialized."),
            )
            .with_inputs(Some(v.clone()));
        }
        vars.insert(key, value.clone());
        set.push((name, value));
    }
    let mut o = Outcome::ok(Some(v), None);
    o.variables = set;
    o
}

pub(super) fn update(
    def: &ActionDefinition,
    host: &Host<'_>,
    op: VariableOp,
    inputs: &CompiledValue,
) -> Outcome {
    let v = match inputs.eval(host) {
        Ok(v) => v,
        Err(e) => return template_error(def, &e),
    };
    let name = v.get("name").map(|n| n.to_text()).unwrap_or_default();
    let operand = v.get("value");
    let key = name.to_ascii_lowercase();
    let mut vars = lock(&host.run.variables);
    let Some(current) = vars.get(&key).cloned() else {
        drop(vars);
        return Outcome::failed(
            "InvalidOperationOnVariable",
            &format!("The variable '{name}' is not initialized; initialize it with InitializeVariable first."),
        )
        .with_inputs(Some(v));
    };
    let fail = |msg: String| Outcome::failed("InvalidOperationOnVariable", &msg);
    let new = match op {
        VariableOp::Set => {
            let value = operand.unwrap_or(Value::Null);
            let same_kind = matches!(
                (&current, &value),
                (Value::Int(_), Value::Int(_))
                    | (Value::Float(_), Value::Int(_) | Value::Float(_))
                    | (Value::String(_), Value::String(_))
                    | (Value::Bool(_), Value::Bool(_))
                    | (Value::Array(_), Value::Array(_))
                    | (Value::Object(_), Value::Object(_))
                    | (Value::Null, _)
                    | (_, Value::Null)
            );
            if !same_kind {
                return fail(format!(
                    "The variable '{name}' of type '{}' cannot be set to a value of type '{}'.",
                    current.type_name(),
                    value.type_name()
                ))
                .with_inputs(Some(v.clone()));
            }
            match (&current, value) {
                (Value::Float(_), Value::Int(i)) => Value::Float(i as f64),
                (_, value) => value,
            }
        }
        VariableOp::Increment | VariableOp::Decrement => {
            let by = operand.unwrap_or(Value::Int(1));
            let sign = if op == VariableOp::Increment { 1 } else { -1 };
            match (&current, &by) {
                (Value::Int(a), Value::Int(b)) => match a.checked_add(sign * b) {
                    Some(n) => Value::Int(n),
                    None => return fail(format!("Incrementing the variable '{name}' overflowed.")),
                },
                (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                    let a = current.as_f64().unwrap_or(0.0);
                    let b = by.as_f64().unwrap_or(0.0);
                    Value::Float(a + sign as f64 * b)
                }
                _ => {
                    return fail(format!(
                        "Only Integer and Float variables can be incremented or decremented; '{name}' is of type '{}' and the value of type '{}'.",
                        current.type_name(),
                        by.type_name()
                    ))
                    .with_inputs(Some(v.clone()))
                }
            }
        }
        VariableOp::AppendToArray => match &current {
            Value::Array(a) => {
                let mut items = Vec::with_capacity(a.len() + 1);
                items.extend(a.iter().cloned());
                items.push(operand.unwrap_or(Value::Null));
                Value::array(items)
            }
            other => {
                return fail(format!(
                    "The variable '{name}' is of type '{}', not Array.",
                    other.type_name()
                ))
                .with_inputs(Some(v.clone()))
            }
        },
        VariableOp::AppendToString => match &current {
            Value::String(s) => Value::string(format!(
                "{s}{}",
                operand.map(|o| o.to_text()).unwrap_or_default()
            )),
            other => {
                return fail(format!(
                    "The variable '{name}' is of type '{}', not String.",
                    other.type_name()
                ))
                .with_inputs(Some(v.clone()))
            }
        },
    };
    vars.insert(key, new.clone());
    drop(vars);
    let mut body = conflux_expr::map_with_capacity(2);
    body.insert("name".into(), Value::string(name.as_str()));
    body.insert("value".into(), new.clone());
    let mut outputs = conflux_expr::map_with_capacity(1);
    outputs.insert("body".into(), Value::object(body));
    let mut o = Outcome::ok(Some(v), Some(Value::object(outputs)));
    o.variables = vec![(name, new)];
    o
}
