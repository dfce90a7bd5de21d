//! Outbound authentication for the Http action: the connectors' authenticator
//! (OAuth client credentials with a token cache, client certificates for mutual
//! TLS, API keys, managed identity through the host's issuer) plugged into the
//! engine, which knows only the [`RequestAuthorizer`] hook.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use conflux_connector_api::ConnectorError;
use conflux_connectors::auth::{Authentication, Authenticator, ClientFactory, IdentityTokenSource};
use conflux_engine::{ExecutorError, RequestAuthorizer};

/// The per-request timeout of outbound calls (the Logic Apps Standard limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(235);

struct ConnectorAuthorizer {
    authenticator: Authenticator,
}

/// An authorizer that gets managed-identity tokens from `identity`.
pub fn authorizer(
    identity: Arc<dyn IdentityTokenSource>,
) -> anyhow::Result<Arc<dyn RequestAuthorizer>> {
    let factory: ClientFactory = Arc::new(|| {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(30))
    });
    let authenticator =
        Authenticator::new(factory, Arc::new(conflux_connectors::auth::SystemClock))
            .map_err(|e| anyhow::anyhow!("{}", e.message()))?
            .with_identity_source(identity);
    Ok(Arc::new(ConnectorAuthorizer { authenticator }))
}

#[async_trait]
impl RequestAuthorizer for ConnectorAuthorizer {
    async fn request(
        &self,
        authentication: &serde_json::Value,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ExecutorError> {
        let parsed = Authentication::parse(authentication).map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            ExecutorError::permanent(
                "InvalidAuthentication",
                format!(
                    "the action's authentication is not valid: {}",
                    text.join("; ")
                ),
            )
        })?;
        self.authenticator
            .request(Some(&parsed), method, url)
            .await
            .map_err(classify)
    }
}

fn classify(err: ConnectorError) -> ExecutorError {
    let message = format!("authentication failed: {}", err.message());
    let mut out = if err.is_retryable() {
        ExecutorError::transient("AuthenticationUnavailable", message)
    } else {
        ExecutorError::permanent("AuthenticationFailed", message)
    };
    out.retry_after = err.retry_after();
    out
}
