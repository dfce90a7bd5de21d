//! OAuth authorization policies for inbound calls to Request triggers.
//!
//! `accessControl.triggers.openAuthenticationPolicies.policies` names
//! policies, each a list of claims (`{"name": "iss", "value": "..."}`). A
//! call with `Authorization: Bearer <token>` is authorized when the token's
//! signature verifies against a trusted key set, it is within its lifetime,
//! and its claims match every claim of at least one policy (the token may
//! carry more claims).
//!
//! Trusted keys ([`TokenTrust`]) are the host's own identity issuer (its
//! JWKS, so one Conflux workflow can call another with
//! `ManagedServiceIdentity` authentication) and, optionally, an external
//! JWKS named by the app setting [`TRUSTED_JWKS_SETTING`]: an `http(s)` URL
//! fetched when first needed and cached, or a file read at start.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use conflux_security::jwt::{self, JwkSet, JwtError};
use serde_json::{Map, Value};

/// The app setting naming an external JWKS: `https://...`, `http://...`,
/// `file:///path` or a plain file path.
pub const TRUSTED_JWKS_SETTING: &str = "CONFLUX_TRUSTED_JWKS_URL";
/// Logic Apps' limits, kept so a definition stays deployable there.
const MAX_POLICIES: usize = 5;
const MAX_CLAIMS: usize = 10;
const MAX_CLAIM_VALUE_CHARS: usize = 150;
/// How long a fetched key set is used before it is fetched again.
const REMOTE_TTL: chrono::Duration = chrono::Duration::hours(1);
/// A token naming a key the cached set lacks (key rollover) fetches the set
/// again, at most this often.
const UNKNOWN_KEY_REFRESH: chrono::Duration = chrono::Duration::minutes(5);
/// After a failed fetch, the next attempt waits this long.
const RETRY_AFTER_FAILURE: chrono::Duration = chrono::Duration::seconds(30);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are not key sets.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// The authorization policies of one workflow's triggers.
#[derive(Debug, Clone, Default)]
pub struct OAuthPolicies {
    policies: Vec<Policy>,
}

#[derive(Debug, Clone)]
struct Policy {
    name: String,
    /// `(claim name as in the token, required value)`.
    claims: Vec<(String, String)>,
}

impl OAuthPolicies {
    /// Reads `openAuthenticationPolicies` (absent: no policies); problems are
    /// pushed to `errors` prefixed with `origin`.
    pub fn parse(section: Option<&Value>, origin: &str, errors: &mut Vec<String>) -> OAuthPolicies {
        let at = format!("{origin}.triggers.openAuthenticationPolicies");
        let Some(section) = section else {
            return OAuthPolicies::default();
        };
        let policies = match section.get("policies") {
            None | Some(Value::Null) => return OAuthPolicies::default(),
            Some(Value::Object(policies)) => policies,
            Some(_) => {
                errors.push(format!("{at}.policies must be an object of named policies"));
                return OAuthPolicies::default();
            }
        };
        if policies.len() > MAX_POLICIES {
            errors.push(format!(
                "{at}.policies has {} policies; at most {MAX_POLICIES} are allowed",
                policies.len()
            ));
        }
        let mut parsed = Vec::new();
        for (name, policy) in policies {
            let at = format!("{at}.policies.{name}");
            match policy.get("type").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("AAD") => {}
                Some(t) if t.eq_ignore_ascii_case("AADPOP") => {
                    errors.push(format!("{at}.type: proof-of-possession (AADPOP) policies are not supported; use AAD with bearer tokens"));
                    continue;
                }
                _ => {
                    errors.push(format!("{at}.type must be \"AAD\""));
                    continue;
                }
            }
            let Some(items) = policy.get("claims").and_then(Value::as_array) else {
                errors.push(format!(
                    "{at}.claims must be an array of {{\"name\", \"value\"}}"
                ));
                continue;
            };
            if items.len() > MAX_CLAIMS {
                errors.push(format!(
                    "{at}.claims has {} claims; at most {MAX_CLAIMS} are allowed",
                    items.len()
                ));
            }
            let mut claims = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let name = item.get("name").and_then(Value::as_str).map(str::trim);
                let value = item.get("value").and_then(Value::as_str);
                match (name, value) {
                    (Some(name), Some(value)) if !name.is_empty() => {
                        if value.chars().count() > MAX_CLAIM_VALUE_CHARS {
                            errors.push(format!("{at}.claims[{index}].value is longer than {MAX_CLAIM_VALUE_CHARS} characters"));
                        }
                        claims.push((claim_name(name), value.to_string()));
                    }
                    _ => errors.push(format!(
                        "{at}.claims[{index}] must have a non-empty string `name` and a single string `value`"
                    )),
                }
            }
            if !claims.iter().any(|(name, _)| name == "iss") {
                errors.push(format!("{at}.claims must include the issuer claim (`iss`)"));
            }
            parsed.push(Policy {
                name: name.clone(),
                claims,
            });
        }
        OAuthPolicies { policies: parsed }
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The name of the first policy all of whose claims the token has;
    /// otherwise, per policy, which claims are missing or differ (names
    /// only: neither the expected nor the presented values are repeated).
    pub fn matching(&self, claims: &Map<String, Value>) -> Result<&str, Vec<String>> {
        let mut reasons = Vec::new();
        for policy in &self.policies {
            let problems: Vec<String> = policy
                .claims
                .iter()
                .filter_map(|(name, want)| match claims.get(name) {
                    None => Some(format!("`{name}` missing")),
                    Some(found) if claim_matches(found, want) => None,
                    Some(_) => Some(format!("`{name}` differs")),
                })
                .collect();
            if problems.is_empty() {
                return Ok(&policy.name);
            }
            reasons.push(format!("policy '{}': {}", policy.name, problems.join(", ")));
        }
        Err(reasons)
    }
}

/// The portal's claim labels map to the token's claim names; any other name
/// is a custom claim, compared as written.
fn claim_name(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "issuer" => "iss".into(),
        "audience" => "aud".into(),
        "subject" => "sub".into(),
        "jwt id" | "jwtid" => "jti".into(),
        _ => name.to_string(),
    }
}

/// A string claim equals the value; an array claim (`aud`, `roles`)
/// contains it; a number or boolean is compared in its JSON form.
fn claim_matches(found: &Value, want: &str) -> bool {
    match found {
        Value::String(text) => text == want,
        Value::Array(items) => items.iter().any(|item| claim_matches(item, want)),
        Value::Number(number) => number.to_string() == want,
        Value::Bool(flag) => {
            if *flag {
                want == "true"
            } else {
                want == "false"
            }
        }
        Value::Null | Value::Object(_) => false,
    }
}

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(transparent)]
    Token(#[from] JwtError),
    #[error("the token claims to come from this host's own issuer but is not signed with the host's key")]
    ForeignOwnIssuer,
    #[error("no trusted key set is configured; set the app setting {TRUSTED_JWKS_SETTING}")]
    NoTrustedKeys,
    #[error("the trusted key set could not be fetched: {0}")]
    Unavailable(String),
}

/// The key sets bearer tokens are verified against.
pub struct TokenTrust {
    /// The host's own identity issuer.
    own: Option<JwkSet>,
    /// `issuer` of the host's JWKS: external keys may not vouch for it.
    own_issuer: Option<String>,
    external: Option<External>,
}

enum External {
    /// Read once at start.
    Fixed(JwkSet),
    Remote(RemoteJwks),
}

struct RemoteJwks {
    url: String,
    client: reqwest::Client,
    state: tokio::sync::Mutex<RemoteState>,
}

#[derive(Default)]
struct RemoteState {
    keys: Option<(Arc<JwkSet>, DateTime<Utc>)>,
    failed_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenTrust")
            .field("own", &self.own)
            .field("own_issuer", &self.own_issuer)
            .field(
                "external",
                &match &self.external {
                    None => "none".to_string(),
                    Some(External::Fixed(keys)) => format!("file ({} keys)", keys.len()),
                    Some(External::Remote(remote)) => display_url(&remote.url),
                },
            )
            .finish()
    }
}

impl TokenTrust {
    /// `own_jwks` is the host's identity issuer's key set; `settings` are
    /// the app settings ([`TRUSTED_JWKS_SETTING`]).
    pub fn new(
        own_jwks: Option<&Value>,
        settings: &HashMap<String, String>,
    ) -> Result<TokenTrust, String> {
        let own = match own_jwks {
            Some(doc) => Some(
                JwkSet::from_json(doc)
                    .map_err(|err| format!("the host's own identity key set: {err}"))?,
            ),
            None => None,
        };
        let own_issuer = own_jwks
            .and_then(|doc| doc.get("issuer"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let external = match settings
            .get(TRUSTED_JWKS_SETTING)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|err| format!("{TRUSTED_JWKS_SETTING}: no HTTP client: {err}"))?;
                Some(External::Remote(RemoteJwks {
                    url: url.to_string(),
                    client,
                    state: tokio::sync::Mutex::new(RemoteState::default()),
                }))
            }
            Some(path) => {
                let path = path.strip_prefix("file://").unwrap_or(path);
                let text = std::fs::read(path).map_err(|err| {
                    format!("{TRUSTED_JWKS_SETTING}: cannot read the key set file {path}: {err}")
                })?;
                let doc: Value = serde_json::from_slice(&text).map_err(|err| {
                    format!("{TRUSTED_JWKS_SETTING}: the key set file {path} is not JSON: {err}")
                })?;
                let keys = JwkSet::from_json(&doc)
                    .map_err(|err| format!("{TRUSTED_JWKS_SETTING}: {path}: {err}"))?;
                Some(External::Fixed(keys))
            }
        };
        Ok(TokenTrust {
            own,
            own_issuer,
            external,
        })
    }

    /// Verifies signature and lifetime and returns the claims. The host's
    /// own keys are tried first; a token naming a key they do not hold goes
    /// to the external key set.
    pub async fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Map<String, Value>, TrustError> {
        let header = jwt::peek_header(token)?;
        let mut refusal = None;
        if let Some(own) = &self.own {
            match jwt::verify(token, own, now) {
                Ok(claims) => return Ok(claims),
                Err(err @ JwtError::UnknownKey { .. }) => refusal = Some(err),
                Err(err) => return Err(err.into()),
            }
        }
        let claims = match &self.external {
            None => return Err(refusal.map_or(TrustError::NoTrustedKeys, TrustError::Token)),
            Some(External::Fixed(keys)) => jwt::verify(token, keys, now)?,
            Some(External::Remote(remote)) => {
                let keys = remote.keys(header.kid.as_deref(), now).await?;
                jwt::verify(token, &keys, now)?
            }
        };
        let issuer = claims.get("iss").and_then(Value::as_str);
        if issuer.is_some() && issuer == self.own_issuer.as_deref() {
            return Err(TrustError::ForeignOwnIssuer);
        }
        Ok(claims)
    }
}

impl RemoteJwks {
    /// The cached key set, fetched first when there is none, when it is
    /// older than [`REMOTE_TTL`], or when `kid` is unknown to it and it is
    /// older than [`UNKNOWN_KEY_REFRESH`]. A failed fetch keeps the
    /// previous keys and is not retried for [`RETRY_AFTER_FAILURE`].
    async fn keys(&self, kid: Option<&str>, now: DateTime<Utc>) -> Result<Arc<JwkSet>, TrustError> {
        let mut state = self.state.lock().await;
        let may_retry = state
            .failed_at
            .is_none_or(|failed| now - failed >= RETRY_AFTER_FAILURE);
        let wanted = match &state.keys {
            None => true,
            Some((keys, fetched)) => {
                let age = now - *fetched;
                age >= REMOTE_TTL
                    || (kid.is_some_and(|kid| !keys.has_key_id(kid)) && age >= UNKNOWN_KEY_REFRESH)
            }
        };
        if wanted && may_retry {
            match self.fetch().await {
                Ok(keys) => {
                    tracing::debug!(url = %display_url(&self.url), keys = keys.len(), "Fetched the trusted key set.");
                    state.keys = Some((Arc::new(keys), now));
                    state.failed_at = None;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "Could not fetch the trusted key set; the cached keys, if any, stay in use.");
                    state.failed_at = Some(now);
                    if state.keys.is_none() {
                        return Err(TrustError::Unavailable(err));
                    }
                }
            }
        }
        match &state.keys {
            Some((keys, _)) => Ok(keys.clone()),
            None => Err(TrustError::Unavailable(format!(
                "the last attempt to fetch {} failed; it is tried again after {} seconds",
                display_url(&self.url),
                RETRY_AFTER_FAILURE.num_seconds()
            ))),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let url = display_url(&self.url);
        let response = self
            .client
            .get(&self.url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|err| format!("GET {url}: {}", err.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(format!(
                "GET {url}: the answer is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| format!("GET {url}: {}", err.without_url()))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "GET {url}: the answer is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|err| format!("GET {url}: the answer is not JSON: {err}"))?;
        JwkSet::from_json(&doc).map_err(|err| format!("GET {url}: {err}"))
    }
}

/// A URL without its query string, which could carry a credential.
fn display_url(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(doc: Value) -> (OAuthPolicies, Vec<String>) {
        let mut errors = Vec::new();
        let policies =
            OAuthPolicies::parse(Some(&doc), "workflow.json $.accessControl", &mut errors);
        (policies, errors)
    }

    #[test]
    fn portal_labels_and_token_names_both_work() {
        let (policies, errors) = parse(json!({"policies": {
            "partners": {"type": "AAD", "claims": [
                {"name": "Issuer", "value": "https://sts.windows.net/t/"},
                {"name": "aud", "value": "api://orders"},
                {"name": "roles", "value": "Orders.Write"}
            ]}
        }}));
        assert!(errors.is_empty(), "{errors:?}");
        let claims = json!({"iss": "https://sts.windows.net/t/", "aud": ["api://orders", "x"],
                            "roles": ["Orders.Read", "Orders.Write"], "extra": 1});
        assert_eq!(
            policies.matching(claims.as_object().unwrap()),
            Ok("partners")
        );
        let wrong = json!({"iss": "https://sts.windows.net/t/", "aud": "api://payments"});
        let reasons = policies.matching(wrong.as_object().unwrap()).unwrap_err();
        assert_eq!(
            reasons,
            vec!["policy 'partners': `aud` differs, `roles` missing".to_string()]
        );
    }

    #[test]
    fn invalid_policies_name_their_place() {
        let (_, errors) = parse(json!({"policies": {
            "pop": {"type": "AADPOP", "claims": [{"name": "iss", "value": "x"}]},
            "noiss": {"type": "AAD", "claims": [{"name": "aud", "value": "x"}]},
            "array": {"type": "AAD", "claims": [{"name": "iss", "value": ["a", "b"]}]}
        }}));
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("policies.pop.type"), "{errors:?}");
        assert!(errors[1].contains("policies.noiss.claims must include the issuer"));
        assert!(errors[2].contains("policies.array.claims[0]"));
        assert!(parse(json!({})).0.is_empty());
    }

    #[test]
    fn claims_compare_by_type() {
        assert!(claim_matches(&json!("a"), "a"));
        assert!(!claim_matches(&json!("A"), "a"));
        assert!(claim_matches(&json!(["x", "a"]), "a"));
        assert!(claim_matches(&json!(2), "2"));
        assert!(claim_matches(&json!(true), "true"));
        assert!(!claim_matches(&json!(false), "true"));
        assert!(!claim_matches(&json!({"a": 1}), "a"));
        assert!(!claim_matches(&Value::Null, "null"));
    }

    #[test]
    fn urls_lose_their_query_in_messages() {
        assert_eq!(
            display_url("https://idp/keys?sig=secret"),
            "https://idp/keys"
        );
    }
}
