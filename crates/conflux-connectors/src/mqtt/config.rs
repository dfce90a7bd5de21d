//! MQTT connection parameters, parsed once and without I/O.

use conflux_connector_api::{ConfigProblem, ConnectionConfig, Secret};

use crate::brokers::{self, decode_userinfo as decode, UrlRules, CONNECTION_STRING as PATH};

const RULES: UrlRules = UrlRules {
    scheme: "mqtt",
    aliases: &["tcp"],
    tls: &["mqtts", "ssl", "tls"],
    tls_refusal:
        "asks for TLS, which this build does not support yet; use `mqtt://` on a trusted network",
    example: "`mqtt://127.0.0.1:1883`",
    why_secret: "it may contain a password",
};

/// The parsed connection parameters.
#[derive(Debug, Clone)]
pub(crate) struct MqttConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) keep_alive_secs: u64,
}

impl MqttConfig {
    /// `host:port` for messages.
    pub(crate) fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Client options for one MQTT session.
    pub(crate) fn options(&self, client_id: &str, clean_session: bool) -> rumqttc::MqttOptions {
        let mut options = rumqttc::MqttOptions::new(client_id, self.host.clone(), self.port);
        options.set_keep_alive(std::time::Duration::from_secs(self.keep_alive_secs));
        options.set_clean_session(clean_session);
        if let Some(user) = &self.username {
            let password = self
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            options.set_credentials(user.clone(), password);
        }
        options
    }
}

/// Reads `parameterValues.connectionString` (`mqtt://[user:password@]host[:port]`)
/// and the optional `keepAliveSeconds`.
pub(crate) fn parse(config: &ConnectionConfig) -> Result<MqttConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    brokers::require_secret(config, &RULES, &mut problems);
    let mut reader = config.reader();
    let keep_alive_secs = match reader.opt_i64("keepAliveSeconds") {
        None => 30,
        Some(n @ 5..=3600) => n.unsigned_abs(),
        Some(_) => {
            reader.problem("keepAliveSeconds", "must be between 5 and 3600");
            30
        }
    };
    if let Err(found) = reader.finish() {
        problems.extend(found);
    }
    let Some(brokers::BrokerUrl { url, host, .. }) =
        brokers::connection_url(config, &RULES, &mut problems)
    else {
        return Err(problems);
    };
    let username = match url.username() {
        "" => None,
        user => Some(decode(user)),
    };
    let password = url.password().map(|p| Secret::new(decode(p)));
    if password.is_some() && username.is_none() {
        problems.push(ConfigProblem::new(PATH, "has a password but no user name"));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(MqttConfig {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: url.port().unwrap_or(1883),
        username,
        password,
        keep_alive_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(connection_string: &str) -> Result<MqttConfig, Vec<ConfigProblem>> {
        parse(&brokers::with_connection_string(connection_string))
    }

    #[test]
    fn reads_host_port_and_credentials() {
        let config = parse_str("mqtt://app:p%40ss@10.0.0.7:1884").unwrap();
        assert_eq!(config.address(), "10.0.0.7:1884");
        assert_eq!(config.username.as_deref(), Some("app"));
        assert_eq!(config.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert!(!format!("{config:?}").contains("p@ss"));
        assert_eq!(parse_str("mqtt://127.0.0.1").unwrap().port, 1883);
    }

    #[test]
    fn reports_problems() {
        assert!(parse_str("mqtts://h").unwrap_err()[0]
            .message
            .contains("TLS"));
        assert!(parse_str("http://:pw@h").unwrap_err().len() == 2);
        assert!(parse(&ConnectionConfig::default()).unwrap_err()[0]
            .message
            .contains("is required"));
    }
}
