//! `GET /healthz` and `GET /metrics`: public, counted against the caller's IP.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

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
    pub status: String,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn timed<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> Check {
    let start = Instant::now();
    let result = f.await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => Check {
            status: "ok".into(),
            latency_ms,
            error: None,
        },
        Err(e) => Check {
            status: "error".into(),
            latency_ms,
            error: Some(e.to_string()),
        },
    }
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses(Public, (status = 200, body = Health), (status = 503, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let mut checks = BTreeMap::new();
    checks.insert("sqlite".to_string(), timed(state.accounts.ping()).await);
    checks.insert(
        "lancedb".to_string(),
        timed(state.sources.retriever.vectors.ping()).await,
    );
    let text = state.sources.retriever.text.clone();
    checks.insert(
        "tantivy".to_string(),
        timed(async move { text.ping() }).await,
    );
    let data_dir = state.config.storage.data_dir.clone();
    checks.insert(
        "data_dir".to_string(),
        timed(async move {
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
    responses(Public, (status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
