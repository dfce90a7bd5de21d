//! Keys, SAS signing, secret encryption at rest, IP filters, the admin key,
//! managed-identity tokens and bearer-token verification against key sets.
//!
//! Everything cryptographic here is built from audited crates (`aes-gcm`,
//! `hmac`, `sha2`, `subtle`, `rand`); nothing is hand-rolled. Callers get
//! small, hard-to-misuse types: a [`Secret`] never prints its value, a
//! [`MasterKey`] seals bytes into a self-describing envelope, [`AccessKeys`]
//! sign and verify callback URLs, an [`IpFilter`] answers whether a caller may
//! pass, and an [`AdminKeyHash`] checks the management key in constant time.
//!
//! ```
//! use conflux_security::{AccessKeys, KeyType, SasRequest};
//! let keys = AccessKeys::generate();
//! let req = SasRequest { path: "/api/hello/triggers/manual/invoke", permissions: "/triggers/manual/run", version: "1.0", expiry: None };
//! let sig = keys.sign(KeyType::Primary, &req);
//! assert_eq!(keys.verify(&req, &sig, chrono::Utc::now()), Ok(KeyType::Primary));
//! ```

mod admin;
mod error;
pub mod identity;
mod ip;
pub mod jwt;
mod master_key;
mod sas;
mod secret;

pub use admin::{generate_admin_key, AdminKeyHash};
pub use error::SecurityError;
pub use ip::{IpFilter, IpRange};
pub use master_key::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};
pub use sas::{
    format_expiry, parse_expiry, AccessKeys, KeyType, SasError, SasRequest, SAS_VERSION,
};
pub use secret::Secret;

/// Fills a fresh buffer from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}
