//! NATS connection parameters, parsed once and without I/O.

use conflux_connector_api::{ConfigProblem, ConnectionConfig, Secret};

use crate::brokers::{self, decode_userinfo as decode, UrlRules, CONNECTION_STRING as PATH};

const RULES: UrlRules = UrlRules {
    scheme: "nats",
    aliases: &[],
    tls: &["tls"],
    tls_refusal:
        "asks for TLS, which this build does not support yet; use `nats://` on a trusted network",
    example: "`nats://127.0.0.1:4222`",
    why_secret: "it may contain credentials",
};

/// How the client authenticates.
#[derive(Debug, Clone)]
pub(crate) enum NatsAuth {
    None,
    UserPassword { user: String, password: Secret },
    Token(Secret),
}

/// The parsed connection parameters.
#[derive(Debug, Clone)]
pub(crate) struct NatsConfig {
    /// `nats://host:port`, without credentials.
    pub(crate) server: String,
    pub(crate) auth: NatsAuth,
}

impl NatsConfig {
    /// Client options carrying the credentials.
    pub(crate) fn options(&self) -> async_nats::ConnectOptions {
        let options = async_nats::ConnectOptions::new().name("conflux");
        match &self.auth {
            NatsAuth::None => options,
            NatsAuth::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.expose().to_owned())
            }
            NatsAuth::Token(token) => options.token(token.expose().to_owned()),
        }
    }
}

/// Reads `parameterValues.connectionString`
/// (`nats://[user:password@ | token@]host[:port]`).
pub(crate) fn parse(config: &ConnectionConfig) -> Result<NatsConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    brokers::require_secret(config, &RULES, &mut problems);
    let Some(brokers::BrokerUrl { url, host, .. }) =
        brokers::connection_url(config, &RULES, &mut problems)
    else {
        return Err(problems);
    };
    let auth = match (url.username(), url.password()) {
        ("", None) => NatsAuth::None,
        ("", Some(_)) => {
            problems.push(ConfigProblem::new(PATH, "has a password but no user name"));
            NatsAuth::None
        }
        (token, None) => NatsAuth::Token(Secret::new(decode(token))),
        (user, Some(password)) => NatsAuth::UserPassword {
            user: decode(user),
            password: Secret::new(decode(password)),
        },
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(NatsConfig {
        server: format!("nats://{host}:{}", url.port().unwrap_or(4222)),
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(connection_string: &str) -> Result<NatsConfig, Vec<ConfigProblem>> {
        parse(&brokers::with_connection_string(connection_string))
    }

    #[test]
    fn reads_server_and_credentials() {
        let config = parse_str("nats://app:pw@10.0.0.2").unwrap();
        assert_eq!(config.server, "nats://10.0.0.2:4222");
        assert!(matches!(config.auth, NatsAuth::UserPassword { ref user, .. } if user == "app"));
        assert!(!format!("{config:?}").contains("pw"));
        assert!(matches!(
            parse_str("nats://tok@h:1").unwrap().auth,
            NatsAuth::Token(_)
        ));
    }

    #[test]
    fn reports_problems() {
        assert_eq!(parse_str("http://:pw@h").unwrap_err().len(), 2);
        assert!(parse_str("tls://h").unwrap_err()[0].message.contains("TLS"));
    }
}
