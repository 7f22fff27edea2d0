//! `/v1/provider-keys` (seed 004 "Provider keys / BYOK"): an account's own provider keys,
//! managed with a dashboard session (runtime keys get 403). The secret is sealed at once and
//! never answered again; listings show its prefix. What using a key means for routing and
//! billing is `gateway::byok`'s.

use axum::extract::State;
use axum::response::Response;
use axum::routing;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, ErrorBody};
use crate::gateway::byok::{ProviderKeyCreated, ProviderKeyInput, ProviderKeyList};
use crate::http::extract::{named_workspace, written, ApiJson, ApiPath, ApiQuery, SessionUser};
use crate::http::openapi::{BadParams, JsonBody, SessionOnly};
use crate::state::AppState;

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/provider-keys", routing::post(create).get(list))
        .route("/v1/provider-keys/{id}", routing::delete(delete))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only keys bound to this workspace.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderKeyDeleted {
    pub deleted: bool,
    pub id: String,
}

#[utoipa::path(post, path = "/v1/provider-keys", tag = "gateway", security(("bearer" = [])),
    request_body = ProviderKeyInput,
    responses((status = 201, body = ProviderKeyCreated, description = "Stored sealed; requests of the account (or the workspace) to that provider use it from now on"),
        (status = 404, body = ErrorBody, description = "Unknown workspace"),
        (status = 503, body = ErrorBody, description = "The password vault is locked"),
        SessionOnly, JsonBody))]
pub async fn create(
    State(state): State<AppState>,
    session: SessionUser,
    ApiJson(mut req): ApiJson<ProviderKeyInput>,
) -> ApiResult<Response> {
    let slug = req.workspace_id.take();
    let ws = named_workspace(&state, &session, slug.as_deref()).await?;
    let created = state
        .gateway
        .add_provider_key(&session.account_id, ws.as_ref(), req)
        .await?;
    Ok(written(created, true))
}

#[utoipa::path(get, path = "/v1/provider-keys", tag = "gateway", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = ProviderKeyList, description = "Newest first; no secrets"),
        (status = 404, body = ErrorBody, description = "Unknown workspace"),
        SessionOnly, BadParams))]
pub async fn list(
    State(state): State<AppState>,
    session: SessionUser,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<ProviderKeyList>> {
    let ws = named_workspace(&state, &session, q.workspace_id.as_deref())
        .await?
        .map(|w| w.id);
    Ok(Json(
        state
            .gateway
            .provider_keys(&session.account_id, ws.as_deref())
            .await?,
    ))
}

#[utoipa::path(delete, path = "/v1/provider-keys/{id}", tag = "gateway", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = ProviderKeyDeleted, description = "Deleted; no request uses it any more"),
        (status = 404, body = ErrorBody),
        SessionOnly, BadParams))]
pub async fn delete(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProviderKeyDeleted>> {
    state
        .gateway
        .delete_provider_key(&session.account_id, &id)
        .await?;
    Ok(Json(ProviderKeyDeleted { deleted: true, id }))
}
