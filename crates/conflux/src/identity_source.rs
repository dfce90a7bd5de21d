//! Managed-identity tokens for outbound `ManagedServiceIdentity`
//! authentication, signed by the host's own identity issuer.
//!
//! This adapter lives in the CLI because it is the one crate that knows both
//! the connectors (which ask for tokens) and the security crate (which signs
//! them).

use std::sync::Arc;
use std::time::Duration;

use conflux_connector_api::{ConnectorError, Secret};
use conflux_connectors::auth::{AccessToken, IdentityTokenSource};
use conflux_security::identity::{IdentityError, IdentityIssuer, IdentityRef};
use conflux_server::{Clock, MasterKey};
use conflux_store::Store;

/// How long an issued token stays valid; callers cache it until shortly
/// before it expires.
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// kv namespace and key of the sealed identity signing key.
const KEY_NAMESPACE: &str = "conflux-server";
const KEY_NAME: &str = "identity-signing-key";

/// The host's identity issuer: its signing key is read sealed from the store,
/// or generated and stored on first start, and re-sealed under the current
/// master key after a rotation.
pub async fn load_or_create_issuer(
    store: &dyn Store,
    master_key: &MasterKey,
    issuer_url: &str,
) -> anyhow::Result<IdentityIssuer> {
    match store.kv_get(KEY_NAMESPACE, KEY_NAME).await? {
        Some(sealed) => {
            let issuer = IdentityIssuer::from_sealed(master_key, &sealed, issuer_url)?;
            if master_key.needs_rewrap(&sealed) {
                store
                    .kv_put(KEY_NAMESPACE, KEY_NAME, issuer.to_sealed(master_key))
                    .await?;
            }
            Ok(issuer)
        }
        None => {
            let issuer = IdentityIssuer::generate(issuer_url);
            store
                .kv_put(KEY_NAMESPACE, KEY_NAME, issuer.to_sealed(master_key))
                .await?;
            Ok(issuer)
        }
    }
}

/// Answers token requests for one app: its system-assigned identity, or a
/// user-assigned identity named by resource id.
pub struct IssuerTokenSource {
    issuer: Arc<IdentityIssuer>,
    app: String,
    clock: Arc<dyn Clock>,
}

impl IssuerTokenSource {
    pub fn new(issuer: Arc<IdentityIssuer>, app: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            issuer,
            app: app.into(),
            clock,
        }
    }
}

#[async_trait::async_trait]
impl IdentityTokenSource for IssuerTokenSource {
    async fn token(
        &self,
        audience: &str,
        identity: Option<&str>,
    ) -> Result<AccessToken, ConnectorError> {
        let identity = match identity {
            Some(resource_id) => IdentityRef::UserAssigned {
                resource_id: resource_id.to_string(),
            },
            None => IdentityRef::SystemAssigned {
                app: self.app.clone(),
            },
        };
        let token = self
            .issuer
            .issue(&identity, audience, self.clock.now(), TOKEN_TTL)
            .map_err(|err| match err {
                IdentityError::UnknownIdentity { .. } => {
                    ConnectorError::unauthorized(err.to_string())
                }
                other => ConnectorError::invalid_input(format!(
                    "managed identity token for audience `{audience}`: {other}"
                )),
            })?;
        Ok(AccessToken {
            token: Secret::new(token.access_token.expose()),
            expires_at: token.expires_on.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conflux_server::SystemClock;

    #[tokio::test]
    async fn system_and_user_assigned_tokens_verify_and_unknown_identities_are_refused() {
        let uami = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders";
        let mut issuer = IdentityIssuer::generate("https://conflux.local");
        issuer.register_user_assigned(uami, "client-1").unwrap();
        let issuer = Arc::new(issuer);
        let source = IssuerTokenSource::new(issuer.clone(), "orders-app", Arc::new(SystemClock));

        let token = source.token("https://vault.azure.net", None).await.unwrap();
        let claims = issuer
            .verify(
                token.token.expose(),
                "https://vault.azure.net",
                SystemClock.now(),
            )
            .unwrap();
        assert_eq!(claims.xms_mirid, "/conflux/apps/orders-app");
        assert!(token.expires_at > std::time::SystemTime::now());

        let token = source.token("api://orders", Some(uami)).await.unwrap();
        let claims = issuer
            .verify(token.token.expose(), "api://orders", SystemClock.now())
            .unwrap();
        assert_eq!(claims.appid, "client-1");

        let err = source
            .token("api://orders", Some("/unknown"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "ConnectorUnauthorized");
    }

    #[tokio::test]
    async fn the_signing_key_survives_restarts_and_master_key_rotation() {
        let store = conflux_store::SqliteStore::open_in_memory().await.unwrap();
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let first = load_or_create_issuer(&store, &MasterKey::from_keys(&[old]), "https://c")
            .await
            .unwrap();
        let again = load_or_create_issuer(&store, &MasterKey::from_keys(&[old]), "https://c")
            .await
            .unwrap();
        assert_eq!(first.jwks(), again.jwks());
        let rotating = MasterKey::from_keys(&[new, old]);
        load_or_create_issuer(&store, &rotating, "https://c")
            .await
            .unwrap();
        let after = load_or_create_issuer(&store, &MasterKey::from_keys(&[new]), "https://c")
            .await
            .unwrap();
        assert_eq!(first.jwks(), after.jwks(), "re-sealed under the new key");
    }
}
