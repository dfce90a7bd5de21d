//! AMQP 0.9.1 (RabbitMQ) connection parameters, parsed once and without I/O.

use std::str::FromStr as _;

use conflux_connector_api::{ConfigProblem, ConnectionConfig};
use lapin::uri::{AMQPScheme, AMQPUri};

use crate::brokers::{self, UrlRules, CONNECTION_STRING as PATH};

const RULES: UrlRules = UrlRules {
    scheme: "amqp",
    aliases: &[],
    tls: &["amqps"],
    tls_refusal: "uses `amqps://` (TLS), which this build does not support yet; use `amqp://` on a trusted network",
    example: "`amqp://guest:guest@127.0.0.1:5672/%2f`",
    why_secret: "it contains a password",
};

/// The parsed connection parameters.
#[derive(Clone)]
pub(crate) struct AmqpConfig {
    /// Holds the password: never print it. `AMQPUri`'s `Debug` would, so this
    /// struct's `Debug` is written by hand below.
    pub(crate) uri: AMQPUri,
    /// `host:port/vhost` for messages.
    pub(crate) address: String,
}

impl std::fmt::Debug for AmqpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConfig")
            .field("address", &self.address)
            .field("user", &self.uri.authority.userinfo.username)
            .field("password", &"***")
            .finish()
    }
}

/// Reads `parameterValues.connectionString`
/// (`amqp://user:password@host[:port][/vhost][?heartbeat=30]`).
pub(crate) fn parse(config: &ConnectionConfig) -> Result<AmqpConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    brokers::require_secret(config, &RULES, &mut problems);
    let Some(brokers::BrokerUrl { secret, host, .. }) =
        brokers::connection_url(config, &RULES, &mut problems)
    else {
        return Err(problems);
    };
    // The URI parser's messages may quote the whole URI, password included,
    // so only say which part is wrong.
    let parsed = AMQPUri::from_str(secret.expose()).map_err(|_| {
        ConfigProblem::new(
            PATH,
            "has an invalid user name, password, vhost or query option (frame_max, channel_max, \
             heartbeat, connection_timeout, auth_mechanism)",
        )
    });
    let mut uri = match parsed {
        Ok(uri) => uri,
        Err(problem) => {
            problems.push(problem);
            return Err(problems);
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    // The URI parser only reads domain names and falls back to `localhost` for
    // an IP address; take the host from the URL instead.
    uri.authority.host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    uri.scheme = AMQPScheme::AMQP;
    let address = format!("{host}:{}/{}", uri.authority.port, uri.vhost);
    Ok(AmqpConfig { uri, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(connection_string: &str) -> Result<AmqpConfig, Vec<ConfigProblem>> {
        parse(&brokers::with_connection_string(connection_string))
    }

    #[test]
    fn reads_host_port_vhost_and_credentials() {
        let config = parse_str("amqp://app:pw@10.1.2.3:5673/orders?heartbeat=10").unwrap();
        assert_eq!(config.uri.authority.host, "10.1.2.3");
        assert_eq!(config.uri.authority.port, 5673);
        assert_eq!(config.uri.vhost, "orders");
        assert_eq!(config.uri.authority.userinfo.username, "app");
        assert_eq!(config.uri.query.heartbeat, Some(10));
        assert_eq!(config.address, "10.1.2.3:5673/orders");
        let default_vhost = parse_str("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(default_vhost.uri.vhost, "/");
    }

    #[test]
    fn reports_problems_without_the_password() {
        let problems = parse_str("http://u:topsecret@h:1/?heartbeat=x").unwrap_err();
        let text = format!("{problems:?}");
        assert!(!text.contains("topsecret"), "{text}");
        assert!(parse_str("amqps://h").unwrap_err()[0]
            .message
            .contains("TLS"));
        assert!(parse(&ConnectionConfig::default()).unwrap_err()[0]
            .message
            .contains("is required"));
        let config = parse_str("amqp://u:topsecret@h").unwrap();
        assert!(!format!("{config:?}").contains("topsecret"));
    }
}
