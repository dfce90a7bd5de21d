//! Managed-identity tokens: what a service validating them would notice.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use conflux_security::identity::{IdentityError, IdentityIssuer, IdentityRef};
use conflux_security::MasterKey;

const ISSUER: &str = "https://conflux.example/identity";
const VAULT: &str = "https://vault.azure.net";
const UAMI: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn app() -> IdentityRef {
    IdentityRef::SystemAssigned {
        app: "orders-app".into(),
    }
}

fn issue(issuer: &IdentityIssuer, identity: &IdentityRef, audience: &str) -> String {
    issuer
        .issue(identity, audience, now(), StdDuration::from_secs(3600))
        .unwrap()
        .access_token
        .expose()
        .to_string()
}

#[test]
fn issued_token_verifies_with_the_documented_claims() {
    let issuer = IdentityIssuer::generate(ISSUER);
    let token = issuer
        .issue(&app(), VAULT, now(), StdDuration::from_secs(3600))
        .unwrap();
    assert_eq!(token.resource, VAULT);
    assert_eq!(token.expires_on, now() + Duration::hours(1));
    assert!(!format!("{token:?}").contains(token.access_token.expose()));

    let claims = issuer
        .verify(
            token.access_token.expose(),
            VAULT,
            now() + Duration::minutes(5),
        )
        .unwrap();
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, VAULT);
    assert_eq!(claims.iat, now().timestamp());
    assert_eq!(claims.nbf, now().timestamp());
    assert_eq!(claims.exp, (now() + Duration::hours(1)).timestamp());
    assert_eq!(claims.sub, claims.oid);
    assert_eq!(
        claims.sub.len(),
        36,
        "GUID-shaped object id: {}",
        claims.sub
    );
    assert_eq!(claims.xms_mirid, "/conflux/apps/orders-app");
    assert_eq!(claims.idtyp, "app");

    let again = issuer
        .verify(&issue(&issuer, &app(), VAULT), VAULT, now())
        .unwrap();
    assert_eq!(again.sub, claims.sub, "one app, one stable object id");
    let other = IdentityRef::SystemAssigned {
        app: "billing".into(),
    };
    let other = issuer
        .verify(&issue(&issuer, &other, VAULT), VAULT, now())
        .unwrap();
    assert_ne!(other.sub, claims.sub, "each app has its own identity");
}

#[test]
fn audience_must_match_exactly() {
    let issuer = IdentityIssuer::generate(ISSUER);
    let token = issue(&issuer, &app(), VAULT);
    let err = issuer
        .verify(&token, "https://vault.azure.net/", now())
        .unwrap_err();
    assert!(matches!(err, IdentityError::WrongAudience { .. }), "{err}");
    assert!(
        err.to_string().contains("https://vault.azure.net/"),
        "{err}"
    );
    assert!(issuer
        .verify(&token, "https://storage.azure.com", now())
        .is_err());
}

#[test]
fn expired_and_not_yet_valid_tokens_are_rejected() {
    let issuer = IdentityIssuer::generate(ISSUER);
    let token = issue(&issuer, &app(), VAULT);
    let late = now() + Duration::hours(2);
    assert!(matches!(
        issuer.verify(&token, VAULT, late),
        Err(IdentityError::Expired { .. })
    ));
    let early = now() - Duration::hours(1);
    assert!(matches!(
        issuer.verify(&token, VAULT, early),
        Err(IdentityError::NotYetValid { .. })
    ));
    assert!(issuer
        .issue(&app(), VAULT, now(), StdDuration::ZERO)
        .is_err());
}

#[test]
fn tampered_or_foreign_tokens_are_rejected() {
    let issuer = IdentityIssuer::generate(ISSUER);
    let token = issue(&issuer, &app(), VAULT);
    let parts: Vec<&str> = token.split('.').collect();

    // Claims rewritten to another audience, old signature kept.
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["aud"] = "https://storage.azure.com".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert!(matches!(
        issuer.verify(&forged, "https://storage.azure.com", now()),
        Err(IdentityError::BadSignature)
    ));

    // A flipped signature bit.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    assert!(issuer.verify(&flipped, VAULT, now()).is_err());

    // "alg": "none" with no signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{}.", parts[1]);
    assert!(issuer.verify(&unsigned, VAULT, now()).is_err());

    // Signed by another issuer's key (same issuer URL).
    let stranger = IdentityIssuer::generate(ISSUER);
    assert!(matches!(
        issuer.verify(&issue(&stranger, &app(), VAULT), VAULT, now()),
        Err(IdentityError::BadSignature)
    ));

    for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
        assert!(issuer.verify(garbage, VAULT, now()).is_err(), "{garbage:?}");
    }
}

#[test]
fn jwks_publishes_the_key_that_signs() {
    let issuer = IdentityIssuer::generate(ISSUER);
    let jwks = issuer.jwks();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    assert_eq!(x.len(), 32);

    // The token's kid names that key, and the key checks the signature.
    let token = issue(&issuer, &app(), VAULT);
    let parts: Vec<&str> = token.split('.').collect();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["kid"], key["kid"]);
    assert_eq!(header["alg"], "EdDSA");
    let public = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    public.verify_strict(signed.as_bytes(), &signature).unwrap();
}

#[test]
fn user_assigned_identities_must_be_registered() {
    let mut issuer = IdentityIssuer::generate(ISSUER);
    let uami = IdentityRef::UserAssigned {
        resource_id: UAMI.into(),
    };
    let err = issuer
        .issue(&uami, VAULT, now(), StdDuration::from_secs(3600))
        .unwrap_err();
    assert!(
        matches!(err, IdentityError::UnknownIdentity { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(UAMI));

    issuer
        .register_user_assigned(UAMI, "2f1c7e0a-client")
        .unwrap();
    let claims = issuer
        .verify(&issue(&issuer, &uami, VAULT), VAULT, now())
        .unwrap();
    assert_eq!(claims.appid, "2f1c7e0a-client");
    assert_eq!(claims.xms_mirid, UAMI);

    // Resource ids compare case-insensitively, as Azure resource ids do.
    let shouted = IdentityRef::UserAssigned {
        resource_id: UAMI.to_uppercase(),
    };
    let same = issuer
        .verify(&issue(&issuer, &shouted, VAULT), VAULT, now())
        .unwrap();
    assert_eq!(same.sub, claims.sub);
    assert!(issuer.register_user_assigned(" ", "x").is_err());
}

#[test]
fn sealed_key_survives_a_restart_and_keeps_object_ids() {
    let master = MasterKey::from_keys(&[[7u8; 32]]);
    let first = IdentityIssuer::generate(ISSUER);
    let sealed = first.to_sealed(&master);
    let restored = IdentityIssuer::from_sealed(&master, &sealed, ISSUER).unwrap();
    let token = issue(&first, &app(), VAULT);
    let claims = restored.verify(&token, VAULT, now()).unwrap();
    let fresh = restored
        .verify(&issue(&restored, &app(), VAULT), VAULT, now())
        .unwrap();
    assert_eq!(claims.sub, fresh.sub);
    assert_eq!(first.jwks(), restored.jwks());

    let other_master = MasterKey::from_keys(&[[8u8; 32]]);
    assert!(IdentityIssuer::from_sealed(&other_master, &sealed, ISSUER).is_err());
}
