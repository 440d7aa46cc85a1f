//! Errors answered as JSON: `{"error": "...", "parameter": "..."}` with a fitting status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The request parameter (or path part) at fault.
    pub parameter: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            parameter: None,
            retry_after: None,
        }
    }

    /// 400 naming the parameter.
    pub fn param(parameter: &str, message: impl std::fmt::Display) -> Self {
        Self {
            parameter: Some(parameter.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, format!("{parameter}: {message}"))
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn busy() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many queries are running; retry shortly",
            )
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "no such route; see /api/v1/openapi.json",
        )
    }

    /// From a store error: bad selectors are the caller's fault, the rest are ours.
    pub fn from_query(e: &dnsrecall_store::QueryError, parameter: &str) -> Self {
        match e {
            dnsrecall_store::QueryError::Invalid(msg) => Self::param(parameter, msg),
            other => {
                tracing::error!("query failed: {other}");
                Self::internal("the query failed in the store")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.message });
        if let Some(p) = &self.parameter {
            body["parameter"] = json!(p);
        }
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
