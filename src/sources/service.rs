//! The sources service: what the HTTP handlers and the CLI call. It answers in its own terms
//! ([`Ingested`]); `http/sources.rs` maps them to status codes.

use std::sync::Arc;

use cairn_ingest::Chunker;
use tokio::sync::Notify;

use crate::error::{ApiError, ApiResult};
use crate::retrieval::Retriever;
use crate::sources::fetch::UrlFetcher;
use crate::sources::model::{ChunkList, ChunkView, DocumentView, SourceList, SourceView};
use crate::sources::pipeline::{OnFailure, Pending};
use crate::store::sources::{EnqueueRefused, QueueLimits, SourceFilter, SourceRow, SourceStore};
use crate::store::time::{new_id, now};
use crate::store::Workspace;
use crate::validate;

/// Reads the page spans a document row keeps (`[[page, start, end], ...]`).
fn page_spans(stored: &serde_json::Value) -> Vec<cairn_ingest::extract::PageSpan> {
    serde_json::from_value::<Vec<(u32, usize, usize)>>(stored.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(page, start, end)| cairn_ingest::extract::PageSpan { page, start, end })
        .collect()
}

enum Planned {
    Duplicate(SourceView),
    Ingest {
        row: SourceRow,
        insert: bool,
        bytes: Vec<u8>,
    },
}

/// What creating a source did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Searchable now (also: the same content was already there).
    Ready,
    /// Queued for the background worker (`wait=false`).
    Queued,
}

/// The `item_type` of source chunks in the shared vector and text indexes.
pub const CHUNK_ITEM: &str = "chunk";

#[derive(Debug, Clone)]
pub struct SourcesSettings {
    /// Prefix each chunk's text with its document title before embedding.
    pub embed_title: bool,
    /// Most tokens of the title put before a chunk: the model's window minus the chunk size,
    /// the special tokens and the separator.
    pub title_tokens: usize,
    pub max_records: usize,
    /// Limits of the child process that extracts PDFs.
    pub extract: crate::sources::isolate::ExtractLimits,
    /// Per workspace: most queued jobs, and most queued payload bytes.
    pub queue_max_jobs: u64,
    pub queue_max_bytes: u64,
}

pub struct Sources {
    pub store: Arc<dyn SourceStore>,
    pub retriever: Arc<Retriever>,
    pub chunker: Arc<Chunker>,
    pub fetcher: Arc<UrlFetcher>,
    pub settings: SourcesSettings,
    /// Wakes the background worker when a job is queued.
    pub wake: Arc<Notify>,
}

impl Sources {
    /// Ingests one source. `wait`: answer once searchable, else queue it.
    pub async fn create(
        &self,
        ws: &Workspace,
        p: Pending,
        wait: bool,
    ) -> ApiResult<(Ingested, SourceView)> {
        let (mut row, insert, bytes) = match self.plan(ws, p).await? {
            Planned::Duplicate(view) => return Ok((Ingested::Ready, view)),
            Planned::Ingest { row, insert, bytes } => (row, insert, bytes),
        };
        let p_bytes = bytes;
        if !wait {
            row.status = "queued".into();
            match self
                .store
                .enqueue(row.clone(), insert, p_bytes, self.queue_limits())
                .await?
            {
                Ok(()) => {}
                Err(EnqueueRefused::QueueFull) => return Err(self.queue_full()),
                Err(EnqueueRefused::ExternalConflict) => {
                    return Err(ApiError::Conflict(
                        "a source with this external_source/external_id already exists".into(),
                    ))
                }
            }
            self.wake.notify_one();
            let mut view = SourceView::from_row(row, &ws.workspace_id);
            view.job_id = Some(view.id.clone());
            return Ok((Ingested::Queued, view));
        }
        let extracted = self.extract_payload(&mut row, p_bytes).await?;
        let done = self
            .index_document(row, extracted, insert, OnFailure::DeleteNewSources)
            .await?;
        Ok((
            Ingested::Ready,
            SourceView::from_row(done, &ws.workspace_id),
        ))
    }

    /// Ingests several sources (records) as one unit: with `wait`, all become searchable
    /// together or none is stored; without, all are queued.
    pub async fn create_many(
        &self,
        ws: &Workspace,
        items: Vec<Pending>,
        wait: bool,
    ) -> ApiResult<(Ingested, Vec<SourceView>)> {
        if !wait {
            self.check_queue_room(ws, &items).await?;
            let mut out = Vec::with_capacity(items.len());
            for p in items {
                out.push(self.create(ws, p, false).await?.1);
            }
            return Ok((Ingested::Queued, out));
        }
        let mut views: Vec<Option<SourceView>> = Vec::with_capacity(items.len());
        let mut work = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in items {
            if let (Some(src), Some(id)) = (&p.external_source, &p.external_id) {
                if !seen.insert((src.clone(), id.clone())) {
                    return Err(ApiError::bad_request(format!(
                        "records: external_id {id} appears twice"
                    )));
                }
            }
            match self.plan(ws, p).await? {
                Planned::Duplicate(view) => views.push(Some(view)),
                Planned::Ingest {
                    mut row,
                    insert,
                    bytes,
                } => {
                    let extracted = self.extract_payload(&mut row, bytes).await?;
                    work.push((row, extracted, insert));
                    views.push(None);
                }
            }
        }
        let mut done = self
            .index_documents(work, OnFailure::DeleteNewSources)
            .await?
            .into_iter();
        let out = views
            .into_iter()
            .map(|v| {
                v.or_else(|| {
                    done.next()
                        .map(|r| SourceView::from_row(r, &ws.workspace_id))
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("batch result count mismatch")))?;
        Ok((Ingested::Ready, out))
    }

    fn queue_limits(&self) -> QueueLimits {
        QueueLimits {
            max_jobs: self.settings.queue_max_jobs,
            max_bytes: self.settings.queue_max_bytes,
        }
    }

    fn queue_full(&self) -> ApiError {
        ApiError::TooManyRequests(format!(
            "this workspace's ingest queue is full (at most {} sources and {} bytes waiting: \
             sources.queue_max_jobs, sources.queue_max_bytes); retry once queued sources are \
             processed",
            self.settings.queue_max_jobs, self.settings.queue_max_bytes
        ))
    }

    /// Refuses a batch to queue that cannot fit the workspace's queue as a whole, before any
    /// of it is queued (each enqueue still checks on its own).
    async fn check_queue_room(&self, ws: &Workspace, items: &[Pending]) -> ApiResult<()> {
        let (jobs, bytes) = self.store.queue_usage(&ws.id).await?;
        let more_jobs = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let more_bytes: u64 = items
            .iter()
            .map(|p| u64::try_from(p.bytes.len()).unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add);
        if jobs.saturating_add(more_jobs) > self.settings.queue_max_jobs
            || bytes.saturating_add(more_bytes) > self.settings.queue_max_bytes
        {
            return Err(self.queue_full());
        }
        Ok(())
    }

    /// Decides what a new source is: a duplicate of what the workspace holds, or a row to
    /// ingest (new, or an existing one matched by its external pair).
    async fn plan(&self, ws: &Workspace, p: Pending) -> ApiResult<Planned> {
        let hash = match p.kind.as_str() {
            "url" => cairn_ingest::content_hash(p.url.as_deref().unwrap_or_default().as_bytes()),
            _ => cairn_ingest::content_hash(&p.bytes),
        };
        let existing = match (&p.external_source, &p.external_id) {
            (Some(src), Some(id)) => self.store.source_by_external(&ws.id, src, id).await?,
            (None, None) => None,
            _ => {
                return Err(ApiError::bad_request(
                    "external_source and external_id go together: give both or neither",
                ))
            }
        };
        let duplicate = match &existing {
            Some(e) if e.content_hash == hash && e.status == "ready" => Some(e.clone()),
            Some(_) => None,
            None if p.external_id.is_none() => self.store.source_by_hash(&ws.id, &hash).await?,
            None => None,
        };
        if let Some(dup) = duplicate {
            let mut view = SourceView::from_row(dup, &ws.workspace_id);
            view.deduplicated = true;
            return Ok(Planned::Duplicate(view));
        }
        if existing
            .as_ref()
            .is_some_and(|e| matches!(e.status.as_str(), "queued" | "processing"))
        {
            return Err(ApiError::Conflict(
                "this source is being ingested; retry when it is ready".into(),
            ));
        }
        let at = now();
        let insert = existing.is_none();
        let mut row = existing.unwrap_or_else(|| SourceRow {
            id: new_id(),
            account_id: ws.account_id.clone(),
            workspace_id: ws.id.clone(),
            kind: p.kind.clone(),
            title: None,
            url: None,
            filename: None,
            media_type: None,
            content_hash: hash.clone(),
            external_source: p.external_source.clone(),
            external_id: p.external_id.clone(),
            tags: vec![],
            metadata: serde_json::Value::Null,
            status: "queued".into(),
            error: None,
            active_document_id: None,
            created_at: at.clone(),
            updated_at: at.clone(),
        });
        row.kind = p.kind.clone();
        row.title = p.title.clone();
        row.url = p.url.clone();
        row.filename = p.filename.clone();
        row.media_type = p.media_type.clone();
        row.content_hash = hash;
        row.tags = p.tags.clone();
        row.metadata = serde_json::Value::Object(p.metadata.clone());
        row.error = None;
        row.updated_at = at;
        Ok(Planned::Ingest {
            row,
            insert,
            bytes: p.bytes,
        })
    }

    /// Runs one queued job to completion; failures are recorded on the source.
    pub async fn run_job(&self, mut source: SourceRow) -> anyhow::Result<()> {
        let payload = self
            .store
            .queued_payload(&source.id)
            .await?
            .unwrap_or_default();
        self.store
            .set_status(&source.id, "processing", None)
            .await?;
        let result = match self.extract_payload(&mut source, payload).await {
            Ok(extracted) => self
                .index_document(source.clone(), extracted, false, OnFailure::MarkFailed)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::info!(source_id = %source.id, error = %e, "background ingest failed");
            self.store.fail_job(&source.id, &e.to_string()).await?;
        }
        Ok(())
    }

    pub async fn get(&self, ws: &Workspace, id: &str) -> ApiResult<SourceView> {
        let row = self
            .store
            .source(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Source"))?;
        let docs = self.store.documents_of(&row.id).await?;
        let mut view = SourceView::from_row(row, &ws.workspace_id);
        view.documents = Some(
            docs.into_iter()
                .map(|d| DocumentView::from_row(d, false))
                .collect(),
        );
        Ok(view)
    }

    pub async fn list(&self, ws: &Workspace, filter: SourceFilter) -> ApiResult<SourceList> {
        let fetch = async |f: SourceFilter| {
            let rows = self.store.list_sources(&ws.id, &f).await;
            rows.map(|rows| {
                rows.into_iter()
                    .map(|r| SourceView::from_row(r, &ws.workspace_id))
                    .collect()
            })
        };
        let cursor_of = |s: &SourceView| validate::encode_cursor(&s.created_at, &s.id);
        validate::page(filter, fetch, cursor_of).await
    }

    /// Removes a source and everything it produced from all three stores.
    pub async fn delete(&self, ws: &Workspace, id: &str) -> ApiResult<()> {
        let groups = self
            .store
            .delete_source(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Source"))?;
        self.purge(&groups).await;
        Ok(())
    }

    /// Re-chunks and re-embeds a source's active document into a new version.
    pub async fn reindex(&self, ws: &Workspace, id: &str) -> ApiResult<SourceView> {
        let row = self
            .store
            .source(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Source"))?;
        let doc_id = row.active_document_id.clone().ok_or_else(|| {
            ApiError::Conflict(format!(
                "the source is {}, not ready; nothing to reindex",
                row.status
            ))
        })?;
        let doc = self
            .store
            .document(&ws.id, &doc_id)
            .await?
            .ok_or(ApiError::NotFound("Document"))?;
        let extracted = cairn_ingest::Extracted {
            kind: match doc.content_kind.as_str() {
                "markdown" => cairn_ingest::ContentKind::Markdown,
                "html" => cairn_ingest::ContentKind::Html,
                "pdf" => cairn_ingest::ContentKind::Pdf,
                _ => cairn_ingest::ContentKind::Text,
            },
            title: doc.title.clone(),
            text: doc.text,
            pages: page_spans(&doc.pages),
        };
        let done = self
            .index_document(row, extracted, false, OnFailure::DeleteNewSources)
            .await?;
        Ok(SourceView::from_row(done, &ws.workspace_id))
    }

    pub async fn document(&self, ws: &Workspace, id: &str) -> ApiResult<DocumentView> {
        let doc = self
            .store
            .document(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Document"))?;
        Ok(DocumentView::from_row(doc, true))
    }

    pub async fn chunks(&self, ws: &Workspace, id: &str) -> ApiResult<ChunkList> {
        let doc = self
            .store
            .document(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Document"))?;
        let chunks = self.store.document_chunks(&doc.id).await?;
        Ok(ChunkList {
            object: "list".into(),
            data: chunks.into_iter().map(ChunkView::from).collect(),
        })
    }

    /// At start: drops what an interrupted ingest left, finishes pending purges.
    pub async fn recover(&self) -> anyhow::Result<()> {
        let report = self.store.recover().await?;
        if report.dropped_documents + report.requeued_sources + report.removed_sources > 0 {
            tracing::warn!(?report, "recovered from an interrupted ingest");
        }
        let pending = self.store.pending_purges().await?;
        self.purge(&pending).await;
        Ok(())
    }
}
