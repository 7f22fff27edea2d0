//! `MemoryStore` on SQLite: one table per row type; `apply` writes a whole plan in one
//! transaction, replacing rows by id so a clash on any other unique key stays an error.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{json, strings};
use crate::store::memory::{
    EntityFilter, EntityRow, EventFilter, EventRow, FeedbackRow, FeedbackTotals, HistoryRow,
    LinkFilter, LinkRow, MemoryStore, MemoryWrites, NoteFilter, NoteRow, PackRow,
};
use crate::store::StoreResult;

#[derive(Clone)]
pub struct SqliteMemory {
    pool: SqlitePool,
}

impl SqliteMemory {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

/// `INSERT ... ON CONFLICT(id) DO UPDATE`: replaces a row by id, while a clash on any other
/// unique key (an external id, an entity name) stays an error instead of deleting the other row.
fn upsert(table: &str, columns: &[&str]) -> String {
    let marks = vec!["?"; columns.len()].join(", ");
    let set: Vec<String> = columns
        .iter()
        .filter(|c| **c != "id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {}",
        columns.join(", "),
        set.join(", ")
    )
}

const NOTE_COLUMNS: &[&str] = &[
    "id",
    "account_id",
    "workspace_id",
    "title",
    "content",
    "kind",
    "tags",
    "importance",
    "confidence",
    "metadata",
    "status",
    "external_source",
    "external_id",
    "valid_from",
    "valid_to",
    "supersedes",
    "superseded_by",
    "revision",
    "index_key",
    "created_by",
    "created_at",
    "updated_at",
    "thread_id",
    "thread_seq",
];
const ENTITY_COLUMNS: &[&str] = &[
    "id",
    "account_id",
    "workspace_id",
    "entity_type",
    "name",
    "aliases",
    "metadata",
    "external_source",
    "external_id",
    "created_at",
    "updated_at",
];
const LINK_COLUMNS: &[&str] = &[
    "id",
    "workspace_id",
    "from_type",
    "from_id",
    "to_type",
    "to_id",
    "relation",
    "weight",
    "metadata",
    "created_at",
];
const EVENT_COLUMNS: &[&str] = &[
    "id",
    "workspace_id",
    "event_type",
    "summary",
    "actor",
    "mission_id",
    "task_id",
    "occurred_at",
    "metadata",
    "external_source",
    "external_id",
    "created_at",
];

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn note_row(r: &SqliteRow) -> sqlx::Result<NoteRow> {
    Ok(NoteRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        title: r.try_get("title")?,
        content: r.try_get("content")?,
        kind: r.try_get("kind")?,
        tags: strings(r.try_get("tags")?),
        importance: r.try_get("importance")?,
        confidence: r.try_get("confidence")?,
        metadata: json(r.try_get("metadata")?),
        status: r.try_get("status")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        supersedes: r.try_get("supersedes")?,
        superseded_by: r.try_get("superseded_by")?,
        revision: r.try_get("revision")?,
        index_key: r.try_get("index_key")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        thread_id: r.try_get("thread_id")?,
        thread_seq: r.try_get("thread_seq")?,
    })
}

fn history_row(r: &SqliteRow) -> sqlx::Result<HistoryRow> {
    Ok(HistoryRow {
        id: r.try_get("id")?,
        note_id: r.try_get("note_id")?,
        workspace_id: r.try_get("workspace_id")?,
        revision: r.try_get("revision")?,
        action: r.try_get("action")?,
        actor: r.try_get("actor")?,
        reason: r.try_get("reason")?,
        snapshot: json(r.try_get("snapshot")?),
        created_at: r.try_get("created_at")?,
    })
}

fn entity_row(r: &SqliteRow) -> sqlx::Result<EntityRow> {
    Ok(EntityRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        entity_type: r.try_get("entity_type")?,
        name: r.try_get("name")?,
        aliases: strings(r.try_get("aliases")?),
        metadata: json(r.try_get("metadata")?),
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn link_row(r: &SqliteRow) -> sqlx::Result<LinkRow> {
    Ok(LinkRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        from_type: r.try_get("from_type")?,
        from_id: r.try_get("from_id")?,
        to_type: r.try_get("to_type")?,
        to_id: r.try_get("to_id")?,
        relation: r.try_get("relation")?,
        weight: r.try_get("weight")?,
        metadata: json(r.try_get("metadata")?),
        created_at: r.try_get("created_at")?,
    })
}

fn event_row(r: &SqliteRow) -> sqlx::Result<EventRow> {
    Ok(EventRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        event_type: r.try_get("event_type")?,
        summary: r.try_get("summary")?,
        actor: r.try_get("actor")?,
        mission_id: r.try_get("mission_id")?,
        task_id: r.try_get("task_id")?,
        occurred_at: r.try_get("occurred_at")?,
        metadata: json(r.try_get("metadata")?),
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
    })
}

fn feedback_row(r: &SqliteRow) -> sqlx::Result<FeedbackRow> {
    Ok(FeedbackRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        pack_id: r.try_get("pack_id")?,
        item_type: r.try_get("item_type")?,
        item_id: r.try_get("item_id")?,
        signal: r.try_get("signal")?,
        actor: r.try_get("actor")?,
        comment: r.try_get("comment")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
    })
}

fn pack_row(r: &SqliteRow) -> sqlx::Result<PackRow> {
    Ok(PackRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        query: r.try_get("query")?,
        request: json(r.try_get("request")?),
        items: json(r.try_get("items")?),
        dropped: json(r.try_get("dropped")?),
        usage: json(r.try_get("usage")?),
        harness_version_id: r.try_get("harness_version_id")?,
        trace_id: r.try_get("trace_id")?,
        created_at: r.try_get("created_at")?,
    })
}

impl SqliteMemory {
    async fn one<T>(
        &self,
        sql: &str,
        binds: &[&str],
        map: fn(&SqliteRow) -> sqlx::Result<T>,
    ) -> StoreResult<Option<T>> {
        Ok(super::fetch_optional(&self.pool, sql, binds, map).await?)
    }

    /// `SELECT * FROM table WHERE workspace_id = ? AND column IN (...)`, in parts small
    /// enough for SQLite's bind limit. The unary `+` keeps SQLite from scanning the whole
    /// workspace through its index instead of looking the values up (7 ms against 0.3 ms at
    /// 10k notes).
    async fn many_in<T>(
        &self,
        table: &str,
        column: &str,
        workspace_id: &str,
        values: &[String],
        map: fn(&SqliteRow) -> sqlx::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::with_capacity(values.len());
        for part in values.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT * FROM {table} WHERE +workspace_id = "
            ));
            q.push_bind(workspace_id)
                .push(format!(" AND {column} IN ("));
            let mut sep = q.separated(", ");
            for v in part {
                sep.push_bind(v);
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                out.push(map(&r)?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl MemoryStore for SqliteMemory {
    async fn note(&self, ws: &str, id: &str) -> StoreResult<Option<NoteRow>> {
        self.one(
            "SELECT * FROM memory_notes WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            note_row,
        )
        .await
    }

    async fn notes_by_ids(&self, ws: &str, ids: &[String]) -> StoreResult<Vec<NoteRow>> {
        self.many_in("memory_notes", "id", ws, ids, note_row).await
    }

    async fn notes_by_index_keys(&self, ws: &str, keys: &[String]) -> StoreResult<Vec<NoteRow>> {
        self.many_in("memory_notes", "index_key", ws, keys, note_row)
            .await
    }

    async fn notes_in_threads(
        &self,
        ws: &str,
        places: &[(String, i64)],
    ) -> StoreResult<Vec<NoteRow>> {
        if places.is_empty() {
            return Ok(vec![]);
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM memory_notes WHERE workspace_id = ");
        q.push_bind(ws)
            .push(" AND (thread_id, thread_seq) IN (VALUES ");
        let mut values = q.separated(", ");
        for (thread, seq) in places {
            values
                .push("(")
                .push_bind_unseparated(thread)
                .push_unseparated(", ")
                .push_bind_unseparated(*seq)
                .push_unseparated(")");
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(note_row).collect::<sqlx::Result<_>>()?)
    }

    async fn note_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<NoteRow>> {
        self.one(
            "SELECT * FROM memory_notes WHERE workspace_id = ? AND external_source = ? AND external_id = ?",
            &[ws, source, external_id],
            note_row,
        )
        .await
    }

    async fn list_notes(&self, ws: &str, f: &NoteFilter) -> StoreResult<Vec<NoteRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM memory_notes WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(status) = &f.status {
            q.push(" AND status = ").push_bind(status);
        }
        if let Some(kind) = &f.kind {
            q.push(" AND kind = ").push_bind(kind);
        }
        if let Some(tag) = &f.tag {
            q.push(
                " AND EXISTS (SELECT 1 FROM json_each(memory_notes.tags) WHERE json_each.value = ",
            )
            .push_bind(tag)
            .push(")");
        }
        super::push_before(&mut q, "created_at", &f.before);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(note_row).collect::<sqlx::Result<_>>()?)
    }

    async fn note_history(&self, ws: &str, note_id: &str) -> StoreResult<Vec<HistoryRow>> {
        let rows = sqlx::query(
            "SELECT * FROM memory_note_history WHERE workspace_id = ? AND note_id = ? \
             ORDER BY created_at, revision, id",
        )
        .bind(ws)
        .bind(note_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(history_row).collect::<sqlx::Result<_>>()?)
    }

    async fn entity(&self, ws: &str, id: &str) -> StoreResult<Option<EntityRow>> {
        self.one(
            "SELECT * FROM memory_entities WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            entity_row,
        )
        .await
    }

    async fn entity_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<EntityRow>> {
        self.one(
            "SELECT * FROM memory_entities WHERE workspace_id = ? AND external_source = ? AND external_id = ?",
            &[ws, source, external_id],
            entity_row,
        )
        .await
    }

    async fn entity_by_name(
        &self,
        ws: &str,
        entity_type: &str,
        name: &str,
    ) -> StoreResult<Option<EntityRow>> {
        self.one(
            "SELECT * FROM memory_entities WHERE workspace_id = ? AND entity_type = ? \
             AND name = ? COLLATE NOCASE",
            &[ws, entity_type, name],
            entity_row,
        )
        .await
    }

    async fn entities_by_ids(&self, ws: &str, ids: &[String]) -> StoreResult<Vec<EntityRow>> {
        self.many_in("memory_entities", "id", ws, ids, entity_row)
            .await
    }

    async fn list_entities(&self, ws: &str, f: &EntityFilter) -> StoreResult<Vec<EntityRow>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM memory_entities WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(t) = &f.entity_type {
            q.push(" AND entity_type = ").push_bind(t);
        }
        if let Some(name) = &f.name {
            q.push(" AND instr(lower(name), lower(")
                .push_bind(name)
                .push(")) > 0");
        }
        q.push(" ORDER BY name COLLATE NOCASE, id LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(entity_row).collect::<sqlx::Result<_>>()?)
    }

    async fn link(&self, ws: &str, id: &str) -> StoreResult<Option<LinkRow>> {
        self.one(
            "SELECT * FROM memory_links WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            link_row,
        )
        .await
    }

    async fn link_by_key(
        &self,
        ws: &str,
        from: (&str, &str),
        to: (&str, &str),
        relation: &str,
    ) -> StoreResult<Option<LinkRow>> {
        self.one(
            "SELECT * FROM memory_links WHERE workspace_id = ? AND from_type = ? AND from_id = ? \
             AND to_type = ? AND to_id = ? AND relation = ?",
            &[ws, from.0, from.1, to.0, to.1, relation],
            link_row,
        )
        .await
    }

    async fn list_links(&self, ws: &str, f: &LinkFilter) -> StoreResult<Vec<LinkRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM memory_links WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(node) = &f.node_id {
            q.push(" AND (from_id = ")
                .push_bind(node)
                .push(" OR to_id = ")
                .push_bind(node)
                .push(")");
        }
        if let Some(rel) = &f.relation {
            q.push(" AND relation = ").push_bind(rel);
        }
        q.push(" ORDER BY created_at, id LIMIT ").push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(link_row).collect::<sqlx::Result<_>>()?)
    }

    async fn event_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<EventRow>> {
        self.one(
            "SELECT * FROM memory_events WHERE workspace_id = ? AND external_source = ? AND external_id = ?",
            &[ws, source, external_id],
            event_row,
        )
        .await
    }

    async fn list_events(&self, ws: &str, f: &EventFilter) -> StoreResult<Vec<EventRow>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM memory_events WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(t) = &f.event_type {
            q.push(" AND event_type = ").push_bind(t);
        }
        if let Some(m) = &f.mission_id {
            q.push(" AND mission_id = ").push_bind(m);
        }
        if let Some(from) = &f.from {
            q.push(" AND occurred_at >= ").push_bind(from);
        }
        if let Some(to) = &f.to {
            q.push(" AND occurred_at < ").push_bind(to);
        }
        super::push_before(&mut q, "occurred_at", &f.before);
        q.push(" ORDER BY occurred_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(event_row).collect::<sqlx::Result<_>>()?)
    }

    async fn feedback_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<FeedbackRow>> {
        self.one(
            "SELECT * FROM memory_feedback WHERE workspace_id = ? AND external_source = ? AND external_id = ?",
            &[ws, source, external_id],
            feedback_row,
        )
        .await
    }

    async fn feedback_totals(
        &self,
        ws: &str,
        item_ids: &[String],
    ) -> StoreResult<HashMap<String, FeedbackTotals>> {
        let mut out = HashMap::new();
        for part in item_ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT item_id, \
                 SUM(CASE WHEN signal IN ('helpful', 'remember') THEN 1 ELSE 0 END) AS helpful, \
                 SUM(CASE WHEN signal IN ('unhelpful', 'forget') THEN 1 ELSE 0 END) AS unhelpful \
                 FROM memory_feedback WHERE workspace_id = ",
            );
            q.push_bind(ws).push(" AND item_id IN (");
            let mut sep = q.separated(", ");
            for id in part {
                sep.push_bind(id);
            }
            q.push(") GROUP BY item_id");
            for r in q.build().fetch_all(&self.pool).await? {
                out.insert(
                    r.try_get::<String, _>("item_id")?,
                    FeedbackTotals {
                        helpful: r.try_get("helpful")?,
                        unhelpful: r.try_get("unhelpful")?,
                    },
                );
            }
        }
        Ok(out)
    }

    async fn indexed_notes(&self) -> StoreResult<Vec<NoteRow>> {
        let rows = sqlx::query(
            "SELECT * FROM memory_notes WHERE index_key IS NOT NULL ORDER BY workspace_id, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(note_row).collect::<sqlx::Result<_>>()?)
    }

    async fn apply(&self, w: &MemoryWrites) -> StoreResult<()> {
        if w.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        put_notes(&mut tx, &w.notes).await?;
        add_history(&mut tx, &w.history).await?;
        put_entities(&mut tx, &w.entities).await?;
        for id in &w.delete_links {
            sqlx::query("DELETE FROM memory_links WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        put_links(&mut tx, &w.links).await?;
        put_events(&mut tx, &w.events).await?;
        add_feedback(&mut tx, &w.feedback).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn graph_rows(&self) -> StoreResult<(Vec<EntityRow>, Vec<LinkRow>)> {
        let entities = sqlx::query("SELECT * FROM memory_entities")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(entity_row)
            .collect::<sqlx::Result<_>>()?;
        let links = sqlx::query("SELECT * FROM memory_links")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(link_row)
            .collect::<sqlx::Result<_>>()?;
        Ok((entities, links))
    }

    async fn save_pack(&self, p: &PackRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO context_packs (id, workspace_id, query, request, items, dropped, usage, \
             harness_version_id, trace_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.id)
        .bind(&p.workspace_id)
        .bind(&p.query)
        .bind(p.request.to_string())
        .bind(p.items.to_string())
        .bind(p.dropped.to_string())
        .bind(p.usage.to_string())
        .bind(&p.harness_version_id)
        .bind(&p.trace_id)
        .bind(&p.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn pack(&self, ws: &str, id: &str) -> StoreResult<Option<PackRow>> {
        self.one(
            "SELECT * FROM context_packs WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            pack_row,
        )
        .await
    }
}

// The parts of `apply`, one table each, all in the caller's transaction.

type Tx<'a> = Transaction<'a, Sqlite>;

async fn put_notes(tx: &mut Tx<'_>, notes: &[NoteRow]) -> sqlx::Result<()> {
    for n in notes {
        sqlx::query(&upsert("memory_notes", NOTE_COLUMNS))
            .bind(&n.id)
            .bind(&n.account_id)
            .bind(&n.workspace_id)
            .bind(&n.title)
            .bind(&n.content)
            .bind(&n.kind)
            .bind(to_json(&n.tags))
            .bind(n.importance)
            .bind(n.confidence)
            .bind(n.metadata.to_string())
            .bind(n.status)
            .bind(&n.external_source)
            .bind(&n.external_id)
            .bind(&n.valid_from)
            .bind(&n.valid_to)
            .bind(&n.supersedes)
            .bind(&n.superseded_by)
            .bind(n.revision)
            .bind(&n.index_key)
            .bind(&n.created_by)
            .bind(&n.created_at)
            .bind(&n.updated_at)
            .bind(&n.thread_id)
            .bind(n.thread_seq)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn add_history(tx: &mut Tx<'_>, history: &[HistoryRow]) -> sqlx::Result<()> {
    for h in history {
        sqlx::query(
            "INSERT INTO memory_note_history (id, note_id, workspace_id, revision, action, actor, reason, \
             snapshot, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&h.id)
        .bind(&h.note_id)
        .bind(&h.workspace_id)
        .bind(h.revision)
        .bind(h.action)
        .bind(&h.actor)
        .bind(&h.reason)
        .bind(h.snapshot.to_string())
        .bind(&h.created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn put_entities(tx: &mut Tx<'_>, entities: &[EntityRow]) -> sqlx::Result<()> {
    for e in entities {
        sqlx::query(&upsert("memory_entities", ENTITY_COLUMNS))
            .bind(&e.id)
            .bind(&e.account_id)
            .bind(&e.workspace_id)
            .bind(&e.entity_type)
            .bind(&e.name)
            .bind(to_json(&e.aliases))
            .bind(e.metadata.to_string())
            .bind(&e.external_source)
            .bind(&e.external_id)
            .bind(&e.created_at)
            .bind(&e.updated_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn put_links(tx: &mut Tx<'_>, links: &[LinkRow]) -> sqlx::Result<()> {
    for l in links {
        sqlx::query(&upsert("memory_links", LINK_COLUMNS))
            .bind(&l.id)
            .bind(&l.workspace_id)
            .bind(&l.from_type)
            .bind(&l.from_id)
            .bind(&l.to_type)
            .bind(&l.to_id)
            .bind(&l.relation)
            .bind(l.weight)
            .bind(l.metadata.to_string())
            .bind(&l.created_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn put_events(tx: &mut Tx<'_>, events: &[EventRow]) -> sqlx::Result<()> {
    for e in events {
        sqlx::query(&upsert("memory_events", EVENT_COLUMNS))
            .bind(&e.id)
            .bind(&e.workspace_id)
            .bind(&e.event_type)
            .bind(&e.summary)
            .bind(&e.actor)
            .bind(&e.mission_id)
            .bind(&e.task_id)
            .bind(&e.occurred_at)
            .bind(e.metadata.to_string())
            .bind(&e.external_source)
            .bind(&e.external_id)
            .bind(&e.created_at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn add_feedback(tx: &mut Tx<'_>, feedback: &[FeedbackRow]) -> sqlx::Result<()> {
    for f in feedback {
        sqlx::query(
            "INSERT INTO memory_feedback (id, workspace_id, pack_id, item_type, item_id, signal, actor, \
             comment, external_source, external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.id)
        .bind(&f.workspace_id)
        .bind(&f.pack_id)
        .bind(f.item_type)
        .bind(&f.item_id)
        .bind(f.signal)
        .bind(&f.actor)
        .bind(&f.comment)
        .bind(&f.external_source)
        .bind(&f.external_id)
        .bind(&f.created_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
