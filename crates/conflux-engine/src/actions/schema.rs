//! A small JSON Schema validator for ParseJson: `type` (string or list),
//! `properties`, `required`, `items`, `enum`, `additionalProperties: false`,
//! `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`. That is
//! what designer-generated schemas use; other keywords are accepted and ignored.

use conflux_expr::Value;
use serde_json::Value as Json;

/// Every violation, each with its JSON path in the content.
pub(crate) fn validate(value: &Value, schema: &Json) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, "$", &mut errors);
    errors
}

fn type_matches(value: &Value, t: &str) -> bool {
    match t {
        "string" => matches!(value, Value::String(_)),
        "integer" => {
            matches!(value, Value::Int(_)) || matches!(value, Value::Float(f) if f.fract() == 0.0)
        }
        "number" => matches!(value, Value::Int(_) | Value::Float(_) | Value::Decimal(_)),
        "boolean" => matches!(value, Value::Bool(_)),
        "object" => matches!(value, Value::Object(_)),
        "array" => matches!(value, Value::Array(_)),
        "null" => value.is_null(),
        _ => true,
    }
}

fn check(value: &Value, schema: &Json, path: &str, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    match s.get("type") {
        Some(Json::String(t)) if !type_matches(value, t) => {
            errors.push(format!("{path}: expected {t}, found {}", value.type_name()));
            return;
        }
        Some(Json::Array(ts))
            if !ts
                .iter()
                .filter_map(Json::as_str)
                .any(|t| type_matches(value, t)) =>
        {
            errors.push(format!(
                "{path}: the value of type {} is none of the allowed types",
                value.type_name()
            ));
            return;
        }
        _ => {}
    }
    if let Some(Json::Array(allowed)) = s.get("enum") {
        let json = value.to_json();
        if !allowed.contains(&json) {
            errors.push(format!("{path}: {json} is not one of the allowed values"));
        }
    }
    match value {
        Value::Object(o) => {
            if let Some(Json::Array(req)) = s.get("required") {
                for r in req.iter().filter_map(Json::as_str) {
                    if !o.contains_key(r) {
                        errors.push(format!("{path}: required property '{r}' is missing"));
                    }
                }
            }
            let props = s.get("properties").and_then(Json::as_object);
            for (k, v) in o.iter() {
                match props.and_then(|p| p.get(k.as_str())) {
                    Some(ps) => check(v, ps, &format!("{path}.{k}"), errors),
                    None => {
                        if s.get("additionalProperties") == Some(&Json::Bool(false)) {
                            errors.push(format!("{path}: property '{k}' is not allowed"));
                        }
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(min) = s.get("minItems").and_then(Json::as_u64) {
                if (a.len() as u64) < min {
                    errors.push(format!("{path}: at least {min} items are required"));
                }
            }
            if let Some(max) = s.get("maxItems").and_then(Json::as_u64) {
                if (a.len() as u64) > max {
                    errors.push(format!("{path}: at most {max} items are allowed"));
                }
            }
            if let Some(item_schema) = s.get("items") {
                for (i, v) in a.iter().enumerate() {
                    check(v, item_schema, &format!("{path}[{i}]"), errors);
                }
            }
        }
        Value::String(text) => {
            let len = text.chars().count() as u64;
            if s.get("minLength")
                .and_then(Json::as_u64)
                .is_some_and(|m| len < m)
            {
                errors.push(format!("{path}: the string is shorter than minLength"));
            }
            if s.get("maxLength")
                .and_then(Json::as_u64)
                .is_some_and(|m| len > m)
            {
                errors.push(format!("{path}: the string is longer than maxLength"));
            }
        }
        Value::Int(_) | Value::Float(_) | Value::Decimal(_) => {
            let n = value.as_f64().unwrap_or(0.0);
            if s.get("minimum")
                .and_then(Json::as_f64)
                .is_some_and(|m| n < m)
            {
                errors.push(format!("{path}: {n} is below the minimum"));
            }
            if s.get("maximum")
                .and_then(Json::as_f64)
                .is_some_and(|m| n > m)
            {
                errors.push(format!("{path}: {n} is above the maximum"));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_type_required_items_and_enum() {
        let schema = json!({"type": "object", "required": ["id", "tags"], "properties": {
            "id": {"type": "integer"}, "kind": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}}}});
        let ok = Value::from(json!({"id": 1, "kind": "a", "tags": ["x"]}));
        assert!(validate(&ok, &schema).is_empty());
        let bad = Value::from(json!({"id": "1", "kind": "c", "tags": [1]}));
        let errors = validate(&bad, &schema);
        assert_eq!(errors.len(), 3, "{errors:?}");
        let missing = Value::from(json!({"id": 1}));
        assert_eq!(
            validate(&missing, &schema),
            vec!["$: required property 'tags' is missing".to_string()]
        );
    }
}
