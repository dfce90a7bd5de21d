//! The `whenRowInsertedOrModified` polling trigger.

use conflux_connector_api::{ConnectorContext, ConnectorError, PollOutcome};
use serde_json::Value;

use super::actions::MyConnection;
use crate::sql::{self, TriggerInputs};

pub(super) async fn poll(
    connection: &MyConnection,
    ctx: &ConnectorContext,
    operation: &str,
    inputs: &Value,
    cursor: Option<Value>,
) -> Result<PollOutcome, ConnectorError> {
    if operation != sql::WHEN_ROW {
        return Err(ConnectorError::invalid_input(format!(
            "operation '{operation}' is not a polling trigger of MySQL; use {}",
            sql::WHEN_ROW
        )));
    }
    let inputs = TriggerInputs::parse(inputs).map_err(crate::problems_error)?;
    sql::exec::poll(connection, ctx, inputs, cursor).await
}
