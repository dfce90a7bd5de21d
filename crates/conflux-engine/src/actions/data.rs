//! Data operations: ParseJson, Query (Filter array), Select, Join, Table.

use conflux_definition::{ActionDefinition, SelectMap, TableColumn};
use conflux_expr::{CompiledValue, Map, Value};

use super::{schema, template_error, Outcome};
use crate::state::Host;

fn with_item<'a>(host: &'a Host<'a>, item: &'a Value) -> Host<'a> {
    Host {
        run: host.run,
        frame: host.frame,
        current: host.current,
        item: Some(item),
        nondet: host.nondet,
    }
}

fn body(v: Value) -> Value {
    let mut m = conflux_expr::map_with_capacity(1);
    m.insert("body".into(), v);
    Value::object(m)
}

fn from_array(
    def: &ActionDefinition,
    host: &Host<'_>,
    from: &CompiledValue,
) -> Result<std::sync::Arc<Vec<Value>>, Box<Outcome>> {
    match from.eval(host) {
        Ok(Value::Array(a)) => Ok(a),
        // `null` is refused like any other non-array (Logic Apps: "is of type 'Null'").
        Ok(other) => Err(Box::new(Outcome::failed(
            "InvalidTemplate",
            &format!(
                "The 'from' property of action '{}' must be an array, but it is of type '{}'.",
                def.name,
                other.type_name()
            ),
        ))),
        Err(e) => Err(Box::new(template_error(def, &e))),
    }
}

pub(super) fn parse_json(
    def: &ActionDefinition,
    host: &Host<'_>,
    content: &CompiledValue,
    schema_json: &serde_json::Value,
) -> Outcome {
    let content = match content.eval(host) {
        Ok(v) => v,
        Err(e) => return template_error(def, &e),
    };
    // Text content is parsed; already-structured content is taken as is.
    let parsed = match &content {
        Value::String(s) => match Value::from_json_str(s) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::failed(
                    "InvalidJSON",
                    &format!(
                        "The 'content' of action '{}' is not valid JSON: {e}",
                        def.name
                    ),
                )
                .with_inputs(Some(content.clone()))
            }
        },
        Value::Content(c) => match Value::from_json_str(&String::from_utf8_lossy(&c.data)) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::failed(
                    "InvalidJSON",
                    &format!(
                        "The 'content' of action '{}' is not valid JSON: {e}",
                        def.name
                    ),
                )
            }
        },
        other => other.clone(),
    };
    let mut inputs = Map::default();
    inputs.insert("content".into(), content);
    inputs.insert("schema".into(), Value::from(schema_json));
    let inputs = Some(Value::object(inputs));
    let errors = schema::validate(&parsed, schema_json);
    if !errors.is_empty() {
        let mut o = Outcome::failed(
            "SchemaValidationFailed",
            &format!(
                "The content does not match the schema: {}",
                errors.join("; ")
            ),
        );
        o.inputs = inputs;
        o.outputs = Some(body(parsed));
        return o;
    }
    Outcome::ok(inputs, Some(body(parsed)))
}

pub(super) fn query(
    def: &ActionDefinition,
    host: &Host<'_>,
    from: &CompiledValue,
    where_: &CompiledValue,
) -> Outcome {
    let items = match from_array(def, host, from) {
        Ok(a) => a,
        Err(o) => return *o,
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let h = with_item(host, item);
        match where_.eval(&h) {
            Ok(Value::Bool(true)) => out.push(item.clone()),
            Ok(Value::Bool(false)) => {}
            Ok(Value::String(s)) if s.eq_ignore_ascii_case("true") => out.push(item.clone()),
            Ok(Value::String(s)) if s.eq_ignore_ascii_case("false") => {}
            Ok(other) => {
                return Outcome::failed(
                    "InvalidTemplate",
                    &format!(
                        "The 'where' of action '{}' must be a boolean, but it is of type '{}'.",
                        def.name,
                        other.type_name()
                    ),
                )
            }
            Err(e) => return template_error(def, &e),
        }
    }
    let mut inputs = Map::default();
    inputs.insert("from".into(), Value::Array(items));
    Outcome::ok(Some(Value::object(inputs)), Some(body(Value::array(out))))
}

pub(super) fn select(
    def: &ActionDefinition,
    host: &Host<'_>,
    from: &CompiledValue,
    select: &SelectMap,
) -> Outcome {
    let items = match from_array(def, host, from) {
        Ok(a) => a,
        Err(o) => return *o,
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        let h = with_item(host, item);
        let v = match select {
            SelectMap::Single(expr) => expr.eval(&h),
            SelectMap::Object(pairs) => {
                let mut m = conflux_expr::map_with_capacity(pairs.len());
                let mut err = None;
                for (k, v) in pairs {
                    match (k.eval(&h), v.eval(&h)) {
                        (Ok(k), Ok(v)) => {
                            m.insert(k.to_text().into(), v);
                        }
                        (Err(e), _) | (_, Err(e)) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                match err {
                    Some(e) => Err(e),
                    None => Ok(Value::object(m)),
                }
            }
        };
        match v {
            Ok(v) => out.push(v),
            Err(e) => return template_error(def, &e),
        }
    }
    let mut inputs = Map::default();
    inputs.insert("from".into(), Value::Array(items));
    Outcome::ok(Some(Value::object(inputs)), Some(body(Value::array(out))))
}

pub(super) fn join(def: &ActionDefinition, host: &Host<'_>, inputs: &CompiledValue) -> Outcome {
    let v = match inputs.eval(host) {
        Ok(v) => v,
        Err(e) => return template_error(def, &e),
    };
    let Some(Value::Array(items)) = v.get("from") else {
        return Outcome::failed(
            "InvalidTemplate",
            &format!(
                "The 'from' property of action '{}' must be an array.",
                def.name
            ),
        )
        .with_inputs(Some(v));
    };
    let sep = v.get("joinWith").map(|s| s.to_text()).unwrap_or_default();
    let text = items
        .iter()
        .map(Value::to_text)
        .collect::<Vec<_>>()
        .join(&sep);
    Outcome::ok(Some(v), Some(body(Value::string(text))))
}

pub(super) fn table(
    def: &ActionDefinition,
    host: &Host<'_>,
    from: &CompiledValue,
    format: &CompiledValue,
    columns: Option<&[TableColumn]>,
) -> Outcome {
    let items = match from_array(def, host, from) {
        Ok(a) => a,
        Err(o) => return *o,
    };
    let format = match format.eval(host) {
        Ok(v) => v.to_text(),
        Err(e) => return template_error(def, &e),
    };
    let html = format.eq_ignore_ascii_case("html");
    if !html && !format.eq_ignore_ascii_case("csv") {
        return Outcome::failed(
            "InvalidTemplate",
            &format!(
                "The 'format' of action '{}' must be CSV or HTML, not '{format}'.",
                def.name
            ),
        );
    }
    // Headers and one row of cell texts per item.
    let mut headers: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(items.len());
    match columns {
        None => {
            for item in items.iter() {
                if let Value::Object(o) = item {
                    for k in o.keys() {
                        if !headers.iter().any(|h| h == k.as_str()) {
                            headers.push(k.to_string());
                        }
                    }
                }
            }
            for item in items.iter() {
                rows.push(
                    headers
                        .iter()
                        .map(|h| item.get(h).map(|v| cell_text(&v)).unwrap_or_default())
                        .collect(),
                );
            }
        }
        Some(cols) => {
            for c in cols {
                let h = match &c.header {
                    Some(h) => match h.eval(host) {
                        Ok(v) => v.to_text(),
                        Err(e) => return template_error(def, &e),
                    },
                    None => String::new(),
                };
                headers.push(h);
            }
            for item in items.iter() {
                let hh = with_item(host, item);
                let mut row = Vec::with_capacity(cols.len());
                for c in cols {
                    match c.value.eval(&hh) {
                        Ok(v) => row.push(cell_text(&v)),
                        Err(e) => return template_error(def, &e),
                    }
                }
                rows.push(row);
            }
        }
    }
    let text = if items.is_empty() {
        String::new()
    } else if html {
        render_html(&headers, &rows)
    } else {
        render_csv(&headers, &rows)
    };
    Outcome::ok(None, Some(body(Value::string(text))))
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Object(_) | Value::Array(_) => v.to_json_string(),
        other => other.to_text(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn render_csv(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    if headers.iter().any(|h| !h.is_empty()) {
        out.push_str(&line(headers));
        out.push_str("\r\n");
    }
    for r in rows {
        out.push_str(&line(r));
        out.push_str("\r\n");
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render_html(headers: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>");
    if headers.iter().any(|h| !h.is_empty()) {
        out.push_str("<thead><tr>");
        for h in headers {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr></thead>");
    }
    out.push_str("<tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            out.push_str(&format!("<td>{}</td>", html_escape(c)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_fields_and_uses_crlf() {
        let h = vec!["a".to_string(), "b".to_string()];
        let rows = vec![vec!["x,y".to_string(), "say \"hi\"".to_string()]];
        assert_eq!(
            render_csv(&h, &rows),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n"
        );
    }

    #[test]
    fn html_escapes_cells() {
        let h = vec!["ID".to_string()];
        let rows = vec![vec!["<b>".to_string()]];
        assert_eq!(render_html(&h, &rows), "<table><thead><tr><th>ID</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>");
    }
}
