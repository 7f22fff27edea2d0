//! Request and response shapes of the sources, documents and search routes. Responses also
//! deserialize, so clients (the integration tests among them) read them with these types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::retrieval::SearchMode;
use crate::store::sources::{ChunkRow, DocumentRow, SourceRow};

/// `POST /v1/sources` as JSON: exactly one of `url`, `text` or `records`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    pub workspace_id: Option<String>,
    /// Fetch and ingest this http(s) URL.
    pub url: Option<String>,
    pub title: Option<String>,
    /// Ingest this text as a document.
    pub text: Option<String>,
    /// Ingest each record as a document: its `text_field` is the text, its other fields the
    /// metadata, its `id_field` (when present) the `external_id`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub records: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    pub text_field: Option<String>,
    pub title_field: Option<String>,
    pub id_field: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    /// true (default): answer once searchable. false: answer 202 at once and ingest in the
    /// background; poll `GET /v1/sources/{id}`.
    pub wait: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SourceView {
    pub id: String,
    pub workspace_id: String,
    /// file, url, text or record.
    pub kind: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub content_hash: String,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
    /// queued, processing, ready or failed.
    pub status: String,
    /// Why it failed, when `status` is `failed`.
    pub error: Option<String>,
    pub document_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// For `wait=false`: the background job, polled with `GET /v1/sources/{id}` (a source has
    /// one job at a time, so the job id is the source id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// True when the same content was already in the workspace and nothing new was stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<DocumentView>>,
}

impl SourceView {
    pub fn from_row(s: SourceRow, workspace_slug: &str) -> Self {
        Self {
            id: s.id,
            workspace_id: workspace_slug.to_string(),
            kind: s.kind,
            title: s.title,
            url: s.url,
            filename: s.filename,
            media_type: s.media_type,
            content_hash: s.content_hash,
            external_source: s.external_source,
            external_id: s.external_id,
            tags: s.tags,
            metadata: s.metadata,
            status: s.status,
            error: s.error,
            document_id: s.active_document_id,
            created_at: s.created_at,
            updated_at: s.updated_at,
            job_id: None,
            deduplicated: false,
            documents: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceList {
    pub object: String,
    pub data: Vec<SourceView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

crate::validate::listing!(SourceList: SourceView);

/// What `POST /v1/sources` returns for records: one source per record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceBatch {
    pub object: String,
    pub data: Vec<SourceView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentView {
    pub id: String,
    pub source_id: String,
    pub version: i64,
    pub title: Option<String>,
    pub url: Option<String>,
    pub content_kind: String,
    pub content_hash: String,
    pub chunk_count: i64,
    pub state: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl DocumentView {
    pub fn from_row(d: DocumentRow, with_text: bool) -> Self {
        Self {
            id: d.id,
            source_id: d.source_id,
            version: d.version,
            title: d.title,
            url: d.url,
            content_kind: d.content_kind,
            content_hash: d.content_hash,
            chunk_count: d.chunk_count,
            state: d.state,
            created_at: d.created_at,
            text: with_text.then_some(d.text),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChunkView {
    pub id: String,
    pub document_id: String,
    pub source_id: String,
    pub index: i64,
    pub text: String,
    pub char_start: i64,
    pub char_end: i64,
    pub page: Option<i64>,
    pub tokens: i64,
}

impl From<ChunkRow> for ChunkView {
    fn from(c: ChunkRow) -> Self {
        Self {
            id: c.id,
            document_id: c.document_id,
            source_id: c.source_id,
            index: c.idx,
            text: c.text,
            char_start: c.char_start,
            char_end: c.char_end,
            page: c.page,
            tokens: c.tokens,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChunkList {
    pub object: String,
    pub data: Vec<ChunkView>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchFilters {
    pub source_ids: Option<Vec<String>>,
    /// Only chunks of sources carrying every one of these tags.
    pub tags: Option<Vec<String>>,
    /// Only chunks of sources whose metadata has these key/value pairs.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub mode: SearchMode,
    /// 1-100, default 10.
    pub limit: Option<usize>,
    #[serde(default)]
    pub filters: SearchFilters,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Scores {
    pub bm25: Option<f32>,
    pub vector: Option<f32>,
    pub fused: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    pub source_id: String,
    pub document_id: String,
    pub chunk_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub page: Option<i64>,
    pub char_start: i64,
    pub char_end: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub chunk_id: String,
    pub text: String,
    pub scores: Scores,
    pub citation: Citation,
    pub tags: Vec<String>,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub object: String,
    pub mode: SearchMode,
    pub data: Vec<SearchHit>,
    pub took_ms: f64,
}
