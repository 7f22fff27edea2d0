//! `/admin/v1/apikeys`: every account's API keys, for the operator. The key changes and their
//! audit rows are two writes (the keys live in the accounts store); the audit row follows the
//! change it records.

use axum::extract::State;
use axum::Json;

use crate::accounts::admin_keys::{
    self, AdminCreateKey, AdminCreatedKey, AdminKeyView, AdminPatchKey, KeyPatched, RotatedKey,
};
use crate::error::{ApiResult, ErrorBody};
use crate::gateway::admin::{audit, Done};
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::http::openapi::{Authed, BadParams, JsonBody};
use crate::state::AppState;

#[utoipa::path(post, path = "/admin/v1/apikeys", tag = "admin", security(("bearer" = [])),
    request_body = AdminCreateKey,
    responses(Authed, JsonBody, (status = 200, body = AdminCreatedKey, description = "The secret is in `key`, shown once"),
        (status = 404, body = ErrorBody, description = "The workspace to bind the key to does not exist")))]
pub async fn create(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<AdminCreateKey>,
) -> ApiResult<Json<AdminCreatedKey>> {
    let max = state.config.rate_limit.max_per_minute;
    let created = admin_keys::create(state.accounts.as_ref(), p.account_id(), req, max).await?;
    let after = admin_keys::get(state.accounts.as_ref(), &created.id).await?;
    let row = audit(&p.actor(), "apikey.create", &created.id, None, Some(&after));
    state.gateway.record_audit(row).await?;
    Ok(Json(created))
}

#[utoipa::path(get, path = "/admin/v1/apikeys", tag = "admin", security(("bearer" = [])),
    responses(Authed, (status = 200, body = Vec<AdminKeyView>, description = "Every account's live keys, without secrets")))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<AdminKeyView>>> {
    Ok(Json(admin_keys::list(state.accounts.as_ref()).await?))
}

#[utoipa::path(post, path = "/admin/v1/apikeys/{id}/rotate", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(Authed, BadParams, (status = 200, body = RotatedKey, description = "The new secret, shown once; the old one stops working"),
        (status = 404, body = ErrorBody, description = "No such key")))]
pub async fn rotate(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RotatedKey>> {
    let before = admin_keys::get(state.accounts.as_ref(), &id).await?;
    let rotated = admin_keys::rotate(state.accounts.as_ref(), &id).await?;
    let after = admin_keys::get(state.accounts.as_ref(), &id).await?;
    let row = audit(
        &p.actor(),
        "apikey.rotate",
        &id,
        Some(&before),
        Some(&after),
    );
    state.gateway.record_audit(row).await?;
    Ok(Json(rotated))
}

#[utoipa::path(patch, path = "/admin/v1/apikeys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")), request_body = AdminPatchKey,
    responses(Authed, JsonBody, (status = 200, body = KeyPatched),
        (status = 404, body = ErrorBody, description = "No such key")))]
pub async fn patch(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<AdminPatchKey>,
) -> ApiResult<Json<KeyPatched>> {
    let before = admin_keys::get(state.accounts.as_ref(), &id).await?;
    let patched = admin_keys::patch(state.accounts.as_ref(), &id, req).await?;
    let row = audit(
        &p.actor(),
        "apikey.update",
        &id,
        Some(&before),
        Some(&patched.api_key),
    );
    state.gateway.record_audit(row).await?;
    Ok(Json(patched))
}

#[utoipa::path(delete, path = "/admin/v1/apikeys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(Authed, BadParams, (status = 200, body = Done, description = "Revoked"),
        (status = 404, body = ErrorBody, description = "No such key")))]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Done>> {
    let before = admin_keys::get(state.accounts.as_ref(), &id).await?;
    admin_keys::revoke(state.accounts.as_ref(), &id).await?;
    let row = audit(&p.actor(), "apikey.delete", &id, Some(&before), None);
    state.gateway.record_audit(row).await?;
    Ok(Json(Done { ok: true }))
}
