//! `/v1/memory/*`: notes, review, entities, links, events, feedback, batch and context packs.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::accounts::Principal;
use crate::context::model::{
    ContextPack, ContextPackRequest, ContextRequest, ContextResponse, StoredPack,
};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{parse_json, workspace, written, ApiJson, Auth};
use crate::http::sources::WorkspaceParam;
use crate::memory::model::{
    BatchInput, BatchResult, DeletedLink, EntityInput, EntityList, EntityListParams, EntityPatch,
    EventInput, EventList, EventListParams, FeedbackInput, FeedbackResult, ForgottenNote,
    LinkInput, LinkList, LinkListParams, NoteHistory, NoteInput, NoteList, NoteListParams,
    NotePatch, NoteStatus, ReviewInput,
};
use crate::memory::validate::limit;
use crate::memory::Upsert as Outcome;
use crate::state::AppState;
use crate::store::memory::{
    EntityFilter, EntityRow, EventFilter, EventRow, LinkFilter, LinkRow, NoteFilter, NoteRow,
};

#[utoipa::path(post, path = "/v1/memory/notes", tag = "memory", security(("bearer" = [])), request_body = NoteInput,
    responses((status = 201, body = NoteRow), (status = 200, description = "upserted by external id", body = NoteRow),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<NoteInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (note, outcome) = state.memory.create_note(&ws, &p.actor(), input).await?;
    Ok(written(note, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/notes", tag = "memory", security(("bearer" = [])), params(NoteListParams),
    responses((status = 200, body = NoteList), (status = 400, body = ErrorBody)))]
pub async fn list_notes(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NoteListParams>,
) -> ApiResult<Json<NoteList>> {
    let filter = NoteFilter {
        status: q.status,
        kind: q.kind,
        tag: q.tag,
        before: None,
        limit: limit(q.limit, 50, 200)?,
    };
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .memory
            .list_notes(&ws, filter, q.cursor.as_deref())
            .await?,
    ))
}

#[utoipa::path(get, path = "/v1/memory/notes/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = NoteRow), (status = 404, body = ErrorBody)))]
pub async fn get_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<NoteRow>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.memory.get_note(&ws, &id).await?))
}

#[utoipa::path(patch, path = "/v1/memory/notes/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NotePatch,
    responses((status = 200, body = NoteRow), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn update_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<NotePatch>,
) -> ApiResult<Json<NoteRow>> {
    let ws = workspace(&state, &p, patch.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .memory
            .update_note(&ws, &p.actor(), &id, patch)
            .await?,
    ))
}

async fn review(
    state: &AppState,
    p: &Principal,
    id: &str,
    body: &[u8],
    status: NoteStatus,
) -> ApiResult<Json<NoteRow>> {
    // The body is optional: approving needs nothing but the id.
    let input: ReviewInput = if body.iter().all(u8::is_ascii_whitespace) {
        ReviewInput::default()
    } else {
        parse_json(body)?
    };
    let ws = workspace(state, p, input.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .memory
            .set_status(&ws, &p.actor(), id, status, input.reason)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/memory/notes/{id}/approve", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ReviewInput>),
    responses((status = 200, body = NoteRow), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<NoteRow>> {
    review(&state, &p, &id, &body, NoteStatus::Approved).await
}

#[utoipa::path(post, path = "/v1/memory/notes/{id}/reject", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ReviewInput>),
    responses((status = 200, body = NoteRow), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<NoteRow>> {
    review(&state, &p, &id, &body, NoteStatus::Rejected).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ForgetParams {
    pub workspace_id: Option<String>,
    /// Recorded in the note's history.
    pub reason: Option<String>,
}

#[utoipa::path(delete, path = "/v1/memory/notes/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), ForgetParams),
    responses((status = 200, body = ForgottenNote), (status = 404, body = ErrorBody)))]
pub async fn forget_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<ForgetParams>,
) -> ApiResult<Json<ForgottenNote>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    let note = state
        .memory
        .set_status(&ws, &p.actor(), &id, NoteStatus::Forgotten, q.reason)
        .await?;
    Ok(Json(ForgottenNote {
        id: note.id,
        status: note.status,
        forgotten: true,
    }))
}

#[utoipa::path(get, path = "/v1/memory/notes/{id}/history", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = NoteHistory), (status = 404, body = ErrorBody)))]
pub async fn note_history(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<NoteHistory>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.memory.note_history(&ws, &id).await?))
}

#[utoipa::path(post, path = "/v1/memory/entities", tag = "memory", security(("bearer" = [])), request_body = EntityInput,
    responses((status = 201, body = EntityRow), (status = 200, description = "upserted", body = EntityRow),
        (status = 400, body = ErrorBody)))]
pub async fn create_entity(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<EntityInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (row, outcome) = state.memory.upsert_entity(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/entities", tag = "memory", security(("bearer" = [])), params(EntityListParams),
    responses((status = 200, body = EntityList), (status = 400, body = ErrorBody)))]
pub async fn list_entities(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<EntityListParams>,
) -> ApiResult<Json<EntityList>> {
    let filter = EntityFilter {
        entity_type: q.entity_type,
        name: q.name,
        limit: limit(q.limit, 100, 500)?,
    };
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.memory.list_entities(&ws, filter).await?))
}

#[utoipa::path(patch, path = "/v1/memory/entities/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = EntityPatch,
    responses((status = 200, body = EntityRow), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_entity(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<EntityPatch>,
) -> ApiResult<Json<EntityRow>> {
    let ws = workspace(&state, &p, patch.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .memory
            .update_entity(&ws, &p.actor(), &id, patch)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/memory/links", tag = "memory", security(("bearer" = [])), request_body = LinkInput,
    responses((status = 201, body = LinkRow), (status = 200, description = "upserted", body = LinkRow),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<LinkInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (row, outcome) = state.memory.upsert_link(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/links", tag = "memory", security(("bearer" = [])), params(LinkListParams),
    responses((status = 200, body = LinkList), (status = 400, body = ErrorBody)))]
pub async fn list_links(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<LinkListParams>,
) -> ApiResult<Json<LinkList>> {
    let filter = LinkFilter {
        node_id: q.node_id,
        relation: q.relation,
        limit: limit(q.limit, 100, 500)?,
    };
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.memory.list_links(&ws, filter).await?))
}

#[utoipa::path(delete, path = "/v1/memory/links/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = DeletedLink), (status = 404, body = ErrorBody)))]
pub async fn delete_link(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<DeletedLink>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    state.memory.delete_link(&ws, &p.actor(), &id).await?;
    Ok(Json(DeletedLink { id, deleted: true }))
}

#[utoipa::path(post, path = "/v1/memory/events", tag = "memory", security(("bearer" = [])), request_body = EventInput,
    responses((status = 201, body = EventRow), (status = 200, description = "upserted by external id", body = EventRow),
        (status = 400, body = ErrorBody)))]
pub async fn create_event(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<EventInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (row, outcome) = state.memory.record_event(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/events", tag = "memory", security(("bearer" = [])), params(EventListParams),
    responses((status = 200, body = EventList), (status = 400, body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<EventListParams>,
) -> ApiResult<Json<EventList>> {
    let filter = EventFilter {
        event_type: q.event_type,
        mission_id: q.mission_id,
        from: q.from,
        to: q.to,
        before: None,
        limit: limit(q.limit, 50, 200)?,
    };
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .memory
            .list_events(&ws, filter, q.cursor.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/memory/feedback", tag = "memory", security(("bearer" = [])), request_body = FeedbackInput,
    responses((status = 201, body = FeedbackResult), (status = 200, description = "already recorded (same external id)", body = FeedbackResult),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<FeedbackInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (result, outcome) = state.memory.give_feedback(&ws, &p.actor(), input).await?;
    Ok(written(result, outcome == Outcome::Created))
}

#[utoipa::path(post, path = "/v1/memory/batch", tag = "memory", security(("bearer" = [])), request_body = BatchInput,
    responses((status = 200, body = BatchResult), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn batch(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<BatchInput>,
) -> ApiResult<Json<BatchResult>> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let max = state.config.memory.max_batch_items;
    Ok(Json(state.memory.batch(&ws, &p.actor(), input, max).await?))
}

#[utoipa::path(post, path = "/v1/memory/context-pack", tag = "memory", security(("bearer" = [])), request_body = ContextPackRequest,
    responses((status = 200, body = ContextPack), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn context_pack(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<ContextPackRequest>,
) -> ApiResult<Json<ContextPack>> {
    let ws = workspace(&state, &p, req.workspace_id.as_deref()).await?;
    Ok(Json(state.context.build(&ws, req).await?))
}

#[utoipa::path(get, path = "/v1/memory/context-packs/{pack_id}", tag = "memory", security(("bearer" = [])),
    params(("pack_id" = String, Path), WorkspaceParam),
    responses((status = 200, body = StoredPack), (status = 404, body = ErrorBody)))]
pub async fn get_pack(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(pack_id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<StoredPack>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.context.stored(&ws, &pack_id).await?))
}

#[utoipa::path(post, path = "/v1/memory/context", tag = "memory", security(("bearer" = [])), request_body = ContextRequest,
    responses((status = 200, body = ContextResponse), (status = 400, body = ErrorBody)))]
pub async fn context(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<ContextRequest>,
) -> ApiResult<Json<ContextResponse>> {
    let ws = workspace(&state, &p, req.workspace_id.as_deref()).await?;
    Ok(Json(state.context.context(&ws, req).await?))
}
