//! Redis actions: get, set, delete, increment, publish.

use ::redis::aio::MultiplexedConnection;
use ::redis::{RedisError, SetExpiry, SetOptions};
use conflux_connector_api::{ConfigProblem, ParamReader};
use serde_json::{json, Value};

use crate::brokers::required_body;

const INPUTS: &str = "inputs.parameters";

/// When `set` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetCondition {
    Always,
    IfNotExists,
    IfExists,
}

/// A parsed Redis action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RedisAction {
    Get {
        key: String,
    },
    Set {
        key: String,
        value: Vec<u8>,
        expiry_secs: Option<u64>,
        condition: SetCondition,
    },
    Delete {
        keys: Vec<String>,
    },
    Increment {
        key: String,
        by: i64,
    },
    Publish {
        channel: String,
        message: Vec<u8>,
    },
}

impl RedisAction {
    /// Parses an action's inputs, reporting every problem.
    pub(crate) fn parse(operation: &str, inputs: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(inputs, INPUTS);
        let action = match operation {
            "get" => r.req_str("key").map(|key| Self::Get {
                key: key.to_owned(),
            }),
            "set" => {
                let key = r.req_str("key");
                let value = payload(&mut r, "value");
                let expiry_secs = match r.opt_i64("expirySeconds") {
                    Some(n) if n > 0 => Some(n.unsigned_abs()),
                    Some(_) => {
                        r.problem("expirySeconds", "must be a positive number of seconds");
                        None
                    }
                    None => None,
                };
                let condition = match r.opt_str("condition") {
                    None | Some("always") => SetCondition::Always,
                    Some("ifNotExists") => SetCondition::IfNotExists,
                    Some("ifExists") => SetCondition::IfExists,
                    Some(other) => {
                        r.problem(
                            "condition",
                            format!("is '{other}'; expected always, ifNotExists or ifExists"),
                        );
                        SetCondition::Always
                    }
                };
                match (key, value) {
                    (Some(key), Some(value)) => Some(Self::Set {
                        key: key.to_owned(),
                        value,
                        expiry_secs,
                        condition,
                    }),
                    _ => None,
                }
            }
            "delete" => {
                let mut keys: Vec<String> =
                    r.opt_str("key").map(str::to_owned).into_iter().collect();
                if let Some(list) = r.opt_array("keys") {
                    for (i, item) in list.iter().enumerate() {
                        match item.as_str() {
                            Some(k) if !k.is_empty() => keys.push(k.to_owned()),
                            _ => r.problem(&format!("keys[{i}]"), "must be a non-empty string"),
                        }
                    }
                }
                if keys.is_empty() && !r.has_problems() {
                    r.problem("key", "give `key` or a non-empty `keys` array");
                }
                Some(Self::Delete { keys })
            }
            "increment" => {
                let key = r.req_str("key");
                let by = r.opt_i64("by").unwrap_or(1);
                key.map(|key| Self::Increment {
                    key: key.to_owned(),
                    by,
                })
            }
            "publish" => {
                let channel = r.req_str("channel");
                let message = payload(&mut r, "message");
                match (channel, message) {
                    (Some(channel), Some(message)) => Some(Self::Publish {
                        channel: channel.to_owned(),
                        message,
                    }),
                    _ => None,
                }
            }
            other => {
                return Err(crate::brokers::unknown_operation(&super::DESCRIPTOR, other));
            }
        };
        r.finish()?;
        action.ok_or_else(|| vec![ConfigProblem::new(INPUTS, "are incomplete")])
    }

    /// Runs the action on `connection`.
    pub(crate) async fn run(
        &self,
        connection: &mut MultiplexedConnection,
    ) -> Result<Value, RedisError> {
        match self {
            Self::Get { key } => {
                let value: Option<Vec<u8>> =
                    ::redis::cmd("GET").arg(key).query_async(connection).await?;
                let value = value.map(|bytes| match String::from_utf8(bytes) {
                    Ok(text) => Value::String(text),
                    Err(e) => crate::brokers::decode_body(e.as_bytes(), None),
                });
                Ok(json!({"key": key, "exists": value.is_some(), "value": value}))
            }
            Self::Set {
                key,
                value,
                expiry_secs,
                condition,
            } => {
                let mut options = SetOptions::default();
                if let Some(secs) = expiry_secs {
                    options = options.with_expiration(SetExpiry::EX(*secs));
                }
                options = match condition {
                    SetCondition::Always => options,
                    SetCondition::IfNotExists => {
                        options.conditional_set(::redis::ExistenceCheck::NX)
                    }
                    SetCondition::IfExists => options.conditional_set(::redis::ExistenceCheck::XX),
                };
                let reply: Option<String> = ::redis::cmd("SET")
                    .arg(key)
                    .arg(value.as_slice())
                    .arg(options)
                    .query_async(connection)
                    .await?;
                Ok(json!({"key": key, "written": reply.is_some()}))
            }
            Self::Delete { keys } => {
                let deleted: i64 = ::redis::cmd("DEL")
                    .arg(keys)
                    .query_async(connection)
                    .await?;
                Ok(json!({"deleted": deleted}))
            }
            Self::Increment { key, by } => {
                let value: i64 = ::redis::cmd("INCRBY")
                    .arg(key)
                    .arg(*by)
                    .query_async(connection)
                    .await?;
                Ok(json!({"key": key, "value": value}))
            }
            Self::Publish { channel, message } => {
                let receivers: i64 = ::redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(message.as_slice())
                    .query_async(connection)
                    .await?;
                Ok(json!({"channel": channel, "receivers": receivers}))
            }
        }
    }
}

/// A required payload input: text as is, other JSON as its JSON text.
fn payload(r: &mut ParamReader<'_>, name: &str) -> Option<Vec<u8>> {
    required_body(r, name).map(|(bytes, _)| bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_action() {
        assert_eq!(
            RedisAction::parse(
                "set",
                &json!({"key": "k", "value": {"a": 1}, "expirySeconds": "60"})
            ),
            Ok(RedisAction::Set {
                key: "k".into(),
                value: br#"{"a":1}"#.to_vec(),
                expiry_secs: Some(60),
                condition: SetCondition::Always,
            })
        );
        assert_eq!(
            RedisAction::parse("delete", &json!({"key": "a", "keys": ["b"]})),
            Ok(RedisAction::Delete {
                keys: vec!["a".into(), "b".into()]
            })
        );
        assert_eq!(
            RedisAction::parse("increment", &json!({"key": "n"})),
            Ok(RedisAction::Increment {
                key: "n".into(),
                by: 1
            })
        );
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let problems = RedisAction::parse(
            "set",
            &json!({"expirySeconds": -1, "condition": "sometimes"}),
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "inputs.parameters.key",
                "inputs.parameters.value",
                "inputs.parameters.expirySeconds",
                "inputs.parameters.condition"
            ]
        );
        assert!(RedisAction::parse("delete", &json!({})).is_err());
        assert!(RedisAction::parse("nope", &json!({})).unwrap_err()[0]
            .message
            .contains("get, set"));
    }
}
