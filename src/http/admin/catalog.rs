//! `/admin/v1/providers` and `/admin/v1/models`: the catalog, edited live.

use axum::extract::State;
use axum::Json;

use crate::error::{ApiResult, ErrorBody};
use crate::gateway::admin::models::{ModelSaved, ModelView, PatchModel, SaveModel};
use crate::gateway::admin::providers::{
    Discovered, PatchProvider, ProviderDeleted, ProviderSaved, ProviderView, SaveProvider,
};
use crate::gateway::admin::{Done, Listed, Paging};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery, Auth};
use crate::http::openapi::{Authed, BadParams, JsonBody};
use crate::state::AppState;

#[utoipa::path(post, path = "/admin/v1/providers", tag = "admin", security(("bearer" = [])),
    request_body = SaveProvider,
    responses(Authed, JsonBody, (status = 200, body = ProviderSaved, description = "Created or updated; routing uses it at once"),
        (status = 503, body = ErrorBody, description = "The password vault is locked: a key cannot be sealed")))]
pub async fn save_provider(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<SaveProvider>,
) -> ApiResult<Json<ProviderSaved>> {
    Ok(Json(state.gateway.save_provider(&p.actor(), req).await?))
}

#[utoipa::path(get, path = "/admin/v1/providers", tag = "admin", security(("bearer" = [])),
    params(Paging), responses(Authed, BadParams, (status = 200, body = Listed<ProviderView>)))]
pub async fn list_providers(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> ApiResult<Json<Listed<ProviderView>>> {
    Ok(Json(state.gateway.admin_providers(&q).await?))
}

#[utoipa::path(patch, path = "/admin/v1/providers/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The provider's id")), request_body = PatchProvider,
    responses(Authed, JsonBody, (status = 200, body = ProviderSaved),
        (status = 404, body = ErrorBody, description = "No such provider"),
        (status = 503, body = ErrorBody, description = "The password vault is locked: a key cannot be sealed")))]
pub async fn patch_provider(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PatchProvider>,
) -> ApiResult<Json<ProviderSaved>> {
    Ok(Json(
        state.gateway.patch_provider(&p.actor(), &id, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/providers/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The provider's id")),
    responses(Authed, BadParams, (status = 200, body = ProviderDeleted, description = "Deleted with its models"),
        (status = 404, body = ErrorBody, description = "No such provider"),
        (status = 409, body = ErrorBody, description = "The config file defines it: remove it there, or disable it")))]
pub async fn delete_provider(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProviderDeleted>> {
    Ok(Json(state.gateway.delete_provider(&p.actor(), &id).await?))
}

#[utoipa::path(get, path = "/admin/v1/providers/{id}/discover", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The provider's id")),
    responses(Authed, BadParams, (status = 200, body = Discovered, description = "The provider's /v1/models, each marked registered or not"),
        (status = 404, body = ErrorBody, description = "No such provider"),
        (status = 502, body = ErrorBody, description = "The provider did not answer with a model list")))]
pub async fn discover(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Discovered>> {
    Ok(Json(state.gateway.discover(&id).await?))
}

#[utoipa::path(post, path = "/admin/v1/models", tag = "admin", security(("bearer" = [])),
    request_body = SaveModel,
    responses(Authed, JsonBody, (status = 200, body = ModelSaved, description = "Created or updated; routing uses it at once")))]
pub async fn save_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<SaveModel>,
) -> ApiResult<Json<ModelSaved>> {
    Ok(Json(state.gateway.save_model(&p.actor(), req).await?))
}

#[utoipa::path(get, path = "/admin/v1/models", tag = "admin", security(("bearer" = [])),
    params(Paging), responses(Authed, BadParams, (status = 200, body = Listed<ModelView>)))]
pub async fn list_models(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<Paging>,
) -> ApiResult<Json<Listed<ModelView>>> {
    Ok(Json(state.gateway.admin_models(&q).await?))
}

#[utoipa::path(patch, path = "/admin/v1/models/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The model's id; it may contain slashes")),
    request_body = PatchModel,
    responses(Authed, JsonBody, (status = 200, body = ModelSaved),
        (status = 404, body = ErrorBody, description = "No such model")))]
pub async fn patch_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<PatchModel>,
) -> ApiResult<Json<ModelSaved>> {
    Ok(Json(
        state.gateway.patch_model(&p.actor(), &id, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/admin/v1/models/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The model's id; it may contain slashes")),
    responses(Authed, BadParams, (status = 200, body = Done),
        (status = 404, body = ErrorBody, description = "No such model"),
        (status = 409, body = ErrorBody, description = "The config file defines it: remove it there, or disable it")))]
pub async fn delete_model(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Done>> {
    Ok(Json(state.gateway.delete_model(&p.actor(), &id).await?))
}
