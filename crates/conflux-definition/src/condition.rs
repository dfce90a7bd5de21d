//! Compiling If/Until conditions: an expression string, or the designer's
//! predicate object (`{"and": [{"greater": ["@x", 0]}]}`).

use conflux_expr::{CompiledValue, Template};
use serde_json::Value as Json;

use crate::model::Condition;
use crate::parse::{child, Loader};

impl Loader {
    pub(crate) fn condition(&mut self, json: Option<&Json>, path: &str) -> Condition {
        match json {
            None => {
                self.finding(path, "a condition expression is required");
                Condition::Literal(Json::Bool(false))
            }
            Some(Json::String(text)) => match Template::compile(text) {
                Ok(t) => Condition::Expression(t),
                Err(e) => {
                    self.finding(path, &format!("the expression could not be compiled: {e}"));
                    Condition::Literal(Json::Bool(false))
                }
            },
            Some(Json::Object(map)) => {
                if map.len() != 1 {
                    self.finding(
                        path,
                        "a predicate object must have exactly one property naming a function (e.g. {\"equals\": [a, b]})",
                    );
                    return Condition::Literal(Json::Bool(false));
                }
                let Some((name, args)) = map.iter().next() else {
                    return Condition::Literal(Json::Bool(false));
                };
                let apath = child(path, name);
                let lname = name.to_ascii_lowercase();
                match (lname.as_str(), args) {
                    ("and" | "or", Json::Array(items)) => {
                        let parts = items
                            .iter()
                            .enumerate()
                            .map(|(i, c)| self.condition(Some(c), &format!("{apath}[{i}]")))
                            .collect();
                        if lname == "and" {
                            Condition::And(parts)
                        } else {
                            Condition::Or(parts)
                        }
                    }
                    ("not", inner @ Json::Object(_)) => {
                        Condition::Not(Box::new(self.condition(Some(inner), &apath)))
                    }
                    (_, Json::Array(items)) => {
                        if conflux_expr::functions::lookup(name).is_none() {
                            self.finding(&apath, &format!("'{name}' is not a known function"));
                        }
                        let args = items
                            .iter()
                            .enumerate()
                            .map(|(i, a)| self.compile(a, &format!("{apath}[{i}]")))
                            .collect();
                        Condition::Call {
                            function: name.clone(),
                            args,
                        }
                    }
                    _ => {
                        self.finding(&apath, "the arguments of a predicate must be an array");
                        Condition::Literal(Json::Bool(false))
                    }
                }
            }
            Some(other) => Condition::Literal(other.clone()),
        }
    }
}

/// A compiled value standing for JSON null, used where compilation failed and the
/// error has already been reported.
pub(crate) fn null_value() -> CompiledValue {
    CompiledValue::compile(&Json::Null, "$").expect("JSON null has no expression to compile")
}
