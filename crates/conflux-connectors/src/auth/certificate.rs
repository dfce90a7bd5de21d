//! Client certificates: a base64 PFX opened, and turned into a TLS identity.
//!
//! reqwest with rustls takes a PEM identity, so the PFX is decoded with the
//! pure-Rust `p12-keystore` crate and re-encoded as PEM in memory; this keeps
//! the build free of OpenSSL, which reqwest's PKCS #12 support would need.

use base64::Engine as _;
use conflux_connector_api::{ConnectorError, Secret};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy, PrivateKeyChain};

/// The first private key of a base64 PFX with its certificate chain (leaf
/// first).
pub(super) fn open_pfx(
    pfx: &Secret,
    password: Option<&Secret>,
) -> Result<PrivateKeyChain, ConnectorError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(pfx.expose().trim())
        .map_err(|_| ConnectorError::invalid_input("authentication.pfx is not valid base64"))?;
    let store = KeyStore::from_pkcs12(
        &der,
        password.map_or("", Secret::expose),
        Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|_| {
        ConnectorError::invalid_input(
            "authentication.pfx cannot be opened: it is not a PFX file or the password is wrong",
        )
    })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        ConnectorError::invalid_input("authentication.pfx holds no private key with a certificate")
    })?;
    if chain.certs().is_empty() {
        return Err(ConnectorError::invalid_input(
            "authentication.pfx holds a private key but no certificate",
        ));
    }
    Ok(chain.clone())
}

/// The TLS identity (key and certificate chain) of a base64 PFX.
pub(super) fn identity_from_pfx(
    pfx: &Secret,
    password: Option<&Secret>,
) -> Result<reqwest::Identity, ConnectorError> {
    let chain = open_pfx(pfx, password)?;
    let mut pem = pem_block("PRIVATE KEY", chain.key().as_der());
    for cert in chain.certs() {
        pem.push_str(&pem_block("CERTIFICATE", cert.as_der()));
    }
    reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
        ConnectorError::invalid_input(format!(
            "the client certificate in authentication.pfx is not usable: {e}"
        ))
    })
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
