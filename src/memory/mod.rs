//! Memory Vault: notes (with history, review and supersession), entities, links (the graph),
//! events and feedback, scoped by workspace.
//!
//! Every write is planned first (rows to write, notes to index) and then committed in one
//! order: embed, add index entries under fresh keys, apply the SQL transaction, then drop
//! the replaced index entries. SQL decides visibility (an index hit counts only while it
//! matches the note's `index_key`), so a failure at any step leaves nothing visible half-done.

pub mod batch;
pub mod conversations;
pub mod entities;
pub mod events;
pub mod graph;
pub mod model;
pub mod notes;
mod plan;
pub mod timestamps;

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::retrieval::Retriever;
use crate::store::memory::{ItemType, MemoryStore, NoteRow};
use crate::store::text_index::TextEntry;
use crate::store::vectors::VectorEntry;

/// The checks moved to `crate::validate`; this path stays for callers not yet moved.
pub use graph::Graphs;
pub use plan::Upsert;
pub(crate) use plan::WritePlan;

/// The `item_type` of notes in the shared text and vector indexes.
pub const NOTE_ITEM: &str = ItemType::Note.as_str();

pub struct Memory {
    pub store: Arc<dyn MemoryStore>,
    pub retriever: Arc<Retriever>,
    pub graph: Arc<Graphs>,
    /// Screens note content (secrets, review) before it is written.
    pub guard: Arc<crate::guard::Guard>,
    /// Writes to one workspace are serialised, so read-then-write upserts can't race.
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What the embedder sees of a note: its title and content, or its content alone when the
/// title only says when (BM25 indexes the title on its own field either way).
fn note_text(n: &NoteRow) -> String {
    match n.title.as_deref() {
        Some(t) if !t.trim().is_empty() && !timestamps::is_timestamp(t) => {
            format!("{t}\n{}", n.content)
        }
        _ => n.content.clone(),
    }
}

impl Memory {
    pub async fn open(
        store: Arc<dyn MemoryStore>,
        retriever: Arc<Retriever>,
        guard: Arc<crate::guard::Guard>,
    ) -> anyhow::Result<Self> {
        let (entities, links) = store.graph_rows().await?;
        tracing::info!(
            entities = entities.len(),
            links = links.len(),
            "memory graph loaded"
        );
        Ok(Self {
            store,
            retriever,
            graph: Arc::new(Graphs::load(entities, links)),
            guard,
            locks: std::sync::Mutex::new(HashMap::new()),
        })
    }

    async fn lock(&self, workspace_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut all = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            all.entry(workspace_id.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// Embeds and indexes the plan's new note versions, applies its rows in one transaction,
    /// then removes the index entries it replaced and updates the graph.
    pub(crate) async fn commit(&self, plan: WritePlan) -> ApiResult<()> {
        let WritePlan {
            workspace_id,
            writes,
            fresh,
            stale,
            ..
        } = plan;
        if writes.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = fresh.iter().filter_map(|n| n.index_key.clone()).collect();
        self.index(&fresh).await?;
        if let Err(e) = self.store.apply(&writes).await {
            self.drop_entries(keys).await;
            if e.is_conflict() {
                return Err(ApiError::Conflict(
                    "another note, entity or event of this workspace already has that external id or name"
                        .into(),
                ));
            }
            return Err(e.into());
        }
        self.drop_entries(stale).await;
        for e in &writes.entities {
            self.graph.put_entity(e);
        }
        for id in &writes.delete_links {
            self.graph.remove_link(&workspace_id, id);
        }
        for l in &writes.links {
            self.graph.put_link(l);
        }
        for n in &writes.notes {
            self.guard.events.publish(
                "memory_note",
                serde_json::json!({"workspace_id": workspace_id, "note_id": n.id,
                                   "status": n.status.as_str()}),
            );
        }
        Ok(())
    }

    /// Embeds notes and adds their entries under their `index_key`s to both indexes; when
    /// the second index fails, the first one's entries are taken out again.
    async fn index(&self, notes: &[NoteRow]) -> ApiResult<()> {
        if notes.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = notes.iter().filter_map(|n| n.index_key.clone()).collect();
        let texts: Vec<String> = notes.iter().map(note_text).collect();
        let vectors = self
            .retriever
            .embedder
            .embed(texts)
            .await
            .map_err(ApiError::from)?;
        let text_entries: Vec<TextEntry> = notes
            .iter()
            .map(|n| TextEntry {
                id: n.index_key.clone().unwrap_or_default(),
                workspace_id: n.workspace_id.clone(),
                item_type: NOTE_ITEM.into(),
                source_id: n.kind.clone(),
                group_id: n.id.clone(),
                title: n.title.clone().unwrap_or_default(),
                body: n.content.clone(),
            })
            .collect();
        let vector_entries: Vec<VectorEntry> = notes
            .iter()
            .zip(vectors)
            .map(|(n, vector)| VectorEntry {
                id: n.index_key.clone().unwrap_or_default(),
                workspace_id: n.workspace_id.clone(),
                item_type: NOTE_ITEM.into(),
                source_id: n.kind.clone(),
                group_id: n.id.clone(),
                vector,
            })
            .collect();
        let text = self.retriever.text.clone();
        tokio::task::spawn_blocking(move || text.replace_ids(&text_entries, &[]))
            .await
            .map_err(anyhow::Error::from)??;
        if let Err(e) = self.retriever.vectors.add(&vector_entries).await {
            self.drop_entries(keys).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Indexes every approved and pending note again under its current key, after
    /// `cairn reindex` emptied the indexes (a new embedding model, say). Returns the count.
    pub async fn reindex_all(&self) -> anyhow::Result<usize> {
        let notes = self.store.indexed_notes().await?;
        for part in notes.chunks(128) {
            self.index(part)
                .await
                .map_err(|e| anyhow::anyhow!("re-indexing notes: {e}"))?;
        }
        Ok(notes.len())
    }

    /// Index entries that are no longer (or never became) any note's current version. A
    /// failure here is logged, not returned: such entries are invisible to every read.
    async fn drop_entries(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let text = self.retriever.text.clone();
        let ids = keys.clone();
        match tokio::task::spawn_blocking(move || text.replace_ids(&[], &ids)).await {
            Ok(Ok(())) => {}
            other => tracing::warn!(?other, "removing stale note postings failed"),
        }
        if let Err(e) = self.retriever.vectors.delete_ids(&keys).await {
            tracing::warn!(error = %e, "removing stale note vectors failed");
        }
    }
}
