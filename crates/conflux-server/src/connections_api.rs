//! Management API for connections and the connector catalogue.
//!
//! Routes, under `/runtime/webhooks/workflow/api/management/`:
//! `PUT|GET|DELETE connections/{name}`, `GET connections`,
//! `POST connections/{name}/test` and `GET connectors`. Resources have the
//! shape `{"name", "id", "type", "properties"}`, lists `{"value": [...]}`.
//! Secret parameter values go in with `PUT` and never come out: responses
//! list secret parameters by name only, and request bodies are never logged
//! or echoed in errors.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use conflux_connector_api::{Connector, ConnectorError};
use serde_json::{json, Map, Value};

use crate::connection_store::{ConnectionError, ConnectionInfo, ConnectionSpec, ConnectionStore};
use crate::reply::{ok, ok_empty};
use crate::{ApiError, ErrorKind};

/// Prefix of every management route.
pub const MANAGEMENT_PREFIX: &str = "/runtime/webhooks/workflow/api/management";

/// Decides whether a request may use the management API (the host's admin
/// key check).
pub type Authorize = Arc<dyn Fn(&HeaderMap) -> bool + Send + Sync>;

/// What the connection routes need.
#[derive(Clone)]
pub struct ConnectionsApiState {
    pub connections: Arc<ConnectionStore>,
    pub authorize: Authorize,
}

/// The connection and connector routes, with full paths, ready to merge into
/// the host's router whatever its state type.
pub fn routes<S>(state: ConnectionsApiState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let p = MANAGEMENT_PREFIX;
    Router::new()
        .route(&format!("{p}/connections"), get(list_connections))
        .route(
            &format!("{p}/connections/{{name}}"),
            get(get_connection)
                .put(put_connection)
                .delete(delete_connection),
        )
        .route(
            &format!("{p}/connections/{{name}}/test"),
            post(test_connection),
        )
        .route(&format!("{p}/connectors"), get(list_connectors))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_authorized,
        ))
        .with_state(state)
}

async fn require_authorized(
    State(state): State<ConnectionsApiState>,
    request: Request,
    next: Next,
) -> Response {
    if (state.authorize)(request.headers()) {
        next.run(request).await
    } else {
        ApiError::unauthorized(
            "InvalidAdminKey",
            "the management API needs `Authorization: Bearer <admin key>` (the key printed at first start, or CONFLUX_ADMIN_KEY)",
        )
        .into_response()
    }
}

async fn list_connections(State(state): State<ConnectionsApiState>) -> Result<Response, ApiError> {
    let value: Vec<Value> = state
        .connections
        .list()
        .await
        .map_err(api_error)?
        .iter()
        .map(connection_resource)
        .collect();
    Ok(ok(json!({ "value": value })))
}

async fn get_connection(
    State(state): State<ConnectionsApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let info = state.connections.get(&name).await.map_err(api_error)?;
    Ok(ok(connection_resource(&info)))
}

async fn put_connection(
    State(state): State<ConnectionsApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = parse_put_body(name, &body)?;
    let info = state.connections.put_spec(spec).await.map_err(api_error)?;
    Ok(ok(connection_resource(&info)))
}

async fn delete_connection(
    State(state): State<ConnectionsApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    state.connections.delete(&name).await.map_err(api_error)?;
    Ok(ok_empty())
}

async fn test_connection(
    State(state): State<ConnectionsApiState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    state.connections.test(&name).await.map_err(api_error)?;
    Ok(ok(json!({ "status": "Connected" })))
}

async fn list_connectors(State(state): State<ConnectionsApiState>) -> Response {
    let value: Vec<Value> = state
        .connections
        .connectors()
        .iter()
        .map(connector_resource)
        .collect();
    ok(json!({ "value": value }))
}

fn connection_resource(info: &ConnectionInfo) -> Value {
    let mut properties = json!({
        "connectorId": info.connector_id,
        "serviceProvider": {"id": info.connector_id},
        "parameterValues": info.parameter_values,
        "secretParameters": info.secret_parameters,
    });
    if let Some(display_name) = &info.display_name {
        properties["displayName"] = json!(display_name);
    }
    json!({
        "name": info.name,
        "id": format!("/connections/{}", info.name),
        "type": "connections",
        "properties": properties,
    })
}

fn connector_resource(connector: &Arc<dyn Connector>) -> Value {
    let d = connector.descriptor();
    json!({
        "name": d.name,
        "id": d.id,
        "type": "connectors",
        "properties": {
            "displayName": d.display_name,
            "description": d.description,
            "connectionParameters": d.connection_parameters,
            "operations": d.operations,
        },
    })
}

/// Reads `{"properties": {"connectorId" | "serviceProvider": {"id"},
/// "parameterValues", "displayName"?}}`. Only syntax positions and field
/// names appear in errors: the body carries secrets.
fn parse_put_body(name: String, body: &[u8]) -> Result<ConnectionSpec, ApiError> {
    let bad = |message: &str| ApiError::bad_request("InvalidConnectionBody", message);
    let document: Value = serde_json::from_slice(body).map_err(|err| {
        bad(&format!(
            "the body is not JSON (line {}, column {}); send {{\"properties\": {{\"connectorId\": \"...\", \"parameterValues\": {{...}}}}}}",
            err.line(),
            err.column()
        ))
    })?;
    let Some(properties) = document.get("properties").and_then(Value::as_object) else {
        return Err(bad("`properties` must be a JSON object"));
    };
    let connector_id = properties
        .get("connectorId")
        .and_then(Value::as_str)
        .or_else(|| {
            properties
                .get("serviceProvider")
                .and_then(|provider| provider.get("id"))
                .and_then(Value::as_str)
        })
        .ok_or_else(|| {
            bad("`properties.connectorId` (or `properties.serviceProvider.id`) must name a connector; GET connectors lists them")
        })?;
    let parameter_values = match properties.get("parameterValues") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(values)) => values.clone(),
        Some(_) => return Err(bad("`properties.parameterValues` must be a JSON object")),
    };
    let display_name = match properties.get("displayName") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(bad("`properties.displayName` must be a string")),
    };
    Ok(ConnectionSpec {
        name,
        connector_id: connector_id.to_string(),
        display_name,
        parameter_values,
    })
}

fn api_error(err: ConnectionError) -> ApiError {
    let message = err.to_string();
    match &err {
        ConnectionError::InvalidName { .. } => {
            ApiError::bad_request("InvalidConnectionName", message)
        }
        ConnectionError::UnknownConnector { .. } => {
            ApiError::bad_request("UnknownConnector", message)
        }
        ConnectionError::Invalid { .. } => ApiError::bad_request("InvalidConnection", message),
        ConnectionError::NotFound { .. } => ApiError::not_found("ConnectionNotFound", message),
        ConnectionError::TestFailed { error, .. } => {
            // An unreachable or throttling service may pass; anything else
            // needs the connection changed.
            let kind = match error {
                ConnectorError::Transient { .. } | ConnectorError::Throttled { .. } => {
                    ErrorKind::Unavailable
                }
                _ => ErrorKind::BadRequest,
            };
            ApiError::new(kind, error.code(), message)
        }
        ConnectionError::Corrupt { .. }
        | ConnectionError::Sealed { .. }
        | ConnectionError::Store(_) => {
            tracing::error!(error = %message, "Connection store failed.");
            ApiError::internal(message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_body_accepts_either_connector_field_and_rejects_bad_shapes() {
        let spec = parse_put_body(
            "db".into(),
            br#"{"properties": {"serviceProvider": {"id": "/serviceProviders/x"}, "parameterValues": {"a": 1}, "displayName": "DB"}}"#,
        )
        .unwrap();
        assert_eq!(spec.connector_id, "/serviceProviders/x");
        assert_eq!(spec.display_name.as_deref(), Some("DB"));
        assert_eq!(spec.parameter_values["a"], 1);
        let spec =
            parse_put_body("db".into(), br#"{"properties": {"connectorId": "/c"}}"#).unwrap();
        assert!(spec.parameter_values.is_empty());

        for body in [
            &b"{"[..],
            br#"{"properties": 1}"#,
            br#"{"properties": {}}"#,
            br#"{"properties": {"connectorId": "/c", "parameterValues": "pw=hunter2"}}"#,
        ] {
            let err = parse_put_body("db".into(), body).unwrap_err();
            assert_eq!(err.code, "InvalidConnectionBody");
            assert!(!err.message.contains("hunter2"), "{}", err.message);
        }
    }
}
