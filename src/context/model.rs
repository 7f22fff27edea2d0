//! Bodies of `POST /v1/memory/context-pack`, `GET /v1/memory/context-packs/{id}` and
//! `POST /v1/memory/context`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::memory::ItemType;

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackMetadata {
    /// Events of this mission are candidates whatever their age.
    pub mission_id: Option<String>,
    pub gwen_task_id: Option<String>,
    pub tokaroo_mission_uuid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextPackRequest {
    pub query: String,
    pub workspace_id: Option<String>,
    /// Token budget of `context` (default 2,000), counted with the configured tokenizer.
    pub max_tokens: Option<usize>,
    /// Source chunks as candidates (default false).
    pub include_sources: Option<bool>,
    /// Recent events as candidates (default true).
    pub include_events: Option<bool>,
    /// Entities named in the query and graph neighbours (default true).
    pub include_graph: Option<bool>,
    /// Pending notes too (default false: only approved notes).
    pub include_pending: Option<bool>,
    /// Only notes of these kinds.
    pub kinds: Option<Vec<String>>,
    /// Answer with what was valid at this time (RFC 3339; default now).
    pub as_of: Option<String>,
    pub metadata: Option<PackMetadata>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ItemScores {
    pub relevance_score: f64,
    pub recency_score: f64,
    pub importance_score: f64,
    pub confidence_score: f64,
    pub feedback_score: f64,
    /// The weighted sum the pack is ordered by (weights in `[context.weights]`).
    pub score: f64,
}

/// Where an item comes from: the note, the chunk with its source and place, the event or
/// the entity.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ItemCitation {
    /// The marker used in `context`, e.g. `[2]`.
    pub marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub char_start: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub char_end: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackItem {
    /// 1-based position, as in the citation marker.
    pub rank: usize,
    #[serde(rename = "type")]
    pub item_type: ItemType,
    pub id: String,
    pub text: String,
    /// The note's kind, or the event's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Tokens of this item's line in `context`.
    pub tokens: usize,
    /// Why it is a candidate: retrieval, a graph path, a recent event.
    pub reason: String,
    pub scores: ItemScores,
    pub citation: ItemCitation,
}

/// Why a candidate is not in the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DropReason {
    /// Its line did not fit in what was left of `max_tokens`.
    Budget,
    /// It repeats an item already included (`duplicate_of`).
    Duplicate,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DroppedItem {
    #[serde(rename = "type")]
    pub item_type: ItemType,
    pub id: String,
    pub score: f64,
    pub reason: DropReason,
    /// For duplicates: the included item it repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackUsage {
    pub max_tokens: usize,
    /// Tokens of `context`; never above `max_tokens`.
    pub tokens_used: usize,
    pub tokenizer: String,
    pub items_considered: usize,
    pub items_included: usize,
    pub dropped_by_budget: usize,
    pub dropped_as_duplicate: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PackTelemetry {
    pub took_ms: f64,
    /// Embedding the query and hybrid search, overlapped.
    pub search_ms: f64,
    /// Reading the hits, graph expansion and events.
    pub expand_ms: f64,
    pub rank_ms: f64,
    pub candidates_notes: usize,
    /// Notes written next to a strong hit (the turn before or after it).
    pub candidates_neighbours: usize,
    pub candidates_chunks: usize,
    pub candidates_graph: usize,
    pub candidates_events: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContextPack {
    pub pack_id: String,
    pub object: String,
    pub workspace_id: String,
    pub query: String,
    pub as_of: Option<String>,
    pub items: Vec<PackItem>,
    /// The items as one prompt-ready text, each line starting with its citation marker.
    pub context: String,
    pub usage: PackUsage,
    pub telemetry: PackTelemetry,
    /// The workspace's active harness version when the pack was built.
    pub harness_version_id: Option<String>,
    /// The harness trace recording this pack; send feedback on it to
    /// `POST /v1/harness/feedback`.
    pub trace_id: Option<String>,
    pub created_at: String,
}

/// A stored pack: what was asked, what was included (with scores) and what was dropped.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredPack {
    pub pack_id: String,
    pub object: String,
    pub query: String,
    #[schema(value_type = Object)]
    pub request: Value,
    #[schema(value_type = Vec<PackItem>)]
    pub items: Value,
    #[schema(value_type = Vec<DroppedItem>)]
    pub dropped: Value,
    #[schema(value_type = Object)]
    pub usage: Value,
    pub harness_version_id: Option<String>,
    pub trace_id: Option<String>,
    pub created_at: String,
}

/// `POST /v1/memory/context`: the simpler form, query in, ranked memories out.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    pub query: String,
    pub workspace_id: Option<String>,
    /// 1-50, default 10.
    pub limit: Option<usize>,
    pub kinds: Option<Vec<String>>,
    pub include_pending: Option<bool>,
    pub as_of: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RankedMemory {
    pub id: String,
    pub title: Option<String>,
    pub content: String,
    pub kind: Option<String>,
    pub scores: ItemScores,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContextResponse {
    pub object: String,
    pub query: String,
    pub data: Vec<RankedMemory>,
}
