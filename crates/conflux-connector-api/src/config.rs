//! Connection configuration as handed to [`crate::Connector::prepare`], and the
//! secret wrapper that keeps credentials out of logs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::descriptor::ConnectorDescriptor;

/// Secret parameter values: `Debug` and `Display` print `***`.
pub use conflux_security::Secret;

/// The parameters of one connection (an entry of `serviceProviderConnections`
/// in `connections.json`), with the secret ones kept apart.
#[derive(Debug, Clone, Default)]
pub struct ConnectionConfig {
    /// The connection's name in `connections.json`.
    pub name: String,
    /// The connector's `serviceProviderId`.
    pub connector_id: String,
    /// Non-secret `parameterValues`.
    pub parameters: Map<String, Value>,
    /// Secret `parameterValues`, by parameter name.
    pub secrets: BTreeMap<String, Secret>,
}

impl ConnectionConfig {
    /// Splits `parameterValues` into plain parameters and secrets using the
    /// descriptor's `secret` flags. A secret given as a non-string JSON value is
    /// kept as its JSON text.
    pub fn from_parameter_values(
        name: impl Into<String>,
        descriptor: &ConnectorDescriptor,
        values: Map<String, Value>,
    ) -> Self {
        let mut config = Self {
            name: name.into(),
            connector_id: descriptor.id.to_owned(),
            ..Self::default()
        };
        for (key, value) in values {
            let secret = descriptor
                .connection_parameter(&key)
                .is_some_and(|p| p.secret);
            if secret {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                config.secrets.insert(key, Secret::new(text));
            } else {
                config.parameters.insert(key, value);
            }
        }
        config
    }

    /// A secret parameter by name.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name)
    }

    /// A reader over the non-secret parameters that collects problems under
    /// the path `parameterValues`.
    pub fn reader(&self) -> ParamReader<'_> {
        ParamReader::new(&self.parameters, "parameterValues")
    }
}

/// Reads typed values out of a JSON object, collecting every problem instead of
/// stopping at the first. Used by `prepare` and `check_inputs`.
#[derive(Debug)]
pub struct ParamReader<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    problems: Vec<crate::ConfigProblem>,
}

impl<'a> ParamReader<'a> {
    /// A reader over `object`, reporting problems at `prefix.<name>`.
    pub fn new(object: &'a Map<String, Value>, prefix: impl Into<String>) -> Self {
        Self {
            object,
            prefix: prefix.into(),
            problems: Vec::new(),
        }
    }

    /// A reader over `value`, which must be a JSON object; a non-object is
    /// recorded as a problem and read as empty.
    pub fn for_value(value: &'a Value, prefix: impl Into<String>) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let prefix = prefix.into();
        match value {
            Value::Object(map) => Self::new(map, prefix),
            Value::Null => Self::new(EMPTY.get_or_init(Map::new), prefix),
            other => {
                let mut reader = Self::new(EMPTY.get_or_init(Map::new), prefix.clone());
                reader.problems.push(crate::ConfigProblem::new(
                    prefix,
                    format!("expected a JSON object, found {}", json_type(other)),
                ));
                reader
            }
        }
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// Records a problem at `prefix.<name>`.
    pub fn problem(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        self.problems.push(crate::ConfigProblem::new(path, message));
    }

    /// The raw value, if present and not null.
    pub fn raw(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    fn missing(&mut self, name: &str) {
        self.problem(name, "is required but missing");
    }

    fn wrong_type(&mut self, name: &str, expected: &str, found: &Value) {
        let message = format!("expected {expected}, found {}", json_type(found));
        self.problem(name, message);
    }

    /// An optional string; a non-string is a problem.
    pub fn opt_str(&mut self, name: &str) -> Option<&'a str> {
        match self.raw(name)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(name, "a string", other);
                None
            }
        }
    }

    /// A required, non-empty string.
    pub fn req_str(&mut self, name: &str) -> Option<&'a str> {
        if self.raw(name).is_none() {
            self.missing(name);
            return None;
        }
        let s = self.opt_str(name)?;
        if s.is_empty() {
            self.problem(name, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// An optional integer; integers written as strings (`"5432"`) are accepted
    /// because `connections.json` values often come from app settings.
    pub fn opt_i64(&mut self, name: &str) -> Option<i64> {
        match self.raw(name)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            other => {
                self.wrong_type(name, "an integer", other);
                None
            }
        }
    }

    /// An optional boolean; `"true"`/`"false"` strings are accepted.
    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.raw(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.wrong_type(name, "a boolean", other);
                None
            }
        }
    }

    /// An optional JSON object.
    pub fn opt_object(&mut self, name: &str) -> Option<&'a Map<String, Value>> {
        match self.raw(name)? {
            Value::Object(map) => Some(map),
            other => {
                self.wrong_type(name, "an object", other);
                None
            }
        }
    }

    /// An optional JSON array.
    pub fn opt_array(&mut self, name: &str) -> Option<&'a Vec<Value>> {
        match self.raw(name)? {
            Value::Array(items) => Some(items),
            other => {
                self.wrong_type(name, "an array", other);
                None
            }
        }
    }

    /// Whether any problem was recorded so far.
    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Adds problems found elsewhere (e.g. by a nested reader).
    pub fn extend(&mut self, problems: Vec<crate::ConfigProblem>) {
        self.problems.extend(problems);
    }

    /// Every problem recorded, or `Ok` if there were none.
    pub fn finish(self) -> Result<(), Vec<crate::ConfigProblem>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems)
        }
    }
}

/// The JSON type name of a value, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectorDescriptor, ParameterDescriptor, ParameterKind};
    use serde_json::json;

    static DESCRIPTOR: ConnectorDescriptor = ConnectorDescriptor {
        id: "/serviceProviders/test",
        name: "test",
        display_name: "Test",
        description: "",
        connection_parameters: &[ParameterDescriptor {
            name: "password",
            display_name: "Password",
            description: "",
            kind: ParameterKind::SecureString,
            required: true,
            secret: true,
        }],
        operations: &[],
    };

    #[test]
    fn secret_parameters_are_split_off_and_never_printed() {
        let values = json!({"host": "db", "password": "hunter2"});
        let config = ConnectionConfig::from_parameter_values(
            "c",
            &DESCRIPTOR,
            values.as_object().cloned().unwrap_or_default(),
        );
        assert_eq!(config.parameters.get("host"), Some(&json!("db")));
        assert!(!config.parameters.contains_key("password"));
        assert_eq!(
            config.secret("password").map(Secret::expose),
            Some("hunter2")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(Secret::new("x").to_string(), "***");
    }

    #[test]
    fn reader_reports_every_problem_with_its_path() {
        let value = json!({"port": "eighty", "tls": "maybe", "name": ""});
        let mut r = ParamReader::for_value(&value, "parameterValues");
        assert_eq!(r.opt_i64("port"), None);
        assert_eq!(r.opt_bool("tls"), None);
        assert_eq!(r.req_str("name"), None);
        assert_eq!(r.req_str("host"), None);
        let problems = r.finish().expect_err("four problems");
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "parameterValues.port",
                "parameterValues.tls",
                "parameterValues.name",
                "parameterValues.host"
            ]
        );
        let not_object = ParamReader::for_value(&json!([1]), "inputs").finish();
        assert_eq!(not_object.expect_err("array")[0].path, "inputs");
    }

    #[test]
    fn numbers_and_booleans_may_be_strings() {
        let value = json!({"port": " 5432", "tls": "TRUE"});
        let mut r = ParamReader::for_value(&value, "");
        assert_eq!(r.opt_i64("port"), Some(5432));
        assert_eq!(r.opt_bool("tls"), Some(true));
        assert!(r.finish().is_ok());
    }
}
