//! A connector with a secret parameter, for connection tests that need no service.

use std::sync::Arc;

use conflux_connector_api::{
    async_trait, ConfigProblem, Connection, ConnectionConfig, Connector, ConnectorContext,
    ConnectorDescriptor, ConnectorError, ParameterDescriptor, ParameterKind,
};
use serde_json::Value;

pub const VAULT_ID: &str = "/serviceProviders/testVault";

static VAULT: ConnectorDescriptor = ConnectorDescriptor {
    id: VAULT_ID,
    name: "testvault",
    display_name: "Test vault",
    description: "Accepts API keys that start with `good-`.",
    connection_parameters: &[
        ParameterDescriptor {
            name: "endpoint",
            display_name: "Endpoint",
            description: "Where the vault listens.",
            kind: ParameterKind::String,
            required: true,
            secret: false,
        },
        ParameterDescriptor {
            name: "apiKey",
            display_name: "API key",
            description: "The key the vault checks.",
            kind: ParameterKind::SecureString,
            required: true,
            secret: true,
        },
    ],
    operations: &[],
};

/// A vault "service" that accepts keys starting with `good-`.
pub struct TestVault;

struct VaultConnection {
    api_key: String,
}

impl Connector for TestVault {
    fn descriptor(&self) -> &'static ConnectorDescriptor {
        &VAULT
    }

    fn prepare(
        &self,
        config: &ConnectionConfig,
    ) -> Result<Arc<dyn Connection>, Vec<ConfigProblem>> {
        let mut reader = config.reader();
        reader.req_str("endpoint");
        let api_key = config.secret("apiKey").map(|s| s.expose().to_string());
        if api_key.as_deref().is_none_or(str::is_empty) {
            reader.problem("apiKey", "is required but missing");
        }
        reader.finish()?;
        Ok(Arc::new(VaultConnection {
            api_key: api_key.unwrap_or_default(),
        }))
    }
}

#[async_trait]
impl Connection for VaultConnection {
    fn check_inputs(&self, _: &str, _: &Value) -> Result<(), Vec<ConfigProblem>> {
        Ok(())
    }

    async fn test(&self, _: &ConnectorContext) -> Result<(), ConnectorError> {
        if self.api_key.starts_with("good-") {
            Ok(())
        } else {
            Err(ConnectorError::unauthorized(
                "the vault refused the API key",
            ))
        }
    }

    async fn invoke(
        &self,
        _: &ConnectorContext,
        _: &str,
        _: Value,
    ) -> Result<Value, ConnectorError> {
        Err(ConnectorError::invalid_input("no operations"))
    }
}

pub fn vault() -> Arc<dyn Connector> {
    Arc::new(TestVault)
}
