//! `xpath(xml, expression)`: XPath 1.0 over XML text or XML content.
//!
//! Results follow the documented shapes: a number, string or boolean expression
//! gives that value; a node-set gives its nodes — elements as XML content, text,
//! attribute and other nodes as their string value — one node alone, several as
//! an array, none as an empty array.

use sxd_xpath::nodeset::Node;
use sxd_xpath::{Context, Factory, Value as XValue};

use crate::error::{EvalError, FnResult};
use crate::functions::conversion::xml_map::{self, XML_CONTENT_TYPE};
use crate::functions::{args, FnCtx, FunctionDef};
use crate::value::{Content, Value};

fn xml_text(args: &[Value]) -> Result<String, EvalError> {
    let v = args::arg(args, 0);
    match v {
        Value::String(s) => Ok(s.to_string()),
        other => match other.as_content() {
            Some(c) => Ok(String::from_utf8_lossy(&c.data).into_owned()),
            None => Err(EvalError::new(format!(
                "the first argument must be XML text or XML content, got {}",
                other.type_name()
            ))),
        },
    }
}

fn node_value(node: &Node<'_>) -> Value {
    match node {
        Node::Element(e) => Value::content(Content::new(
            XML_CONTENT_TYPE,
            xml_map::element_to_xml(e).into_bytes(),
        )),
        other => Value::from(other.string_value()),
    }
}

/// XPath numbers are doubles; whole ones read better as integers (`sum` of counts is `30`).
fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Int(n as i64)
    } else {
        Value::Float(n)
    }
}

fn xpath(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let text = xml_text(args)?;
    let expression = args::string(args, 1)?;
    let package = xml_map::parse_xml(&text)?;
    let document = package.as_document();
    let compiled = Factory::new()
        .build(expression)
        .map_err(|e| {
            EvalError::new(format!(
                "'{expression}' is not a valid XPath expression ({e})"
            ))
        })?
        .ok_or_else(|| EvalError::new("the XPath expression is empty"))?;
    // The prefixes the document's top element declares work in the expression
    // too (`/soap:Envelope/soap:Body`), sparing `local-name()` predicates.
    let mut context = Context::new();
    for child in document.root().children() {
        if let Some(top) = child.element() {
            for ns in top.namespaces_in_scope() {
                context.set_namespace(ns.prefix(), ns.uri());
            }
        }
    }
    // The XPath engine cannot report an undeclared prefix as an error, so they
    // are checked here, before evaluation.
    for prefix in namespace_prefixes(expression) {
        if context_namespace(&document, &prefix).is_none() {
            return Err(EvalError::new(format!(
                "the XPath expression '{expression}' uses the namespace prefix '{prefix}', which the document's top element does not declare; match with local-name() instead"
            )));
        }
    }
    let result = compiled
        .evaluate(&context, document.root())
        .map_err(|e| EvalError::new(format!("evaluating '{expression}' failed ({e})")))?;
    Ok(match result {
        XValue::Boolean(b) => Value::Bool(b),
        XValue::Number(n) => number_value(n),
        XValue::String(s) => Value::from(s),
        XValue::Nodeset(nodes) => {
            let mut values: Vec<Value> = nodes.document_order().iter().map(node_value).collect();
            if values.len() == 1 {
                values.remove(0)
            } else {
                Value::array(values)
            }
        }
    })
}

/// The namespace URI the document's top element declares for `prefix`.
fn context_namespace(document: &sxd_document::dom::Document<'_>, prefix: &str) -> Option<String> {
    document.root().children().iter().find_map(|child| {
        child.element().and_then(|top| {
            top.namespaces_in_scope()
                .into_iter()
                .find(|ns| ns.prefix() == prefix)
                .map(|ns| ns.uri().to_string())
        })
    })
}

/// Prefixes of qualified names (`soap:Body`) in an XPath expression, outside
/// string literals; axis separators (`child::`) are not prefixes.
fn namespace_prefixes(expression: &str) -> Vec<String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ':' => {
                let double = chars.get(i + 1) == Some(&':') || (i > 0 && chars[i - 1] == ':');
                if !double {
                    let mut start = i;
                    while start > 0 && is_name_char(chars[start - 1]) {
                        start -= 1;
                    }
                    if start < i {
                        out.push(chars[start..i].iter().collect());
                    }
                }
            }
            None => {}
        }
        i += 1;
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

pub const XPATH: FunctionDef = FunctionDef {
    name: "xpath",
    min_args: 2,
    max_args: Some(2),
    body: xpath,
    examples: &[
        (
            "@xpath(xml('<produce><item><name>Gala</name><type>apple</type><count>20</count></item><item><name>Honeycrisp</name><type>apple</type><count>10</count></item></produce>'), '/produce/item/name/text()')",
            r#"["Gala","Honeycrisp"]"#,
        ),
        (
            "@xpath(xml('<produce><item><name>Gala</name><type>apple</type><count>20</count></item><item><name>Honeycrisp</name><type>apple</type><count>10</count></item></produce>'), 'sum(/produce/item/count)')",
            "30",
        ),
        (
            "@xpath(xml('<produce><item><name>Gala</name></item><item><name>Honeycrisp</name></item></produce>'), 'string(/produce/item[last()]/name)')",
            "\"Honeycrisp\"",
        ),
        (
            "@xpath(xml('<?xml version=\"1.0\"?><file xmlns=\"https://contoso.com\"><location>Paris</location></file>'), 'string(/*[name()=\"file\"]/*[name()=\"location\"])')",
            "\"Paris\"",
        ),
        (
            "@xpath(xml('<?xml version=\"1.0\"?><file xmlns=\"https://contoso.com\"><location>Paris</location></file>'), '/*[local-name()=\"file\" and namespace-uri()=\"https://contoso.com\"]/*[local-name()=\"location\"]')",
            r#"{"$content-type":"application/xml;charset=utf-8","$content":"PGxvY2F0aW9uIHhtbG5zPSJodHRwczovL2NvbnRvc28uY29tIj5QYXJpczwvbG9jYXRpb24+"}"#,
        ),
        (
            "@xpath('<r><n p=\"12\">a</n><n p=\"40\">b</n></r>', 'count(//n[@p>35])')",
            "1",
        ),
    ],
};

#[cfg(test)]
mod prefix_tests {
    use super::*;
    use crate::host::NoHost;

    #[test]
    fn finds_prefixes_but_not_axes_or_literals() {
        assert_eq!(
            namespace_prefixes("/s:Envelope/child::s:Body"),
            vec!["s", "s"]
        );
        assert!(namespace_prefixes("string(/a[@b='x:y'])").is_empty());
    }

    #[test]
    fn an_undeclared_prefix_is_an_error_not_a_panic() {
        let args = [Value::from("<a><b>1</b></a>"), Value::from("/q:a")];
        let err = xpath(&FnCtx { host: &NoHost }, &args).unwrap_err();
        assert!(err.message.contains("namespace prefix 'q'"), "{err}");
    }
}
