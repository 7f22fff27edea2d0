//! `/v1/memory/*`: notes, review, entities, links, events, feedback, batch and context packs.
//! Every route acts in one workspace: [`Scope`] (named by the query)
//! or [`ScopedJson`] (named by the body's `workspace_id`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::accounts::Principal;
use crate::context::model::{
    ContextPack, ContextPackRequest, ContextRequest, ContextResponse, StoredPack,
};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{
    workspace, writable, written, ApiPath, Auth, MaybeJson, Scope, ScopedJson, WorkspaceParam,
};
use crate::http::openapi::{JsonBody, Scoped};
use crate::memory::conversations::{ConversationInput, ConversationResult};
use crate::memory::model::{
    BatchInput, BatchResult, DeletedLink, EntityInput, EntityList, EntityListParams, EntityPatch,
    EventInput, EventList, EventListParams, FeedbackInput, FeedbackResult, ForgottenNote,
    LinkInput, LinkList, LinkListParams, NoteHistory, NoteInput, NoteList, NoteListParams,
    NotePatch, NoteStatus, ReviewInput,
};
use crate::memory::Upsert as Outcome;
use crate::state::AppState;
use crate::store::memory::{
    EntityFilter, EntityRow, EventFilter, EventRow, LinkFilter, LinkRow, NoteFilter, NoteRow,
};
use crate::validate::{decode_cursor, limit};

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/memory/notes", post(create_note).get(list_notes))
        .route(
            "/v1/memory/notes/{id}",
            get(get_note).patch(update_note).delete(forget_note),
        )
        .route("/v1/memory/notes/{id}/approve", post(approve_note))
        .route("/v1/memory/notes/{id}/reject", post(reject_note))
        .route("/v1/memory/notes/{id}/history", get(note_history))
        .route(
            "/v1/memory/entities",
            post(create_entity).get(list_entities),
        )
        .route("/v1/memory/entities/{id}", patch(update_entity))
        .route("/v1/memory/links", post(create_link).get(list_links))
        .route("/v1/memory/links/{id}", delete(delete_link))
        .route("/v1/memory/events", post(create_event).get(list_events))
        .route("/v1/memory/feedback", post(feedback))
        .route("/v1/memory/batch", post(batch))
        .route("/v1/memory/conversations", post(conversation))
        .route("/v1/memory/context-pack", post(context_pack))
        .route("/v1/memory/context-packs/{pack_id}", get(get_pack))
        .route("/v1/memory/context", post(context))
}

#[utoipa::path(post, path = "/v1/memory/notes", tag = "memory", security(("bearer" = [])), request_body = NoteInput,
    responses(Scoped, JsonBody, (status = 201, body = NoteRow), (status = 200, description = "upserted by external id", body = NoteRow), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "Refused by a guard policy")))]
pub async fn create_note(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<NoteInput>,
) -> ApiResult<Response> {
    let (note, outcome) = state.memory.create_note(&ws, &p.actor(), input).await?;
    Ok(written(note, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/notes", tag = "memory", security(("bearer" = [])), params(NoteListParams),
    responses(Scoped, (status = 200, body = NoteList)))]
pub async fn list_notes(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<NoteListParams>,
) -> ApiResult<Json<NoteList>> {
    let filter = NoteFilter {
        status: q.status,
        kind: q.kind,
        tag: q.tag,
        limit: limit(q.limit, 50, 200)?,
        before: decode_cursor(q.cursor.as_deref())?,
    };
    Ok(Json(state.memory.list_notes(&ws, filter).await?))
}

#[utoipa::path(get, path = "/v1/memory/notes/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = NoteRow)))]
pub async fn get_note(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<NoteRow>> {
    Ok(Json(state.memory.get_note(&ws, &id).await?))
}

#[utoipa::path(patch, path = "/v1/memory/notes/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NotePatch,
    responses(Scoped, JsonBody, (status = 200, body = NoteRow),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_note(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: patch,
    }: ScopedJson<NotePatch>,
) -> ApiResult<Json<NoteRow>> {
    if patch.status.is_some() {
        // A status in a PATCH is a review decision.
        p.require(crate::accounts::roles::Scope::Review)?;
    }
    Ok(Json(
        state
            .memory
            .update_note(&ws, &p.actor(), &id, patch)
            .await?,
    ))
}

/// The body is optional: approving needs nothing but the id.
async fn review(
    state: &AppState,
    p: &Principal,
    id: &str,
    input: ReviewInput,
    status: NoteStatus,
) -> ApiResult<Json<NoteRow>> {
    let ws = workspace(state, p, input.workspace_id.as_deref()).await?;
    writable(&ws)?;
    Ok(Json(
        state
            .memory
            .set_status(&ws, &p.actor(), id, status, input.reason)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/memory/notes/{id}/approve", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ReviewInput>),
    responses(Scoped, JsonBody, (status = 200, body = NoteRow), (status = 409, body = ErrorBody)))]
pub async fn approve_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(input): MaybeJson<ReviewInput>,
) -> ApiResult<Json<NoteRow>> {
    review(&state, &p, &id, input, NoteStatus::Approved).await
}

#[utoipa::path(post, path = "/v1/memory/notes/{id}/reject", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ReviewInput>),
    responses(Scoped, JsonBody, (status = 200, body = NoteRow), (status = 409, body = ErrorBody)))]
pub async fn reject_note(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(input): MaybeJson<ReviewInput>,
) -> ApiResult<Json<NoteRow>> {
    review(&state, &p, &id, input, NoteStatus::Rejected).await
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
    responses(Scoped, (status = 200, body = ForgottenNote)))]
pub async fn forget_note(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope {
        principal: p,
        workspace: ws,
        query: q,
    }: Scope<ForgetParams>,
) -> ApiResult<Json<ForgottenNote>> {
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
    responses(Scoped, (status = 200, body = NoteHistory)))]
pub async fn note_history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<NoteHistory>> {
    Ok(Json(state.memory.note_history(&ws, &id).await?))
}

#[utoipa::path(post, path = "/v1/memory/entities", tag = "memory", security(("bearer" = [])), request_body = EntityInput,
    responses(Scoped, JsonBody, (status = 201, body = EntityRow), (status = 200, description = "upserted", body = EntityRow)))]
pub async fn create_entity(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<EntityInput>,
) -> ApiResult<Response> {
    let (row, outcome) = state.memory.upsert_entity(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/entities", tag = "memory", security(("bearer" = [])), params(EntityListParams),
    responses(Scoped, (status = 200, body = EntityList)))]
pub async fn list_entities(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<EntityListParams>,
) -> ApiResult<Json<EntityList>> {
    let filter = EntityFilter {
        entity_type: q.entity_type,
        name: q.name,
        limit: limit(q.limit, 100, 500)?,
    };
    Ok(Json(state.memory.list_entities(&ws, filter).await?))
}

#[utoipa::path(patch, path = "/v1/memory/entities/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = EntityPatch,
    responses(Scoped, JsonBody, (status = 200, body = EntityRow), (status = 409, body = ErrorBody)))]
pub async fn update_entity(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: patch,
    }: ScopedJson<EntityPatch>,
) -> ApiResult<Json<EntityRow>> {
    Ok(Json(
        state
            .memory
            .update_entity(&ws, &p.actor(), &id, patch)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/memory/links", tag = "memory", security(("bearer" = [])), request_body = LinkInput,
    responses(Scoped, JsonBody, (status = 201, body = LinkRow), (status = 200, description = "upserted", body = LinkRow), (status = 422, body = ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<LinkInput>,
) -> ApiResult<Response> {
    let (row, outcome) = state.memory.upsert_link(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/links", tag = "memory", security(("bearer" = [])), params(LinkListParams),
    responses(Scoped, (status = 200, body = LinkList)))]
pub async fn list_links(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<LinkListParams>,
) -> ApiResult<Json<LinkList>> {
    let filter = LinkFilter {
        node_id: q.node_id,
        relation: q.relation,
        limit: limit(q.limit, 100, 500)?,
    };
    Ok(Json(state.memory.list_links(&ws, filter).await?))
}

#[utoipa::path(delete, path = "/v1/memory/links/{id}", tag = "memory", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = DeletedLink)))]
pub async fn delete_link(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope {
        principal: p,
        workspace: ws,
        ..
    }: Scope,
) -> ApiResult<Json<DeletedLink>> {
    state.memory.delete_link(&ws, &p.actor(), &id).await?;
    Ok(Json(DeletedLink { id, deleted: true }))
}

#[utoipa::path(post, path = "/v1/memory/events", tag = "memory", security(("bearer" = [])), request_body = EventInput,
    responses(Scoped, JsonBody, (status = 201, body = EventRow), (status = 200, description = "upserted by external id", body = EventRow)))]
pub async fn create_event(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<EventInput>,
) -> ApiResult<Response> {
    let (row, outcome) = state.memory.record_event(&ws, &p.actor(), input).await?;
    Ok(written(row, outcome == Outcome::Created))
}

#[utoipa::path(get, path = "/v1/memory/events", tag = "memory", security(("bearer" = [])), params(EventListParams),
    responses(Scoped, (status = 200, body = EventList)))]
pub async fn list_events(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<EventListParams>,
) -> ApiResult<Json<EventList>> {
    let filter = EventFilter {
        event_type: q.event_type,
        mission_id: q.mission_id,
        from: q.from,
        to: q.to,
        limit: limit(q.limit, 50, 200)?,
        before: decode_cursor(q.cursor.as_deref())?,
    };
    Ok(Json(state.memory.list_events(&ws, filter).await?))
}

#[utoipa::path(post, path = "/v1/memory/feedback", tag = "memory", security(("bearer" = [])), request_body = FeedbackInput,
    responses(Scoped, JsonBody, (status = 201, body = FeedbackResult), (status = 200, description = "already recorded (same external id)", body = FeedbackResult), (status = 422, body = ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<FeedbackInput>,
) -> ApiResult<Response> {
    let (result, outcome) = state.memory.give_feedback(&ws, &p.actor(), input).await?;
    Ok(written(result, outcome == Outcome::Created))
}

#[utoipa::path(post, path = "/v1/memory/batch", tag = "memory", security(("bearer" = [])), request_body = BatchInput,
    responses(Scoped, JsonBody, (status = 200, body = BatchResult), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn batch(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<BatchInput>,
) -> ApiResult<Json<BatchResult>> {
    let max = state.config.memory.max_batch_items;
    Ok(Json(state.memory.batch(&ws, &p.actor(), input, max).await?))
}

#[utoipa::path(post, path = "/v1/memory/conversations", tag = "memory", security(("bearer" = [])), request_body = ConversationInput,
    responses(Scoped, JsonBody, (status = 200, body = ConversationResult), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn conversation(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<ConversationInput>,
) -> ApiResult<Json<ConversationResult>> {
    let max = state.config.memory.max_batch_items;
    let done = state
        .memory
        .conversation(&ws, &p.actor(), input, max)
        .await?;
    Ok(Json(done))
}

#[utoipa::path(post, path = "/v1/memory/context-pack", tag = "memory", security(("bearer" = [])), request_body = ContextPackRequest,
    responses(Scoped, JsonBody, (status = 200, body = ContextPack), (status = 503, body = ErrorBody)))]
pub async fn context_pack(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: req,
        ..
    }: ScopedJson<ContextPackRequest>,
) -> ApiResult<Json<ContextPack>> {
    Ok(Json(state.context.build(&ws, req).await?))
}

#[utoipa::path(get, path = "/v1/memory/context-packs/{pack_id}", tag = "memory", security(("bearer" = [])),
    params(("pack_id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = StoredPack)))]
pub async fn get_pack(
    State(state): State<AppState>,
    ApiPath(pack_id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<StoredPack>> {
    Ok(Json(state.context.stored(&ws, &pack_id).await?))
}

#[utoipa::path(post, path = "/v1/memory/context", tag = "memory", security(("bearer" = [])), request_body = ContextRequest,
    responses(Scoped, JsonBody, (status = 200, body = ContextResponse)))]
pub async fn context(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: req,
        ..
    }: ScopedJson<ContextRequest>,
) -> ApiResult<Json<ContextResponse>> {
    Ok(Json(state.context.context(&ws, req).await?))
}
