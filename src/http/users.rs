//! `/v1/setup` (public: the first admin, with the setup token) and `/v1/users` (admin only:
//! every user of the installation and their roles).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};

use crate::accounts::roles::Scope;
use crate::accounts::setup::SetupRequest;
use crate::accounts::users::{self, AuthResponse, RolePatch, UserList, UserView};
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::{settings, signed_in};
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::http::openapi::{Authed, BadParams, JsonBody, Public};
use crate::state::AppState;

pub fn public_routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/v1/setup", post(setup).get(setup_status))
}

/// `GET /v1/setup`: whether the installation waits for its first admin (the dashboard opens
/// on first-time setup then).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SetupStatus {
    pub pending: bool,
}

#[utoipa::path(get, path = "/v1/setup", tag = "users",
    responses(Public, (status = 200, body = SetupStatus)))]
pub async fn setup_status(State(state): State<AppState>) -> Json<SetupStatus> {
    Json(SetupStatus {
        pending: state.setup.pending(),
    })
}

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list))
        .route("/v1/users/{id}", patch(update))
}

#[utoipa::path(post, path = "/v1/setup", tag = "users", request_body = SetupRequest,
    responses(Public, JsonBody, (status = 200, body = AuthResponse, description = "The first admin, signed in; sets the refresh cookie"),
        (status = 403, body = ErrorBody, description = "Not the setup token this server printed"),
        (status = 409, body = ErrorBody, description = "Setup is done: the installation has an admin")))]
pub async fn setup(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SetupRequest>,
) -> ApiResult<Response> {
    let done = users::setup(
        state.accounts.as_ref(),
        &settings(&state),
        &state.setup,
        req,
    )
    .await?;
    Ok(signed_in(&state, done))
}

#[utoipa::path(get, path = "/v1/users", tag = "users", security(("bearer" = [])),
    responses(Authed, (status = 200, body = UserList)))]
pub async fn list(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<UserList>> {
    p.require(Scope::Admin)?;
    Ok(Json(users::list(state.accounts.as_ref()).await?))
}

#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "The user's id")), request_body = RolePatch,
    responses(Authed, BadParams, JsonBody, (status = 200, body = UserView),
        (status = 404, body = ErrorBody, description = "No such user"),
        (status = 409, body = ErrorBody, description = "It would leave the installation without an admin")))]
pub async fn update(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<RolePatch>,
) -> ApiResult<Json<UserView>> {
    p.require(Scope::Admin)?;
    Ok(Json(
        users::set_role(state.accounts.as_ref(), &id, patch).await?,
    ))
}
