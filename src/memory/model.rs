//! Request and response bodies of `/v1/memory/*` (context packs live in `context::model`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::store::memory::{EntityRow, EventRow, FeedbackRow, HistoryRow, LinkRow, NoteRow};
pub use crate::store::memory::{ItemType, NoteStatus, Signal};

/// `POST /v1/memory/notes`, and a note of a batch (without `workspace_id`). A known
/// (`external_source`, `external_id`) pair updates that note instead of creating one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub workspace_id: Option<String>,
    pub title: Option<String>,
    pub content: String,
    /// fact (default), preference, decision, lesson, or another label.
    pub kind: Option<String>,
    pub tags: Option<Vec<String>>,
    /// 0-1, default 0.5.
    pub importance: Option<f64>,
    /// 0-1, default 1.0 (0.6 for inferred notes).
    pub confidence: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// approved (default) or pending. Inferred notes default to pending.
    pub status: Option<NoteStatus>,
    /// The note was inferred by an agent rather than stated: it waits for a reviewer.
    pub inferred: Option<bool>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    /// RFC 3339; default now.
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// Id of a note this one replaces: the old one's validity closes at this one's
    /// `valid_from` and it stays in history.
    pub supersedes: Option<String>,
}

/// `PATCH /v1/memory/notes/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotePatch {
    pub workspace_id: Option<String>,
    pub title: Option<String>,
    pub content: Option<String>,
    pub kind: Option<String>,
    pub tags: Option<Vec<String>>,
    pub importance: Option<f64>,
    pub confidence: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// approved, pending or rejected (forget with DELETE).
    pub status: Option<NoteStatus>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    /// Recorded in the note's history.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub workspace_id: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoteListParams {
    pub workspace_id: Option<String>,
    /// approved, pending (the review queue), rejected or forgotten.
    pub status: Option<NoteStatus>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteList {
    pub object: String,
    pub data: Vec<NoteRow>,
    pub next_cursor: Option<String>,
}

crate::validate::listing!(NoteList: NoteRow, EventList: EventRow);

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteHistory {
    pub object: String,
    pub note_id: String,
    pub data: Vec<HistoryRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForgottenNote {
    pub id: String,
    pub status: NoteStatus,
    pub forgotten: bool,
}

/// `POST /v1/memory/entities`: a known external pair, or else a known (type, name), updates
/// that entity (aliases are merged).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    pub workspace_id: Option<String>,
    /// user, workspace, project, tool, company, mission, or another label.
    #[serde(rename = "type")]
    pub entity_type: String,
    pub name: String,
    pub aliases: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityPatch {
    pub workspace_id: Option<String>,
    #[serde(rename = "type")]
    pub entity_type: Option<String>,
    pub name: Option<String>,
    pub aliases: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EntityListParams {
    pub workspace_id: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub entity_type: Option<String>,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntityList {
    pub object: String,
    pub data: Vec<EntityRow>,
}

/// One end of a link: by id, or by the external pair it was written with.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeRef {
    /// note or entity.
    #[serde(rename = "type")]
    pub node_type: String,
    pub id: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

/// `POST /v1/memory/links`: the same (from, to, relation) updates weight and metadata.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub workspace_id: Option<String>,
    pub from: NodeRef,
    pub to: NodeRef,
    pub relation: String,
    /// 0-1, default 1.
    pub weight: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LinkListParams {
    pub workspace_id: Option<String>,
    /// Links with this note or entity at either end.
    pub node_id: Option<String>,
    pub relation: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkList {
    pub object: String,
    pub data: Vec<LinkRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedLink {
    pub id: String,
    pub deleted: bool,
}

/// `POST /v1/memory/events`; a known external pair updates that event.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub workspace_id: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    pub summary: String,
    pub actor: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    /// RFC 3339; default now.
    pub occurred_at: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventListParams {
    pub workspace_id: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    pub mission_id: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub object: String,
    pub data: Vec<EventRow>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/memory/feedback`: one item of a pack marked helpful, unhelpful, remember or
/// forget.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    pub workspace_id: Option<String>,
    pub pack_id: Option<String>,
    /// note (default), chunk, entity or event.
    pub item_type: Option<ItemType>,
    pub item_id: String,
    pub signal: Signal,
    pub comment: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackResult {
    pub feedback: FeedbackRow,
    /// The note after a remember or forget signal changed it.
    pub note: Option<NoteRow>,
}

/// `POST /v1/memory/batch`: everything in one transaction. Notes, entities, events and
/// feedback need an `external_id` (the default `external_source` is `batch`), so sending the
/// same batch again changes nothing.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub notes: Vec<NoteInput>,
    #[serde(default)]
    pub entities: Vec<EntityInput>,
    #[serde(default)]
    pub links: Vec<LinkInput>,
    #[serde(default)]
    pub events: Vec<EventInput>,
    #[serde(default)]
    pub feedback: Vec<FeedbackInput>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BatchCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BatchResult {
    pub notes: BatchCounts,
    pub entities: BatchCounts,
    pub links: BatchCounts,
    pub events: BatchCounts,
    pub feedback: BatchCounts,
    /// Ids in input order.
    pub note_ids: Vec<String>,
    pub entity_ids: Vec<String>,
    pub link_ids: Vec<String>,
    pub event_ids: Vec<String>,
    pub took_ms: f64,
}
