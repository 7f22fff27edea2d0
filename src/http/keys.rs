//! `/v1/keys`: runtime API keys, managed with a dashboard session.

use axum::extract::State;
use axum::routing::{delete, post};
use axum::{Json, Router};

use crate::accounts::keys::{self, CreateKey, CreatedKey, Deleted, KeyList};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ApiPath, SessionUser};
use crate::http::openapi::{BadParams, JsonBody, SessionOnly};
use crate::state::AppState;

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/keys", post(create).get(list))
        .route("/v1/keys/{id}", delete(revoke))
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", security(("bearer" = [])), request_body = CreateKey,
    responses(SessionOnly, JsonBody, (status = 200, body = CreatedKey, description = "The secret is in `key`, shown once"),
        (status = 404, body = ErrorBody, description = "The workspace to bind the key to does not exist")))]
pub async fn create(
    State(state): State<AppState>,
    session: SessionUser,
    ApiJson(req): ApiJson<CreateKey>,
) -> ApiResult<Json<CreatedKey>> {
    Ok(Json(
        keys::create(
            state.accounts.as_ref(),
            &session.account_id,
            session.role,
            req,
            state.config.rate_limit.max_per_minute,
        )
        .await?,
    ))
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys", security(("bearer" = [])),
    responses(SessionOnly, (status = 200, body = KeyList)))]
pub async fn list(State(state): State<AppState>, session: SessionUser) -> ApiResult<Json<KeyList>> {
    Ok(Json(
        keys::list(state.accounts.as_ref(), &session.account_id).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(SessionOnly, BadParams, (status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    session: SessionUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    Ok(Json(
        keys::revoke(state.accounts.as_ref(), &session.account_id, &id).await?,
    ))
}
