//! `/v1/local-endpoints`: an account's self-hosted OpenAI-compatible servers. A dashboard
//! session surface (the seed: not for `tok_...` keys). URLs go through the outbound policy
//! (`crate::outbound`): 400 for an address Cairn never calls, 403 for an internal network
//! only an admin may use.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use axum::routing;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::keys::Deleted;
use crate::error::{ApiResult, ErrorBody};
use crate::gateway::catalog;
use crate::gateway::local::{EndpointView, PatchEndpoint, RegisterEndpoint};
use crate::http::extract::{named_workspace, written, ApiJson, ApiPath, ApiQuery, SessionUser};
use crate::http::openapi::{BadParams, JsonBody, NoEndpoint, SessionOnly};
use crate::state::AppState;
use crate::store::gateway::LocalEndpoint;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/local-endpoints", routing::post(register).get(list))
        .route(
            "/v1/local-endpoints/{id}",
            routing::get(get).patch(update).delete(delete),
        )
        .route("/v1/local-endpoints/{id}/recheck", routing::post(recheck))
        .route("/v1/local-endpoints/{id}/models", routing::get(models))
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    pub object: String,
    pub data: Vec<EndpointView>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointModels {
    pub object: String,
    pub endpoint_id: String,
    pub status: String,
    pub data: Vec<EndpointModel>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointModel {
    pub id: String,
    /// The names a chat request routes to it by.
    pub aliases: Vec<String>,
    pub default: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only endpoints bound to this workspace.
    pub workspace_id: Option<String>,
}

/// Views with workspace slugs instead of row ids.
async fn views(
    state: &AppState,
    account_id: &str,
    list: Vec<LocalEndpoint>,
) -> ApiResult<Vec<EndpointView>> {
    let slugs: HashMap<String, String> = if list.iter().any(|e| e.workspace_id.is_some()) {
        state
            .accounts
            .list_workspaces(account_id)
            .await?
            .into_iter()
            .map(|w| (w.id, w.workspace_id))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(list
        .into_iter()
        .map(|e| {
            let slug = e
                .workspace_id
                .as_ref()
                .and_then(|id| slugs.get(id).cloned());
            EndpointView::new(e, slug)
        })
        .collect())
}

async fn view(state: &AppState, account_id: &str, e: LocalEndpoint) -> ApiResult<EndpointView> {
    Ok(views(state, account_id, vec![e]).await?.remove(0))
}

#[utoipa::path(post, path = "/v1/local-endpoints", tag = "gateway", security(("bearer" = [])),
    request_body = RegisterEndpoint,
    responses((status = 201, body = EndpointView, description = "Saved; `status` says whether the health check and model discovery succeeded"),
        (status = 404, body = ErrorBody, description = "Unknown workspace"),
        SessionOnly, JsonBody))]
pub async fn register(
    State(state): State<AppState>,
    session: SessionUser,
    ApiJson(mut req): ApiJson<RegisterEndpoint>,
) -> ApiResult<Response> {
    let slug = req.workspace_id.take();
    let ws = named_workspace(&state, &session, slug.as_deref())
        .await?
        .map(|w| w.id);
    let e = state
        .gateway
        .register_endpoint(&session.account_id, ws, session.principal().is_admin(), req)
        .await?;
    Ok(written(view(&state, &session.account_id, e).await?, true))
}

#[utoipa::path(get, path = "/v1/local-endpoints", tag = "gateway", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = EndpointList),
        (status = 404, body = ErrorBody, description = "Unknown workspace"),
        SessionOnly, BadParams))]
pub async fn list(
    State(state): State<AppState>,
    session: SessionUser,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<EndpointList>> {
    let ws = named_workspace(&state, &session, q.workspace_id.as_deref())
        .await?
        .map(|w| w.id);
    let list = state
        .gateway
        .endpoints(&session.account_id, ws.as_deref())
        .await?;
    Ok(Json(EndpointList {
        object: "list".into(),
        data: views(&state, &session.account_id, list).await?,
    }))
}

#[utoipa::path(get, path = "/v1/local-endpoints/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointView),
        SessionOnly, NoEndpoint))]
pub async fn get(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndpointView>> {
    let e = state.gateway.endpoint(&session.account_id, &id).await?;
    Ok(Json(view(&state, &session.account_id, e).await?))
}

#[utoipa::path(patch, path = "/v1/local-endpoints/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PatchEndpoint,
    responses((status = 200, body = EndpointView, description = "A new url or headers are checked again"),
        SessionOnly, NoEndpoint, JsonBody))]
pub async fn update(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PatchEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    let e = state
        .gateway
        .patch_endpoint(
            &session.account_id,
            &id,
            session.principal().is_admin(),
            req,
        )
        .await?;
    Ok(Json(view(&state, &session.account_id, e).await?))
}

#[utoipa::path(delete, path = "/v1/local-endpoints/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Deleted),
        SessionOnly, NoEndpoint))]
pub async fn delete(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    state
        .gateway
        .delete_endpoint(&session.account_id, &id)
        .await?;
    Ok(Json(Deleted { deleted: true, id }))
}

#[utoipa::path(post, path = "/v1/local-endpoints/{id}/recheck", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointView),
        (status = 400, body = ErrorBody, description = "The outbound policy now refuses the endpoint's URL"),
        SessionOnly, NoEndpoint))]
pub async fn recheck(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndpointView>> {
    let e = state
        .gateway
        .recheck_endpoint(&session.account_id, &id, session.principal().is_admin())
        .await?;
    Ok(Json(view(&state, &session.account_id, e).await?))
}

#[utoipa::path(get, path = "/v1/local-endpoints/{id}/models", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointModels),
        SessionOnly, NoEndpoint))]
pub async fn models(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndpointModels>> {
    let e = state.gateway.endpoint(&session.account_id, &id).await?;
    let default = catalog::default_model(&e);
    let data = e
        .models
        .iter()
        .map(|m| EndpointModel {
            id: m.clone(),
            aliases: catalog::local_aliases(&e, m),
            default: default.as_ref() == Some(m),
        })
        .collect();
    Ok(Json(EndpointModels {
        object: "list".into(),
        endpoint_id: e.id,
        status: e.status,
        data,
    }))
}
