//! `/v1/sources`, `/v1/documents`, `/v1/search`.

use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::workspaces;
use crate::accounts::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{parse_json, Auth};
use crate::sources::model::{
    ChunkList, CreateSource, DocumentView, SearchRequest, SearchResponse, SourceBatch, SourceList,
    SourceView,
};
use cairn_ingest::records;

use crate::sources::Pending;
use crate::state::AppState;
use crate::store::sources::SourceFilter;
use crate::store::Workspace;

async fn workspace(
    state: &AppState,
    principal: &Principal,
    slug: Option<&str>,
) -> ApiResult<Workspace> {
    workspaces::resolve(state.accounts.as_ref(), principal, slug).await
}

fn check_tags(tags: &[String]) -> ApiResult<()> {
    if tags.len() > 50 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 100) {
        return Err(ApiError::bad_request(
            "tags: at most 50 tags of 1-100 characters",
        ));
    }
    Ok(())
}

/// A multipart upload: a `file` part plus optional text parts `workspace_id`, `title`,
/// `tags` (comma-separated or a JSON array), `metadata` (a JSON object), `external_source`,
/// `external_id` and `wait`.
async fn from_multipart(
    mut form: Multipart,
    limit: usize,
) -> ApiResult<(Option<String>, Pending, bool, records::RecordFields)> {
    let mut p = Pending {
        kind: "file".into(),
        ..Default::default()
    };
    let mut workspace_id = None;
    let mut wait = true;
    let mut got_file = false;
    let (mut text_field, mut title_field, mut id_field) = (None, None, None);
    let too_large = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::bad_request(format!("multipart body: {}", e.body_text()))
        }
    };
    while let Some(field) = form.next_field().await.map_err(too_large)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            p.filename = field.file_name().map(str::to_string);
            p.media_type = field.content_type().map(str::to_string);
            p.bytes = field.bytes().await.map_err(too_large)?.to_vec();
            got_file = true;
            continue;
        }
        let value = field.text().await.map_err(too_large)?;
        match name.as_str() {
            "workspace_id" => workspace_id = Some(value),
            "title" => p.title = Some(value),
            "external_source" => p.external_source = Some(value),
            "external_id" => p.external_id = Some(value),
            "wait" => {
                wait = value
                    .parse()
                    .map_err(|_| ApiError::bad_request("wait: expected true or false"))?
            }
            "tags" => {
                p.tags = if value.trim_start().starts_with('[') {
                    serde_json::from_str(&value).map_err(|_| {
                        ApiError::bad_request(
                            "tags: expected a JSON array of strings or a comma-separated list",
                        )
                    })?
                } else {
                    value
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect()
                }
            }
            "metadata" => {
                p.metadata = serde_json::from_str(&value)
                    .map_err(|_| ApiError::bad_request("metadata: expected a JSON object"))?
            }
            "text_field" => text_field = Some(value),
            "title_field" => title_field = Some(value),
            "id_field" => id_field = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown form field `{other}`"
                )))
            }
        }
    }
    if !got_file {
        return Err(ApiError::bad_request(
            "file: a multipart upload needs a `file` part",
        ));
    }
    if p.bytes.is_empty() {
        return Err(ApiError::Unprocessable(
            "file: the uploaded file is empty".into(),
        ));
    }
    check_tags(&p.tags)?;
    Ok((
        workspace_id,
        p,
        wait,
        record_fields(text_field, title_field, id_field),
    ))
}

fn record_pendings(req: &CreateSource, base: &Pending, max: usize) -> ApiResult<Vec<Pending>> {
    let records = req.records.as_deref().unwrap_or_default();
    if records.is_empty() || records.len() > max {
        return Err(ApiError::bad_request(format!(
            "records: expected 1-{max} records"
        )));
    }
    let parsed = records::from_objects(
        records,
        &record_fields(
            req.text_field.clone(),
            req.title_field.clone(),
            req.id_field.clone(),
        ),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Pending::from_records(parsed, base))
}

fn record_fields(
    text: Option<String>,
    title: Option<String>,
    id: Option<String>,
) -> records::RecordFields {
    let d = records::RecordFields::default();
    records::RecordFields {
        text: text.unwrap_or(d.text),
        title: title.unwrap_or(d.title),
        id: id.unwrap_or(d.id),
    }
}

/// A `.json` or `.jsonl` upload holds records rather than one document.
fn is_records_file(p: &Pending) -> bool {
    let by_name = p.filename.as_deref().is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.ends_with(".json") || n.ends_with(".jsonl") || n.ends_with(".ndjson")
    });
    let by_type = p.media_type.as_deref().is_some_and(|m| {
        m.starts_with("application/json")
            || m.starts_with("application/x-ndjson")
            || m.starts_with("application/jsonl")
    });
    by_name || by_type
}

#[utoipa::path(post, path = "/v1/sources", tag = "sources", security(("bearer" = [])),
    request_body(content = CreateSource, description = "JSON ({url} | {title, text} | {records}) or multipart/form-data with a `file` part"),
    responses((status = 200, body = SourceView, description = "Ingested and searchable (records: a list)"),
        (status = 202, body = SourceView, description = "Queued (wait=false)"),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(principal): Auth,
    request: Request,
) -> ApiResult<Response> {
    let limit = state.config.sources.max_upload_bytes;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    if is_multipart {
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("multipart body: {}", e.body_text())))?;
        let (slug, pending, wait, fields) = from_multipart(form, limit).await?;
        let ws = workspace(&state, &principal, slug.as_deref()).await?;
        if is_records_file(&pending) {
            let parsed = records::parse_file(&pending.bytes, &fields)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let max = state.sources.settings.max_records;
            if parsed.len() > max {
                return Err(ApiError::bad_request(format!(
                    "records: at most {max} per upload"
                )));
            }
            let base = Pending {
                bytes: vec![],
                filename: None,
                media_type: None,
                ..pending
            };
            let (status, data) = state
                .sources
                .create_many(&ws, Pending::from_records(parsed, &base), wait)
                .await?;
            return Ok((
                status,
                Json(SourceBatch {
                    object: "list".into(),
                    data,
                }),
            )
                .into_response());
        }
        let (status, view) = state.sources.create(&ws, pending, wait).await?;
        return Ok((status, Json(view)).into_response());
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    let req: CreateSource = parse_json(&bytes)?;
    check_tags(&req.tags)?;
    let ws = workspace(&state, &principal, req.workspace_id.as_deref()).await?;
    let wait = req.wait.unwrap_or(true);
    let base = Pending {
        title: req.title.clone(),
        tags: req.tags.clone(),
        metadata: req.metadata.clone().unwrap_or_default(),
        external_source: req.external_source.clone(),
        external_id: req.external_id.clone(),
        ..Default::default()
    };
    let given = [req.url.is_some(), req.text.is_some(), req.records.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given != 1 {
        return Err(ApiError::bad_request(
            "give exactly one of `url`, `text` or `records` (or upload a file as multipart/form-data)",
        ));
    }
    if let Some(url) = &req.url {
        let p = Pending {
            kind: "url".into(),
            url: Some(url.trim().to_string()),
            ..base
        };
        let (status, view) = state.sources.create(&ws, p, wait).await?;
        return Ok((status, Json(view)).into_response());
    }
    if let Some(text) = &req.text {
        if text.trim().is_empty() {
            return Err(ApiError::bad_request("text: must not be empty"));
        }
        let p = Pending {
            kind: "text".into(),
            bytes: text.as_bytes().to_vec(),
            ..base
        };
        let (status, view) = state.sources.create(&ws, p, wait).await?;
        return Ok((status, Json(view)).into_response());
    }
    let pendings = record_pendings(&req, &base, state.sources.settings.max_records)?;
    let (status, data) = state.sources.create_many(&ws, pendings, wait).await?;
    Ok((
        status,
        Json(SourceBatch {
            object: "list".into(),
            data,
        }),
    )
        .into_response())
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
    responses((status = 200, body = SourceList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<SourceList>> {
    if let Some(s) = &params.status {
        if !matches!(s.as_str(), "queued" | "processing" | "ready" | "failed") {
            return Err(ApiError::bad_request(
                "status: expected queued, processing, ready or failed",
            ));
        }
    }
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("limit: expected 1-200"));
    }
    let ws = workspace(&state, &principal, params.workspace_id.as_deref()).await?;
    let filter = SourceFilter {
        status: params.status,
        tag: params.tag,
        before: None,
        limit,
    };
    Ok(Json(
        state
            .sources
            .list(&ws, filter, params.cursor.as_deref())
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceParam {
    pub workspace_id: Option<String>,
}

#[utoipa::path(get, path = "/v1/sources/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<SourceView>> {
    let ws = workspace(&state, &principal, q.workspace_id.as_deref()).await?;
    Ok(Json(state.sources.get(&ws, &id).await?))
}

#[derive(serde::Serialize, ToSchema)]
pub struct DeletedSource {
    pub deleted: bool,
    pub id: String,
}

#[utoipa::path(delete, path = "/v1/sources/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = DeletedSource), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<DeletedSource>> {
    let ws = workspace(&state, &principal, q.workspace_id.as_deref()).await?;
    state.sources.delete(&ws, &id).await?;
    Ok(Json(DeletedSource { deleted: true, id }))
}

#[utoipa::path(post, path = "/v1/sources/{id}/reindex", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = SourceView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reindex(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<SourceView>> {
    let ws = workspace(&state, &principal, q.workspace_id.as_deref()).await?;
    Ok(Json(state.sources.reindex(&ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/documents/{id}", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = DocumentView), (status = 404, body = ErrorBody)))]
pub async fn document(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<DocumentView>> {
    let ws = workspace(&state, &principal, q.workspace_id.as_deref()).await?;
    Ok(Json(state.sources.document(&ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/documents/{id}/chunks", tag = "sources", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = ChunkList), (status = 404, body = ErrorBody)))]
pub async fn chunks(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<ChunkList>> {
    let ws = workspace(&state, &principal, q.workspace_id.as_deref()).await?;
    Ok(Json(state.sources.chunks(&ws, &id).await?))
}

#[utoipa::path(post, path = "/v1/search", tag = "sources", security(("bearer" = [])), request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Auth(principal): Auth,
    crate::http::extract::ApiJson(req): crate::http::extract::ApiJson<SearchRequest>,
) -> ApiResult<Json<SearchResponse>> {
    let ws = workspace(&state, &principal, req.workspace_id.as_deref()).await?;
    Ok(Json(state.sources.search(&ws, req).await?))
}
