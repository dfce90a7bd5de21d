//! The management API key: generated once, shown once, stored only as a salted hash.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{random_bytes, Secret, SecurityError};

const SCHEME: &str = "sha256";

/// A fresh admin key: 32 random bytes, URL-safe base64.
pub fn generate_admin_key() -> Secret {
    Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// `sha256$<salt>$<digest>` of an admin key. A fast hash suffices because
/// generated keys carry 256 bits of entropy; a salt stops precomputation.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminKeyHash {
    salt: [u8; 16],
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminKeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKeyHash(***)")
    }
}

impl AdminKeyHash {
    pub fn new(key: &Secret) -> AdminKeyHash {
        let salt = random_bytes();
        AdminKeyHash {
            salt,
            digest: digest(&salt, key.expose()),
        }
    }

    /// Constant-time comparison of a presented key with the stored hash.
    pub fn verify(&self, presented: &str) -> bool {
        bool::from(digest(&self.salt, presented).ct_eq(&self.digest))
    }

    pub fn encode(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        format!(
            "{SCHEME}${}${}",
            b64.encode(self.salt),
            b64.encode(self.digest)
        )
    }

    pub fn decode(text: &str) -> Result<AdminKeyHash, SecurityError> {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let mut parts = text.trim().split('$');
        let (Some(SCHEME), Some(salt), Some(digest), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecurityError::MalformedAdminHash);
        };
        let salt = b64
            .decode(salt)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or(SecurityError::MalformedAdminHash)?;
        let digest = b64
            .decode(digest)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or(SecurityError::MalformedAdminHash)?;
        Ok(AdminKeyHash { salt, digest })
    }
}

fn digest(salt: &[u8; 16], key: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(salt)
        .chain_update(key.as_bytes())
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_key_and_round_trips() {
        let key = generate_admin_key();
        assert!(key.expose().len() >= 43);
        let hash = AdminKeyHash::new(&key);
        assert!(hash.verify(key.expose()));
        assert!(!hash.verify("wrong"));
        assert!(!hash.verify(""));
        let encoded = hash.encode();
        assert!(!encoded.contains(key.expose()));
        let decoded = AdminKeyHash::decode(&encoded).unwrap();
        assert!(decoded.verify(key.expose()));
        assert_ne!(AdminKeyHash::new(&key).encode(), encoded, "salted");
        assert!(AdminKeyHash::decode("md5$x$y").is_err());
        assert!(AdminKeyHash::decode("sha256$AAAA").is_err());
    }
}
