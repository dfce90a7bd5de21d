//! Every HTTP status code the server answers with lives in this file: the
//! mapping from [`ApiError`] to a response, and the few success shapes.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// How long a throttled client (429) is asked to wait before trying again.
pub const RETRY_AFTER_SECONDS: &str = "10";

/// What went wrong, by the status class a client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    Throttled,
    /// A Response action did not answer in time; the run goes on.
    ResponseTimeout,
    /// The run ended without ever answering.
    NoResponse,
    Internal,
    Unavailable,
}

/// An API error: rendered as `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::BadRequest, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, code, message)
    }

    pub fn unauthorized(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Unauthorized, code, message)
    }

    pub fn forbidden(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Forbidden, code, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Internal, "InternalServerError", message)
    }

    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::ResponseTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::NoResponse => StatusCode::BAD_GATEWAY,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut headers = HeaderMap::new();
        if self.kind == ErrorKind::Throttled {
            // A slot frees when a run finishes; clients should back off rather than hammer.
            headers.insert(
                axum::http::header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        (self.status(), headers, axum::Json(body)).into_response()
    }
}

impl From<conflux_store::StoreError> for ApiError {
    fn from(err: conflux_store::StoreError) -> ApiError {
        use conflux_store::StoreError;
        match err {
            StoreError::NotFound { what } => ApiError::not_found("NotFound", what),
            StoreError::InvalidInput { what } => ApiError::bad_request("InvalidInput", what),
            StoreError::Conflict { what } => ApiError::new(ErrorKind::Conflict, "Conflict", what),
            other => ApiError::internal(format!("the run history store failed: {other}")),
        }
    }
}

/// `200 OK` with a JSON body.
pub fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `204`-free "done" for POST operations that return nothing (Logic Apps answers 200 with no body).
pub fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

/// `202 Accepted` with extra headers and no body.
pub fn accepted(headers: HeaderMap) -> Response {
    assemble(StatusCode::ACCEPTED, headers, axum::body::Body::empty())
}

/// A response built in place: the header map moves into it instead of being
/// copied over one header at a time (as `(status, headers, body)` would).
fn assemble(status: StatusCode, headers: HeaderMap, body: axum::body::Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The answer a Response action chose, its headers complete. 3xx is not a
/// valid Response status, so anything outside 100..=599 falls back to 500
/// rather than panicking.
pub fn answer(status: u16, headers: HeaderMap, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    assemble(status, headers, axum::body::Body::from(body))
}

/// Adds a header, ignoring names or values that are not valid HTTP (they
/// come from workflow definitions; a bad one must not fail the response).
pub fn insert_header(headers: &mut HeaderMap, name: &str, value: &str) {
    if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
        append_text(headers, name, value);
    }
}

/// Appends `value` under a name made beforehand, if it can be a header value.
pub fn append_text(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.append(name, value);
    }
}

/// The `x-ms-*` headers that tell a caller which run its call made, with
/// names made at compile time: neither parsed nor checked per call.
pub const WORKFLOW_NAME: HeaderName = HeaderName::from_static("x-ms-workflow-name");
pub const TRIGGER_HISTORY_NAME: HeaderName = HeaderName::from_static("x-ms-trigger-history-name");
pub const WORKFLOW_RUN_ID: HeaderName = HeaderName::from_static("x-ms-workflow-run-id");
pub const CLIENT_TRACKING_ID: HeaderName = HeaderName::from_static("x-ms-client-tracking-id");
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-id");
