//! A run state given as one JSON object, for `conflux eval` and for tests.
//!
//! ```
//! use conflux_expr::{eval_str, JsonContext, Value};
//!
//! let ctx = JsonContext::from_json(&serde_json::json!({
//!     "parameters": {"region": "west"},
//!     "triggerBody": {"order": {"id": 7}},
//!     "outputs": {"Compose": 42}
//! }))
//! .unwrap();
//! assert_eq!(eval_str("@triggerBody().order.id", &ctx).unwrap(), Value::Int(7));
//! assert_eq!(eval_str("@outputs('Compose')", &ctx).unwrap(), Value::Int(42));
//! assert_eq!(eval_str("@{parameters('region')}", &ctx).unwrap(), Value::from("west"));
//! ```

use crate::error::EvalError;
use crate::host::EvalHost;
use crate::value::{Map, Value};

/// An [`EvalHost`] over a JSON object with the keys `parameters`, `variables`,
/// `trigger`, `triggerBody`, `triggerOutputs`, `outputs`, `actions`, `items`,
/// `item`, `appsettings`, `workflow`, `result`, `iterationIndexes` and `action`
/// (all optional).
#[derive(Debug, Clone, Default)]
pub struct JsonContext {
    parameters: Map,
    variables: Map,
    trigger: Option<Value>,
    actions: Map,
    items: Map,
    item: Option<Value>,
    app_settings: Map,
    workflow: Option<Value>,
    results: Map,
    iteration_indexes: Map,
    current_action: Option<Value>,
}

const KNOWN_KEYS: &[&str] = &[
    "parameters",
    "variables",
    "trigger",
    "triggerBody",
    "triggerOutputs",
    "outputs",
    "actions",
    "items",
    "item",
    "appsettings",
    "workflow",
    "result",
    "iterationIndexes",
    "action",
];

impl JsonContext {
    /// Reads a context object; an unknown key or a key of the wrong shape is an error.
    pub fn from_json(json: &serde_json::Value) -> Result<JsonContext, EvalError> {
        Self::from_value(&Value::from(json))
    }

    /// Like [`JsonContext::from_json`], from an expression value.
    pub fn from_value(value: &Value) -> Result<JsonContext, EvalError> {
        let obj = match value {
            Value::Null => return Ok(JsonContext::default()),
            Value::Object(o) => o,
            other => {
                return Err(EvalError::new(format!(
                    "context: expected an object, got {}",
                    crate::eval::a_type(other)
                )))
            }
        };
        if let Some(unknown) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(EvalError::new(format!(
                "context: unknown key '{unknown}' (known keys: {})",
                KNOWN_KEYS.join(", ")
            )));
        }
        let map = |key: &str| -> Result<Map, EvalError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(Map::default()),
                Some(Value::Object(o)) => Ok((**o).clone()),
                Some(other) => Err(EvalError::new(format!(
                    "context: '{key}' must be an object of names to values, got {}",
                    crate::eval::a_type(other)
                ))),
            }
        };

        let trigger = match (
            obj.get("trigger"),
            obj.get("triggerOutputs"),
            obj.get("triggerBody"),
        ) {
            (Some(t), _, _) => Some(t.clone()),
            (None, None, None) => None,
            (None, outputs, body) => {
                let mut out = match outputs {
                    Some(Value::Object(o)) => (**o).clone(),
                    Some(Value::Null) | None => Map::default(),
                    Some(other) => {
                        return Err(EvalError::new(format!(
                            "context: 'triggerOutputs' must be an object, got {}",
                            crate::eval::a_type(other)
                        )))
                    }
                };
                if let Some(body) = body {
                    out.insert("body".into(), body.clone());
                }
                Some(record("manual", Value::object(out)))
            }
        };

        let mut actions = Map::default();
        for (name, outputs) in map("outputs")? {
            let rec = record(&name, outputs);
            actions.insert(name, rec);
        }
        for (name, rec) in map("actions")? {
            actions.insert(name, rec);
        }

        let iteration_indexes = map("iterationIndexes")?;
        if let Some((name, v)) = iteration_indexes
            .iter()
            .find(|(_, v)| !matches!(v, Value::Int(_)))
        {
            return Err(EvalError::new(format!(
                "context: iterationIndexes '{name}' must be an integer, got {}",
                crate::eval::a_type(v)
            )));
        }

        Ok(JsonContext {
            parameters: map("parameters")?,
            variables: map("variables")?,
            trigger,
            actions,
            items: map("items")?,
            item: obj.get("item").cloned(),
            app_settings: map("appsettings")?,
            workflow: obj.get("workflow").cloned(),
            results: map("result")?,
            iteration_indexes,
            current_action: obj.get("action").cloned(),
        })
    }
}

/// The record of a trigger or action that succeeded with `outputs`.
fn record(name: &str, outputs: Value) -> Value {
    let mut m = Map::default();
    m.insert("name".into(), Value::from(name));
    m.insert("outputs".into(), outputs);
    m.insert("status".into(), Value::from("Succeeded"));
    Value::object(m)
}

fn lookup(
    map: &Map,
    name: &str,
    function: &str,
    what: &str,
    key: &str,
) -> Result<Value, EvalError> {
    map.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = map.keys().take(8).map(|k| k.as_str()).collect();
        let hint = if known.is_empty() {
            format!("the context has no '{key}'")
        } else {
            format!("defined: {}", known.join(", "))
        };
        EvalError::new(format!(
            "{function}: the {what} '{name}' is not defined ({hint})"
        ))
    })
}

impl EvalHost for JsonContext {
    fn parameter(&self, name: &str) -> Result<Value, EvalError> {
        lookup(
            &self.parameters,
            name,
            "parameters",
            "parameter",
            "parameters",
        )
    }

    fn variable(&self, name: &str) -> Result<Value, EvalError> {
        lookup(&self.variables, name, "variables", "variable", "variables")
    }

    fn trigger(&self) -> Result<Value, EvalError> {
        self.trigger.clone().ok_or_else(|| {
            EvalError::new(
                "trigger: the context defines no trigger (give 'triggerBody', 'triggerOutputs' or 'trigger')",
            )
        })
    }

    fn action(&self, name: &str) -> Result<Value, EvalError> {
        lookup(&self.actions, name, "actions", "action", "outputs")
    }

    fn current_action(&self) -> Result<Value, EvalError> {
        self.current_action.clone().ok_or_else(|| {
            EvalError::new("action: the context defines no current action (give 'action')")
        })
    }

    fn item(&self) -> Result<Value, EvalError> {
        if let Some(item) = &self.item {
            return Ok(item.clone());
        }
        self.items.values().last().cloned().ok_or_else(|| {
            EvalError::new("item: the context defines no loop item (give 'item' or 'items')")
        })
    }

    fn items(&self, loop_name: &str) -> Result<Value, EvalError> {
        lookup(&self.items, loop_name, "items", "loop", "items")
    }

    fn iteration_index(&self, loop_name: &str) -> Result<Value, EvalError> {
        lookup(
            &self.iteration_indexes,
            loop_name,
            "iterationIndexes",
            "loop",
            "iterationIndexes",
        )
    }

    fn result(&self, scope_name: &str) -> Result<Value, EvalError> {
        lookup(&self.results, scope_name, "result", "scope", "result")
    }

    fn workflow(&self) -> Result<Value, EvalError> {
        self.workflow.clone().ok_or_else(|| {
            EvalError::new("workflow: the context defines no workflow (give 'workflow')")
        })
    }

    fn app_setting(&self, name: &str) -> Result<Value, EvalError> {
        lookup(
            &self.app_settings,
            name,
            "appsetting",
            "app setting",
            "appsettings",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trigger_body_alone_makes_trigger_outputs() {
        let ctx = JsonContext::from_json(&json!({"triggerBody": {"a": 1}})).unwrap();
        let t = ctx.trigger().unwrap();
        assert_eq!(
            t.get("outputs").unwrap().to_json_string(),
            r#"{"body":{"a":1}}"#
        );
    }

    #[test]
    fn missing_names_are_clear_errors() {
        let ctx = JsonContext::from_json(&json!({"parameters": {"a": 1}})).unwrap();
        let e = ctx.parameter("x").unwrap_err();
        assert!(
            e.message
                .starts_with("parameters: the parameter 'x' is not defined"),
            "{e}"
        );
        assert!(JsonContext::from_json(&json!({"bogus": 1})).is_err());
    }

    #[test]
    fn item_is_the_last_loop_given() {
        let ctx = JsonContext::from_json(&json!({"items": {"outer": 1, "inner": 2}})).unwrap();
        assert_eq!(ctx.item().unwrap(), Value::Int(2));
        assert_eq!(ctx.items("outer").unwrap(), Value::Int(1));
    }
}
