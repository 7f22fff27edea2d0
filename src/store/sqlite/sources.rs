//! `SourceStore` on SQLite: sources, documents, chunks and the ingest queue; a clash on an
//! external id is `ExternalConflict`, through the one unique-violation check in `sqlite/`.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{json, strings};
use crate::store::sources::{
    BeginIngest, ChunkHit, ChunkRow, DocumentRow, EnqueueRefused, ExternalConflict, QueueLimits,
    RecoveryReport, SourceFilter, SourceRow, SourceStore,
};
use crate::store::time::now;
use crate::store::StoreError;

#[derive(Clone)]
pub struct SqliteSources {
    pool: SqlitePool,
}

impl SqliteSources {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn source_row(r: &SqliteRow) -> sqlx::Result<SourceRow> {
    Ok(SourceRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        url: r.try_get("url")?,
        filename: r.try_get("filename")?,
        media_type: r.try_get("media_type")?,
        content_hash: r.try_get("content_hash")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        tags: strings(r.try_get("tags")?),
        metadata: json(r.try_get("metadata")?),
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        active_document_id: r.try_get("active_document_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn document_row(r: &SqliteRow) -> sqlx::Result<DocumentRow> {
    Ok(DocumentRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        source_id: r.try_get("source_id")?,
        version: r.try_get("version")?,
        title: r.try_get("title")?,
        url: r.try_get("url")?,
        content_kind: r.try_get("content_kind")?,
        content_hash: r.try_get("content_hash")?,
        text: r.try_get("text")?,
        pages: json(r.try_get("pages")?),
        metadata: json(r.try_get("metadata")?),
        chunk_count: r.try_get("chunk_count")?,
        state: r.try_get("state")?,
        created_at: r.try_get("created_at")?,
    })
}

fn chunk_row(r: &SqliteRow) -> sqlx::Result<ChunkRow> {
    Ok(ChunkRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        source_id: r.try_get("source_id")?,
        document_id: r.try_get("document_id")?,
        idx: r.try_get("idx")?,
        text: r.try_get("text")?,
        char_start: r.try_get("char_start")?,
        char_end: r.try_get("char_end")?,
        page: r.try_get("page")?,
        tokens: r.try_get("tokens")?,
    })
}

async fn write_source(
    tx: &mut Transaction<'_, Sqlite>,
    s: &SourceRow,
    insert: bool,
) -> sqlx::Result<bool> {
    let tags = serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into());
    if insert {
        sqlx::query(
            "INSERT INTO sources (id, account_id, workspace_id, kind, title, url, filename, media_type, \
             content_hash, external_source, external_id, tags, metadata, status, error, active_document_id, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id).bind(&s.account_id).bind(&s.workspace_id).bind(&s.kind).bind(&s.title).bind(&s.url)
        .bind(&s.filename).bind(&s.media_type).bind(&s.content_hash).bind(&s.external_source)
        .bind(&s.external_id).bind(tags).bind(s.metadata.to_string()).bind(&s.status).bind(&s.error)
        .bind(&s.active_document_id).bind(&s.created_at).bind(&s.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(true)
    } else {
        let done = sqlx::query(
            "UPDATE sources SET kind = ?, title = ?, url = ?, filename = ?, media_type = ?, content_hash = ?, \
             tags = ?, metadata = ?, status = ?, error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&s.kind).bind(&s.title).bind(&s.url).bind(&s.filename).bind(&s.media_type)
        .bind(&s.content_hash).bind(tags).bind(s.metadata.to_string()).bind(&s.status).bind(&s.error)
        .bind(&s.updated_at).bind(&s.id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Ends a failed job: the source goes back to `ready` on its active document, or `failed`
/// without one, with the reason; its queued payload goes.
async fn end_job(
    tx: &mut Transaction<'_, Sqlite>,
    source_id: &str,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sources SET status = CASE WHEN active_document_id IS NULL THEN 'failed' ELSE 'ready' END, \
         error = ?, updated_at = ? WHERE id = ?",
    )
    .bind(error)
    .bind(now())
    .bind(source_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM ingest_queue WHERE source_id = ?")
        .bind(source_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn queue_purge(tx: &mut Transaction<'_, Sqlite>, group: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT OR IGNORE INTO purge_queue (group_id, created_at) VALUES (?, ?)")
        .bind(group)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl SourceStore for SqliteSources {
    async fn source(&self, workspace_id: &str, id: &str) -> anyhow::Result<Option<SourceRow>> {
        let row = sqlx::query("SELECT * FROM sources WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| source_row(&r)).transpose()?)
    }

    async fn source_by_hash(
        &self,
        workspace_id: &str,
        hash: &str,
    ) -> anyhow::Result<Option<SourceRow>> {
        let row = sqlx::query(
            "SELECT * FROM sources WHERE workspace_id = ? AND content_hash = ? AND status != 'failed' \
             ORDER BY created_at LIMIT 1",
        )
        .bind(workspace_id).bind(hash)
        .fetch_optional(&self.pool).await?;
        Ok(row.map(|r| source_row(&r)).transpose()?)
    }

    async fn source_by_external(
        &self,
        workspace_id: &str,
        external_source: &str,
        external_id: &str,
    ) -> anyhow::Result<Option<SourceRow>> {
        let row = sqlx::query("SELECT * FROM sources WHERE workspace_id = ? AND external_source = ? AND external_id = ?")
            .bind(workspace_id).bind(external_source).bind(external_id)
            .fetch_optional(&self.pool).await?;
        Ok(row.map(|r| source_row(&r)).transpose()?)
    }

    async fn list_sources(
        &self,
        workspace_id: &str,
        f: &SourceFilter,
    ) -> anyhow::Result<Vec<SourceRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM sources WHERE workspace_id = ");
        q.push_bind(workspace_id);
        if let Some(status) = &f.status {
            q.push(" AND status = ").push_bind(status);
        }
        if let Some(tag) = &f.tag {
            q.push(" AND EXISTS (SELECT 1 FROM json_each(sources.tags) WHERE json_each.value = ")
                .push_bind(tag)
                .push(")");
        }
        super::push_before(&mut q, "created_at", &f.before);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(source_row).collect::<sqlx::Result<_>>()?)
    }

    async fn all_sources(
        &self,
        statuses: &[&str],
        limit: i64,
        offset: i64,
    ) -> anyhow::Result<(Vec<SourceRow>, i64)> {
        let list = serde_json::to_string(statuses)?;
        // An empty list means every status.
        let filter = "(json_array_length(?) = 0 OR status IN (SELECT value FROM json_each(?)))";
        let rows = sqlx::query(&format!(
            "SELECT * FROM sources WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        ))
        .bind(&list)
        .bind(&list)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM sources WHERE {filter}"))
                .bind(&list)
                .bind(&list)
                .fetch_one(&self.pool)
                .await?;
        let rows = rows.iter().map(source_row).collect::<sqlx::Result<_>>()?;
        Ok((rows, total))
    }

    async fn source_any(&self, id: &str) -> anyhow::Result<Option<SourceRow>> {
        let row = sqlx::query("SELECT * FROM sources WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| source_row(&r)).transpose()?)
    }

    async fn documents_of(&self, source_id: &str) -> anyhow::Result<Vec<DocumentRow>> {
        let rows = sqlx::query("SELECT * FROM documents WHERE source_id = ? ORDER BY version")
            .bind(source_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(document_row).collect::<sqlx::Result<_>>()?)
    }

    async fn document(&self, workspace_id: &str, id: &str) -> anyhow::Result<Option<DocumentRow>> {
        let row = sqlx::query(
            "SELECT * FROM documents WHERE workspace_id = ? AND id = ? AND state = 'active'",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| document_row(&r)).transpose()?)
    }

    async fn document_chunks(&self, document_id: &str) -> anyhow::Result<Vec<ChunkRow>> {
        let rows = sqlx::query("SELECT * FROM chunks WHERE document_id = ? ORDER BY idx")
            .bind(document_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(chunk_row).collect::<sqlx::Result<_>>()?)
    }

    async fn active_chunks(
        &self,
        workspace_id: &str,
        ids: &[String],
    ) -> anyhow::Result<Vec<ChunkHit>> {
        let mut out = Vec::with_capacity(ids.len());
        for part in ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT c.*, d.title AS document_title, s.title AS source_title, \
                 COALESCE(d.url, s.url) AS cite_url, s.filename AS filename, s.tags AS source_tags, \
                 s.metadata AS source_metadata FROM chunks c \
                 CROSS JOIN documents d ON d.id = c.document_id AND d.state = 'active' \
                 CROSS JOIN sources s ON s.id = c.source_id WHERE c.workspace_id = ",
            );
            q.push_bind(workspace_id).push(" AND c.id IN (");
            let mut sep = q.separated(", ");
            for id in part {
                sep.push_bind(id);
            }
            q.push(")");
            let rows = q.build().fetch_all(&self.pool).await?;
            for r in &rows {
                out.push(ChunkHit {
                    chunk: chunk_row(r)?,
                    document_title: r.try_get("document_title")?,
                    source_title: r.try_get("source_title")?,
                    url: r.try_get("cite_url")?,
                    filename: r.try_get("filename")?,
                    tags: strings(r.try_get("source_tags")?),
                    metadata: json(r.try_get("source_metadata")?),
                });
            }
        }
        Ok(out)
    }

    async fn enqueue(
        &self,
        source: SourceRow,
        insert: bool,
        payload: Vec<u8>,
        limits: QueueLimits,
    ) -> anyhow::Result<Result<(), EnqueueRefused>> {
        let mut tx = self.pool.begin().await?;
        match write_source(&mut tx, &source, insert)
            .await
            .map_err(StoreError::from)
        {
            Err(e) if e.is_conflict() => return Ok(Err(EnqueueRefused::ExternalConflict)),
            Ok(false) => return Ok(Err(EnqueueRefused::ExternalConflict)),
            other => other?,
        };
        // The source's write above holds SQLite's write lock, so the check and the insert
        // see no concurrent enqueue.
        let size = i64::try_from(payload.len()).unwrap_or(i64::MAX);
        let queued = sqlx::query(
            "INSERT OR REPLACE INTO ingest_queue (source_id, payload, created_at) \
             SELECT ?, ?, ? FROM (SELECT COUNT(*) AS jobs, COALESCE(SUM(LENGTH(q.payload)), 0) AS bytes \
               FROM ingest_queue q JOIN sources s ON s.id = q.source_id \
               WHERE s.workspace_id = ? AND q.source_id <> ?) \
             WHERE jobs < ? AND bytes + ? <= ?",
        )
        .bind(&source.id)
        .bind(payload)
        .bind(now())
        .bind(&source.workspace_id)
        .bind(&source.id)
        .bind(i64::try_from(limits.max_jobs).unwrap_or(i64::MAX))
        .bind(size)
        .bind(i64::try_from(limits.max_bytes).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        if queued.rows_affected() == 0 {
            return Ok(Err(EnqueueRefused::QueueFull));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn queue_usage(&self, workspace_id: &str) -> anyhow::Result<(u64, u64)> {
        let (jobs, bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(q.payload)), 0) \
             FROM ingest_queue q JOIN sources s ON s.id = q.source_id WHERE s.workspace_id = ?",
        )
        .bind(workspace_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            u64::try_from(jobs).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    async fn queued_payload(&self, source_id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT payload FROM ingest_queue WHERE source_id = ?")
                .bind(source_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn next_jobs(&self) -> anyhow::Result<Vec<SourceRow>> {
        let rows = sqlx::query(
            "SELECT * FROM ( \
               SELECT s.*, COALESCE(q.created_at, s.created_at) AS queued_at, \
                 ROW_NUMBER() OVER (PARTITION BY s.workspace_id \
                   ORDER BY COALESCE(q.created_at, s.created_at), s.id) AS turn \
               FROM sources s LEFT JOIN ingest_queue q ON q.source_id = s.id \
               WHERE s.status = 'queued') \
             WHERE turn = 1 ORDER BY queued_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(source_row).collect::<sqlx::Result<_>>()?)
    }

    async fn set_status(
        &self,
        source_id: &str,
        status: &str,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE sources SET status = ?, error = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(error)
            .bind(now())
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        if status == "failed" || status == "ready" {
            sqlx::query("DELETE FROM ingest_queue WHERE source_id = ?")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fail_job(&self, source_id: &str, error: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        end_job(&mut tx, source_id, error).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_ingest(
        &self,
        items: &[BeginIngest],
    ) -> anyhow::Result<Result<(), ExternalConflict>> {
        let mut tx = self.pool.begin().await?;
        for b in items {
            match write_source(&mut tx, &b.source, b.insert_source)
                .await
                .map_err(StoreError::from)
            {
                Err(e) if e.is_conflict() => return Ok(Err(ExternalConflict)),
                Ok(false) => return Ok(Err(ExternalConflict)),
                other => other?,
            };
            // The source row was just written, so this transaction holds the write lock: no
            // other ingest of the same source can start a document until it commits.
            let busy: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM documents WHERE source_id = ? AND state = 'pending'",
            )
            .bind(&b.source.id)
            .fetch_one(&mut *tx)
            .await?;
            if busy > 0 {
                return Ok(Err(ExternalConflict));
            }
            let d = &b.document;
            sqlx::query(
            "INSERT INTO documents (id, account_id, workspace_id, source_id, version, title, url, content_kind, \
             content_hash, text, pages, metadata, chunk_count, state, created_at) \
             VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(version), 0) + 1 FROM documents WHERE source_id = ?), \
             ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        )
        .bind(&d.id).bind(&d.account_id).bind(&d.workspace_id).bind(&d.source_id).bind(&d.source_id)
        .bind(&d.title).bind(&d.url).bind(&d.content_kind).bind(&d.content_hash).bind(&d.text)
        .bind(d.pages.to_string()).bind(d.metadata.to_string()).bind(d.chunk_count).bind(&d.created_at)
        .execute(&mut *tx).await?;
            for c in &b.chunks {
                sqlx::query(
                "INSERT INTO chunks (id, account_id, workspace_id, source_id, document_id, idx, text, char_start, \
                 char_end, page, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&c.id).bind(&c.account_id).bind(&c.workspace_id).bind(&c.source_id).bind(&c.document_id).bind(c.idx)
            .bind(&c.text).bind(c.char_start).bind(c.char_end).bind(c.page).bind(c.tokens)
            .execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn activate(&self, items: &[(String, String)]) -> anyhow::Result<Vec<String>> {
        let mut tx = self.pool.begin().await?;
        let mut retired = Vec::new();
        for (source_id, document_id) in items {
            // Writing first takes SQLite's write lock, so what follows sees the latest state.
            let claimed = sqlx::query(
                "UPDATE documents SET state = 'active' WHERE id = ? AND state = 'pending'",
            )
            .bind(document_id)
            .execute(&mut *tx)
            .await?;
            anyhow::ensure!(
                claimed.rows_affected() == 1,
                "document {document_id} is no longer pending (its source was deleted during the ingest)"
            );
            let old: Vec<String> =
                sqlx::query_scalar("SELECT id FROM documents WHERE source_id = ? AND id != ?")
                    .bind(source_id)
                    .bind(document_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for id in &old {
                queue_purge(&mut tx, id).await?;
                sqlx::query("DELETE FROM documents WHERE id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE sources SET status = 'ready', error = NULL, active_document_id = ?, updated_at = ? WHERE id = ?")
            .bind(document_id).bind(now()).bind(source_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM ingest_queue WHERE source_id = ?")
                .bind(source_id)
                .execute(&mut *tx)
                .await?;
            retired.extend(old);
        }
        tx.commit().await?;
        Ok(retired)
    }

    async fn abort_ingest(
        &self,
        items: &[(String, String, bool)],
        error: &str,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for (source_id, document_id, delete_source) in items {
            let delete_source = *delete_source;
            queue_purge(&mut tx, document_id).await?;
            sqlx::query("DELETE FROM documents WHERE id = ?")
                .bind(document_id)
                .execute(&mut *tx)
                .await?;
            if delete_source {
                sqlx::query("DELETE FROM sources WHERE id = ?")
                    .bind(source_id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                end_job(&mut tx, source_id, error).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn delete_source(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> anyhow::Result<Option<Vec<String>>> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM sources WHERE workspace_id = ? AND id = ?")
                .bind(workspace_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let docs: Vec<String> = sqlx::query_scalar("SELECT id FROM documents WHERE source_id = ?")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        for d in &docs {
            queue_purge(&mut tx, d).await?;
        }
        sqlx::query("DELETE FROM sources WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(docs))
    }

    async fn pending_purges(&self) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT group_id FROM purge_queue ORDER BY created_at")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn purged(&self, groups: &[String]) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for g in groups {
            sqlx::query("DELETE FROM purge_queue WHERE group_id = ?")
                .bind(g)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn recover(&self) -> anyhow::Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        let mut tx = self.pool.begin().await?;
        let pending: Vec<String> =
            sqlx::query_scalar("SELECT id FROM documents WHERE state = 'pending'")
                .fetch_all(&mut *tx)
                .await?;
        for id in &pending {
            queue_purge(&mut tx, id).await?;
            sqlx::query("DELETE FROM documents WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            report.dropped_documents += 1;
        }
        let stuck: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, active_document_id FROM sources WHERE status = 'processing'",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, active) in stuck {
            let queued: Option<String> =
                sqlx::query_scalar("SELECT source_id FROM ingest_queue WHERE source_id = ?")
                    .bind(&id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if queued.is_some() {
                sqlx::query("UPDATE sources SET status = 'queued', updated_at = ? WHERE id = ?")
                    .bind(now())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                report.requeued_sources += 1;
            } else if active.is_some() {
                sqlx::query("UPDATE sources SET status = 'ready', updated_at = ? WHERE id = ?")
                    .bind(now())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("DELETE FROM sources WHERE id = ?")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                report.removed_sources += 1;
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn chunk_external_ids(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT c.id, s.external_id FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'active' \
             JOIN sources s ON s.id = c.source_id WHERE s.external_id IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn active_documents(&self) -> anyhow::Result<Vec<DocumentRow>> {
        let rows =
            sqlx::query("SELECT * FROM documents WHERE state = 'active' ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(document_row).collect::<sqlx::Result<_>>()?)
    }

    async fn embedding_state(&self) -> anyhow::Result<Option<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT model_id, dimension FROM embedding_state WHERE singleton = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_embedding_state(&self, model_id: &str, dimension: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO embedding_state (singleton, model_id, dimension, updated_at) VALUES (1, ?, ?, ?) \
             ON CONFLICT(singleton) DO UPDATE SET model_id = excluded.model_id, dimension = excluded.dimension, \
             updated_at = excluded.updated_at",
        )
        .bind(model_id).bind(dimension).bind(now())
        .execute(&self.pool).await?;
        Ok(())
    }
}
