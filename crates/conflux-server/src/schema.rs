//! The part of JSON Schema a Request trigger's `schema` is checked against
//! with `EnableSchemaValidation`: `type`, `required`, `properties`, `items`,
//! `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`.
//! Other keywords are ignored (documented in docs/server.md).

use serde_json::Value;

/// Every violation, each with the JSON path where it occurs.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "$", &mut errors);
    errors
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(expected) = schema.get("type") {
        let types: Vec<&str> = match expected {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            errors.push(format!(
                "{path}: expected {}, got {}",
                types.join(" or "),
                type_name(value)
            ));
            return;
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(value) {
            errors.push(format!("{path}: value is not one of the allowed values"));
        }
    }
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(required)) = schema.get("required") {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        errors.push(format!("{path}: required property '{name}' is missing"));
                    }
                }
            }
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, sub) in properties {
                    if let Some(item) = map.get(name) {
                        check(sub, item, &format!("{path}.{name}"), errors);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    check(sub, item, &format!("{path}[{index}]"), errors);
                }
            }
            bound(
                schema,
                "minItems",
                "maxItems",
                items.len() as f64,
                path,
                "items",
                errors,
            );
        }
        Value::String(text) => {
            bound(
                schema,
                "minLength",
                "maxLength",
                text.chars().count() as f64,
                path,
                "characters",
                errors,
            );
        }
        Value::Number(number) => {
            if let Some(n) = number.as_f64() {
                bound(schema, "minimum", "maximum", n, path, "as value", errors);
            }
        }
        _ => {}
    }
}

fn bound(
    schema: &serde_json::Map<String, Value>,
    min: &str,
    max: &str,
    actual: f64,
    path: &str,
    unit: &str,
    errors: &mut Vec<String>,
) {
    if let Some(limit) = schema.get(min).and_then(Value::as_f64) {
        if actual < limit {
            errors.push(format!("{path}: {min} is {limit} {unit}, got {actual}"));
        }
    }
    if let Some(limit) = schema.get(max).and_then(Value::as_f64) {
        if actual > limit {
            errors.push(format!("{path}: {max} is {limit} {unit}, got {actual}"));
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => {
            value.as_i64().is_some()
                || value.as_u64().is_some()
                || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_each_violation_with_its_path() {
        let schema = json!({"type": "object", "required": ["name", "qty"],
            "properties": {"name": {"type": "string", "minLength": 1},
                           "qty": {"type": "integer", "minimum": 1},
                           "tags": {"type": "array", "items": {"type": "string"}}}});
        assert!(validate(&schema, &json!({"name": "a", "qty": 2, "tags": ["x"]})).is_empty());
        let errors = validate(&schema, &json!({"name": "", "tags": ["x", 3]}));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.iter().any(|e| e.contains("'qty' is missing")));
        assert!(errors.iter().any(|e| e.starts_with("$.tags[1]")));
        assert_eq!(
            validate(&schema, &json!([1])),
            vec!["$: expected object, got array"]
        );
    }
}
