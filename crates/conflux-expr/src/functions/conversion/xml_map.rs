//! XML text ⇄ JSON values, the mapping `json(xml(...))` and `xml(object)` use.
//!
//! The mapping is the one the Logic Apps runtime documents: the XML declaration
//! becomes `"?xml": {"@version": ...}`, attributes become `"@name"` properties
//! (namespace declarations `"@xmlns"`/`"@xmlns:p"`), child elements become
//! properties, repeated sibling elements become an array, an element with only
//! text becomes that text, an empty one `null`, and text beside children or
//! attributes is `"#text"`. Values stay text: XML carries no types.

use sxd_document::dom::{ChildOfElement, ChildOfRoot, Element};
use sxd_document::Package;

use crate::error::EvalError;
use crate::value::{Map, Value};

/// The media type `xml()` gives its result.
pub const XML_CONTENT_TYPE: &str = "application/xml;charset=utf-8";

/// How deeply elements may nest: the conversions walk the tree recursively, and
/// a hostile document must not exhaust the stack.
pub const MAX_XML_DEPTH: usize = 256;

/// Parses XML text into a document.
pub fn parse_xml(text: &str) -> Result<Package, EvalError> {
    // The parser rejects a byte-order mark; editors and HTTP bodies carry one often.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Checked on the text first: the parser slows down badly on deep nesting.
    if nesting_depth(text) > MAX_XML_DEPTH {
        return Err(too_deep());
    }
    let package = sxd_document::parser::parse(text)
        .map_err(|e| EvalError::new(format!("the text is not well-formed XML ({e})")))?;
    check_depth(&package)?;
    Ok(package)
}

fn too_deep() -> EvalError {
    EvalError::new(format!(
        "the XML nests elements deeper than {MAX_XML_DEPTH} levels"
    ))
}

/// The deepest element nesting in XML text, found by a linear scan that skips
/// comments, CDATA sections, processing instructions and quoted attribute values.
fn nesting_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    let skip_to = |from: usize, end: &[u8]| {
        bytes[from..]
            .windows(end.len())
            .position(|w| w == end)
            .map_or(bytes.len(), |p| from + p + end.len())
    };
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if rest.starts_with(b"<!--") {
            i = skip_to(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_to(i + 2, b"?>");
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") {
            depth = depth.saturating_sub(usize::from(rest.starts_with(b"</")));
            i = skip_to(i + 2, b">");
        } else {
            let mut j = i + 1;
            let mut quote = None;
            while j < bytes.len() {
                match (quote, bytes[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (None, c @ (b'"' | b'\'')) => quote = Some(c),
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if bytes.get(j.wrapping_sub(1)) != Some(&b'/') {
                depth += 1;
                max = max.max(depth);
            }
            i = j + 1;
        }
    }
    max
}

fn check_depth(package: &Package) -> Result<(), EvalError> {
    let doc = package.as_document();
    let mut stack: Vec<(Element<'_>, usize)> = doc
        .root()
        .children()
        .into_iter()
        .filter_map(|c| c.element())
        .map(|e| (e, 1))
        .collect();
    while let Some((e, depth)) = stack.pop() {
        if depth > MAX_XML_DEPTH {
            return Err(too_deep());
        }
        for child in e.children() {
            if let ChildOfElement::Element(c) = child {
                stack.push((c, depth + 1));
            }
        }
    }
    Ok(())
}

/// The `?xml` declaration's pseudo-attributes, in order.
fn declaration(text: &str) -> Option<Map> {
    let body = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .strip_prefix("<?xml")?;
    let body = &body[..body.find("?>")?];
    let mut map = Map::default();
    let mut rest = body;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next()?;
        if quote != '"' && quote != '\'' {
            return Some(map);
        }
        let end = after[1..].find(quote)? + 1;
        map.insert(format!("@{name}").into(), Value::from(&after[1..end]));
        rest = &after[end + 1..];
    }
    Some(map)
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}:{local}"),
        _ => local.to_string(),
    }
}

fn element_name(e: &Element<'_>) -> String {
    qualified(e.preferred_prefix(), e.name().local_part())
}

/// Namespace declarations made on `e` itself (not inherited).
fn declared_namespaces(e: &Element<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(uri) = e.default_namespace_uri() {
        out.push(("@xmlns".to_string(), uri.to_string()));
    }
    let parent_scope: Vec<(String, String)> = e
        .parent()
        .and_then(|p| p.element())
        .map(|p| {
            p.namespaces_in_scope()
                .iter()
                .map(|n| (n.prefix().to_string(), n.uri().to_string()))
                .collect()
        })
        .unwrap_or_default();
    for ns in e.namespaces_in_scope() {
        if ns.prefix() == "xml" {
            continue;
        }
        let pair = (ns.prefix().to_string(), ns.uri().to_string());
        if !parent_scope.contains(&pair) {
            out.push((format!("@xmlns:{}", pair.0), pair.1));
        }
    }
    out
}

fn element_to_json(e: &Element<'_>) -> Value {
    let mut props = Map::default();
    for (name, uri) in declared_namespaces(e) {
        props.insert(name.into(), Value::from(uri));
    }
    for attr in e.attributes() {
        let name = qualified(attr.preferred_prefix(), attr.name().local_part());
        props.insert(format!("@{name}").into(), Value::from(attr.value()));
    }
    let mut children: Vec<(String, Vec<Value>)> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut last_was_text = false;
    for child in e.children() {
        match child {
            ChildOfElement::Element(c) => {
                let name = element_name(&c);
                let value = element_to_json(&c);
                match children.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(value),
                    None => children.push((name, vec![value])),
                }
                last_was_text = false;
            }
            ChildOfElement::Text(t) => {
                match texts.last_mut() {
                    Some(prev) if last_was_text => prev.push_str(t.text()),
                    _ => texts.push(t.text().to_string()),
                }
                last_was_text = true;
            }
            _ => last_was_text = false,
        }
    }
    // Whitespace between elements is layout, not content.
    texts.retain(|t| !t.trim().is_empty());
    if props.is_empty() && children.is_empty() {
        return match texts.len() {
            0 => Value::Null,
            1 => Value::from(texts.remove(0)),
            _ => Value::array(texts.into_iter().map(Value::from).collect()),
        };
    }
    match texts.len() {
        0 => {}
        1 => {
            props.insert("#text".into(), Value::from(texts.remove(0)));
        }
        _ => {
            props.insert(
                "#text".into(),
                Value::array(texts.into_iter().map(Value::from).collect()),
            );
        }
    }
    for (name, mut values) in children {
        let value = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::array(values)
        };
        props.insert(name.into(), value);
    }
    Value::object(props)
}

/// Converts XML text to its JSON form.
pub fn xml_to_json(text: &str) -> Result<Value, EvalError> {
    let package = parse_xml(text)?;
    let doc = package.as_document();
    let mut out = Map::default();
    if let Some(decl) = declaration(text) {
        out.insert("?xml".into(), Value::object(decl));
    }
    for child in doc.root().children() {
        if let ChildOfRoot::Element(e) = child {
            out.insert(element_name(&e).into(), element_to_json(&e));
        }
    }
    Ok(Value::object(out))
}

/// Escapes text for element content (`quote` also escapes `"` for attributes).
pub fn escape(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quote => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON property name as an XML name; characters XML names cannot hold are
/// written as `_xHHHH_`, the escape .NET's `XmlConvert.EncodeName` uses.
fn xml_name(name: &str) -> Result<String, EvalError> {
    if name.is_empty() {
        return Err(EvalError::new(
            "an empty property name cannot become an XML element or attribute",
        ));
    }
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let ok = c.is_alphabetic()
            || c == '_'
            || c == ':'
            || (i > 0 && (c.is_alphanumeric() || c == '-' || c == '.'));
        if ok {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                out.push_str(&format!("_x{unit:04X}_"));
            }
        }
    }
    Ok(out)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        other => other.to_text(),
    }
}

fn write_element(name: &str, value: &Value, out: &mut String) -> Result<(), EvalError> {
    let tag = xml_name(name)?;
    match value {
        Value::Array(items) => {
            for item in items.iter() {
                write_element(name, item, out)?;
            }
        }
        Value::Null => out.push_str(&format!("<{tag} />")),
        Value::Object(o) => {
            out.push('<');
            out.push_str(&tag);
            for (k, v) in o.iter() {
                if let Some(attr) = k.strip_prefix('@') {
                    out.push_str(&format!(
                        " {}=\"{}\"",
                        xml_name(attr)?,
                        escape(&scalar_text(v), true)
                    ));
                }
            }
            let body: Vec<(&crate::Key, &Value)> =
                o.iter().filter(|(k, _)| !k.starts_with('@')).collect();
            if body.is_empty() {
                out.push_str(" />");
                return Ok(());
            }
            out.push('>');
            for (k, v) in body {
                match k.as_str() {
                    "#text" | "#whitespace" | "#significant-whitespace" => match v {
                        Value::Array(parts) => {
                            for p in parts.iter() {
                                out.push_str(&escape(&scalar_text(p), false));
                            }
                        }
                        other => out.push_str(&escape(&scalar_text(other), false)),
                    },
                    "#cdata-section" => {
                        out.push_str(&format!("<![CDATA[{}]]>", scalar_text(v)));
                    }
                    "#comment" => out.push_str(&format!("<!--{}-->", scalar_text(v))),
                    _ => write_element(k, v, out)?,
                }
            }
            out.push_str(&format!("</{tag}>"));
        }
        other => out.push_str(&format!(
            "<{tag}>{}</{tag}>",
            escape(&scalar_text(other), false)
        )),
    }
    Ok(())
}

/// Converts an object with exactly one root property (plus an optional `?xml`
/// declaration) to XML text.
pub fn json_to_xml(object: &Map) -> Result<String, EvalError> {
    let mut out = String::new();
    let roots: Vec<(&crate::Key, &Value)> = object
        .iter()
        .filter(|(k, _)| !k.starts_with('?') && !k.starts_with('!'))
        .collect();
    let [(name, value)] = roots.as_slice() else {
        let names: Vec<&str> = roots.iter().map(|(k, _)| k.as_str()).collect();
        return Err(EvalError::new(format!(
            "the object must have exactly one root property to become XML, found {} ({})",
            roots.len(),
            names.join(", ")
        )));
    };
    if matches!(value, Value::Array(_)) {
        return Err(EvalError::new(format!(
            "the root property '{name}' is an array; wrap it in an object such as {{\"root\": {{\"{name}\": [...]}}}}"
        )));
    }
    if let Some(Value::Object(decl)) = object.get("?xml") {
        out.push_str("<?xml");
        for (k, v) in decl.iter() {
            let attr = k.strip_prefix('@').unwrap_or(k);
            out.push_str(&format!(" {attr}=\"{}\"", escape(&scalar_text(v), true)));
        }
        out.push_str("?>");
    }
    write_element(name, value, &mut out)?;
    Ok(out)
}

/// Serialises an element (with the namespace declarations it needs) as XML text.
pub fn element_to_xml(e: &Element<'_>) -> String {
    let mut out = String::new();
    write_node(e, &mut Vec::new(), &mut out);
    out
}

/// `scope` holds the namespace bindings (prefix, uri) already written by ancestors.
fn write_node(e: &Element<'_>, scope: &mut Vec<(String, String)>, out: &mut String) {
    let depth = scope.len();
    let name = element_name(e);
    out.push('<');
    out.push_str(&name);
    let prefix = e.preferred_prefix().unwrap_or("").to_string();
    let uri = e.name().namespace_uri().unwrap_or("").to_string();
    let bound = scope
        .iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| u.as_str())
        .unwrap_or("");
    if bound != uri {
        if prefix.is_empty() {
            out.push_str(&format!(" xmlns=\"{}\"", escape(&uri, true)));
        } else {
            out.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(&uri, true)));
        }
        scope.push((prefix, uri));
    }
    for attr in e.attributes() {
        if let (Some(p), Some(u)) = (attr.preferred_prefix(), attr.name().namespace_uri()) {
            if !scope.iter().any(|(sp, su)| sp == p && su == u) && p != "xml" {
                out.push_str(&format!(" xmlns:{p}=\"{}\"", escape(u, true)));
                scope.push((p.to_string(), u.to_string()));
            }
        }
        let attr_name = qualified(attr.preferred_prefix(), attr.name().local_part());
        out.push_str(&format!(" {attr_name}=\"{}\"", escape(attr.value(), true)));
    }
    let children = e.children();
    if children.is_empty() {
        out.push_str(" />");
    } else {
        out.push('>');
        for child in children {
            match child {
                ChildOfElement::Element(c) => write_node(&c, scope, out),
                ChildOfElement::Text(t) => out.push_str(&escape(t.text(), false)),
                ChildOfElement::Comment(c) => out.push_str(&format!("<!--{}-->", c.text())),
                ChildOfElement::ProcessingInstruction(pi) => {
                    out.push_str(&format!("<?{} {}?>", pi.target(), pi.value().unwrap_or("")));
                }
            }
        }
        out.push_str(&format!("</{name}>"));
    }
    scope.truncate(depth);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        xml_to_json(text).unwrap().to_json_string()
    }

    #[test]
    fn documented_single_and_repeated_children() {
        assert_eq!(
            json(
                r#"<?xml version="1.0"?> <root> <person id="1"> <name>Sophia Owen</name> <occupation>Engineer</occupation> </person> </root>"#
            ),
            r#"{"?xml":{"@version":"1.0"},"root":{"person":{"@id":"1","name":"Sophia Owen","occupation":"Engineer"}}}"#
        );
        assert_eq!(
            json("<r><p>a</p><p>b</p><q/></r>"),
            r#"{"r":{"p":["a","b"],"q":null}}"#
        );
    }

    #[test]
    fn text_beside_attributes_and_namespaces() {
        assert_eq!(
            json(r#"<a x="1">hi</a>"#),
            r##"{"a":{"@x":"1","#text":"hi"}}"##
        );
        assert_eq!(
            json(r#"<f:file xmlns:f="urn:f"><loc xmlns="urn:d">Paris</loc></f:file>"#),
            r##"{"f:file":{"@xmlns:f":"urn:f","loc":{"@xmlns":"urn:d","#text":"Paris"}}}"##
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(xml_to_json(&deep)
            .unwrap_err()
            .message
            .contains("deeper than 256"));
        let ok = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
        assert!(xml_to_json(&ok).is_ok());
        assert_eq!(
            nesting_depth("<a x='>'><b/><!-- <c> --><![CDATA[<d>]]><e></e></a>"),
            2
        );
        let flat = format!("<r>{}</r>", "<i a='1'>x</i>".repeat(20_000));
        assert!(xml_to_json(&flat).is_ok());
    }

    #[test]
    fn entities_cdata_and_comments() {
        assert_eq!(
            json("<a><!-- note --><b>x &amp; y</b><c><![CDATA[<raw>]]></c></a>"),
            r#"{"a":{"b":"x & y","c":"<raw>"}}"#
        );
        assert_eq!(json("\u{feff}<a/>"), r#"{"a":null}"#);
    }

    #[test]
    fn objects_become_xml() {
        let v = Value::from_json_str(
            r##"{"person":{"@id":1,"name":"Sophia & Co","tags":["a","b"],"none":null,"ok":true}}"##,
        )
        .unwrap();
        assert_eq!(
            json_to_xml(v.as_object().unwrap()).unwrap(),
            r#"<person id="1"><name>Sophia &amp; Co</name><tags>a</tags><tags>b</tags><none /><ok>true</ok></person>"#
        );
        let two = Value::from_json_str(r#"{"a":1,"b":2}"#).unwrap();
        assert!(json_to_xml(two.as_object().unwrap()).is_err());
        let arr = Value::from_json_str(r#"{"a":[1]}"#).unwrap();
        assert!(json_to_xml(arr.as_object().unwrap())
            .unwrap_err()
            .message
            .contains("array"));
        let odd = Value::from_json_str(r#"{"my key":1}"#).unwrap();
        assert_eq!(
            json_to_xml(odd.as_object().unwrap()).unwrap(),
            "<my_x0020_key>1</my_x0020_key>"
        );
    }

    #[test]
    fn elements_serialise_with_their_namespace() {
        let p = parse_xml(r#"<file xmlns="https://contoso.com"><location>Paris</location></file>"#)
            .unwrap();
        let doc = p.as_document();
        let root = doc.root().children()[0].element().unwrap();
        let loc = root.children()[0].element().unwrap();
        assert_eq!(
            element_to_xml(&loc),
            r#"<location xmlns="https://contoso.com">Paris</location>"#
        );
        assert_eq!(
            element_to_xml(&root),
            r#"<file xmlns="https://contoso.com"><location>Paris</location></file>"#
        );
    }
}
