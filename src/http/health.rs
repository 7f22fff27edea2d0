//! `GET /healthz` and `GET /metrics`: public, counted against the caller's IP.
//!
//! What a stranger may see: `/healthz` reports a status per component and never a file path or
//! a raw error (those go to the log); `/metrics` holds request counts and latencies by method,
//! route template and status, and answers only the bearer of `server.metrics_token` when the
//! operator sets one (compared in constant time).

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::http::openapi::Public;
use crate::state::AppState;

pub fn public_routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when a store cannot be used (then the status code is 503).
    pub status: String,
    pub version: String,
    pub uptime_secs: u64,
    pub checks: BTreeMap<String, Check>,
}

#[derive(Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `error`; the cause of an error is in the server's log, not here.
    pub status: String,
    pub latency_ms: f64,
}

/// Runs one component's check; a failure is logged with its cause (which may name files) and
/// reported as a bare `error`.
async fn timed<F: std::future::Future<Output = anyhow::Result<()>>>(
    component: &str,
    f: F,
) -> Check {
    let start = Instant::now();
    let result = f.await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    let status = match result {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(component, error = %format!("{e:#}"), "health check failed");
            "error"
        }
    };
    Check {
        status: status.into(),
        latency_ms,
    }
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses(Public, (status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = BTreeMap::new();
    checks.insert(
        "sqlite".to_string(),
        timed("sqlite", state.accounts.ping()).await,
    );
    checks.insert(
        "lancedb".to_string(),
        timed("lancedb", state.sources.retriever.vectors.ping()).await,
    );
    let text = state.sources.retriever.text.clone();
    checks.insert(
        "tantivy".to_string(),
        timed("tantivy", async move { text.ping() }).await,
    );
    let data_dir = state.config.storage.data_dir.clone();
    checks.insert(
        "data_dir".to_string(),
        timed("data_dir", async move {
            let meta = tokio::fs::metadata(&data_dir).await?;
            anyhow::ensure!(meta.is_dir(), "{} is not a directory", data_dir.display());
            anyhow::ensure!(
                !meta.permissions().readonly(),
                "{} is read-only",
                data_dir.display()
            );
            Ok(())
        })
        .await,
    );
    let healthy = checks.values().all(|c| c.status == "ok");
    let body = Health {
        status: if healthy { "ok" } else { "unavailable" }.into(),
        version: crate::VERSION.into(),
        uptime_secs: state.started_at.elapsed().as_secs(),
        checks,
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(Public, (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, body = ErrorBody, description = "`server.metrics_token` is set and the request does not bear it")))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !metrics_allowed(&state.config.server.metrics_token, &headers) {
        return ApiError::Unauthorized("/metrics needs the metrics token".into()).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Open when no token is configured; else the request must bear it. Both sides are hashed
/// first so the comparison takes the same time whatever the presented token's length.
fn metrics_allowed(token: &SecretString, headers: &HeaderMap) -> bool {
    let expected = token.expose_secret();
    if expected.is_empty() {
        return true;
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    let expected = Sha256::digest(expected.as_bytes());
    let presented = Sha256::digest(presented.as_bytes());
    expected.as_slice().ct_eq(presented.as_slice()).into()
}
