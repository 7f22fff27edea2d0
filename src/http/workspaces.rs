//! `/v1/workspaces`: management with a session; reading one workspace also works with a key
//! scoped to it.

use axum::extract::{Path, State};
use axum::Json;

use crate::accounts::workspaces::{
    self, CreateWorkspace, UpdateWorkspace, WorkspaceList, WorkspaceView,
};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, Auth, SessionUser};
use crate::state::AppState;

#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    request_body = CreateWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
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
    responses((status = 200, body = WorkspaceList), (status = 403, body = ErrorBody)))]
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
    responses((status = 200, body = WorkspaceView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(workspace_id): Path<String>,
) -> ApiResult<Json<WorkspaceView>> {
    Ok(Json(
        workspaces::get(state.accounts.as_ref(), &principal, &workspace_id).await?,
    ))
}

#[utoipa::path(patch, path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = UpdateWorkspace,
    responses((status = 200, body = WorkspaceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    session: SessionUser,
    Path(workspace_id): Path<String>,
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
