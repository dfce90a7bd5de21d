//! Verifying bearer tokens against JWKS documents: the host's own Ed25519
//! issuer and an external provider's RS256 keys.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod rsa_signer;

use std::time::Duration as StdDuration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use conflux_security::identity::{IdentityIssuer, IdentityRef};
use conflux_security::jwt::{self, JwkSet, JwtError};
use rsa_signer::{jwk as rsa_jwk, sign as rs256};
use serde_json::{json, Value};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A key set holding the RSA test key as `k1`.
fn rsa_keys() -> JwkSet {
    JwkSet::from_json(&json!({"keys": [rsa_jwk("k1")]})).unwrap()
}

fn entra_claims(exp: DateTime<Utc>) -> Value {
    json!({"iss": "https://sts.windows.net/tenant/", "aud": "api://orders",
           "nbf": now().timestamp(), "exp": exp.timestamp(), "roles": ["Orders.Write"]})
}

/// An RS256 token under `header` that is valid for the next hour.
fn valid_for_an_hour(header: Value) -> String {
    rs256(&header, &entra_claims(now() + Duration::hours(1)))
}

#[test]
fn rs256_tokens_verify_against_the_published_modulus() {
    let keys = rsa_keys();
    let token = valid_for_an_hour(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}));
    let claims = jwt::verify(&token, &keys, now()).unwrap();
    assert_eq!(claims["aud"], "api://orders");
    assert_eq!(claims["roles"][0], "Orders.Write");

    // Without a kid every RSA key is tried.
    let anonymous = valid_for_an_hour(json!({"alg": "RS256"}));
    assert!(jwt::verify(&anonymous, &keys, now()).is_ok());

    // A kid the set does not hold.
    let other = valid_for_an_hour(json!({"alg": "RS256", "kid": "rotated"}));
    assert_eq!(
        jwt::verify(&other, &keys, now()),
        Err(JwtError::UnknownKey {
            kid: Some("rotated".into())
        })
    );
    assert_eq!(
        jwt::peek_header(&other).unwrap().kid.as_deref(),
        Some("rotated")
    );
}

#[test]
fn altered_claims_break_the_signature() {
    let keys = rsa_keys();
    let token = valid_for_an_hour(json!({"alg": "RS256", "kid": "k1"}));
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = entra_claims(now() + Duration::hours(1));
    claims["aud"] = json!("api://payments");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(
        jwt::verify(&forged, &keys, now()),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn lifetime_is_checked_with_clock_skew() {
    let keys = rsa_keys();
    let header = json!({"alg": "RS256", "kid": "k1"});
    let token = valid_for_an_hour(header.clone());
    assert!(jwt::verify(&token, &keys, now() + Duration::seconds(3630)).is_ok());
    assert!(matches!(
        jwt::verify(&token, &keys, now() + Duration::hours(2)),
        Err(JwtError::Expired { .. })
    ));
    assert!(matches!(
        jwt::verify(&token, &keys, now() - Duration::minutes(10)),
        Err(JwtError::NotYetValid { .. })
    ));
    let endless = rs256(&header, &json!({"iss": "x", "aud": "y"}));
    assert_eq!(
        jwt::verify(&endless, &keys, now()),
        Err(JwtError::MissingExpiry)
    );
}

#[test]
fn a_key_reserved_for_another_algorithm_is_not_used() {
    let mut jwk = rsa_jwk("k1");
    jwk["alg"] = json!("RS384");
    let keys = JwkSet::from_json(&json!({"keys": [jwk]})).unwrap();
    let token = valid_for_an_hour(json!({"alg": "RS256", "kid": "k1"}));
    assert!(matches!(
        jwt::verify(&token, &keys, now()),
        Err(JwtError::UnknownKey { .. })
    ));
}

#[test]
fn identity_issuer_tokens_verify_against_its_jwks() {
    let issuer = IdentityIssuer::generate("https://conflux.example");
    let jwks = issuer.jwks();
    assert_eq!(jwks["issuer"], "https://conflux.example");
    let keys = JwkSet::from_json(&jwks).unwrap();
    let identity = IdentityRef::SystemAssigned {
        app: "orders".into(),
    };
    let issue = |issuer: &IdentityIssuer| {
        issuer
            .issue(
                &identity,
                "api://orders",
                now(),
                StdDuration::from_secs(600),
            )
            .unwrap()
    };
    let token = issue(&issuer);
    let claims = jwt::verify(token.access_token.expose(), &keys, now()).unwrap();
    assert_eq!(claims["iss"], "https://conflux.example");
    assert_eq!(claims["aud"], "api://orders");

    // Another issuer's key, even with the same issuer URL, is not trusted.
    let foreign = issue(&IdentityIssuer::generate("https://conflux.example"));
    assert!(matches!(
        jwt::verify(foreign.access_token.expose(), &keys, now()),
        Err(JwtError::UnknownKey { .. })
    ));
    // An Ed25519 key is never used for an RS256 token and vice versa.
    let rsa_token = valid_for_an_hour(json!({"alg": "RS256"}));
    assert!(matches!(
        jwt::verify(&rsa_token, &keys, now()),
        Err(JwtError::UnknownKey { kid: None })
    ));
}

#[test]
fn errors_never_contain_the_token() {
    let keys = rsa_keys();
    let token = rs256(
        &json!({"alg": "RS256", "kid": "k1"}),
        &entra_claims(now() - Duration::hours(1)),
    );
    let err = jwt::verify(&token, &keys, now()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("expired"), "{message}");
    for part in token.split('.') {
        assert!(!message.contains(part), "{message}");
    }
}
