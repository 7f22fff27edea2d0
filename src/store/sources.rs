//! Sources, documents and chunks in SQL, the ingest queue and the purge queue (vector and
//! posting groups still to delete from LanceDB and tantivy).

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct SourceRow {
    pub id: String,
    pub account_id: String,
    pub workspace_id: String,
    pub kind: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub content_hash: String,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
    pub status: String,
    pub error: Option<String>,
    pub active_document_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: String,
    pub account_id: String,
    pub workspace_id: String,
    pub source_id: String,
    pub version: i64,
    pub title: Option<String>,
    pub url: Option<String>,
    pub content_kind: String,
    pub content_hash: String,
    pub text: String,
    /// PDF page spans, `[[page, start char, end char], ...]`, kept so a reindex cites pages.
    pub pages: Value,
    pub metadata: Value,
    pub chunk_count: i64,
    pub state: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct ChunkRow {
    pub id: String,
    pub account_id: String,
    pub workspace_id: String,
    pub source_id: String,
    pub document_id: String,
    pub idx: i64,
    pub text: String,
    pub char_start: i64,
    pub char_end: i64,
    pub page: Option<i64>,
    pub tokens: i64,
}

/// A chunk with what a citation needs from its document and source.
#[derive(Debug, Clone)]
pub struct ChunkHit {
    pub chunk: ChunkRow,
    pub document_title: Option<String>,
    pub source_title: Option<String>,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub tags: Vec<String>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    pub status: Option<String>,
    pub tag: Option<String>,
    /// Return sources created before this (created_at, id) cursor.
    pub before: Option<(String, String)>,
    pub limit: i64,
}

/// Everything written before the vectors and postings: the source (inserted or updated to
/// `processing`), the new document (`pending`) and its chunks.
#[derive(Debug, Clone)]
pub struct BeginIngest {
    pub source: SourceRow,
    pub insert_source: bool,
    pub document: DocumentRow,
    pub chunks: Vec<ChunkRow>,
}

#[derive(Debug, Clone, Copy)]
pub struct ExternalConflict;

/// How much one workspace may hold in the ingest queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub max_jobs: u64,
    pub max_bytes: u64,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueRefused {
    /// Another source of the workspace has this external pair.
    ExternalConflict,
    /// The workspace's queue is at its job or byte limit.
    QueueFull,
}

#[async_trait]
pub trait SourceStore: Send + Sync {
    async fn source(&self, workspace_id: &str, id: &str) -> anyhow::Result<Option<SourceRow>>;
    async fn source_by_hash(
        &self,
        workspace_id: &str,
        hash: &str,
    ) -> anyhow::Result<Option<SourceRow>>;
    async fn source_by_external(
        &self,
        workspace_id: &str,
        external_source: &str,
        external_id: &str,
    ) -> anyhow::Result<Option<SourceRow>>;
    async fn list_sources(
        &self,
        workspace_id: &str,
        filter: &SourceFilter,
    ) -> anyhow::Result<Vec<SourceRow>>;
    async fn documents_of(&self, source_id: &str) -> anyhow::Result<Vec<DocumentRow>>;
    /// Every workspace's sources (the ingest jobs), newest first, optionally of some statuses:
    /// `limit` from `offset`, and how many match.
    async fn all_sources(
        &self,
        statuses: &[&str],
        limit: i64,
        offset: i64,
    ) -> anyhow::Result<(Vec<SourceRow>, i64)>;
    /// A source of any workspace.
    async fn source_any(&self, id: &str) -> anyhow::Result<Option<SourceRow>>;
    async fn document(&self, workspace_id: &str, id: &str) -> anyhow::Result<Option<DocumentRow>>;
    async fn document_chunks(&self, document_id: &str) -> anyhow::Result<Vec<ChunkRow>>;
    /// Active chunks among `ids` in one workspace; ids of inactive documents are skipped.
    async fn active_chunks(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> anyhow::Result<Vec<ChunkHit>>;

    /// Inserts a queued source and its raw payload, for processing in the background, unless
    /// the workspace's queue would go past `limits` (checked in the same transaction).
    async fn enqueue(
        &self,
        source: SourceRow,
        insert: bool,
        payload: Vec<u8>,
        limits: QueueLimits,
    ) -> anyhow::Result<Result<(), EnqueueRefused>>;
    /// What a workspace holds in the ingest queue: (jobs, payload bytes).
    async fn queue_usage(&self, workspace_id: &str) -> anyhow::Result<(u64, u64)>;
    /// The payload of a queued source.
    async fn queued_payload(&self, source_id: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// One round of the worker: the oldest queued source of each workspace that has one, the
    /// longest-waiting first, so a long queue of one workspace cannot starve the others.
    async fn next_jobs(&self) -> anyhow::Result<Vec<SourceRow>>;
    async fn set_status(
        &self,
        source_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()>;
    /// Ends a background job that failed: the source is `failed`, or stays `ready` on its
    /// previous document, with the reason in `error`; its queued payload goes.
    async fn fail_job(&self, source_id: &str, error: &str) -> anyhow::Result<()>;

    /// Writes every item in one transaction.
    async fn begin_ingest(
        &self,
        items: &[BeginIngest],
    ) -> anyhow::Result<Result<(), ExternalConflict>>;
    /// Makes each pending document (source id, document id) its source's active one, in one
    /// transaction; earlier documents are deleted and their groups queued for purging.
    /// Returns the retired group ids.
    async fn activate(&self, items: &[(String, String)]) -> anyhow::Result<Vec<String>>;
    /// Undoes `begin_ingest` for (source id, document id, delete source): the pending documents
    /// go (their groups queued for purging), and each source is deleted when asked, else
    /// marked failed with `error` (or left ready on its previous document).
    async fn abort_ingest(
        &self,
        items: &[(String, String, bool)],
        error: &str,
    ) -> anyhow::Result<()>;
    /// Deletes a source with everything it produced; returns its document ids (queued for
    /// purging), or `None` when it does not exist in the workspace.
    async fn delete_source(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> anyhow::Result<Option<Vec<String>>>;

    async fn pending_purges(&self) -> anyhow::Result<Vec<String>>;
    async fn purged(&self, groups: &[String]) -> anyhow::Result<()>;
    /// After a crash: pending documents are dropped (and queued for purging), sources caught
    /// mid-ingest go back to the queue when their payload is kept, else back to their active
    /// document or away.
    async fn recover(&self) -> anyhow::Result<RecoveryReport>;

    /// (chunk id, its source's external_id) for every active chunk; evaluation runners map
    /// retrieved chunks back to corpus ids with it.
    async fn chunk_external_ids(&self) -> anyhow::Result<Vec<(String, String)>>;
    async fn active_documents(&self) -> anyhow::Result<Vec<DocumentRow>>;
    async fn embedding_state(&self) -> anyhow::Result<Option<(String, i64)>>;
    async fn set_embedding_state(&self, model_id: &str, dimension: i64) -> anyhow::Result<()>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RecoveryReport {
    pub dropped_documents: u64,
    pub requeued_sources: u64,
    pub removed_sources: u64,
}
