//! Compiled JSON strings ([`Template`]) and compiled JSON trees ([`CompiledValue`]).
//!
//! A definition is compiled once; each evaluation then walks pre-resolved nodes,
//! and literal parts are pre-built values whose evaluation is a reference-count
//! increment.

use std::fmt;
use std::sync::Arc;

use crate::compile::{collect_action_references, compile, Node};
use crate::error::{CompileError, EvalError, ParseError};
use crate::eval::eval_node;
use crate::host::EvalHost;
use crate::parser::parse_expression;
use crate::value::Value;

/// One compiled JSON string: a literal, a whole-value expression (`@expr`, keeps
/// the value's type) or an interpolation template (`a @{expr} b`, always a string).
pub struct Template {
    source: Arc<str>,
    kind: Kind,
}

enum Kind {
    Literal(Value),
    Expression(Node),
    Interpolation(Vec<Segment>),
}

enum Segment {
    Text(String),
    Hole(Node),
}

impl Template {
    /// Classifies and compiles a JSON string (see docs/expressions.md for the rules).
    pub fn compile(text: &str) -> Result<Template, ParseError> {
        let source: Arc<str> = text.into();
        if !text.contains('@') {
            // Most strings of a definition: nothing to scan.
            let kind = Kind::Literal(Value::String(source.clone()));
            return Ok(Template { source, kind });
        }
        let chars: Vec<char> = text.chars().collect();
        let kind = classify(text, &chars)?;
        Ok(Template { source, kind })
    }

    /// Evaluates the template against the run state of `host`.
    pub fn eval(&self, host: &dyn EvalHost) -> Result<Value, EvalError> {
        match &self.kind {
            Kind::Literal(v) => Ok(v.clone()),
            Kind::Expression(node) => eval_node(node, host),
            Kind::Interpolation(segments) => {
                if let [Segment::Hole(node)] = segments.as_slice() {
                    // "@{...}" alone: a string is its own text, kept as it is.
                    return match eval_node(node, host)? {
                        text @ Value::String(_) => Ok(text),
                        other => Ok(Value::string(other.to_text())),
                    };
                }
                let mut out = String::new();
                for segment in segments {
                    match segment {
                        Segment::Text(t) => out.push_str(t),
                        Segment::Hole(node) => match eval_node(node, host)? {
                            Value::String(s) => out.push_str(&s),
                            other => out.push_str(&other.to_text()),
                        },
                    }
                }
                Ok(Value::string(out))
            }
        }
    }

    /// True when the string holds no expression (evaluation is a clone).
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Literal(_))
    }

    /// The JSON string as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names given as string literals to `actions`, `outputs`, `body`,
    /// `actionOutputs`, `actionBody`, `result`, `formDataValue`,
    /// `formDataMultiValues` and `multipartBody`, in order of appearance.
    pub fn action_references(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    fn collect_references(&self, out: &mut Vec<String>) {
        match &self.kind {
            Kind::Literal(_) => {}
            Kind::Expression(node) => collect_action_references(node, out),
            Kind::Interpolation(segments) => {
                for s in segments {
                    if let Segment::Hole(node) = s {
                        collect_action_references(node, out);
                    }
                }
            }
        }
    }

    /// The literal value, if the template is one.
    fn literal(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Literal(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

fn parse_and_compile(
    text: &str,
    chars: &[char],
    start: usize,
    end: usize,
) -> Result<Node, ParseError> {
    compile(parse_expression(text, chars, start, end)?, text)
}

fn classify(text: &str, chars: &[char]) -> Result<Kind, ParseError> {
    let first = chars.first().copied();
    let second = chars.get(1).copied();
    if first == Some('@') && second != Some('{') && second != Some('@') {
        return Ok(Kind::Expression(parse_and_compile(
            text,
            chars,
            1,
            chars.len(),
        )?));
    }
    if let Some(segments) = interpolation(text, chars)? {
        let has_hole = segments.iter().any(|s| matches!(s, Segment::Hole(_)));
        if has_hole {
            return Ok(Kind::Interpolation(segments));
        }
        // Only `@@{` escapes: the text with them undone.
        let text: String = segments
            .into_iter()
            .map(|s| match s {
                Segment::Text(t) => t,
                Segment::Hole(_) => String::new(),
            })
            .collect();
        return Ok(Kind::Literal(Value::string(text)));
    }
    if first == Some('@') && second == Some('@') {
        let rest: String = chars[1..].iter().collect();
        return Ok(Kind::Literal(Value::string(rest)));
    }
    Ok(Kind::Literal(Value::string(text)))
}

/// Splits a string containing `@{` into text and holes; `None` when it has none
/// (escaped or not). `@@{` is an escaped `@{`; inside a hole a `}` within a quoted
/// string does not end it.
fn interpolation(text: &str, chars: &[char]) -> Result<Option<Vec<Segment>>, ParseError> {
    let mut segments = Vec::new();
    let mut pending = String::new();
    let mut seen = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '@' && chars.get(i + 1) == Some(&'@') && chars.get(i + 2) == Some(&'{') {
            seen = true;
            pending.push_str("@{");
            i += 3;
            continue;
        }
        if c == '@' && chars.get(i + 1) == Some(&'{') {
            seen = true;
            let open = i;
            let start = i + 2;
            let end = hole_end(chars, start).ok_or_else(|| {
                ParseError::new(text, open + 1, "this '@{' is never closed with '}'")
            })?;
            if !pending.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut pending)));
            }
            segments.push(Segment::Hole(parse_and_compile(text, chars, start, end)?));
            i = end + 1;
            continue;
        }
        pending.push(c);
        i += 1;
    }
    if !seen {
        return Ok(None);
    }
    if !pending.is_empty() {
        segments.push(Segment::Text(pending));
    }
    Ok(Some(segments))
}

/// Index of the `}` closing a hole whose expression starts at `start`.
fn hole_end(chars: &[char], start: usize) -> Option<usize> {
    let mut in_string = false;
    for (offset, &c) in chars[start..].iter().enumerate() {
        match c {
            '\'' => in_string = !in_string,
            '}' if !in_string => return Some(start + offset),
            _ => {}
        }
    }
    None
}

/// A whole JSON tree whose string leaves and object keys are compiled templates.
pub struct CompiledValue {
    node: CNode,
}

enum CNode {
    Literal(Value),
    Template(Template),
    Array(Vec<CNode>),
    Object(Vec<(CKey, CNode)>),
}

enum CKey {
    Literal(crate::Key),
    Template(Template),
}

impl CompiledValue {
    /// Compiles every string of `json`; `path` names the tree's root in errors
    /// (`$.actions.Compose.inputs`). Reports every problem at once.
    pub fn compile(
        json: &serde_json::Value,
        path: &str,
    ) -> Result<CompiledValue, Vec<CompileError>> {
        let mut errors = Vec::new();
        let node = compile_json(json, path, &mut errors);
        if errors.is_empty() {
            Ok(CompiledValue { node })
        } else {
            Err(errors)
        }
    }

    /// Evaluates the tree against the run state of `host`.
    pub fn eval(&self, host: &dyn EvalHost) -> Result<Value, EvalError> {
        eval_cnode(&self.node, host)
    }

    /// True when no string in the tree is an expression.
    pub fn is_literal(&self) -> bool {
        matches!(self.node, CNode::Literal(_))
    }

    /// Action names referenced anywhere in the tree (see [`Template::action_references`]).
    pub fn action_references(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_cnode(&self.node, &mut out);
        let mut unique: Vec<String> = Vec::with_capacity(out.len());
        for name in out {
            if !unique.contains(&name) {
                unique.push(name);
            }
        }
        unique
    }
}

impl fmt::Debug for CompiledValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompiledValue")
    }
}

fn compile_json(json: &serde_json::Value, path: &str, errors: &mut Vec<CompileError>) -> CNode {
    use serde_json::Value as J;
    let mut fail = |e: ParseError, path: String| {
        errors.push(CompileError { path, error: e });
        CNode::Literal(Value::Null)
    };
    match json {
        J::String(s) => match Template::compile(s) {
            Ok(t) => match t.kind {
                Kind::Literal(v) => CNode::Literal(v),
                _ => CNode::Template(t),
            },
            Err(e) => fail(e, path.to_string()),
        },
        J::Array(items) => {
            let nodes: Vec<CNode> = items
                .iter()
                .enumerate()
                .map(|(i, item)| compile_json(item, &format!("{path}[{i}]"), errors))
                .collect();
            if nodes.iter().all(|n| matches!(n, CNode::Literal(_))) {
                let values = nodes
                    .into_iter()
                    .map(|n| match n {
                        CNode::Literal(v) => v,
                        _ => Value::Null,
                    })
                    .collect();
                CNode::Literal(Value::array(values))
            } else {
                CNode::Array(nodes)
            }
        }
        J::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let child = child_path(path, k);
                let key = match Template::compile(k) {
                    Ok(t) => match t.literal() {
                        Some(v) => CKey::Literal(v.to_text().into()),
                        None => CKey::Template(t),
                    },
                    Err(e) => {
                        errors.push(CompileError {
                            path: format!("{child} (property name)"),
                            error: e,
                        });
                        CKey::Literal(k.as_str().into())
                    }
                };
                let value = compile_json(v, &child, errors);
                entries.push((key, value));
            }
            let all_literal = entries
                .iter()
                .all(|(k, v)| matches!(k, CKey::Literal(_)) && matches!(v, CNode::Literal(_)));
            if all_literal {
                let mut out = crate::map_with_capacity(entries.len());
                for (k, v) in entries {
                    if let (CKey::Literal(k), CNode::Literal(v)) = (k, v) {
                        out.insert(k, v);
                    }
                }
                CNode::Literal(Value::object(out))
            } else {
                CNode::Object(entries)
            }
        }
        other => CNode::Literal(Value::from(other)),
    }
}

/// `$.a.b` for simple names, `$.a['x y']` otherwise.
fn child_path(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if simple {
        format!("{path}.{key}")
    } else {
        format!("{path}['{}']", key.replace('\'', "\\'"))
    }
}

fn eval_cnode(node: &CNode, host: &dyn EvalHost) -> Result<Value, EvalError> {
    match node {
        CNode::Literal(v) => Ok(v.clone()),
        CNode::Template(t) => t.eval(host),
        CNode::Array(items) => Ok(Value::array(
            items
                .iter()
                .map(|n| eval_cnode(n, host))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        CNode::Object(entries) => {
            let mut out = crate::map_with_capacity(entries.len());
            for (k, v) in entries {
                let key = match k {
                    CKey::Literal(s) => s.clone(),
                    CKey::Template(t) => t.eval(host)?.to_text().into(),
                };
                out.insert(key, eval_cnode(v, host)?);
            }
            Ok(Value::object(out))
        }
    }
}

fn collect_cnode(node: &CNode, out: &mut Vec<String>) {
    match node {
        CNode::Literal(_) => {}
        CNode::Template(t) => t.collect_references(out),
        CNode::Array(items) => items.iter().for_each(|n| collect_cnode(n, out)),
        CNode::Object(entries) => {
            for (k, v) in entries {
                if let CKey::Template(t) = k {
                    t.collect_references(out);
                }
                collect_cnode(v, out);
            }
        }
    }
}

/// Compiles and evaluates `text` in one step (parse errors become evaluation errors).
pub fn eval_str(text: &str, host: &dyn EvalHost) -> Result<Value, EvalError> {
    Template::compile(text)?.eval(host)
}
