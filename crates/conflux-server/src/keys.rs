//! The host's access keys (sealed in the store) and its admin key (hashed in the store).

use conflux_security::{generate_admin_key, AccessKeys, AdminKeyHash, MasterKey, Secret};
use conflux_store::Store;

use crate::management::KV_NAMESPACE;
use crate::ServerError;

const ACCESS_KEYS: &str = "access-keys";
const ADMIN_KEY_HASH: &str = "admin-key-hash";
/// Binds the sealed keys to their record so they cannot be swapped with another sealed value.
const ACCESS_KEYS_AAD: &[u8] = b"conflux-server/access-keys";

pub async fn load_access_keys(
    store: &dyn Store,
    master: &MasterKey,
) -> Result<AccessKeys, ServerError> {
    if let Some(sealed) = store.kv_get(KV_NAMESPACE, ACCESS_KEYS).await? {
        let plain = master.open(&sealed, ACCESS_KEYS_AAD)?;
        let keys = AccessKeys::from_bytes(&String::from_utf8_lossy(&plain))
            .ok_or(ServerError::CorruptKeys)?;
        if master.needs_rewrap(&sealed) {
            save_access_keys(store, master, &keys).await?;
        }
        return Ok(keys);
    }
    let keys = AccessKeys::generate();
    save_access_keys(store, master, &keys).await?;
    Ok(keys)
}

pub async fn save_access_keys(
    store: &dyn Store,
    master: &MasterKey,
    keys: &AccessKeys,
) -> Result<(), conflux_store::StoreError> {
    let sealed = master.seal(keys.to_bytes().expose().as_bytes(), ACCESS_KEYS_AAD);
    store.kv_put(KV_NAMESPACE, ACCESS_KEYS, sealed).await
}

/// The admin key check, and the key itself when it was generated just now
/// (to be printed once).
pub struct AdminSetup {
    pub hash: AdminKeyHash,
    pub generated: Option<Secret>,
}

/// `from_env` (CONFLUX_ADMIN_KEY) wins; otherwise the stored hash; otherwise a new key.
pub async fn admin_key(
    store: &dyn Store,
    from_env: Option<Secret>,
) -> Result<AdminSetup, ServerError> {
    if let Some(key) = from_env.filter(|k| !k.is_empty()) {
        return Ok(AdminSetup {
            hash: AdminKeyHash::new(&key),
            generated: None,
        });
    }
    if let Some(stored) = store.kv_get(KV_NAMESPACE, ADMIN_KEY_HASH).await? {
        let hash = AdminKeyHash::decode(&String::from_utf8_lossy(&stored))?;
        return Ok(AdminSetup {
            hash,
            generated: None,
        });
    }
    let key = generate_admin_key();
    let hash = AdminKeyHash::new(&key);
    store
        .kv_put(KV_NAMESPACE, ADMIN_KEY_HASH, hash.encode().into_bytes())
        .await?;
    Ok(AdminSetup {
        hash,
        generated: Some(key),
    })
}
