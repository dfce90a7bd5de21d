//! Redis connection parameters, parsed once and without I/O.

use conflux_connector_api::{ConfigProblem, ConnectionConfig};

use crate::brokers::{self, UrlRules, CONNECTION_STRING as PATH};

const RULES: UrlRules = UrlRules {
    scheme: "redis",
    aliases: &[],
    tls: &["rediss"],
    tls_refusal: "uses `rediss://` (TLS), which this build does not support yet; use `redis://` on a trusted network",
    example: "`redis://127.0.0.1:6379/0` or `redis://:password@host:6379`",
    why_secret: "it may contain a password",
};

/// The parsed connection: a client that connects on first use.
#[derive(Debug, Clone)]
pub(crate) struct RedisConfig {
    pub(crate) client: ::redis::Client,
    /// `host:port` for messages; never the password.
    pub(crate) address: String,
}

/// Reads `parameterValues.connectionString` (`redis://[:password@]host[:port][/db]`).
pub(crate) fn parse(config: &ConnectionConfig) -> Result<RedisConfig, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    brokers::require_secret(config, &RULES, &mut problems);
    let Some(brokers::BrokerUrl { url, host, .. }) =
        brokers::connection_url(config, &RULES, &mut problems)
    else {
        return Err(problems);
    };
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() && path.parse::<u32>().is_err() {
        problems.push(ConfigProblem::new(
            PATH,
            "has a path that is not a database number; write e.g. `/0`",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let address = format!("{host}:{}", url.port().unwrap_or(6379));
    match ::redis::Client::open(url) {
        Ok(client) => Ok(RedisConfig { client, address }),
        Err(e) => Err(vec![ConfigProblem::new(
            PATH,
            format!("is not a usable Redis address: {}", e.kind_description()),
        )]),
    }
}

trait KindDescription {
    fn kind_description(&self) -> String;
}

impl KindDescription for ::redis::RedisError {
    fn kind_description(&self) -> String {
        // Only the category: the full error may echo parts of the URL.
        format!("{:?}", self.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(connection_string: Option<&str>) -> ConnectionConfig {
        connection_string.map_or_else(ConnectionConfig::default, brokers::with_connection_string)
    }

    fn problems(connection_string: Option<&str>) -> Vec<String> {
        match parse(&config(connection_string)) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_plain_and_password_urls() {
        assert!(problems(Some("redis://127.0.0.1:6379/2")).is_empty());
        assert!(problems(Some("redis://:s3cret@127.0.0.1")).is_empty());
        let parsed = parse(&config(Some("redis://:s3cret@10.0.0.1/1"))).unwrap();
        assert_eq!(parsed.address, "10.0.0.1:6379");
    }

    #[test]
    fn reports_problems_without_echoing_the_secret() {
        let found = problems(Some("http://:s3cret@h/abc"));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|p| !p.contains("s3cret")), "{found:?}");
        assert!(found[0].contains("scheme `http`"));
        let missing = problems(None);
        assert!(missing[0].contains("is required"), "{missing:?}");
        assert!(problems(Some("rediss://h"))[0].contains("TLS"));
    }
}
