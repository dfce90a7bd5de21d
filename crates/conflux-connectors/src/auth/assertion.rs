//! Client assertions for the certificate credential of `ActiveDirectoryOAuth`
//! (RFC 7523, the Microsoft identity platform's "certificate credentials").
//!
//! The assertion is a JWT signed RS256 with the PFX's RSA key. Its header
//! names the certificate by thumbprint (`x5t`: SHA-1, `x5t#S256`: SHA-256, both
//! base64url of the DER certificate) so the token endpoint can find the
//! registered certificate; its claims are `aud` = the token endpoint URL,
//! `iss` = `sub` = the client id, a random `jti`, `nbf`/`iat` = now and `exp` =
//! ten minutes later.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use conflux_connector_api::{ConnectorError, Secret};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::json;

use super::certificate;

/// The `client_assertion_type` of a JWT client assertion.
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion is valid.
const LIFETIME: Duration = Duration::from_secs(600);

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";

/// The RSA key of a PFX and the thumbprints of its certificate.
pub(super) struct AssertionKey {
    key: RsaKeyPair,
    x5t: String,
    x5t_s256: String,
}

impl AssertionKey {
    /// The signing key of a base64 PFX: its private key, which must be RSA,
    /// and the certificate that goes with it (the first of the chain).
    pub(super) fn from_pfx(
        pfx: &Secret,
        password: Option<&Secret>,
    ) -> Result<Self, ConnectorError> {
        let chain = certificate::open_pfx(pfx, password)?;
        let oid = chain.key().oid().to_string();
        if oid != RSA_ENCRYPTION {
            let kind = match oid.as_str() {
                EC_PUBLIC_KEY => "an EC key".to_owned(),
                ED25519 => "an Ed25519 key".to_owned(),
                other => format!("a key of algorithm {other}"),
            };
            return Err(ConnectorError::invalid_input(format!(
                "ActiveDirectoryOAuth with a certificate credential signs with RS256 and supports only RSA keys (2048 to 8192 bits), but authentication.pfx holds {kind}"
            )));
        }
        let key = RsaKeyPair::from_pkcs8(chain.key().as_der()).map_err(|e| {
            ConnectorError::invalid_input(format!(
                "ActiveDirectoryOAuth with a certificate credential cannot use the RSA key in authentication.pfx ({e}); it must be 2048 to 8192 bits"
            ))
        })?;
        let cert = chain.certs()[0].as_der();
        let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, cert);
        Ok(Self {
            key,
            x5t: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            x5t_s256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
        })
    }

    /// A signed assertion for `client_id` at the token endpoint `audience`,
    /// valid from `now`.
    pub(super) fn assertion(
        &self,
        audience: &str,
        client_id: &str,
        now: SystemTime,
    ) -> Result<Secret, ConnectorError> {
        let issued = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| ConnectorError::other("the clock is before 1970"))?
            .as_secs();
        let header = json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t": self.x5t,
            "x5t#S256": self.x5t_s256,
        });
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": issued,
            "iat": issued,
            "exp": issued + LIFETIME.as_secs(),
        });
        let mut jwt = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .map_err(|_| ConnectorError::other("signing the OAuth client assertion failed"))?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(Secret::new(jwt))
    }
}
