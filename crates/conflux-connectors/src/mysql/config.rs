//! MySQL/MariaDB connection parameters, parsed without I/O.

use conflux_connector_api::{ConfigProblem, ConnectionConfig, Secret};
use mysql_async::{Opts, OptsBuilder};

/// A checked MySQL connection configuration.
pub(crate) struct MyConfig {
    /// Never printed: `Opts` prints the password in its `Debug` output.
    pub(crate) opts: Opts,
    /// The password, kept to scrub it from any message that might echo it.
    pub(crate) password: Option<Secret>,
}

impl std::fmt::Debug for MyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyConfig")
            .field("host", &self.opts.ip_or_hostname())
            .field("port", &self.opts.tcp_port())
            .field("database", &self.opts.db_name())
            .field("user", &self.opts.user())
            .field("password", &self.password)
            .finish()
    }
}

impl MyConfig {
    /// Reads either `connectionString` (`mysql://user:password@host:port/database`)
    /// or the separate `host`, `port`, `database`, `username`, `password`.
    pub(crate) fn parse(connection: &ConnectionConfig) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = connection.reader();
        let host = r.opt_str("host");
        let port = r.opt_i64("port");
        let database = r.opt_str("database");
        let username = r.opt_str("username");
        let connection_string = connection.secret("connectionString");
        let mut password = connection.secret("password").cloned();

        let mut builder = match (connection_string, host) {
            (Some(cs), _) => match Opts::from_url(cs.expose()) {
                Ok(opts) => OptsBuilder::from_opts(opts),
                Err(e) => {
                    let message = crate::scrub(&e.to_string(), Some(cs));
                    r.problem(
                        "connectionString",
                        format!("is not a valid MySQL connection string ({message}); use mysql://user:password@host:port/database"),
                    );
                    OptsBuilder::default()
                }
            },
            (None, Some(host)) => OptsBuilder::default().ip_or_hostname(host),
            (None, None) => {
                r.problem("host", "is required unless connectionString is given");
                OptsBuilder::default()
            }
        };
        if let Some(port) = port {
            match u16::try_from(port) {
                Ok(port) if port > 0 => builder = builder.tcp_port(port),
                _ => r.problem("port", "must be between 1 and 65535"),
            }
        }
        if database.is_some() {
            builder = builder.db_name(database);
        }
        if username.is_some() {
            builder = builder.user(username);
        }
        if let Some(secret) = &password {
            builder = builder.pass(Some(secret.expose()));
        }
        // TIMESTAMP values are read and written in UTC, whatever the server's zone.
        builder = builder
            .init(vec!["SET time_zone = '+00:00'"])
            .prefer_socket(false);
        let opts = Opts::from(builder);
        if password.is_none() {
            password = opts.pass().map(Secret::new);
        }
        if opts.user().is_none() {
            r.problem(
                "username",
                "is required (in the connection string or as username)",
            );
        }
        r.finish()?;
        Ok(Self { opts, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problems_are_reported_together_and_secrets_hidden() {
        let mut config = ConnectionConfig {
            parameters: json!({"port": 0}).as_object().cloned().unwrap_or_default(),
            ..ConnectionConfig::default()
        };
        let problems = MyConfig::parse(&config).expect_err("invalid");
        assert_eq!(problems.len(), 3, "{problems:?}");

        config.parameters = json!({"host": "db", "username": "u"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config
            .secrets
            .insert("password".into(), Secret::new("p4ss-word"));
        let parsed = MyConfig::parse(&config).expect("valid");
        assert!(!format!("{parsed:?}").contains("p4ss-word"));
    }
}
