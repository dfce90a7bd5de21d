//! Outbound authentication: the WDL `authentication` object (wdl-spec §5.2)
//! parsed into [`Authentication`], and an [`Authenticator`] that applies it to
//! an HTTP request.
//!
//! - `Basic` and `Raw` set the `Authorization` header; `ApiKey` sets a header
//!   or query parameter.
//! - `ActiveDirectoryOAuth` obtains a token with the OAuth 2.0 client
//!   credentials grant, proving the client with a secret or with a client
//!   assertion signed by a certificate's RSA key, and caches it until shortly
//!   before it expires (see [`oauth`] and [`assertion`]).
//! - `ClientCertificate` presents the certificate of a base64 PFX in the TLS
//!   handshake (mutual TLS).
//! - `ManagedServiceIdentity` asks the host's [`IdentityTokenSource`].

mod assertion;
mod certificate;
mod oauth;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use conflux_connector_api::{ConfigProblem, ConnectorError, ParamReader, Secret};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

pub use self::oauth::TokenEndpointVersion;

/// A parsed `authentication` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: <value>`, verbatim.
    Raw {
        /// The whole header value, e.g. `Bearer abc`.
        value: Secret,
    },
    /// Mutual TLS with the certificate and key of a PFX (PKCS #12) file.
    ClientCertificate {
        /// The PFX file, base64-encoded.
        pfx: Secret,
        /// The PFX password, if it has one.
        password: Option<Secret>,
    },
    /// A bearer token from a Microsoft Entra ID style token endpoint.
    ActiveDirectoryOAuth {
        /// The token service, default `https://login.microsoftonline.com`.
        authority: String,
        /// The tenant id or domain.
        tenant: String,
        /// The resource the token is for (`resource` in the v1 endpoint, or a
        /// scope ending in `/.default` for the v2 endpoint).
        audience: String,
        /// The application (client) id.
        client_id: String,
        /// How the client proves its identity.
        credential: OAuthCredential,
    },
    /// An API key in a header or query parameter.
    ApiKey {
        /// Header or query parameter name.
        name: String,
        /// Where the key goes.
        location: ApiKeyLocation,
        /// The key.
        value: Secret,
    },
    /// A token for the workflow's managed identity, from the host.
    ManagedServiceIdentity {
        /// The exact resource id the token is for (a trailing slash matters).
        audience: String,
        /// A user-assigned identity's resource id; `None` for the system-assigned one.
        identity: Option<String>,
    },
}

/// How an OAuth client authenticates to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthCredential {
    /// A client secret.
    Secret(Secret),
    /// A certificate (PFX with an RSA key) that signs a JWT client assertion.
    Certificate {
        /// The PFX file, base64-encoded.
        pfx: Secret,
        /// The PFX password.
        password: Option<Secret>,
    },
}

/// Where an API key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyLocation {
    /// As a request header.
    Header,
    /// As a query parameter.
    Query,
}

/// The default OAuth authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

impl Authentication {
    /// Parses an evaluated `authentication` object, reporting every problem.
    /// Problem paths start with `authentication`.
    pub fn parse(value: &Value) -> Result<Self, Vec<ConfigProblem>> {
        let mut r = ParamReader::for_value(value, "authentication");
        let kind = r.req_str("type").map(str::to_ascii_lowercase);
        let secret = |r: &mut ParamReader<'_>, name: &str, required: bool| -> Option<Secret> {
            let text = if required {
                r.req_str(name)
            } else {
                r.opt_str(name)
            };
            text.map(Secret::new)
        };
        let parsed = match kind.as_deref() {
            None => None,
            Some("basic") => {
                let username = r.req_str("username").map(str::to_owned);
                let password = secret(&mut r, "password", true);
                username
                    .zip(password)
                    .map(|(username, password)| Self::Basic { username, password })
            }
            Some("raw") => secret(&mut r, "value", true).map(|value| Self::Raw { value }),
            Some("clientcertificate") => {
                let pfx = secret(&mut r, "pfx", true);
                let password = secret(&mut r, "password", false);
                pfx.map(|pfx| Self::ClientCertificate { pfx, password })
            }
            Some("activedirectoryoauth") => {
                let authority = r
                    .opt_str("authority")
                    .unwrap_or(DEFAULT_AUTHORITY)
                    .to_owned();
                let tenant = r.req_str("tenant").map(str::to_owned);
                let audience = r.req_str("audience").map(str::to_owned);
                let client_id = r.req_str("clientId").map(str::to_owned);
                let credential = match (
                    secret(&mut r, "secret", false),
                    secret(&mut r, "pfx", false),
                ) {
                    (Some(s), None) => Some(OAuthCredential::Secret(s)),
                    (None, Some(pfx)) => Some(OAuthCredential::Certificate {
                        pfx,
                        password: secret(&mut r, "password", false),
                    }),
                    (Some(_), Some(_)) => {
                        r.problem("secret", "give either secret or pfx, not both");
                        None
                    }
                    (None, None) => {
                        r.problem(
                            "secret",
                            "is required (or pfx and password for a certificate credential)",
                        );
                        None
                    }
                };
                match (tenant, audience, client_id, credential) {
                    (Some(tenant), Some(audience), Some(client_id), Some(credential)) => {
                        Some(Self::ActiveDirectoryOAuth {
                            authority,
                            tenant,
                            audience,
                            client_id,
                            credential,
                        })
                    }
                    _ => None,
                }
            }
            Some("apikey") => {
                let name = r.req_str("name").map(str::to_owned);
                let location = match r.opt_str("in").map(str::to_ascii_lowercase).as_deref() {
                    None | Some("header") => Some(ApiKeyLocation::Header),
                    Some("query") => Some(ApiKeyLocation::Query),
                    Some(other) => {
                        r.problem("in", format!("'{other}' is not one of 'header', 'query'"));
                        None
                    }
                };
                let value = secret(&mut r, "value", true);
                match (name, location, value) {
                    (Some(name), Some(location), Some(value)) => Some(Self::ApiKey {
                        name,
                        location,
                        value,
                    }),
                    _ => None,
                }
            }
            Some("managedserviceidentity") => {
                let audience = r.req_str("audience").map(str::to_owned);
                let identity = r.opt_str("identity").map(str::to_owned);
                audience.map(|audience| Self::ManagedServiceIdentity { audience, identity })
            }
            Some(other) => {
                r.problem(
                    "type",
                    format!("'{other}' is not an authentication type; use Basic, Raw, ClientCertificate, ActiveDirectoryOAuth, ApiKey or ManagedServiceIdentity"),
                );
                None
            }
        };
        r.finish()?;
        parsed.ok_or_else(|| {
            vec![ConfigProblem::new(
                "authentication",
                "invalid authentication",
            )]
        })
    }
}

/// Where managed-identity tokens come from; the host's identity issuer
/// implements it.
#[async_trait]
pub trait IdentityTokenSource: Send + Sync {
    /// A token for `audience`, for the user-assigned `identity` or, when
    /// `None`, the system-assigned identity.
    async fn token(
        &self,
        audience: &str,
        identity: Option<&str>,
    ) -> Result<AccessToken, ConnectorError>;
}

/// A bearer token and when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// When it expires.
    pub expires_at: SystemTime,
}

/// The current time, injected so token expiry is testable without waiting.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Makes a client builder with the host's settings (timeouts, trusted roots).
pub type ClientFactory = Arc<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>;

/// Applies [`Authentication`] to outbound requests. Keep one per host: it
/// caches OAuth tokens and the TLS clients of client certificates.
pub struct Authenticator {
    factory: ClientFactory,
    plain: reqwest::Client,
    certificate_clients: Mutex<HashMap<[u8; 32], reqwest::Client>>,
    tokens: oauth::TokenCache,
    identity: Option<Arc<dyn IdentityTokenSource>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator whose clients come from `factory`, using `clock` for
    /// token expiry.
    pub fn new(factory: ClientFactory, clock: Arc<dyn Clock>) -> Result<Self, ConnectorError> {
        let plain = factory()
            .build()
            .map_err(|e| ConnectorError::other(format!("building the HTTP client: {e}")))?;
        Ok(Self {
            tokens: oauth::TokenCache::new(plain.clone(), clock),
            factory,
            plain,
            certificate_clients: Mutex::new(HashMap::new()),
            identity: None,
        })
    }

    /// The same authenticator, getting managed-identity tokens from `source`.
    pub fn with_identity_source(mut self, source: Arc<dyn IdentityTokenSource>) -> Self {
        self.identity = Some(source);
        self
    }

    /// A request builder for `method url` with `auth` applied; the caller adds
    /// headers and body and sends it.
    pub async fn request(
        &self,
        auth: Option<&Authentication>,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ConnectorError> {
        let Some(auth) = auth else {
            return Ok(self.plain.request(method, url));
        };
        Ok(match auth {
            Authentication::Basic { username, password } => self
                .plain
                .request(method, url)
                .basic_auth(username, Some(password.expose())),
            Authentication::Raw { value } => self
                .plain
                .request(method, url)
                .header(reqwest::header::AUTHORIZATION, sensitive(value.expose())?),
            Authentication::ApiKey {
                name,
                location: ApiKeyLocation::Header,
                value,
            } => {
                let name =
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        ConnectorError::invalid_input(format!(
                            "'{name}' is not a valid header name"
                        ))
                    })?;
                self.plain
                    .request(method, url)
                    .header(name, sensitive(value.expose())?)
            }
            Authentication::ApiKey {
                name,
                location: ApiKeyLocation::Query,
                value,
            } => self
                .plain
                .request(method, url)
                .query(&[(name.as_str(), value.expose())]),
            Authentication::ClientCertificate { pfx, password } => self
                .certificate_client(pfx, password.as_ref())
                .await?
                .request(method, url),
            Authentication::ActiveDirectoryOAuth {
                authority,
                tenant,
                audience,
                client_id,
                credential,
            } => {
                let request = oauth::TokenRequest {
                    authority,
                    tenant,
                    audience,
                    client_id,
                    credential,
                };
                let token = self.tokens.token(&request).await?;
                self.plain
                    .request(method, url)
                    .header(reqwest::header::AUTHORIZATION, bearer(&token)?)
            }
            Authentication::ManagedServiceIdentity { audience, identity } => {
                let source = self.identity.as_ref().ok_or_else(|| {
                    ConnectorError::unauthorized(
                        "managed identities are not configured on this host",
                    )
                })?;
                let token = source.token(audience, identity.as_deref()).await?;
                self.plain
                    .request(method, url)
                    .header(reqwest::header::AUTHORIZATION, bearer(&token.token)?)
            }
        })
    }

    async fn certificate_client(
        &self,
        pfx: &Secret,
        password: Option<&Secret>,
    ) -> Result<reqwest::Client, ConnectorError> {
        let mut hasher = Sha256::new();
        hasher.update(pfx.expose().as_bytes());
        hasher.update([0]);
        hasher.update(password.map_or("", Secret::expose).as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        let mut clients = self.certificate_clients.lock().await;
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let identity = certificate::identity_from_pfx(pfx, password)?;
        let client = (self.factory)().identity(identity).build().map_err(|e| {
            ConnectorError::invalid_input(format!(
                "the client certificate cannot be used for TLS: {e}"
            ))
        })?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

fn sensitive(value: &str) -> Result<reqwest::header::HeaderValue, ConnectorError> {
    let mut header = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        ConnectorError::invalid_input("the credential contains characters not allowed in a header")
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn bearer(token: &Secret) -> Result<reqwest::header::HeaderValue, ConnectorError> {
    sensitive(&format!("Bearer {}", token.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_type_parses_case_insensitively() {
        let basic =
            Authentication::parse(&json!({"type": "basic", "username": "u", "password": "p"}))
                .expect("basic");
        assert!(matches!(basic, Authentication::Basic { .. }));
        let oauth = Authentication::parse(&json!({
            "type": "ActiveDirectoryOAuth", "tenant": "t", "audience": "https://x/", "clientId": "c", "secret": "s"
        }))
        .expect("oauth");
        assert!(
            matches!(oauth, Authentication::ActiveDirectoryOAuth { ref authority, .. } if authority == DEFAULT_AUTHORITY)
        );
        let msi = Authentication::parse(
            &json!({"type": "ManagedServiceIdentity", "audience": "https://vault.azure.net"}),
        )
        .expect("msi");
        assert_eq!(
            msi,
            Authentication::ManagedServiceIdentity {
                audience: "https://vault.azure.net".into(),
                identity: None
            }
        );
        let key = Authentication::parse(
            &json!({"type": "ApiKey", "name": "x-key", "in": "query", "value": "k"}),
        )
        .expect("key");
        assert!(matches!(
            key,
            Authentication::ApiKey {
                location: ApiKeyLocation::Query,
                ..
            }
        ));
    }

    #[test]
    fn problems_are_reported_together_without_secret_values() {
        let problems = Authentication::parse(
            &json!({"type": "ActiveDirectoryOAuth", "secret": "s3cr3t", "pfx": "AAA"}),
        )
        .expect_err("invalid");
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "authentication.tenant",
                "authentication.audience",
                "authentication.clientId",
                "authentication.secret"
            ]
        );
        assert!(problems.iter().all(|p| !p.message.contains("s3cr3t")));
        let unknown = Authentication::parse(&json!({"type": "Kerberos"})).expect_err("unknown");
        assert_eq!(unknown[0].path, "authentication.type");
    }

    #[test]
    fn debug_output_hides_credentials() {
        let auth = Authentication::parse(
            &json!({"type": "Basic", "username": "u", "password": "hunter2"}),
        )
        .expect("basic");
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
