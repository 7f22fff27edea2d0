//! Seed 001's stats surface: `GET /stats`, `/stats/last`, `/stats/session`, `/cache-stats`,
//! `/recent`, and telemetry ingest `POST /ingest`, `/ingest/batch`. Any credential reads its
//! own account's figures; ingest needs the `chat` scope (it writes usage rows).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::accounts::workspaces;
use crate::accounts::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::gateway::proxy_stats::{
    CacheStats, IngestedRecords, ProxyStats, SessionStats, TelemetryRecord,
};
use crate::gateway::Caller;
use crate::http::extract::{ApiJson, Auth};
use crate::http::openapi::{Authed, JsonBody};
use crate::state::AppState;
use crate::store::gateway::UsageRow;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/stats", get(stats))
        .route("/stats/last", get(last))
        .route("/stats/session", get(session))
        .route("/cache-stats", get(cache_stats))
        .route("/recent", get(recent))
        .route("/ingest", post(ingest))
        .route("/ingest/batch", post(ingest_batch))
}

/// The caller in its workspace (the key's binding, or `default`).
async fn caller(state: &AppState, p: &Principal) -> ApiResult<Caller> {
    let ws = workspaces::resolve(state.accounts.as_ref(), p, None).await?;
    Ok(Caller::of(p, &ws))
}

#[utoipa::path(get, path = "/stats", tag = "gateway", security(("bearer" = [])),
    responses(Authed, (status = 200, body = ProxyStats, description = "This session, today, per model and the last requests of the caller's account")))]
pub async fn stats(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<ProxyStats>> {
    let c = caller(&state, &p).await?;
    Ok(Json(state.gateway.proxy_stats(&c).await?))
}

#[utoipa::path(get, path = "/stats/last", tag = "gateway", security(("bearer" = [])),
    responses(Authed, (status = 200, body = UsageRow, description = "The account's most recent request"),
        (status = 404, body = ErrorBody, description = "No request yet")))]
pub async fn last(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<UsageRow>> {
    let c = caller(&state, &p).await?;
    Ok(Json(state.gateway.last_request(&c).await?))
}

#[utoipa::path(get, path = "/stats/session", tag = "gateway", security(("bearer" = [])),
    responses(Authed, (status = 200, body = SessionStats, description = "Tokens in and out, cost and savings since the server started")))]
pub async fn session(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<SessionStats>> {
    let c = caller(&state, &p).await?;
    Ok(Json(state.gateway.session_stats(&c).await?))
}

#[utoipa::path(get, path = "/cache-stats", tag = "gateway", security(("bearer" = [])),
    responses(Authed, (status = 200, body = CacheStats)))]
pub async fn cache_stats(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<CacheStats>> {
    let c = caller(&state, &p).await?;
    Ok(Json(state.gateway.cache_stats(&c).await?))
}

#[utoipa::path(get, path = "/recent", tag = "gateway", security(("bearer" = [])),
    responses(Authed, (status = 200, body = Vec<UsageRow>, description = "The account's last 50 requests, newest first")))]
pub async fn recent(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Json<Vec<UsageRow>>> {
    let c = caller(&state, &p).await?;
    Ok(Json(state.gateway.recent_requests(&c).await?))
}

#[utoipa::path(post, path = "/ingest", tag = "gateway", security(("bearer" = [])),
    request_body = TelemetryRecord,
    responses(Authed, JsonBody, (status = 200, body = IngestedRecords, description = "Stored as a usage row (request_type telemetry), never charged")))]
pub async fn ingest(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(record): ApiJson<TelemetryRecord>,
) -> ApiResult<Json<IngestedRecords>> {
    let c = caller(&state, &p).await?;
    Ok(Json(
        state
            .gateway
            .ingest_telemetry(&c, vec![record], false)
            .await?,
    ))
}

#[utoipa::path(post, path = "/ingest/batch", tag = "gateway", security(("bearer" = [])),
    request_body = Vec<TelemetryRecord>,
    responses(Authed, JsonBody, (status = 200, body = IngestedRecords, description = "1-1000 records, all checked before any is stored")))]
pub async fn ingest_batch(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(records): ApiJson<Vec<TelemetryRecord>>,
) -> ApiResult<Json<IngestedRecords>> {
    let c = caller(&state, &p).await?;
    Ok(Json(
        state.gateway.ingest_telemetry(&c, records, true).await?,
    ))
}
