//! The one error type. Every handler returns `ApiError`; its `IntoResponse` writes the seeds'
//! `{"error": "...", "message": "..."}` shape. OpenAI-compatible routes wrap it in
//! [`OpenAiError`], which writes OpenAI's `{"error": {"message", "type", "code"}}` instead.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("Session authentication required")]
    SessionRequired,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than the {0}-byte limit")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("Rate limit exceeded")]
    RateLimited { retry_after_secs: u64 },
    /// 429 for a resource at its cap (a full ingest queue), not a credential's rate.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// 502: an upstream Cairn asked answered badly or not at all.
    #[error("{0}")]
    BadGateway(String),
    /// 402: the prepaid balance or a budget cannot cover the request.
    #[error("{}", .0.message)]
    BillingRequired(PaymentNeeded),
    #[error("{0}")]
    NotImplemented(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// A 402: why, and seed 004's figures.
#[derive(Debug, Clone, Default)]
pub struct PaymentNeeded {
    pub message: String,
    pub figures: PaymentFigures,
}

/// What a 402 tells the caller beside its message (seed 004's error fields), in both error
/// shapes; absent on every other answer.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PaymentFigures {
    /// Where to add credit (`billing.payment_url`), when the operator set one and the balance
    /// (not a budget, which paying does not lift) refused the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_url: Option<String>,
    /// The balance, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_usd: Option<f64>,
    /// What the request needed to hold, in USD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_usd: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Short, stable description of the failure (match on the HTTP status first).
    pub error: String,
    /// Human-readable detail: what was wrong and how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(flatten)]
    pub payment: PaymentFigures,
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::SessionRequired => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } | Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::BillingRequired(_) => StatusCode::PAYMENT_REQUIRED,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error` field: a short label per status, as in the seeds' error table.
    fn label(&self) -> String {
        match self {
            Self::BadRequest(_) => "Bad request".into(),
            Self::Unauthorized(msg) | Self::Forbidden(msg) => msg.clone(),
            Self::SessionRequired => "Session authentication required".into(),
            Self::MethodNotAllowed => "Method not allowed".into(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Conflict(_) => "Conflict".into(),
            Self::PayloadTooLarge(_) => "Payload too large".into(),
            Self::UnsupportedMediaType(_) => "Unsupported media type".into(),
            Self::Unprocessable(_) => "Unprocessable content".into(),
            Self::RateLimited { .. } => "Rate limit exceeded".into(),
            Self::TooManyRequests(_) => "Too many requests".into(),
            Self::ServiceUnavailable(msg) => msg.clone(),
            Self::BadGateway(_) => "Bad gateway".into(),
            Self::BillingRequired(_) => "billing_required".into(),
            Self::NotImplemented(_) => "Not implemented".into(),
            Self::Internal(_) => "Internal server error".into(),
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            Self::BadRequest(m)
            | Self::Conflict(m)
            | Self::UnsupportedMediaType(m)
            | Self::Unprocessable(m)
            | Self::TooManyRequests(m)
            | Self::BadGateway(m) => Some(m.clone()),
            Self::PayloadTooLarge(_) => Some(self.to_string()),
            Self::Unauthorized(_) => {
                Some("Send `Authorization: Bearer <token>` with a valid API key or session token.".into())
            }
            Self::Forbidden(_) => None,
            Self::SessionRequired => Some(
                "This management route needs a dashboard session token from POST /api/auth/login; \
                 runtime API keys (tok_...) cannot use it."
                    .into(),
            ),
            Self::MethodNotAllowed => Some("This route does not accept that HTTP method.".into()),
            Self::NotFound(_) => Some("It does not exist in this account or workspace.".into()),
            Self::RateLimited { retry_after_secs } => Some(format!(
                "Too many requests on this credential; retry after {retry_after_secs} s with exponential backoff."
            )),
            Self::ServiceUnavailable(_) => None,
            Self::BillingRequired(p) => Some(p.message.clone()),
            Self::NotImplemented(m) => Some(m.clone()),
            Self::Internal(_) => Some("Something went wrong on our end; retry with exponential backoff.".into()),
        }
    }

    fn log(&self) {
        match self {
            Self::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            Self::ServiceUnavailable(msg) => tracing::warn!(%msg, "service unavailable"),
            _ => {}
        }
    }

    /// The 402 figures, for the error bodies of both shapes (empty for other errors).
    fn payment(&self) -> PaymentFigures {
        match self {
            Self::BillingRequired(p) => p.figures.clone(),
            _ => PaymentFigures::default(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody {
            error: self.label(),
            message: self.message(),
            payment: self.payment(),
        };
        let mut response = (self.status_code(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

/// OpenAI's error shape, as the OpenAI-compatible routes answer it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// invalid_request_error, authentication_error, permission_error, not_found_error,
    /// rate_limit_error or server_error.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status, as a string.
    pub code: String,
    /// Always null.
    pub param: Option<String>,
    /// 402 only, as in Cairn's own error body.
    #[serde(flatten)]
    pub payment: PaymentFigures,
}

/// OpenAI's error object, for the routes that mimic OpenAI so its SDKs parse our failures.
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

impl From<ApiError> for OpenAiError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let status = err.status_code();
        let kind = match status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::NOT_FOUND => "not_found_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request_error",
        };
        let message = match err.message() {
            Some(m) if !matches!(err, ApiError::NotFound(_)) => m,
            _ => err.label(),
        };
        let body = OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message,
                kind: kind.to_string(),
                code: status.as_u16().to_string(),
                param: None,
                payment: err.payment(),
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
