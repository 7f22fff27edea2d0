//! `/v1/workspaces`: management with a session; reading one workspace also works with a key
//! scoped to it.

use axum::extract::State;
use axum::routing::{self, post};
use axum::{Json, Router};

use crate::accounts::workspaces::{
    self, CreateWorkspace, UpdateWorkspace, WorkspaceList, WorkspaceView,
};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, Auth, SessionUser};
use crate::http::openapi::{Authed, BadParams, JsonBody, SessionOnly};
use crate::state::AppState;

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/workspaces", post(create).get(list))
        .route(
            "/v1/workspaces/{workspace_id}",
            routing::get(get).patch(update),
        )
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    request_body = CreateWorkspace,
    responses(SessionOnly, JsonBody, (status = 200, body = WorkspaceView), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    session: SessionUser,
    ApiJson(req): ApiJson<CreateWorkspace>,
) -> ApiResult<Json<WorkspaceView>> {
    Ok(Json(
        workspaces::create(state.accounts.as_ref(), &session.account_id, req).await?,
    ))
}

#[utoipa::path(get, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    responses(SessionOnly, (status = 200, body = WorkspaceList)))]
pub async fn list(
    State(state): State<AppState>,
    session: SessionUser,
) -> ApiResult<Json<WorkspaceList>> {
    Ok(Json(
        workspaces::list(state.accounts.as_ref(), &session.account_id).await?,
    ))
}

#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)),
    responses(Authed, BadParams, (status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ApiPath(workspace_id): ApiPath<String>,
) -> ApiResult<Json<WorkspaceView>> {
    Ok(Json(
        workspaces::get(state.accounts.as_ref(), &principal, &workspace_id).await?,
    ))
}

#[utoipa::path(patch, path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = UpdateWorkspace,
    responses(SessionOnly, BadParams, JsonBody, (status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(workspace_id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateWorkspace>,
) -> ApiResult<Json<WorkspaceView>> {
    Ok(Json(
        workspaces::update(
            state.accounts.as_ref(),
            &session.account_id,
            &workspace_id,
            req,
        )
        .await?,
    ))
}
