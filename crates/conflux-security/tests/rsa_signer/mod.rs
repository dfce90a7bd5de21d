//! RS256 tokens as an external identity provider signs them, with a
//! throw-away 2048-bit key generated for the tests (`fixtures/`). Used by the
//! JWT tests here and, included by path, by the server crate's OAuth policy
//! tests, so both sign with one key the same way.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

const TEST_KEY: &str = include_str!("../fixtures/rsa-2048-test-key.pem");

fn key() -> RsaKeyPair {
    let body: String = TEST_KEY
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    RsaKeyPair::from_pkcs8(&STANDARD.decode(body).unwrap()).unwrap()
}

/// The public half of the test key as a JWK with key id `kid`.
pub fn jwk(kid: &str) -> Value {
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key().public());
    json!({"kty": "RSA", "use": "sig", "kid": kid,
           "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)})
}

/// A compact JWS of `header` and `claims`, signed RS256 with the test key.
pub fn sign(header: &Value, claims: &Value) -> String {
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = key();
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}
