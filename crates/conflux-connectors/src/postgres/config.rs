//! PostgreSQL connection parameters, parsed without I/O.

use std::str::FromStr;
use std::time::Duration;

use conflux_connector_api::{ConfigProblem, ConnectionConfig, Secret};
use tokio_postgres::config::SslMode;

/// A checked PostgreSQL connection configuration.
pub(crate) struct PgConfig {
    pub(crate) config: tokio_postgres::Config,
    /// The password, kept to scrub it from any message that might echo it.
    pub(crate) password: Option<Secret>,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("password", &self.password)
            .finish()
    }
}

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl PgConfig {
    /// Reads either `connectionString` (URL or `key=value` form) or the
    /// separate `host`, `port`, `database`, `username`, `password` parameters.
    pub(crate) fn parse(connection: &ConnectionConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = connection.reader();
        let host = r.opt_str("host");
        let port = r.opt_i64("port");
        let database = r.opt_str("database");
        let username = r.opt_str("username");
        let connection_string = connection.secret("connectionString");
        let mut password = connection.secret("password").cloned();

        let mut config = match (connection_string, host) {
            (Some(cs), _) => match tokio_postgres::Config::from_str(cs.expose()) {
                Ok(config) => config,
                Err(e) => {
                    let message = crate::scrub(&e.to_string(), Some(cs));
                    r.problem("connectionString", format!("is not a valid PostgreSQL connection string ({message}); use postgres://user:password@host:port/database"));
                    tokio_postgres::Config::new()
                }
            },
            (None, Some(host)) => {
                let mut config = tokio_postgres::Config::new();
                config.host(host);
                config
            }
            (None, None) => {
                r.problem("host", "is required unless connectionString is given");
                tokio_postgres::Config::new()
            }
        };
        if let Some(port) = port {
            match u16::try_from(port) {
                Ok(port) if port > 0 => {
                    config.port(port);
                }
                _ => r.problem("port", "must be between 1 and 65535"),
            }
        }
        if let Some(database) = database {
            config.dbname(database);
        }
        if let Some(username) = username {
            config.user(username);
        }
        if let Some(password) = &password {
            config.password(password.expose());
        } else if let Some(bytes) = config.get_password() {
            password = Some(Secret::new(String::from_utf8_lossy(bytes).into_owned()));
        }
        if config.get_user().is_none() {
            r.problem(
                "username",
                "is required (in the connection string or as username)",
            );
        }
        if config.get_ssl_mode() == SslMode::Require {
            r.problem(
                "connectionString",
                "sslmode=require is not supported yet: TLS to PostgreSQL is not available in this build; use sslmode=disable or prefer on a trusted network",
            );
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        config.application_name("conflux");
        r.finish()?;
        Ok(Self { config, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(parameters: serde_json::Value, secrets: &[(&str, &str)]) -> ConnectionConfig {
        ConnectionConfig {
            name: "pg".into(),
            connector_id: super::super::DESCRIPTOR.id.into(),
            parameters: parameters.as_object().cloned().unwrap_or_default(),
            secrets: secrets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
                .collect(),
        }
    }

    #[test]
    fn separate_parameters_build_a_config() {
        let c = PgConfig::parse(&config(
            json!({"host": "db", "port": "6543", "database": "d", "username": "u"}),
            &[("password", "pw-123")],
        ))
        .expect("valid");
        assert_eq!(c.config.get_ports(), [6543]);
        assert!(!format!("{c:?}").contains("pw-123"));
    }

    #[test]
    fn all_problems_are_reported() {
        let problems = PgConfig::parse(&config(json!({"port": 70000}), &[])).expect_err("invalid");
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "parameterValues.host",
                "parameterValues.port",
                "parameterValues.username"
            ]
        );
    }

    #[test]
    fn connection_string_password_is_kept_secret() {
        let c = PgConfig::parse(&config(
            json!({}),
            &[("connectionString", "postgres://u:hunter2@h/d")],
        ))
        .expect("valid");
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn tls_required_is_refused_not_silently_downgraded() {
        let problems = PgConfig::parse(&config(
            json!({}),
            &[("connectionString", "postgres://u@h/d?sslmode=require")],
        ))
        .expect_err("invalid");
        assert!(problems[0].message.contains("sslmode=require"));
    }
}
