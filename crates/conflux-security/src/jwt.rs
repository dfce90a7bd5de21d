//! Verifying bearer tokens (compact JWS) against trusted JSON Web Key Sets.
//!
//! Inbound OAuth policies need more than [`crate::identity::IdentityIssuer::verify`]:
//! the keys may come from the host's own issuer (Ed25519, `EdDSA`) or from an
//! external identity provider's JWKS document (RSA, `RS256`, as Microsoft Entra
//! ID publishes them). [`JwkSet`] holds the usable keys of such documents and
//! [`verify`] checks a token's signature and lifetime; which claims a caller
//! must present is the policy's business, not this module's.
//!
//! Only `EdDSA` and `RS256` are accepted. Everything else (`none`, HMAC
//! algorithms that would turn a public key into a shared secret, other RSA or
//! EC variants) is refused before any key is looked at. Signatures are checked
//! by audited crates: `ed25519-dalek` (`verify_strict`) and `ring`
//! (PKCS#1 v1.5 with SHA-256, moduli of 2048 to 8192 bits).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use crate::identity::CLOCK_SKEW_SECS;

/// How many characters of a caller-chosen value (a `kid`) an error repeats.
const ECHO_LIMIT: usize = 64;

/// Why a token was not accepted. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token's algorithm is not accepted; only EdDSA and RS256 tokens are verified")]
    UnsupportedAlgorithm,
    #[error("no trusted key matches the token's key id {}", kid.as_deref().map(|k| format!("`{k}`")).unwrap_or_else(|| "(none given)".into()))]
    UnknownKey { kid: Option<String> },
    #[error("the token's signature does not verify with the trusted key")]
    BadSignature,
    #[error("the token has no `exp` claim; only tokens with an expiry are accepted")]
    MissingExpiry,
    #[error("the token expired at {expired_at}")]
    Expired { expired_at: DateTime<Utc> },
    #[error("the token is not valid before {not_before}")]
    NotYetValid { not_before: DateTime<Utc> },
}

/// Why a JWKS document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the key set is not a JSON object with a `keys` array")]
    NotAKeySet,
    #[error("the key set has no usable signing key (Ed25519 `OKP` or `RSA` with `use` `sig`)")]
    NoUsableKey,
}

#[derive(Clone)]
enum KeyMaterial {
    Ed25519(VerifyingKey),
    /// Big-endian modulus (no leading zeros) and exponent.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

#[derive(Clone)]
struct Jwk {
    kid: Option<String>,
    /// The JWK's own `alg`, when it names one: the key is then for that algorithm only.
    alg: Option<String>,
    material: KeyMaterial,
}

impl Jwk {
    fn fits(&self, alg: Algorithm) -> bool {
        let kind_fits = matches!(
            (&self.material, alg),
            (KeyMaterial::Ed25519(_), Algorithm::EdDsa)
                | (KeyMaterial::Rsa { .. }, Algorithm::Rs256)
        );
        kind_fits && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }

    fn verifies(&self, signed: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            KeyMaterial::Ed25519(key) => Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify_strict(signed, &sig).is_ok()),
            KeyMaterial::Rsa { n, e } => ring::signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    signed,
                    signature,
                )
                .is_ok(),
        }
    }
}

/// The signing keys of one or more JWKS documents.
#[derive(Clone, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl std::fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwkSet")
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl JwkSet {
    /// The usable keys of a JWKS document (`{"keys": [...]}`). Keys for
    /// encryption (`use` other than `sig`), of other types or with missing
    /// or malformed parameters are skipped; a document without any usable
    /// key is an error.
    pub fn from_json(document: &Value) -> Result<JwkSet, JwksError> {
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::NotAKeySet)?;
        let keys: Vec<Jwk> = keys.iter().filter_map(parse_jwk).collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(JwkSet { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is in the set.
    pub fn has_key_id(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

fn parse_jwk(jwk: &Value) -> Option<Jwk> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let material = match (field("kty")?, field("crv")) {
        ("OKP", Some("Ed25519")) => {
            let x: [u8; 32] = URL_SAFE_NO_PAD.decode(field("x")?).ok()?.try_into().ok()?;
            KeyMaterial::Ed25519(VerifyingKey::from_bytes(&x).ok()?)
        }
        ("RSA", _) => {
            let n = strip_leading_zeros(URL_SAFE_NO_PAD.decode(field("n")?).ok()?);
            let e = strip_leading_zeros(URL_SAFE_NO_PAD.decode(field("e")?).ok()?);
            if n.is_empty() || e.is_empty() {
                return None;
            }
            KeyMaterial::Rsa { n, e }
        }
        _ => return None,
    };
    Some(Jwk {
        kid: field("kid").map(str::to_string),
        alg: field("alg").map(str::to_string),
        material,
    })
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    EdDsa,
    Rs256,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }
}

/// The protected header of a token, read before any key is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// `EdDSA` or `RS256`.
    pub alg: &'static str,
    pub kid: Option<String>,
}

/// A token split into its parts, its header decoded.
struct Parts<'a> {
    algorithm: Algorithm,
    kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    signed: &'a str,
    payload: &'a str,
    signature: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, JwtError> {
    let mut pieces = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };
    let header: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwtError::Malformed("the header is not base64url JSON"))?;
    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("EdDSA") => Algorithm::EdDsa,
        Some("RS256") => Algorithm::Rs256,
        _ => return Err(JwtError::UnsupportedAlgorithm),
    };
    if header.get("crit").is_some() {
        return Err(JwtError::Malformed(
            "the header has critical extensions (`crit`), which are not understood",
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(JwtError::Malformed("the header's `kid` is not a string")),
    };
    let signed_len = token.len() - signature.len() - 1;
    Ok(Parts {
        algorithm,
        kid,
        signed: &token[..signed_len],
        payload,
        signature,
    })
}

/// Reads a token's header without verifying anything: which algorithm and
/// key id it claims, e.g. to decide whether a cached key set must be
/// refreshed.
pub fn peek_header(token: &str) -> Result<TokenHeader, JwtError> {
    let parts = split(token)?;
    Ok(TokenHeader {
        alg: parts.algorithm.name(),
        kid: parts.kid,
    })
}

/// Checks the signature with a key of `keys` (the one named by the
/// header's `kid`, or any key of the right type when there is no `kid`) and
/// the lifetime (`exp` required, `nbf` optional, both with
/// [`CLOCK_SKEW_SECS`] of tolerance), then returns the claims.
pub fn verify(
    token: &str,
    keys: &JwkSet,
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, JwtError> {
    let parts = split(token)?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts.signature)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    let mut candidates = keys
        .keys
        .iter()
        .filter(|key| key.fits(parts.algorithm))
        .filter(|key| parts.kid.is_none() || key.kid == parts.kid)
        .peekable();
    if candidates.peek().is_none() {
        return Err(JwtError::UnknownKey {
            kid: parts.kid.as_deref().map(echo),
        });
    }
    if !candidates.any(|key| key.verifies(parts.signed.as_bytes(), &signature)) {
        return Err(JwtError::BadSignature);
    }
    let claims: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(parts.payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwtError::Malformed(
            "the claims are not a base64url JSON object",
        ))?;
    let now = now.timestamp();
    let exp = numeric_date(&claims, "exp")?.ok_or(JwtError::MissingExpiry)?;
    if now >= exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(JwtError::Expired {
            expired_at: timestamp(exp),
        });
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")? {
        if now < nbf.saturating_sub(CLOCK_SKEW_SECS) {
            return Err(JwtError::NotYetValid {
                not_before: timestamp(nbf),
            });
        }
    }
    Ok(claims)
}

/// A NumericDate claim (seconds since the epoch; fractions are dropped).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(JwtError::Malformed(
                "a time claim (`exp`, `nbf`) is not a number",
            )),
    }
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// A caller-chosen value made safe to repeat in a message: printable ASCII,
/// bounded length.
fn echo(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(ECHO_LIMIT)
        .collect();
    if text.chars().count() > ECHO_LIMIT {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_sets_keep_only_signing_keys() {
        let doc = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode([0u8; 32]), "kid": "zero"},
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB", "kid": "enc"},
            {"kty": "EC", "crv": "P-256", "x": "", "y": "", "kid": "ec"},
            {"kty": "RSA", "n": "AAEAAQ", "e": "AQAB", "kid": "rsa"},
        ]});
        let set = JwkSet::from_json(&doc).unwrap();
        assert!(set.has_key_id("rsa"));
        assert!(!set.has_key_id("enc"));
        assert!(!set.has_key_id("ec"));
        assert_eq!(
            JwkSet::from_json(&json!({"keys": [{"kty": "EC"}]})).unwrap_err(),
            JwksError::NoUsableKey
        );
        assert_eq!(
            JwkSet::from_json(&json!([])).unwrap_err(),
            JwksError::NotAKeySet
        );
    }

    #[test]
    fn unaccepted_algorithms_are_refused_before_any_key() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":99999999999}"#);
        let token = format!("{header}.{payload}.");
        assert_eq!(
            verify(&token, &JwkSet::default(), Utc::now()),
            Err(JwtError::UnsupportedAlgorithm)
        );
        let hs = format!(
            "{}.{payload}.AAAA",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#)
        );
        assert_eq!(peek_header(&hs), Err(JwtError::UnsupportedAlgorithm));
        assert!(matches!(
            verify("a.b", &JwkSet::default(), Utc::now()),
            Err(JwtError::Malformed(_))
        ));
    }

    #[test]
    fn echoed_key_ids_are_bounded() {
        let long = "k".repeat(500);
        assert_eq!(echo(&long).chars().count(), ECHO_LIMIT + 1);
        assert_eq!(echo("a\nb"), "ab");
    }
}
