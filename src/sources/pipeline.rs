//! The write path of one source: extract, chunk, embed, then write SQL, vectors and postings
//! so that either all of it becomes visible or none of it stays behind.

use std::sync::Arc;

use cairn_ingest::{extract, Chunk, ContentKind, ExtractError, Extracted};

use crate::error::ApiError;
use crate::retrieval::Retriever;
use crate::sources::fetch::FetchError;
use crate::sources::isolate;
use crate::sources::service::{Sources, CHUNK_ITEM};
use crate::store::sources::{BeginIngest, ChunkRow, DocumentRow, SourceRow, SourceStore};
use crate::store::text_index::TextEntry;
use crate::store::time::{new_id, now};
use crate::store::vectors::VectorEntry;

/// A source to ingest, before anything is stored.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    /// file, url, text or record.
    pub kind: String,
    pub bytes: Vec<u8>,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

impl Pending {
    /// One pending record source per record; `base` gives the shared tags, metadata and
    /// external source.
    pub fn from_records(
        records: Vec<cairn_ingest::records::Record>,
        base: &Pending,
    ) -> Vec<Pending> {
        records
            .into_iter()
            .map(|r| {
                let mut p = base.clone();
                p.kind = "record".into();
                p.bytes = r.text.into_bytes();
                p.title = r.title.or_else(|| base.title.clone());
                if let Some(id) = r.external_id {
                    p.external_id = Some(id);
                    p.external_source = Some(
                        base.external_source
                            .clone()
                            .unwrap_or_else(|| "records".into()),
                    );
                }
                p.metadata.extend(r.metadata);
                p
            })
            .collect()
    }
}

/// Whether a failed ingest removes the sources it inserted (a synchronous create: nothing may
/// stay behind) or keeps them as `failed` with the reason (a background job the client polls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    DeleteNewSources,
    MarkFailed,
}

impl From<ExtractError> for ApiError {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Unsupported(m) => ApiError::UnsupportedMediaType(m),
            ExtractError::Undecodable(m) => ApiError::Unprocessable(m),
        }
    }
}

impl From<FetchError> for ApiError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Blocked(m) => ApiError::BadRequest(m),
            FetchError::Failed(m) => ApiError::Unprocessable(m),
            FetchError::TooLarge(n) => ApiError::PayloadTooLarge(n),
        }
    }
}

impl From<cairn_ingest::EmbedError> for ApiError {
    fn from(e: cairn_ingest::EmbedError) -> Self {
        // The detail can name internal hosts; it goes to the log, not to the client.
        tracing::error!(error = %e, "embedding failed");
        ApiError::ServiceUnavailable("Embedding model unavailable".into())
    }
}

impl Sources {
    /// Turns the stored payload of `source` into text: fetches URLs, extracts files.
    pub(crate) async fn extract_payload(
        &self,
        source: &mut SourceRow,
        bytes: Vec<u8>,
    ) -> Result<Extracted, ApiError> {
        match source.kind.as_str() {
            "url" => {
                let url = source.url.clone().unwrap_or_default();
                let fetched = self.fetcher.fetch(&url).await?;
                source.media_type = fetched.media_type.clone();
                source.url = Some(fetched.final_url.clone());
                let kind = ContentKind::detect(
                    path_name(&fetched.final_url).as_deref(),
                    fetched.media_type.as_deref(),
                    &fetched.bytes,
                )?;
                Ok(self.run_extract(kind, fetched.bytes).await?)
            }
            "text" | "record" => Ok(self.run_extract(ContentKind::Text, bytes).await?),
            _ => {
                let kind = ContentKind::detect(
                    source.filename.as_deref(),
                    source.media_type.as_deref(),
                    &bytes,
                )?;
                Ok(self.run_extract(kind, bytes).await?)
            }
        }
    }

    /// Chunks, embeds and writes `extracted` as the new active document of `source`.
    pub(crate) async fn index_document(
        &self,
        source: SourceRow,
        extracted: Extracted,
        insert: bool,
        on_failure: OnFailure,
    ) -> Result<SourceRow, ApiError> {
        let mut done = self
            .index_documents(vec![(source, extracted, insert)], on_failure)
            .await?;
        done.pop().ok_or(ApiError::NotFound("Source"))
    }

    /// Chunks, embeds and writes each (source, text) as its source's new active document. All
    /// become visible together or, on failure, none does and nothing stays behind.
    pub(crate) async fn index_documents(
        &self,
        items: Vec<(SourceRow, Extracted, bool)>,
        on_failure: OnFailure,
    ) -> Result<Vec<SourceRow>, ApiError> {
        let mut begins = Vec::with_capacity(items.len());
        let mut vector_rows = Vec::new();
        let mut text_rows = Vec::new();
        for (source, extracted, insert) in items {
            let prepared = self.prepare(source, extracted, insert).await?;
            vector_rows.extend(prepared.1);
            text_rows.extend(prepared.2);
            begins.push(prepared.0);
        }
        // From here on, stores are written. The commit runs as its own task so that a
        // dropped request (client gone, timeout) cannot stop it between two stores.
        let writer = self.writer();
        tokio::spawn(async move {
            writer
                .commit(begins, vector_rows, text_rows, on_failure)
                .await
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
    }

    /// Chunks and embeds one document; writes nothing.
    async fn prepare(
        &self,
        mut source: SourceRow,
        extracted: Extracted,
        insert_source: bool,
    ) -> Result<(BeginIngest, Vec<VectorEntry>, Vec<TextEntry>), ApiError> {
        let title = source
            .title
            .clone()
            .or_else(|| extracted.title.clone())
            .or_else(|| source.filename.clone())
            .or_else(|| source.url.clone());
        let pieces = self.chunk(&extracted).await?;
        let vectors = self
            .retriever
            .embedder
            .embed(self.embedding_inputs(title.as_deref(), &pieces))
            .await?;
        let document = document_row(&source, &extracted, title.clone(), pieces.len());
        let chunks = chunk_rows(&source, &document.id, &pieces);
        let vector_rows = vector_entries(&chunks, vectors, &document.id);
        let text_rows = text_entries(&chunks, title.as_deref(), &document.id);
        source.status = "processing".into();
        source.updated_at = now();
        Ok((
            BeginIngest {
                source,
                insert_source,
                document,
                chunks,
            },
            vector_rows,
            text_rows,
        ))
    }

    /// Cuts the text into chunks off the async runtime; no chunk at all is a 422.
    async fn chunk(&self, extracted: &Extracted) -> Result<Vec<Chunk>, ApiError> {
        let chunker = self.chunker.clone();
        let for_chunks = extracted.clone();
        let pieces = tokio::task::spawn_blocking(move || chunker.chunk(&for_chunks))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        if pieces.is_empty() {
            return Err(ApiError::Unprocessable(
                "the content has no text to index".into(),
            ));
        }
        Ok(pieces)
    }

    /// The texts to embed: with `sources.embed_title`, the title goes in front of every chunk,
    /// cut so title + chunk fit the model's window.
    fn embedding_inputs(&self, title: Option<&str>, pieces: &[Chunk]) -> Vec<String> {
        let prefix = match (title, self.settings.embed_title) {
            (Some(t), true) if self.settings.title_tokens > 0 => Some(
                self.chunker
                    .truncate(t, self.settings.title_tokens)
                    .to_string(),
            ),
            _ => None,
        };
        pieces
            .iter()
            .map(|c| match &prefix {
                Some(t) => format!("{t}\n\n{}", c.text),
                None => c.text.clone(),
            })
            .collect()
    }
}

/// The new document of `source`, pending until the ingest activates it.
fn document_row(
    source: &SourceRow,
    extracted: &Extracted,
    title: Option<String>,
    chunk_count: usize,
) -> DocumentRow {
    DocumentRow {
        id: new_id(),
        account_id: source.account_id.clone(),
        workspace_id: source.workspace_id.clone(),
        source_id: source.id.clone(),
        version: 0,
        title,
        url: source.url.clone(),
        content_kind: extracted.kind.as_str().to_string(),
        content_hash: cairn_ingest::content_hash(extracted.text.as_bytes()),
        text: extracted.text.clone(),
        pages: serde_json::json!(extracted
            .pages
            .iter()
            .map(|p| (p.page, p.start, p.end))
            .collect::<Vec<_>>()),
        metadata: serde_json::Value::Object(Default::default()),
        chunk_count: i64::try_from(chunk_count).unwrap_or(i64::MAX),
        state: "pending".into(),
        created_at: now(),
    }
}

fn chunk_rows(source: &SourceRow, document_id: &str, pieces: &[Chunk]) -> Vec<ChunkRow> {
    pieces
        .iter()
        .map(|c| ChunkRow {
            id: new_id(),
            account_id: source.account_id.clone(),
            workspace_id: source.workspace_id.clone(),
            source_id: source.id.clone(),
            document_id: document_id.to_string(),
            idx: i64::from(c.index),
            text: c.text.clone(),
            char_start: i64::try_from(c.char_start).unwrap_or(i64::MAX),
            char_end: i64::try_from(c.char_end).unwrap_or(i64::MAX),
            page: c.page.map(i64::from),
            tokens: i64::try_from(c.tokens).unwrap_or(i64::MAX),
        })
        .collect()
}

/// One vector per chunk, grouped by the document so a purge removes them together.
fn vector_entries(
    chunks: &[ChunkRow],
    vectors: Vec<Vec<f32>>,
    document_id: &str,
) -> Vec<VectorEntry> {
    chunks
        .iter()
        .zip(vectors)
        .map(|(c, vector)| VectorEntry {
            id: c.id.clone(),
            workspace_id: c.workspace_id.clone(),
            item_type: CHUNK_ITEM.into(),
            source_id: c.source_id.clone(),
            group_id: document_id.to_string(),
            vector,
        })
        .collect()
}

/// One BM25 posting per chunk, titled with the document's title.
fn text_entries(chunks: &[ChunkRow], title: Option<&str>, document_id: &str) -> Vec<TextEntry> {
    chunks
        .iter()
        .map(|c| TextEntry {
            id: c.id.clone(),
            workspace_id: c.workspace_id.clone(),
            item_type: CHUNK_ITEM.into(),
            source_id: c.source_id.clone(),
            group_id: document_id.to_string(),
            title: title.unwrap_or_default().to_string(),
            body: c.text.clone(),
        })
        .collect()
}

/// The part of an ingest that writes: SQL rows as pending, vectors and postings, activation.
/// Owns its handles so it can run detached from the request.
#[derive(Clone)]
pub(crate) struct Writer {
    store: Arc<dyn SourceStore>,
    retriever: Arc<Retriever>,
}

impl Sources {
    pub(crate) fn writer(&self) -> Writer {
        Writer {
            store: self.store.clone(),
            retriever: self.retriever.clone(),
        }
    }

    /// Deletes the vectors and postings of `groups`; see [`Writer::purge`].
    pub(crate) async fn purge(&self, groups: &[String]) {
        self.writer().purge(groups).await;
    }
}

impl Writer {
    async fn commit(
        &self,
        begins: Vec<BeginIngest>,
        vector_rows: Vec<VectorEntry>,
        text_rows: Vec<TextEntry>,
        on_failure: OnFailure,
    ) -> Result<Vec<SourceRow>, ApiError> {
        if self.store.begin_ingest(&begins).await?.is_err() {
            return Err(ApiError::Conflict(
                "this source is being ingested concurrently, or its external_source/external_id \
                 was just taken; retry when it is ready"
                    .into(),
            ));
        }
        let pairs: Vec<(String, String)> = begins
            .iter()
            .map(|b| (b.source.id.clone(), b.document.id.clone()))
            .collect();
        let documents: Vec<String> = pairs.iter().map(|(_, d)| d.clone()).collect();
        let aborts: Vec<(String, String, bool)> = begins
            .iter()
            .map(|b| {
                let delete = b.insert_source && on_failure == OnFailure::DeleteNewSources;
                (b.source.id.clone(), b.document.id.clone(), delete)
            })
            .collect();
        if let Err(e) = self.write_indexes(&vector_rows, &text_rows).await {
            tracing::warn!(error = %e, "ingest failed; rolling back");
            self.purge(&documents).await;
            self.store.abort_ingest(&aborts, &e.to_string()).await?;
            return Err(e);
        }
        self.pause_for_tests().await;
        let retired = match self.store.activate(&pairs).await {
            Ok(retired) => retired,
            Err(e) => {
                // Typically the source was deleted meanwhile: what this ingest wrote must go.
                tracing::warn!(error = %e, "activation failed; rolling back");
                self.purge(&documents).await;
                self.store.abort_ingest(&aborts, &e.to_string()).await?;
                return Err(ApiError::Conflict(format!(
                    "the ingest could not complete: {e}"
                )));
            }
        };
        self.purge(&retired).await;
        let mut out = Vec::with_capacity(begins.len());
        for b in &begins {
            let row = self
                .store
                .source(&b.source.workspace_id, &b.source.id)
                .await?
                .ok_or(ApiError::NotFound("Source"))?;
            out.push(row);
        }
        Ok(out)
    }

    /// Debug builds only: a pause between the index writes and activation, so a test can kill
    /// the process mid-ingest.
    async fn pause_for_tests(&self) {
        #[cfg(debug_assertions)]
        if let Some(ms) = std::env::var("CAIRN_TEST_PAUSE_BEFORE_ACTIVATE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    async fn write_indexes(
        &self,
        vectors: &[VectorEntry],
        text: &[TextEntry],
    ) -> Result<(), ApiError> {
        #[cfg(debug_assertions)]
        if std::env::var("CAIRN_TEST_FAIL_INDEX_WRITE")
            .is_ok_and(|v| text.iter().any(|t| t.body.contains(&v)))
        {
            return Err(ApiError::ServiceUnavailable(
                "injected index failure (test)".into(),
            ));
        }
        self.retriever
            .vectors
            .add(vectors)
            .await
            .map_err(ApiError::Internal)?;
        let index = self.retriever.text.clone();
        let entries = text.to_vec();
        tokio::task::spawn_blocking(move || index.apply(&entries, &[]))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
            .map_err(ApiError::Internal)?;
        Ok(())
    }

    /// Deletes the vectors and postings of `groups`; what fails stays in the purge queue and
    /// is retried at the next start.
    pub(crate) async fn purge(&self, groups: &[String]) {
        if groups.is_empty() {
            return;
        }
        let vectors = self.retriever.vectors.delete_groups(groups).await;
        let index = self.retriever.text.clone();
        let owned = groups.to_vec();
        let postings = tokio::task::spawn_blocking(move || index.delete_groups(&owned)).await;
        match (vectors, postings) {
            (Ok(()), Ok(Ok(()))) => {
                if let Err(e) = self.store.purged(groups).await {
                    tracing::warn!(error = %e, "could not clear the purge queue");
                }
            }
            (v, p) => tracing::warn!(?v, ?p, "purge failed; it is retried at the next start"),
        }
    }
}

impl Sources {
    /// Extracts in a child process under memory and time limits for the formats whose parser
    /// decompresses (`isolate`), on the blocking pool for the others.
    async fn run_extract(
        &self,
        kind: ContentKind,
        bytes: Vec<u8>,
    ) -> Result<Extracted, ExtractError> {
        if isolate::isolated(kind) {
            return isolate::extract(&self.settings.extract, kind, bytes).await;
        }
        tokio::task::spawn_blocking(move || extract(kind, &bytes))
            .await
            .unwrap_or_else(|_| Err(ExtractError::Undecodable("extraction crashed".into())))
    }
}

fn path_name(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    parsed
        .path_segments()?
        .next_back()
        .filter(|s| s.contains('.'))
        .map(str::to_string)
}
