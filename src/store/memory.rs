//! Memory Vault storage: notes and their history, entities, links, events, feedback and
//! context-pack telemetry. Rows serialise as the API returns them.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreResult;

/// A note's review state: the same lowercase word in JSON and in the `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum NoteStatus {
    Approved,
    Pending,
    Rejected,
    Forgotten,
}

impl NoteStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
            Self::Forgotten => "forgotten",
        }
    }

    /// Approved and pending notes are in the indexes (and may enter a pack); rejected and
    /// forgotten ones are not.
    pub fn is_indexed(self) -> bool {
        matches!(self, Self::Approved | Self::Pending)
    }
}

/// What a pack item, a feedback row or an index entry is: the same lowercase word in JSON,
/// in SQL and as the indexes' `item_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum ItemType {
    Note,
    Chunk,
    Entity,
    Event,
}

impl ItemType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Chunk => "chunk",
            Self::Entity => "entity",
            Self::Event => "event",
        }
    }
}

/// Against the wire word, for clients of the pack types that hold `"note"` and the like
/// (the eval harness).
impl PartialEq<&str> for ItemType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NoteRow {
    pub id: String,
    #[serde(skip)]
    pub account_id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub title: Option<String>,
    pub content: String,
    /// fact, preference, decision, lesson, or any other label.
    pub kind: String,
    pub tags: Vec<String>,
    pub importance: f64,
    pub confidence: f64,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub status: NoteStatus,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub valid_from: String,
    /// Set when the note was superseded (or given an end of validity).
    pub valid_to: Option<String>,
    pub supersedes: Option<String>,
    pub superseded_by: Option<String>,
    pub revision: i64,
    /// The id of the note's current entries in the text and vector indexes; entries with any
    /// other id are stale and never served.
    #[serde(skip)]
    pub index_key: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Notes written together share a thread, in input order (`thread_seq`, from 0): a
    /// batch's notes (the thread is the batch's id) or a conversation session's turns
    /// (`conversation:{session_id}`). Context packs add a strong hit's neighbours in its thread.
    pub thread_id: Option<String>,
    pub thread_seq: Option<i64>,
}

#[cfg(test)]
impl NoteRow {
    /// A note for unit tests ("Deploys happen on Tuesdays", a fact), valid and created from
    /// `valid_from`.
    pub fn sample(status: NoteStatus, valid_from: &str) -> Self {
        NoteRow {
            id: "n1".into(),
            account_id: "acct".into(),
            workspace_id: "ws".into(),
            title: None,
            content: "Deploys happen on Tuesdays".into(),
            kind: "fact".into(),
            tags: vec![],
            importance: 0.5,
            confidence: 1.0,
            metadata: serde_json::json!({}),
            status,
            external_source: None,
            external_id: None,
            valid_from: valid_from.into(),
            valid_to: None,
            supersedes: None,
            superseded_by: None,
            revision: 1,
            index_key: Some("k1".into()),
            created_by: "key:k1".into(),
            created_at: valid_from.into(),
            updated_at: valid_from.into(),
            thread_id: None,
            thread_seq: None,
        }
    }
}

/// What a note's history row records: the same lowercase word in JSON and in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum HistoryAction {
    Created,
    Updated,
    Approved,
    Rejected,
    Superseded,
    Forgotten,
}

impl HistoryAction {
    /// A change to `status`: approving, rejecting and forgetting are named; back to pending
    /// is an update.
    pub fn for_status(status: NoteStatus) -> Self {
        match status {
            NoteStatus::Approved => Self::Approved,
            NoteStatus::Rejected => Self::Rejected,
            NoteStatus::Forgotten => Self::Forgotten,
            NoteStatus::Pending => Self::Updated,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryRow {
    pub id: String,
    pub note_id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub revision: i64,
    pub action: HistoryAction,
    /// `user:<id>` or `key:<id>`.
    pub actor: String,
    pub reason: Option<String>,
    /// The note as it was after this change.
    #[schema(value_type = Object)]
    pub snapshot: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EntityRow {
    pub id: String,
    #[serde(skip)]
    pub account_id: String,
    #[serde(skip)]
    pub workspace_id: String,
    #[serde(rename = "type")]
    pub entity_type: String,
    pub name: String,
    pub aliases: Vec<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LinkRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// note or entity.
    pub from_type: String,
    pub from_id: String,
    pub to_type: String,
    pub to_id: String,
    pub relation: String,
    pub weight: f64,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub summary: String,
    pub actor: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub occurred_at: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub created_at: String,
}

/// A feedback signal on one item: the same lowercase word in JSON and in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum Signal {
    Helpful,
    Unhelpful,
    /// Helpful, and a pending note is approved.
    Remember,
    /// Unhelpful, and a note is forgotten.
    Forget,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Helpful => "helpful",
            Self::Unhelpful => "unhelpful",
            Self::Remember => "remember",
            Self::Forget => "forget",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub pack_id: Option<String>,
    pub item_type: ItemType,
    pub item_id: String,
    pub signal: Signal,
    pub actor: String,
    pub comment: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackRow {
    pub id: String,
    pub workspace_id: String,
    pub query: String,
    pub request: Value,
    pub items: Value,
    pub dropped: Value,
    pub usage: Value,
    pub harness_version_id: Option<String>,
    pub trace_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct NoteFilter {
    pub status: Option<NoteStatus>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    /// Notes created before this (created_at, id) cursor.
    pub before: Option<(String, String)>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    pub entity_type: Option<String>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct LinkFilter {
    /// Links with this note or entity at either end.
    pub node_id: Option<String>,
    pub relation: Option<String>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub mission_id: Option<String>,
    /// occurred_at >= from
    pub from: Option<String>,
    /// occurred_at < to
    pub to: Option<String>,
    /// Events before this (occurred_at, id) cursor.
    pub before: Option<(String, String)>,
    pub limit: i64,
}

/// Every row a memory write changes, applied in one transaction: a batch is all or nothing.
#[derive(Debug, Clone, Default)]
pub struct MemoryWrites {
    /// Inserted, or replaced by id.
    pub notes: Vec<NoteRow>,
    pub history: Vec<HistoryRow>,
    /// Inserted, or replaced by id.
    pub entities: Vec<EntityRow>,
    /// Inserted, or replaced by id.
    pub links: Vec<LinkRow>,
    pub delete_links: Vec<String>,
    /// Inserted, or replaced by id.
    pub events: Vec<EventRow>,
    pub feedback: Vec<FeedbackRow>,
}

impl MemoryWrites {
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
            && self.history.is_empty()
            && self.entities.is_empty()
            && self.links.is_empty()
            && self.delete_links.is_empty()
            && self.events.is_empty()
            && self.feedback.is_empty()
    }
}

/// helpful and unhelpful counts (remember counts as helpful) of one item.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedbackTotals {
    pub helpful: i64,
    pub unhelpful: i64,
}

#[async_trait]
pub trait MemoryStore: Send + Sync {
    async fn note(&self, workspace_id: &str, id: &str) -> StoreResult<Option<NoteRow>>;
    async fn notes_by_ids(&self, workspace_id: &str, ids: &[String]) -> StoreResult<Vec<NoteRow>>;
    /// Notes at the given places (`thread_id`, `thread_seq`) of their threads.
    async fn notes_in_threads(
        &self,
        workspace_id: &str,
        places: &[(String, i64)],
    ) -> StoreResult<Vec<NoteRow>>;
    async fn notes_by_index_keys(
        &self,
        workspace_id: &str,
        keys: &[String],
    ) -> StoreResult<Vec<NoteRow>>;
    async fn note_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<NoteRow>>;
    async fn list_notes(&self, workspace_id: &str, f: &NoteFilter) -> StoreResult<Vec<NoteRow>>;
    async fn note_history(&self, workspace_id: &str, note_id: &str)
        -> StoreResult<Vec<HistoryRow>>;

    async fn entity(&self, workspace_id: &str, id: &str) -> StoreResult<Option<EntityRow>>;
    async fn entity_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<EntityRow>>;
    async fn entity_by_name(
        &self,
        workspace_id: &str,
        entity_type: &str,
        name: &str,
    ) -> StoreResult<Option<EntityRow>>;
    async fn entities_by_ids(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<EntityRow>>;
    async fn list_entities(
        &self,
        workspace_id: &str,
        f: &EntityFilter,
    ) -> StoreResult<Vec<EntityRow>>;

    async fn link(&self, workspace_id: &str, id: &str) -> StoreResult<Option<LinkRow>>;
    async fn link_by_key(
        &self,
        workspace_id: &str,
        from: (&str, &str),
        to: (&str, &str),
        relation: &str,
    ) -> StoreResult<Option<LinkRow>>;
    async fn list_links(&self, workspace_id: &str, f: &LinkFilter) -> StoreResult<Vec<LinkRow>>;

    async fn event_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<EventRow>>;
    async fn list_events(&self, workspace_id: &str, f: &EventFilter) -> StoreResult<Vec<EventRow>>;

    async fn feedback_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<FeedbackRow>>;
    async fn feedback_totals(
        &self,
        workspace_id: &str,
        item_ids: &[String],
    ) -> StoreResult<HashMap<String, FeedbackTotals>>;

    /// Every approved or pending note of every workspace, to rebuild the indexes.
    async fn indexed_notes(&self) -> StoreResult<Vec<NoteRow>>;

    /// Applies every change in one transaction.
    async fn apply(&self, writes: &MemoryWrites) -> StoreResult<()>;

    /// Every entity and link of every workspace, to build the graph at start.
    async fn graph_rows(&self) -> StoreResult<(Vec<EntityRow>, Vec<LinkRow>)>;

    async fn save_pack(&self, pack: &PackRow) -> StoreResult<()>;
    async fn pack(&self, workspace_id: &str, id: &str) -> StoreResult<Option<PackRow>>;
}
