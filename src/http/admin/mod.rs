//! `/admin/v1/*` (seed 000 "Admin"): the operator's API. Every route needs the `admin` scope
//! (an admin's session, or a key an admin gave that scope); `http/scopes.rs` checks it before
//! the handler runs. The gateway area does the work (`gateway::admin`); mutations record who
//! did them in the admin audit.

pub mod catalog;
pub mod events;
pub mod keys;

use axum::extract::State;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiResult, ErrorBody};
use crate::gateway::admin::observe::{
    AdminInfo, AuditView, EngineModels, HealthReport, LogView, Stats,
};
use crate::gateway::admin::routing::{RoutingConfig, Simulate, Simulation};
use crate::gateway::admin::tsdb::{MetricsList, PruneResult, Retention, Series, TsdbQuery};
use crate::gateway::admin::{Done, Listed, Paging};
use crate::gateway::vault::{LockResult, Rotate, Unlock};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::http::openapi::{Authed, BadParams, JsonBody};
use crate::sources::workflows::{Workflow, WorkflowHistory, WorkflowList};
use crate::state::AppState;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/v1/info", get(info))
        .route("/admin/v1/vault/unlock", post(unlock))
        .route("/admin/v1/vault/lock", post(lock))
        .route("/admin/v1/vault/rotate", post(rotate))
        .route(
            "/admin/v1/providers",
            post(catalog::save_provider).get(catalog::list_providers),
        )
        .route(
            "/admin/v1/providers/{id}",
            patch(catalog::patch_provider).delete(catalog::delete_provider),
        )
        .route("/admin/v1/providers/{id}/discover", get(catalog::discover))
        .route(
            "/admin/v1/models",
            post(catalog::save_model).get(catalog::list_models),
        )
        // Model ids may contain slashes: the rest of the path is the id.
        .route(
            "/admin/v1/models/{*id}",
            patch(catalog::patch_model).delete(catalog::delete_model),
        )
        .route("/admin/v1/engine/models", get(engine_models))
        .route(
            "/admin/v1/routing-config",
            get(routing_config).put(put_routing_config),
        )
        .route("/admin/v1/routing/simulate", post(simulate))
        .route("/admin/v1/health", get(health))
        .route("/admin/v1/stats", get(stats))
        .route("/admin/v1/logs", get(logs))
        .route("/admin/v1/audit", get(audit))
        .route("/admin/v1/events", get(events::events))
        .route("/admin/v1/rewards", get(rewards))
        .route("/admin/v1/tsdb/query", get(tsdb_query))
        .route("/admin/v1/tsdb/metrics", get(tsdb_metrics))
        .route("/admin/v1/tsdb/prune", post(tsdb_prune))
        .route(
            "/admin/v1/tsdb/retention",
            axum::routing::put(tsdb_retention),
        )
        .route("/admin/v1/workflows", get(workflows))
        .route("/admin/v1/workflows/{id}", get(workflow))
        .route("/admin/v1/workflows/{id}/history", get(workflow_history))
        .route("/admin/v1/apikeys", post(keys::create).get(keys::list))
        .route(
            "/admin/v1/apikeys/{id}",
            patch(keys::patch).delete(keys::revoke),
        )
        .route("/admin/v1/apikeys/{id}/rotate", post(keys::rotate))
}

#[utoipa::path(get, path = "/admin/v1/info", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = AdminInfo)))]
pub async fn info(State(state): State<AppState>) -> ApiResult<Json<AdminInfo>> {
    Ok(Json(state.gateway.admin_info().await?))
}

#[utoipa::path(post, path = "/admin/v1/vault/unlock", tag = "admin", security(("bearer" = [])),
    request_body = Unlock,
    responses(Authed, JsonBody, (status = 200, body = Done, description = "Unlocked (the first unlock sets the password); providers whose keys it holds route again"),
        (status = 403, body = ErrorBody, description = "The password does not open the vault"),
        (status = 409, body = ErrorBody, description = "vault.mode is keyfile: there is no password")))]
pub async fn unlock(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<Unlock>,
) -> ApiResult<Json<Done>> {
    Ok(Json(state.gateway.unlock_vault(&p.actor(), req).await?))
}

#[utoipa::path(post, path = "/admin/v1/vault/lock", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = LockResult, description = "Locked: the keys it holds leave memory and their providers stop routing"),
        (status = 409, body = ErrorBody, description = "vault.mode is keyfile: there is no password")))]
pub async fn lock(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<LockResult>> {
    Ok(Json(state.gateway.lock_vault(&p.actor()).await?))
}

#[utoipa::path(post, path = "/admin/v1/vault/rotate", tag = "admin", security(("bearer" = [])),
    request_body = Rotate,
    responses(Authed, JsonBody, (status = 200, body = Done, description = "Every secret re-sealed under the new password, in one transaction"),
        (status = 403, body = ErrorBody, description = "The old password does not open the vault; nothing changed"),
        (status = 409, body = ErrorBody, description = "vault.mode is keyfile, or the vault has no password yet")))]
pub async fn rotate(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<Rotate>,
) -> ApiResult<Json<Done>> {
    Ok(Json(state.gateway.rotate_vault(&p.actor(), req).await?))
}

#[utoipa::path(get, path = "/admin/v1/engine/models", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = EngineModels, description = "What routing holds now")))]
pub async fn engine_models(State(state): State<AppState>) -> Json<EngineModels> {
    Json(state.gateway.engine_models())
}

#[utoipa::path(get, path = "/admin/v1/routing-config", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = RoutingConfig)))]
pub async fn routing_config(State(state): State<AppState>) -> Json<RoutingConfig> {
    Json(state.gateway.routing_config())
}

#[utoipa::path(put, path = "/admin/v1/routing-config", tag = "admin", security(("bearer" = [])),
    request_body = RoutingConfig,
    responses(Authed, JsonBody, (status = 200, body = RoutingConfig, description = "In force for the next request")))]
pub async fn put_routing_config(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(config): ApiJson<RoutingConfig>,
) -> ApiResult<Json<RoutingConfig>> {
    Ok(Json(
        state.gateway.put_routing_config(&p.actor(), config).await?,
    ))
}

#[utoipa::path(post, path = "/admin/v1/routing/simulate", tag = "admin", security(("bearer" = [])),
    request_body = Simulate,
    responses(Authed, JsonBody, (status = 200, body = Simulation, description = "The decision, the eligible models with their scores, and why the others are out")))]
pub async fn simulate(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<Simulate>,
) -> ApiResult<Json<Simulation>> {
    Ok(Json(state.gateway.simulate(p.account_id(), req)?))
}

#[utoipa::path(get, path = "/admin/v1/health", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = HealthReport)))]
pub async fn health(State(state): State<AppState>) -> ApiResult<Json<HealthReport>> {
    Ok(Json(state.gateway.health_report().await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Only requests at or after this time (RFC 3339).
    pub since: Option<String>,
}

#[utoipa::path(get, path = "/admin/v1/stats", tag = "admin", security(("bearer" = [])),
    params(StatsParams), responses(Authed, BadParams, (status = 200, body = Stats)))]
pub async fn stats(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StatsParams>,
) -> ApiResult<Json<Stats>> {
    let since = crate::validate::optional_timestamp("since", q.since.as_deref())?;
    Ok(Json(state.gateway.installation_stats(since).await?))
}

#[utoipa::path(get, path = "/admin/v1/logs", tag = "admin", security(("bearer" = [])),
    params(Paging), responses(Authed, BadParams, (status = 200, body = Listed<LogView>, description = "Every account's requests, newest first")))]
pub async fn logs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> ApiResult<Json<Listed<LogView>>> {
    Ok(Json(state.gateway.request_logs(&q).await?))
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", security(("bearer" = [])),
    params(Paging), responses(Authed, BadParams, (status = 200, body = Listed<AuditView>, description = "Admin mutations, newest first")))]
pub async fn audit(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> ApiResult<Json<Listed<AuditView>>> {
    Ok(Json(state.gateway.admin_audit(&q).await?))
}

#[utoipa::path(get, path = "/admin/v1/rewards", tag = "admin", security(("bearer" = [])),
    params(Paging), responses(Authed, BadParams, (status = 200, body = Listed<crate::store::gateway::RewardRow>, description = "thompson rewards, newest first, each with the probability its model had")))]
pub async fn rewards(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> ApiResult<Json<Listed<crate::store::gateway::RewardRow>>> {
    Ok(Json(state.gateway.admin_rewards(&q).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkflowParams {
    /// 1-1000, default 50.
    pub limit: Option<i64>,
    /// Rows to skip, default 0.
    pub offset: Option<i64>,
    /// RUNNING, COMPLETED or FAILED.
    pub status: Option<String>,
}

#[utoipa::path(get, path = "/admin/v1/workflows", tag = "admin", security(("bearer" = [])),
    params(WorkflowParams), responses(Authed, BadParams, (status = 200, body = WorkflowList, description = "Every workspace's ingest jobs in the seed's workflow shape, newest first")))]
pub async fn workflows(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WorkflowParams>,
) -> ApiResult<Json<WorkflowList>> {
    let limit = crate::validate::limit(q.limit, 50, 1000)?;
    let offset = crate::validate::range("offset", q.offset.unwrap_or(0), 0, i64::MAX)?;
    Ok(Json(
        state
            .sources
            .workflows(q.status.as_deref(), limit, offset)
            .await?,
    ))
}

#[utoipa::path(get, path = "/admin/v1/workflows/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The workflow's id (the source's)")),
    responses(Authed, BadParams, (status = 200, body = Workflow), (status = 404, body = ErrorBody, description = "No such workflow")))]
pub async fn workflow(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Workflow>> {
    Ok(Json(state.sources.workflow(&id).await?))
}

#[utoipa::path(get, path = "/admin/v1/workflows/{id}/history", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The workflow's id (the source's)")),
    responses(Authed, BadParams, (status = 200, body = WorkflowHistory), (status = 404, body = ErrorBody, description = "No such workflow")))]
pub async fn workflow_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WorkflowHistory>> {
    Ok(Json(state.sources.workflow_history(&id).await?))
}

#[utoipa::path(get, path = "/admin/v1/tsdb/query", tag = "admin", security(("bearer" = [])),
    params(TsdbQuery), responses(Authed, BadParams, (status = 200, body = Series, description = "The metric's buckets with data, in time order")))]
pub async fn tsdb_query(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<TsdbQuery>,
) -> ApiResult<Json<Series>> {
    Ok(Json(state.gateway.tsdb_query(q).await?))
}

#[utoipa::path(get, path = "/admin/v1/tsdb/metrics", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = MetricsList)))]
pub async fn tsdb_metrics(State(state): State<AppState>) -> ApiResult<Json<MetricsList>> {
    Ok(Json(state.gateway.tsdb_metrics().await?))
}

#[utoipa::path(post, path = "/admin/v1/tsdb/prune", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = PruneResult, description = "Rolled up and deleted now (an hourly task does the same)")))]
pub async fn tsdb_prune(State(state): State<AppState>) -> ApiResult<Json<PruneResult>> {
    Ok(Json(state.gateway.tsdb_prune().await?))
}

#[utoipa::path(put, path = "/admin/v1/tsdb/retention", tag = "admin", security(("bearer" = [])),
    request_body = Retention, responses(Authed, JsonBody, (status = 200, body = Retention)))]
pub async fn tsdb_retention(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(r): ApiJson<Retention>,
) -> ApiResult<Json<Retention>> {
    Ok(Json(state.gateway.put_retention(&p.actor(), r).await?))
}
