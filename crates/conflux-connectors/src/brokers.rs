//! What the message-broker connectors (Redis, AMQP, MQTT, NATS) share: the
//! reading of their `connectionString`, the event shape of their triggers, the
//! payload rules of their publish actions, and small descriptor and error
//! helpers.
//!
//! Every broker trigger hands the workflow the same outline, so that a
//! definition written against one broker reads naturally against another:
//!
//! ```json
//! {"body": <payload>, "headers": {...}, "properties": {...}, "<address>": "..."}
//! ```
//!
//! where `<address>` is `channel`, `list`, `queue`, `topic` or `subject`.

use base64::Engine as _;
use conflux_connector_api::{ConfigProblem, ConnectionConfig, ConnectorError, ParamReader, Secret};
use serde_json::{Map, Value};

/// Where problems with a broker's connection string are reported.
pub(crate) const CONNECTION_STRING: &str = "parameterValues.connectionString";

/// What a broker accepts in its `connectionString`, and the words of the
/// problems it reports.
pub(crate) struct UrlRules {
    /// The scheme, e.g. `redis`.
    pub(crate) scheme: &'static str,
    /// Other names accepted for it, e.g. `tcp` for MQTT.
    pub(crate) aliases: &'static [&'static str],
    /// TLS schemes, which this build refuses with `tls_refusal`.
    pub(crate) tls: &'static [&'static str],
    /// The problem reported for a TLS scheme.
    pub(crate) tls_refusal: &'static str,
    /// A sample string for the "is required" problem, in backticks.
    pub(crate) example: &'static str,
    /// Why the string must be a secret, e.g. "it may contain a password".
    pub(crate) why_secret: &'static str,
}

/// A connection string that parsed as a URL.
pub(crate) struct BrokerUrl<'a> {
    /// The string as given.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) secret: &'a Secret,
    /// The string parsed.
    #[cfg_attr(
        not(any(feature = "redis", feature = "mqtt", feature = "nats")),
        allow(dead_code)
    )]
    pub(crate) url: url::Url,
    /// The host as written (an IPv6 address in brackets); empty only when
    /// that was reported.
    pub(crate) host: String,
}

/// Reports a `connectionString` given as a plain parameter instead of a
/// secret.
pub(crate) fn require_secret(
    config: &ConnectionConfig,
    rules: &UrlRules,
    problems: &mut Vec<ConfigProblem>,
) {
    if config.reader().raw("connectionString").is_some() {
        problems.push(ConfigProblem::new(
            CONNECTION_STRING,
            format!(
                "must be given as a secret ({}); the descriptor marks it secure",
                rules.why_secret
            ),
        ));
    }
}

/// Reads the secret `connectionString` as a URL. A missing string or one that
/// is not a URL is reported and gives `None`; a wrong scheme or a missing host
/// is reported too, but the URL is still returned so later checks can add
/// their problems.
pub(crate) fn connection_url<'a>(
    config: &'a ConnectionConfig,
    rules: &UrlRules,
    problems: &mut Vec<ConfigProblem>,
) -> Option<BrokerUrl<'a>> {
    let Some(secret) = config.secret("connectionString") else {
        problems.push(ConfigProblem::new(
            CONNECTION_STRING,
            format!("is required, e.g. {}", rules.example),
        ));
        return None;
    };
    let url = match url::Url::parse(secret.expose()) {
        Ok(url) => url,
        Err(e) => {
            // The URL parser's message never repeats the input, so no secret leaks.
            problems.push(ConfigProblem::new(
                CONNECTION_STRING,
                format!("is not a valid URL: {e}"),
            ));
            return None;
        }
    };
    match url.scheme() {
        s if s == rules.scheme || rules.aliases.contains(&s) => {}
        s if rules.tls.contains(&s) => {
            problems.push(ConfigProblem::new(CONNECTION_STRING, rules.tls_refusal));
        }
        other => problems.push(ConfigProblem::new(
            CONNECTION_STRING,
            format!("has scheme `{other}`; expected `{}://`", rules.scheme),
        )),
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    if host.is_empty() {
        problems.push(ConfigProblem::new(CONNECTION_STRING, "names no host"));
    }
    Some(BrokerUrl { secret, url, host })
}

/// Percent-decodes URL user info (`p%40ss` → `p@ss`).
#[cfg_attr(not(any(feature = "mqtt", feature = "nats")), allow(dead_code))]
pub(crate) fn decode_userinfo(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A connection whose `connectionString` secret is `connection_string`.
#[cfg(test)]
pub(crate) fn with_connection_string(connection_string: &str) -> ConnectionConfig {
    let mut config = ConnectionConfig::default();
    config
        .secrets
        .insert("connectionString".into(), Secret::new(connection_string));
    config
}

pub(crate) use crate::param;

/// Turns input problems into one invalid-input error that lists them all.
pub(crate) fn problems_to_error(problems: Vec<ConfigProblem>) -> ConnectorError {
    ConnectorError::invalid_input(
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// The problem reported for an operation id the connector does not offer.
pub(crate) fn unknown_operation(
    connector: &conflux_connector_api::ConnectorDescriptor,
    operation: &str,
) -> Vec<ConfigProblem> {
    let known: Vec<&str> = connector.operations.iter().map(|o| o.id).collect();
    vec![ConfigProblem::new(
        "operationId",
        format!(
            "{} has no operation '{operation}'; available: {}",
            connector.display_name,
            known.join(", ")
        ),
    )]
}

/// Decodes a message payload into the `body` a workflow sees.
///
/// - A declared JSON content type (`application/json`, `…+json`) is parsed as
///   JSON; if it does not parse, the text is kept.
/// - Without a declared content type, a payload that is a JSON object or array
///   is parsed; anything else stays text, so `"42"` remains the string `"42"`.
/// - Bytes that are not UTF-8 become binary content
///   (`{"$content-type", "$content": base64}`), the form Conflux uses for
///   binary values everywhere.
pub(crate) fn decode_body(payload: &[u8], content_type: Option<&str>) -> Value {
    let Ok(text) = std::str::from_utf8(payload) else {
        let mut content = Map::new();
        content.insert(
            "$content-type".into(),
            Value::String(
                content_type
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
            ),
        );
        content.insert(
            "$content".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(payload)),
        );
        return Value::Object(content);
    };
    let parse = match content_type {
        Some(ct) => is_json_content_type(ct),
        None => {
            let trimmed = text.trim_start();
            trimmed.starts_with('{') || trimmed.starts_with('[')
        }
    };
    if parse {
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            return value;
        }
    }
    Value::String(text.to_owned())
}

/// Whether a MIME type denotes JSON (`application/json`, `text/json`,
/// `application/problem+json`, with or without parameters).
pub(crate) fn is_json_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// The bytes a publish action sends for a `message`/`body` input: strings go
/// as their text, binary content (`{"$content": base64}`) as its bytes, any
/// other JSON value as compact JSON. Also returns the content type the value
/// implies, for brokers that carry one.
pub(crate) fn encode_body(value: &Value) -> Result<(Vec<u8>, &'static str), String> {
    match value {
        Value::String(text) => Ok((text.as_bytes().to_vec(), "text/plain")),
        Value::Object(map) if map.contains_key("$content") => {
            let encoded = map
                .get("$content")
                .and_then(Value::as_str)
                .ok_or("binary content needs `$content` as a base64 string")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("`$content` is not valid base64: {e}"))?;
            Ok((bytes, "application/octet-stream"))
        }
        other => Ok((other.to_string().into_bytes(), "application/json")),
    }
}

/// The required input `name` encoded by [`encode_body`]: its bytes and the
/// content type it implies. A missing or unencodable value is reported on `r`.
pub(crate) fn required_body(
    r: &mut ParamReader<'_>,
    name: &str,
) -> Option<(Vec<u8>, &'static str)> {
    let Some(value) = r.raw(name) else {
        r.problem(name, "is required but missing");
        return None;
    };
    encode_body(value)
        .map_err(|message| r.problem(name, message))
        .ok()
}

/// Builds a trigger event in the shared shape.
pub(crate) fn event(
    address: (&str, &str),
    body: Value,
    headers: Map<String, Value>,
    properties: Map<String, Value>,
) -> Value {
    let mut event = Map::new();
    event.insert("body".into(), body);
    event.insert("headers".into(), Value::Object(headers));
    event.insert("properties".into(), Value::Object(properties));
    event.insert(address.0.into(), Value::String(address.1.to_owned()));
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_decode_as_a_workflow_expects() {
        let cases: &[(&[u8], Option<&str>, Value)] = &[
            (br#"{"a":1}"#, None, json!({"a": 1})),
            (b"[1,2]", None, json!([1, 2])),
            (b"42", None, json!("42")),
            (b"42", Some("application/json"), json!(42)),
            (b"{not json", None, json!("{not json")),
            (b"{not json", Some("application/json"), json!("{not json")),
            (br#"{"a":1}"#, Some("text/plain"), json!(r#"{"a":1}"#)),
            (
                b"hello",
                Some("application/vnd.x+json; charset=utf-8"),
                json!("hello"),
            ),
            (
                &[0xff, 0x00],
                None,
                json!({"$content-type": "application/octet-stream", "$content": "/wA="}),
            ),
        ];
        for (payload, content_type, expected) in cases {
            assert_eq!(
                &decode_body(payload, *content_type),
                expected,
                "{payload:?}"
            );
        }
    }

    /// Every operation's descriptor example is valid input for it.
    #[test]
    fn descriptor_examples_are_valid_inputs() {
        let connectors: Vec<(std::sync::Arc<dyn conflux_connector_api::Connector>, &str)> = vec![
            #[cfg(feature = "redis")]
            (crate::redis::connector(), "redis://127.0.0.1:6379"),
            #[cfg(feature = "amqp")]
            (
                crate::amqp::connector(),
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            ),
            #[cfg(feature = "mqtt")]
            (crate::mqtt::connector(), "mqtt://127.0.0.1:1883"),
            #[cfg(feature = "nats")]
            (crate::nats::connector(), "nats://127.0.0.1:4222"),
        ];
        for (connector, url) in connectors {
            let descriptor = connector.descriptor();
            let mut config = conflux_connector_api::ConnectionConfig::default();
            config.secrets.insert(
                "connectionString".into(),
                conflux_connector_api::Secret::new(url),
            );
            let connection = connector.prepare(&config).expect("valid connection string");
            for operation in descriptor.operations {
                let example: Value = serde_json::from_str(operation.example)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", descriptor.name, operation.id));
                assert_eq!(
                    connection.check_inputs(operation.id, &example),
                    Ok(()),
                    "{} {}",
                    descriptor.name,
                    operation.id
                );
            }
            assert!(connection
                .check_inputs("noSuchOperation", &json!({}))
                .is_err());
            assert!(descriptor
                .connection_parameter("connectionString")
                .is_some_and(|p| p.secret));
        }
    }

    proptest::proptest! {
        /// Payloads and connection strings from the outside never panic the
        /// decoder or the connection parsers, and a rejected string is never
        /// echoed back.
        #[test]
        fn arbitrary_input_never_panics(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            content_type in proptest::option::of("[a-z/+;= ]{0,24}"),
            url in "(redis|amqp|mqtt|nats|http)://[a-z0-9:@%/.?=&\\[\\]-]{0,40}",
        ) {
            let _ = decode_body(&payload, content_type.as_deref());
            let mut config = conflux_connector_api::ConnectionConfig::default();
            config.secrets.insert(
                "connectionString".into(),
                conflux_connector_api::Secret::new(format!("{url}#s3cr3t")),
            );
            let connectors: Vec<std::sync::Arc<dyn conflux_connector_api::Connector>> = vec![
                #[cfg(feature = "redis")]
                crate::redis::connector(),
                #[cfg(feature = "amqp")]
                crate::amqp::connector(),
                #[cfg(feature = "mqtt")]
                crate::mqtt::connector(),
                #[cfg(feature = "nats")]
                crate::nats::connector(),
            ];
            for connector in connectors {
                if let Err(problems) = connector.prepare(&config) {
                    let text = format!("{problems:?}");
                    proptest::prop_assert!(!text.contains("s3cr3t"), "{}", text);
                }
            }
        }
    }

    /// The connection-string problems each broker reports, word for word.
    #[test]
    fn connection_string_problems_keep_their_wording() {
        let brokers: Vec<(std::sync::Arc<dyn conflux_connector_api::Connector>, &str, &str, &str)> = vec![
            #[cfg(feature = "redis")]
            (
                crate::redis::connector(),
                "redis",
                "rediss://h",
                "must be given as a secret (it may contain a password); the descriptor marks it secure",
            ),
            #[cfg(feature = "amqp")]
            (
                crate::amqp::connector(),
                "amqp",
                "amqps://h",
                "must be given as a secret (it contains a password); the descriptor marks it secure",
            ),
            #[cfg(feature = "mqtt")]
            (
                crate::mqtt::connector(),
                "mqtt",
                "ssl://h",
                "must be given as a secret (it may contain a password); the descriptor marks it secure",
            ),
            #[cfg(feature = "nats")]
            (
                crate::nats::connector(),
                "nats",
                "tls://h",
                "must be given as a secret (it may contain credentials); the descriptor marks it secure",
            ),
        ];
        let messages = |config: &conflux_connector_api::ConnectionConfig,
                        connector: &dyn conflux_connector_api::Connector| {
            match connector.prepare(config) {
                Ok(_) => Vec::new(),
                Err(problems) => problems
                    .into_iter()
                    .map(|p| {
                        assert_eq!(p.path, CONNECTION_STRING);
                        p.message
                    })
                    .collect::<Vec<_>>(),
            }
        };
        for (connector, scheme, tls, not_secret) in brokers {
            let connector = connector.as_ref();
            let mut plain = conflux_connector_api::ConnectionConfig::default();
            plain
                .parameters
                .insert("connectionString".into(), json!(format!("{scheme}://h")));
            let found = messages(&plain, connector);
            assert_eq!(found[0], not_secret);
            assert!(found[1].starts_with("is required, e.g. `"), "{found:?}");
            assert_eq!(
                messages(&with_connection_string("ftp://h"), connector)[0],
                format!("has scheme `ftp`; expected `{scheme}://`")
            );
            assert_eq!(
                messages(&with_connection_string("not a url"), connector),
                ["is not a valid URL: relative URL without a base"]
            );
            let refused = messages(&with_connection_string(tls), connector);
            assert!(
                refused.len() == 1 && refused[0].contains("TLS"),
                "{refused:?}"
            );
            assert_eq!(
                messages(&with_connection_string(&format!("{scheme}://")), connector),
                ["names no host"]
            );
        }
    }

    #[test]
    fn bodies_encode_for_publishing() {
        assert_eq!(
            encode_body(&json!("hi")).unwrap(),
            (b"hi".to_vec(), "text/plain")
        );
        assert_eq!(
            encode_body(&json!({"a": [1]})).unwrap(),
            (br#"{"a":[1]}"#.to_vec(), "application/json")
        );
        assert_eq!(
            encode_body(&json!({"$content-type": "x/y", "$content": "/wA="})).unwrap(),
            (vec![0xff, 0x00], "application/octet-stream")
        );
        assert!(encode_body(&json!({"$content": "!!"})).is_err());
    }
}
