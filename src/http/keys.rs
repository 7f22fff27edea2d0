//! `/v1/keys`: runtime API keys, managed with a dashboard session.

use axum::extract::{Path, State};
use axum::Json;

use crate::accounts::keys::{self, CreateKey, CreatedKey, Deleted, KeyList};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, SessionUser};
use crate::state::AppState;

#[utoipa::path(post, path = "/v1/keys", tag = "keys", security(("bearer" = [])), request_body = CreateKey,
    responses((status = 200, body = CreatedKey, description = "The secret is in `key`, shown once"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    session: SessionUser,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<Json<CreatedKey>> {
    Ok(Json(
        keys::create(state.accounts.as_ref(), &session.account_id, req).await?,
    ))
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("bearer" = [])),
    responses((status = 200, body = KeyList), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, session: SessionUser) -> ApiResult<Json<KeyList>> {
    Ok(Json(
        keys::list(state.accounts.as_ref(), &session.account_id).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    session: SessionUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    Ok(Json(
        keys::revoke(state.accounts.as_ref(), &session.account_id, &id).await?,
    ))
}
