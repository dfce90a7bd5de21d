//! Envelope encryption of secrets at rest.
//!
//! Each `seal` draws a fresh data key, encrypts the plaintext with it and
//! wraps the data key under the master key. Rotating the master key therefore
//! only needs the small wrapped key re-encrypted (`rewrap`), and the envelope
//! names the master key it was made with, so several keys can decrypt side by
//! side while the first one encrypts.
//!
//! Layout: `version(1) | key_id(8) | wrap_nonce(12) | wrapped_data_key(48) | nonce(12) | ciphertext+tag`.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::{random_bytes, SecurityError};

/// Environment variable holding base64 master keys, comma separated, first one encrypts.
pub const MASTER_KEY_ENV: &str = "CONFLUX_MASTER_KEY";
/// File name of the generated master key inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const WRAPPED_KEY_LEN: usize = 32 + 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN + WRAPPED_KEY_LEN + NONCE_LEN;

struct KeyEntry {
    id: [u8; KEY_ID_LEN],
    cipher: Aes256Gcm,
}

/// The key (or keys, during rotation) that protect every secret Conflux stores.
pub struct MasterKey {
    /// The first entry encrypts; every entry decrypts.
    keys: Vec<KeyEntry>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Loads keys from `CONFLUX_MASTER_KEY`, else from `<data_dir>/master.key`,
    /// creating that file (mode 0600) with a fresh random key on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<MasterKey, SecurityError> {
        MasterKey::load(std::env::var(MASTER_KEY_ENV).ok().as_deref(), data_dir)
    }

    fn load(env_value: Option<&str>, data_dir: &Path) -> Result<MasterKey, SecurityError> {
        if let Some(value) = env_value.filter(|value| !value.trim().is_empty()) {
            return MasterKey::from_base64_list(value, MASTER_KEY_ENV);
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_base64_list(&text, &path.display().to_string()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = random_bytes();
                let encoded = base64::engine::general_purpose::STANDARD.encode(key);
                write_private_file(&path, encoded.as_bytes()).map_err(|error| {
                    SecurityError::KeyFile {
                        operation: "create",
                        path: path.clone(),
                        error,
                    }
                })?;
                Ok(MasterKey::from_keys(&[key]))
            }
            Err(error) => Err(SecurityError::KeyFile {
                operation: "read",
                path,
                error,
            }),
        }
    }

    /// Parses `key1,key2,...` (standard base64, 32 bytes each).
    pub fn from_base64_list(text: &str, source_name: &str) -> Result<MasterKey, SecurityError> {
        let mut keys = Vec::new();
        for (index, part) in text.split(',').map(str::trim).enumerate() {
            if part.is_empty() {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(part)
                .map_err(|err| SecurityError::InvalidMasterKey {
                    source_name: source_name.to_string(),
                    reason: format!("key #{} is not base64 ({err})", index + 1),
                })?;
            let key: [u8; 32] =
                bytes
                    .try_into()
                    .map_err(|bytes: Vec<u8>| SecurityError::InvalidMasterKey {
                        source_name: source_name.to_string(),
                        reason: format!("key #{} has {} bytes", index + 1, bytes.len()),
                    })?;
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(SecurityError::InvalidMasterKey {
                source_name: source_name.to_string(),
                reason: "no key given".to_string(),
            });
        }
        Ok(MasterKey::from_keys(&keys))
    }

    /// Builds a key set from raw keys; the first one encrypts.
    pub fn from_keys(keys: &[[u8; 32]]) -> MasterKey {
        MasterKey {
            keys: keys
                .iter()
                .map(|key| KeyEntry {
                    id: key_id(key),
                    cipher: Aes256Gcm::new(key.into()),
                })
                .collect(),
        }
    }

    /// Encrypts `plaintext`, binding it to `aad` (e.g. the name of the record
    /// it belongs to) so a sealed value cannot be moved to another record.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let primary = &self.keys[0];
        let data_key: [u8; 32] = random_bytes();
        let wrap_nonce: [u8; NONCE_LEN] = random_bytes();
        let nonce: [u8; NONCE_LEN] = random_bytes();
        let mut header = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        header.push(VERSION);
        header.extend_from_slice(&primary.id);
        header.extend_from_slice(&wrap_nonce);
        let wrapped = primary
            .cipher
            .encrypt(
                Nonce::from_slice(&wrap_nonce),
                Payload {
                    msg: &data_key,
                    aad: &header[..1 + KEY_ID_LEN],
                },
            )
            .expect("AES-GCM encryption of 32 bytes cannot fail");
        header.extend_from_slice(&wrapped);
        header.extend_from_slice(&nonce);
        let data_cipher = Aes256Gcm::new((&data_key).into());
        let ciphertext = data_cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &data_aad(&header, aad),
                },
            )
            .expect("AES-GCM encryption below its size limit cannot fail");
        header.extend_from_slice(&ciphertext);
        header
    }

    /// Decrypts what [`MasterKey::seal`] produced with any loaded key.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecurityError> {
        let parts = Envelope::parse(sealed)?;
        let entry = self.entry(parts.key_id)?;
        let data_key = entry
            .cipher
            .decrypt(
                Nonce::from_slice(parts.wrap_nonce),
                Payload {
                    msg: parts.wrapped_key,
                    aad: &sealed[..1 + KEY_ID_LEN],
                },
            )
            .map_err(|_| SecurityError::DecryptionFailed)?;
        let data_cipher = Aes256Gcm::new_from_slice(&data_key)
            .map_err(|_| SecurityError::MalformedEnvelope("wrapped data key has the wrong size"))?;
        data_cipher
            .decrypt(
                Nonce::from_slice(parts.nonce),
                Payload {
                    msg: parts.ciphertext,
                    aad: &data_aad(&sealed[..HEADER_LEN], aad),
                },
            )
            .map_err(|_| SecurityError::DecryptionFailed)
    }

    /// True when `sealed` was made with a key other than the encrypting one,
    /// i.e. it should be rewrapped after a rotation.
    pub fn needs_rewrap(&self, sealed: &[u8]) -> bool {
        match Envelope::parse(sealed) {
            Ok(parts) => parts.key_id != self.keys[0].id,
            Err(_) => false,
        }
    }

    /// Re-encrypts `sealed` under the current encrypting key.
    pub fn rewrap(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecurityError> {
        let plaintext = self.open(sealed, aad)?;
        Ok(self.seal(&plaintext, aad))
    }

    fn entry(&self, id: &[u8]) -> Result<&KeyEntry, SecurityError> {
        self.keys
            .iter()
            .find(|entry| entry.id == id)
            .ok_or_else(|| SecurityError::UnknownMasterKey {
                key_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            })
    }
}

struct Envelope<'a> {
    key_id: &'a [u8],
    wrap_nonce: &'a [u8],
    wrapped_key: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(sealed: &'a [u8]) -> Result<Envelope<'a>, SecurityError> {
        if sealed.len() < HEADER_LEN + 16 {
            return Err(SecurityError::MalformedEnvelope("too short"));
        }
        if sealed[0] != VERSION {
            return Err(SecurityError::MalformedEnvelope("unknown version"));
        }
        let (key_id, rest) = sealed[1..].split_at(KEY_ID_LEN);
        let (wrap_nonce, rest) = rest.split_at(NONCE_LEN);
        let (wrapped_key, rest) = rest.split_at(WRAPPED_KEY_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        Ok(Envelope {
            key_id,
            wrap_nonce,
            wrapped_key,
            nonce,
            ciphertext,
        })
    }
}

/// The data ciphertext authenticates the whole header too, so no byte of
/// the envelope can be swapped without detection.
fn data_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + aad.len());
    out.extend_from_slice(header);
    out.extend_from_slice(aad);
    out
}

fn key_id(key: &[u8; 32]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::new_with_prefix(b"conflux master key id")
        .chain_update(key)
        .finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    #[test]
    fn seal_then_open_round_trips_and_is_randomised() {
        let master = MasterKey::from_keys(&[key(1)]);
        let a = master.seal(b"password", b"conn/db");
        let b = master.seal(b"password", b"conn/db");
        assert_ne!(a, b, "a fresh data key and nonce every time");
        assert!(!a.windows(8).any(|w| w == b"password"));
        assert_eq!(master.open(&a, b"conn/db").unwrap(), b"password");
    }

    #[test]
    fn wrong_aad_or_tampering_is_rejected() {
        let master = MasterKey::from_keys(&[key(1)]);
        let sealed = master.seal(b"secret", b"conn/a");
        assert!(matches!(
            master.open(&sealed, b"conn/b"),
            Err(SecurityError::DecryptionFailed)
        ));
        for index in [0, 5, 15, 40, HEADER_LEN - 1, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[index] ^= 0x01;
            assert!(master.open(&bad, b"conn/a").is_err(), "byte {index}");
        }
        assert!(master.open(&sealed[..20], b"conn/a").is_err());
    }

    #[test]
    fn rotation_first_key_encrypts_all_keys_decrypt() {
        let old = MasterKey::from_keys(&[key(1)]);
        let sealed_old = old.seal(b"v", b"x");
        let rotated = MasterKey::from_keys(&[key(2), key(1)]);
        assert_eq!(rotated.open(&sealed_old, b"x").unwrap(), b"v");
        assert!(rotated.needs_rewrap(&sealed_old));
        let rewrapped = rotated.rewrap(&sealed_old, b"x").unwrap();
        assert!(!rotated.needs_rewrap(&rewrapped));
        let only_new = MasterKey::from_keys(&[key(2)]);
        assert_eq!(only_new.open(&rewrapped, b"x").unwrap(), b"v");
        assert!(matches!(
            only_new.open(&sealed_old, b"x"),
            Err(SecurityError::UnknownMasterKey { .. })
        ));
    }

    #[test]
    fn parses_comma_separated_keys_and_reports_bad_ones() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = format!("{}, {}", b64.encode(key(3)), b64.encode(key(4)));
        let master = MasterKey::from_base64_list(&text, "test").unwrap();
        assert_eq!(master.keys.len(), 2);
        let err = MasterKey::from_base64_list(&b64.encode([0u8; 16]), "test").unwrap_err();
        assert!(err.to_string().contains("16 bytes"), "{err}");
        assert!(MasterKey::from_base64_list("not base64!", "test").is_err());
        assert!(MasterKey::from_base64_list(" , ", "test").is_err());
    }

    #[test]
    fn key_file_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        let first = MasterKey::load(None, &sub).unwrap();
        let sealed = first.seal(b"kept", b"");
        let second = MasterKey::load(Some(""), &sub).unwrap();
        assert_eq!(second.open(&sealed, b"").unwrap(), b"kept");
        let b64 = base64::engine::general_purpose::STANDARD;
        let from_env = MasterKey::load(Some(&b64.encode(key(9))), &sub).unwrap();
        assert!(
            from_env.open(&sealed, b"").is_err(),
            "the environment wins over the file"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sub.join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
