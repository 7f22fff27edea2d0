//! `/v1/sources`, `/v1/documents`, `/v1/search`. `POST /v1/sources` reads the request (multipart
//! or JSON) and hands it to [`intake`]; every route acts in one workspace.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{
    parse_json, workspace, writable, ApiPath, Auth, Scope, ScopedJson, WorkspaceParam,
};
use crate::http::openapi::{JsonBody, Scoped};
use crate::sources::intake::{self, Items, Upload, UploadedFile};
use crate::sources::model::{
    ChunkList, CreateSource, DocumentView, SearchRequest, SearchResponse, SourceBatch, SourceList,
    SourceView,
};
use crate::sources::Ingested;
use crate::state::AppState;
use crate::store::sources::SourceFilter;
use crate::validate::decode_cursor;

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sources",
            post(create)
                .get(list)
                .layer(DefaultBodyLimit::max(state.config.sources.max_upload_bytes)),
        )
        .route("/v1/sources/{id}", routing::get(get).delete(delete))
        .route("/v1/sources/{id}/reindex", post(reindex))
        .route("/v1/documents/{id}", routing::get(document))
        .route("/v1/documents/{id}/chunks", routing::get(chunks))
        .route("/v1/search", post(search))
}

/// Ready answers 200, queued 202.
fn status_of(done: Ingested) -> StatusCode {
    match done {
        Ingested::Ready => StatusCode::OK,
        Ingested::Queued => StatusCode::ACCEPTED,
    }
}

/// Reads a multipart upload's parts; a body over `limit` is a 413.
async fn read_upload(request: Request, state: &AppState, limit: usize) -> ApiResult<Upload> {
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body: {}", e.body_text())))?;
    let refused = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::bad_request(format!("multipart body: {}", e.body_text()))
        }
    };
    let mut upload = Upload::default();
    while let Some(field) = form.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            upload.file = Some(UploadedFile {
                filename: field.file_name().map(str::to_string),
                media_type: field.content_type().map(str::to_string),
                bytes: field.bytes().await.map_err(refused)?.to_vec(),
            });
        } else {
            let value = field.text().await.map_err(refused)?;
            upload.fields.push((name, value));
        }
    }
    Ok(upload)
}

#[utoipa::path(post, path = "/v1/sources", tag = "sources", security(("bearer" = [])),
    request_body(content = CreateSource, description = "JSON ({url} | {title, text} | {records}) or multipart/form-data with a `file` part"),
    responses(Scoped, JsonBody, (status = 200, body = SourceView, description = "Ingested and searchable (records: a list)"),
        (status = 202, body = SourceView, description = "Queued (wait=false)"),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody, description = "Over `sources.max_upload_bytes`"),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    request: Request,
) -> ApiResult<Response> {
    let limit = state.config.sources.max_upload_bytes;
    let max_records = state.sources.settings.max_records;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let intake = if is_multipart {
        intake::from_upload(read_upload(request, &state, limit).await?, max_records)?
    } else {
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge(limit))?;
        intake::from_json(parse_json(&bytes)?, max_records)?
    };
    let ws = workspace(&state, &principal, intake.workspace_id.as_deref()).await?;
    writable(&ws)?;
    Ok(match intake.items {
        Items::One(pending) => {
            let (done, view) = state.sources.create(&ws, *pending, intake.wait).await?;
            (status_of(done), Json(view)).into_response()
        }
        Items::Records(pendings) => {
            let (done, data) = state
                .sources
                .create_many(&ws, pendings, intake.wait)
                .await?;
            let batch = SourceBatch {
                object: "list".into(),
                data,
            };
            (status_of(done), Json(batch)).into_response()
        }
    })
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub workspace_id: Option<String>,
    /// queued, processing, ready or failed.
    pub status: Option<String>,
    pub tag: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/sources", tag = "sources", security(("bearer" = [])), params(ListParams),
    responses(Scoped, (status = 200, body = SourceList)))]
pub async fn list(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: params,
        ..
    }: Scope<ListParams>,
) -> ApiResult<Json<SourceList>> {
    if let Some(s) = &params.status {
        if !matches!(s.as_str(), "queued" | "processing" | "ready" | "failed") {
            return Err(ApiError::bad_request(
                "status: expected queued, processing, ready or failed",
            ));
        }
    }
    let limit = crate::validate::range("limit", params.limit.unwrap_or(50), 1, 200)?;
    let filter = SourceFilter {
        status: params.status,
        tag: params.tag,
        limit,
        before: decode_cursor(params.cursor.as_deref())?,
    };
    Ok(Json(state.sources.list(&ws, filter).await?))
}

#[utoipa::path(get, path = "/v1/sources/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = SourceView)))]
pub async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(state.sources.get(&ws, &id).await?))
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeletedSource {
    pub deleted: bool,
    pub id: String,
}

#[utoipa::path(delete, path = "/v1/sources/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = DeletedSource)))]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<DeletedSource>> {
    state.sources.delete(&ws, &id).await?;
    Ok(Json(DeletedSource { deleted: true, id }))
}

#[utoipa::path(post, path = "/v1/sources/{id}/reindex", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = SourceView), (status = 409, body = ErrorBody)))]
pub async fn reindex(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<SourceView>> {
    Ok(Json(state.sources.reindex(&ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/documents/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = DocumentView)))]
pub async fn document(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<DocumentView>> {
    Ok(Json(state.sources.document(&ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/documents/{id}/chunks", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = ChunkList)))]
pub async fn chunks(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<ChunkList>> {
    Ok(Json(state.sources.chunks(&ws, &id).await?))
}

#[utoipa::path(post, path = "/v1/search", tag = "sources", security(("bearer" = [])), request_body = SearchRequest,
    responses(Scoped, JsonBody, (status = 200, body = SearchResponse),
        (status = 503, body = ErrorBody, description = "The embedding model is unavailable")))]
pub async fn search(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: req,
        ..
    }: ScopedJson<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    Ok(Json(state.sources.search(&ws, req).await?))
}
