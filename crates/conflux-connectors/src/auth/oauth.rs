//! The OAuth 2.0 client-credentials grant against a Microsoft Entra ID style
//! token endpoint, with a token cache.
//!
//! Logic Apps calls the `audience` a resource, so Conflux uses the v1
//! endpoint `{authority}/{tenant}/oauth2/token` with `resource=audience`. An
//! audience that is already a v2 scope (ends with `/.default`) goes to
//! `{authority}/{tenant}/oauth2/v2.0/token` with `scope=audience` instead.
//! The client proves its identity with a client secret or, for a certificate
//! credential, with a client assertion signed by the certificate's key (see
//! [`super::assertion`]).
//! A token is reused until five minutes (or half its lifetime, if shorter)
//! before it expires.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use conflux_connector_api::{ConnectorError, Secret};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::assertion::{AssertionKey, JWT_BEARER};
use super::{Clock, OAuthCredential};

/// Which token endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpointVersion {
    /// `/oauth2/token` with `resource`.
    V1,
    /// `/oauth2/v2.0/token` with `scope`.
    V2,
}

impl TokenEndpointVersion {
    /// The version used for an audience.
    pub fn for_audience(audience: &str) -> Self {
        if audience.ends_with("/.default") {
            Self::V2
        } else {
            Self::V1
        }
    }
}

pub(super) struct TokenRequest<'a> {
    pub(super) authority: &'a str,
    pub(super) tenant: &'a str,
    pub(super) audience: &'a str,
    pub(super) client_id: &'a str,
    pub(super) credential: &'a OAuthCredential,
}

impl TokenRequest<'_> {
    fn url(&self) -> String {
        let authority = self.authority.trim_end_matches('/');
        match TokenEndpointVersion::for_audience(self.audience) {
            TokenEndpointVersion::V1 => format!("{authority}/{}/oauth2/token", self.tenant),
            TokenEndpointVersion::V2 => format!("{authority}/{}/oauth2/v2.0/token", self.tenant),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    url: String,
    audience: String,
    client_id: String,
    /// A digest of the credential, so a rotated secret or certificate gets a
    /// new token.
    credential_digest: [u8; 32],
}

struct Cached {
    token: Secret,
    refresh_at: SystemTime,
}

pub(super) struct TokenCache {
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    tokens: Mutex<HashMap<CacheKey, Cached>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds; the v1 endpoint sends a string, v2 a number.
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

const MAX_MARGIN: Duration = Duration::from_secs(300);
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

impl TokenCache {
    pub(super) fn new(http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            clock,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// A valid token, from the cache or freshly requested.
    pub(super) async fn token(&self, request: &TokenRequest<'_>) -> Result<Secret, ConnectorError> {
        let key = CacheKey {
            url: request.url(),
            audience: request.audience.to_owned(),
            client_id: request.client_id.to_owned(),
            credential_digest: credential_digest(request.credential),
        };
        // Holding the lock while fetching makes concurrent callers wait for
        // one request instead of each asking for a token.
        let mut tokens = self.tokens.lock().await;
        let now = self.clock.now();
        if let Some(cached) = tokens.get(&key).filter(|c| now < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch(&key.url, request, now).await?;
        let margin = MAX_MARGIN.min(lifetime / 2);
        tokens.insert(
            key,
            Cached {
                token: token.clone(),
                refresh_at: now + lifetime - margin,
            },
        );
        Ok(token)
    }

    async fn fetch(
        &self,
        url: &str,
        request: &TokenRequest<'_>,
        now: SystemTime,
    ) -> Result<(Secret, Duration), ConnectorError> {
        let target = match TokenEndpointVersion::for_audience(request.audience) {
            TokenEndpointVersion::V1 => ("resource", request.audience),
            TokenEndpointVersion::V2 => ("scope", request.audience),
        };
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", request.client_id),
        ];
        let assertion;
        let scrubbed = match request.credential {
            OAuthCredential::Secret(secret) => {
                form.push(("client_secret", secret.expose()));
                Some(secret)
            }
            OAuthCredential::Certificate { pfx, password } => {
                assertion = AssertionKey::from_pfx(pfx, password.as_ref())?.assertion(
                    url,
                    request.client_id,
                    now,
                )?;
                form.push(("client_assertion_type", JWT_BEARER));
                form.push(("client_assertion", assertion.expose()));
                password.as_ref()
            }
        };
        form.push(target);
        let what = format!("requesting an OAuth token from {url}");
        let response = self
            .http
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::transient(format!("{what}: {}", without_url(&e))))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| ConnectorError::transient(format!("{what}: {}", without_url(&e))))?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<ErrorResponse>(&body)
                .ok()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.error.unwrap_or_default(),
                        e.error_description.unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let message = crate::scrub(
                &format!("{what}: the token endpoint answered {status} {detail}"),
                scrubbed,
            );
            return Err(match status.as_u16() {
                400 | 401 | 403 => ConnectorError::unauthorized(message),
                404 => ConnectorError::not_found(message),
                429 => ConnectorError::throttled(message, None),
                s if s >= 500 => ConnectorError::transient(message),
                _ => ConnectorError::other(message),
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            ConnectorError::other(format!("{what}: the response is not a token response"))
        })?;
        let lifetime = parsed
            .expires_in
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Ok((Secret::new(parsed.access_token), lifetime))
    }
}

fn credential_digest(credential: &OAuthCredential) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    match credential {
        OAuthCredential::Secret(secret) => {
            hasher.update(b"secret\0");
            hasher.update(secret.expose().as_bytes());
        }
        OAuthCredential::Certificate { pfx, password } => {
            hasher.update(b"certificate\0");
            hasher.update(pfx.expose().as_bytes());
            hasher.update([0]);
            hasher.update(password.as_ref().map_or("", Secret::expose).as_bytes());
        }
    }
    hasher.finalize().into()
}

/// The error text without the URL (which is already in the message).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_follows_the_audience_form() {
        let secret = OAuthCredential::Secret(Secret::new("s"));
        let v1 = TokenRequest {
            authority: "https://login.example/",
            tenant: "t1",
            audience: "https://api.example/",
            client_id: "c",
            credential: &secret,
        };
        assert_eq!(v1.url(), "https://login.example/t1/oauth2/token");
        let v2 = TokenRequest {
            audience: "api://x/.default",
            ..v1
        };
        assert_eq!(v2.url(), "https://login.example/t1/oauth2/v2.0/token");
    }
}
