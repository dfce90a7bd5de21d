//! Conflux's own managed-identity token issuer.
//!
//! A workflow that authenticates with `ManagedServiceIdentity` asks the host
//! for a token for an audience. Conflux answers as its own identity provider:
//! it signs a JWT (EdDSA over Ed25519, from the audited `ed25519-dalek`) whose
//! subject is the app's system-assigned identity or a user-assigned identity
//! registered by resource id. Services that trust Conflux validate tokens
//! against [`IdentityIssuer::jwks`]; [`IdentityIssuer::verify`] checks one
//! audience, and inbound OAuth policies verify them like any other JWKS-signed
//! token with [`crate::jwt`].
//!
//! The signing key is 32 random bytes that the host keeps sealed under the
//! master key ([`IdentityIssuer::to_sealed`]), so identities (their object ids
//! derive from the key) survive restarts and master-key rotation.
//!
//! Only the compact JWS encoding (base64url and JSON) is written here; the
//! signature itself is the crate's `verify_strict`, which rejects weak keys
//! and malleable signatures.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration as StdDuration;

use crate::{random_bytes, MasterKey, Secret, SecurityError};

/// Associated data binding the sealed signing key to its purpose.
const SEALED_KEY_AAD: &[u8] = b"conflux identity signing key";
/// Tolerated clock difference between hosts when checking `nbf` and `exp`.
pub const CLOCK_SKEW_SECS: i64 = 60;
const ALGORITHM: &str = "EdDSA";

/// Which identity a token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRef {
    /// The identity every app has, named after the app.
    SystemAssigned { app: String },
    /// An identity registered with [`IdentityIssuer::register_user_assigned`].
    UserAssigned { resource_id: String },
}

/// An issued token, shaped like the answer of a managed-identity endpoint.
#[derive(Debug, Clone)]
pub struct Token {
    /// The signed JWT; it is a bearer credential, so it never prints.
    pub access_token: Secret,
    pub expires_on: DateTime<Utc>,
    /// The audience the token is for, exactly as requested.
    pub resource: String,
}

/// The claims of a Conflux identity token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The identity's object id.
    pub sub: String,
    pub oid: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The identity's client id.
    pub appid: String,
    /// The identity's resource id (`/conflux/apps/{app}` for a system-assigned one).
    pub xms_mirid: String,
    /// Always `app`: these tokens stand for applications, not users.
    pub idtyp: String,
}

/// Why a token could not be issued or was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no user-assigned identity is registered with resource id `{resource_id}`; register it in the host configuration or use the system-assigned identity")]
    UnknownIdentity { resource_id: String },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("token lifetime must be positive and below a century, got {seconds} s")]
    InvalidLifetime { seconds: u64 },
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token's signature is not valid for this issuer's key")]
    BadSignature,
    #[error("the token was issued by `{found}`, expected `{expected}`")]
    WrongIssuer { expected: String, found: String },
    #[error("the token is for audience `{found}`, expected `{expected}`")]
    WrongAudience { expected: String, found: String },
    #[error("the token expired at {expired_at}")]
    Expired { expired_at: DateTime<Utc> },
    #[error("the token is not valid before {not_before}")]
    NotYetValid { not_before: DateTime<Utc> },
    #[error("the sealed identity key could not be opened: {0}")]
    Sealed(#[from] SecurityError),
}

struct UserAssigned {
    resource_id: String,
    client_id: String,
}

/// Signs and verifies managed-identity tokens for one host (or a cluster of
/// hosts sharing the sealed key).
pub struct IdentityIssuer {
    signing: SigningKey,
    verifying: VerifyingKey,
    key_id: String,
    issuer: String,
    /// By lower-cased resource id: resource ids compare case-insensitively.
    user_assigned: BTreeMap<String, UserAssigned>,
}

impl std::fmt::Debug for IdentityIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityIssuer")
            .field("issuer", &self.issuer)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl IdentityIssuer {
    /// A new issuer with a fresh random signing key. `issuer` is the `iss`
    /// claim, e.g. the host's public base URL.
    pub fn generate(issuer: impl Into<String>) -> IdentityIssuer {
        IdentityIssuer::from_seed(random_bytes(), issuer.into())
    }

    /// Restores an issuer from [`IdentityIssuer::to_sealed`] output.
    pub fn from_sealed(
        master: &MasterKey,
        sealed: &[u8],
        issuer: impl Into<String>,
    ) -> Result<IdentityIssuer, IdentityError> {
        let seed: [u8; 32] = master
            .open(sealed, SEALED_KEY_AAD)?
            .try_into()
            .map_err(|_| IdentityError::Malformed("the sealed signing key is not 32 bytes"))?;
        Ok(IdentityIssuer::from_seed(seed, issuer.into()))
    }

    /// The signing key sealed under the master key, for the host's store.
    /// Re-seal after a master-key rotation (when `master.needs_rewrap` says so).
    pub fn to_sealed(&self, master: &MasterKey) -> Vec<u8> {
        master.seal(self.signing.as_bytes(), SEALED_KEY_AAD)
    }

    fn from_seed(seed: [u8; 32], issuer: String) -> IdentityIssuer {
        let signing = SigningKey::from_bytes(&seed);
        let verifying = signing.verifying_key();
        IdentityIssuer {
            key_id: jwk_thumbprint(&verifying),
            signing,
            verifying,
            issuer,
            user_assigned: BTreeMap::new(),
        }
    }

    /// The `iss` claim of every token this issuer signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Makes a user-assigned identity known; replaces an earlier registration
    /// of the same resource id.
    pub fn register_user_assigned(
        &mut self,
        resource_id: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Result<(), IdentityError> {
        let resource_id = resource_id.into();
        let client_id = client_id.into();
        if resource_id.trim().is_empty() {
            return Err(IdentityError::Empty {
                what: "a user-assigned identity's resource id",
            });
        }
        if client_id.trim().is_empty() {
            return Err(IdentityError::Empty {
                what: "a user-assigned identity's client id",
            });
        }
        self.user_assigned.insert(
            resource_id.to_ascii_lowercase(),
            UserAssigned {
                resource_id,
                client_id,
            },
        );
        Ok(())
    }

    /// Signs a token for `identity` and exactly `audience` (no normalisation:
    /// `https://vault.azure.net` and `https://vault.azure.net/` differ, as
    /// they do for the services that check them).
    pub fn issue(
        &self,
        identity: &IdentityRef,
        audience: &str,
        now: DateTime<Utc>,
        ttl: StdDuration,
    ) -> Result<Token, IdentityError> {
        if audience.trim().is_empty() {
            return Err(IdentityError::Empty {
                what: "the token audience",
            });
        }
        let ttl = Duration::from_std(ttl)
            .ok()
            .filter(|ttl| *ttl > Duration::zero())
            .ok_or(IdentityError::InvalidLifetime {
                seconds: ttl.as_secs(),
            })?;
        let (object_id, client_id, resource_id) = self.resolve(identity)?;
        let expires_on = now + ttl;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: object_id.clone(),
            oid: object_id,
            aud: audience.to_string(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_on.timestamp(),
            appid: client_id,
            xms_mirid: resource_id,
            idtyp: "app".to_string(),
        };
        Ok(Token {
            access_token: Secret::new(self.sign(&claims)),
            expires_on,
            resource: audience.to_string(),
        })
    }

    /// The public key as a JSON Web Key Set, for services that validate
    /// Conflux tokens. Besides `keys` it names the `issuer` whose tokens the
    /// keys sign (JWKS readers ignore members they do not know), so a host
    /// that trusts other key sets too can refuse their tokens claiming to
    /// come from this issuer.
    pub fn jwks(&self) -> Value {
        json!({"issuer": self.issuer, "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.verifying.as_bytes()),
            "kid": self.key_id,
            "use": "sig",
            "alg": ALGORITHM,
        }]})
    }

    /// Checks signature, issuer, exact audience and lifetime (with
    /// [`CLOCK_SKEW_SECS`] of tolerance) and returns the claims.
    pub fn verify(
        &self,
        token: &str,
        expected_audience: &str,
        now: DateTime<Utc>,
    ) -> Result<Claims, IdentityError> {
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdentityError::Malformed(
                "expected three dot-separated parts",
            ));
        };
        let header: Value = decode_json(
            header_part,
            "the header is not base64url",
            "the header is not JSON",
        )?;
        if header.get("alg").and_then(Value::as_str) != Some(ALGORITHM) {
            return Err(IdentityError::Malformed("the algorithm is not EdDSA"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or(IdentityError::Malformed("the signature is not base64url"))?;
        // The signature covers `header.payload`, everything before the last dot.
        let signed_len = header_part.len() + 1 + payload.len();
        self.verifying
            .verify_strict(&token.as_bytes()[..signed_len], &signature)
            .map_err(|_| IdentityError::BadSignature)?;
        let claims: Claims = decode_json(
            payload,
            "the claims are not base64url",
            "the claims are not the expected JSON",
        )?;
        if claims.iss != self.issuer {
            return Err(IdentityError::WrongIssuer {
                expected: self.issuer.clone(),
                found: claims.iss,
            });
        }
        if claims.aud != expected_audience {
            return Err(IdentityError::WrongAudience {
                expected: expected_audience.to_string(),
                found: claims.aud,
            });
        }
        let now = now.timestamp();
        if now >= claims.exp.saturating_add(CLOCK_SKEW_SECS) {
            return Err(IdentityError::Expired {
                expired_at: timestamp(claims.exp),
            });
        }
        if now < claims.nbf.saturating_sub(CLOCK_SKEW_SECS) {
            return Err(IdentityError::NotYetValid {
                not_before: timestamp(claims.nbf),
            });
        }
        Ok(claims)
    }

    /// Object id, client id and resource id of an identity.
    fn resolve(&self, identity: &IdentityRef) -> Result<(String, String, String), IdentityError> {
        match identity {
            IdentityRef::SystemAssigned { app } => {
                if app.trim().is_empty() {
                    return Err(IdentityError::Empty {
                        what: "the app name",
                    });
                }
                Ok((
                    self.derived_id("system object", app),
                    self.derived_id("system client", app),
                    format!("/conflux/apps/{app}"),
                ))
            }
            IdentityRef::UserAssigned { resource_id } => {
                let entry = self
                    .user_assigned
                    .get(&resource_id.to_ascii_lowercase())
                    .ok_or_else(|| IdentityError::UnknownIdentity {
                        resource_id: resource_id.clone(),
                    })?;
                Ok((
                    self.derived_id("user object", &entry.resource_id.to_ascii_lowercase()),
                    entry.client_id.clone(),
                    entry.resource_id.clone(),
                ))
            }
        }
    }

    /// A stable GUID-shaped id: the same key and name always give the same id,
    /// so a restarted host keeps its identities' object ids.
    fn derived_id(&self, kind: &str, name: &str) -> String {
        let digest = Sha256::new()
            .chain_update(self.verifying.as_bytes())
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(name.as_bytes())
            .finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = json!({"alg": ALGORITHM, "typ": "JWT", "kid": self.key_id});
        let mut token = String::new();
        token.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
        token.push('.');
        let payload = serde_json::to_vec(claims).expect("claims are plain strings and numbers");
        token.push_str(&URL_SAFE_NO_PAD.encode(payload));
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        token
    }
}

/// Decodes one base64url JSON part of a token; the messages name the part.
fn decode_json<T: serde::de::DeserializeOwned>(
    part: &str,
    not_base64: &'static str,
    not_json: &'static str,
) -> Result<T, IdentityError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdentityError::Malformed(not_base64))?;
    serde_json::from_slice(&bytes).map_err(|_| IdentityError::Malformed(not_json))
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// RFC 7638 thumbprint of the public key, used as `kid`.
fn jwk_thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}
