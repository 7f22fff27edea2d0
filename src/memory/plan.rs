//! A memory write before it is committed: the rows it changes and the note versions to index.

use std::future::Future;

use crate::error::ApiResult;
use crate::memory::Memory;
use crate::store::memory::{
    EntityRow, EventRow, FeedbackRow, HistoryAction, HistoryRow, MemoryWrites, NoteRow,
};
use crate::store::time::{new_id, now};
use crate::store::StoreResult;
use crate::store::Workspace;

pub(crate) struct WritePlan {
    pub workspace_id: String,
    pub account_id: String,
    pub actor: String,
    pub now: String,
    pub writes: MemoryWrites,
    /// Note versions to embed and index, each under its new `index_key`.
    pub fresh: Vec<NoteRow>,
    /// Index keys to remove once the rows are committed.
    pub stale: Vec<String>,
    /// The workspace's `memory_write` policies, read once per plan when a note is screened.
    pub memory_rules: Option<Vec<crate::guard::policy::Rule>>,
    /// The thread and place a note created now takes: set per note by a batch of several.
    pub thread: Option<(String, i64)>,
}

/// Rows a client may name by an external identity (`external_source`, `external_id`).
pub(crate) trait External {
    fn external(&self) -> (Option<&str>, Option<&str>);
}

macro_rules! external_rows {
    ($($row:ty),+) => {
        $(impl External for $row {
            fn external(&self) -> (Option<&str>, Option<&str>) {
                (self.external_source.as_deref(), self.external_id.as_deref())
            }
        })+
    };
}

external_rows!(NoteRow, EntityRow, EventRow, FeedbackRow);

/// The row of `rows` with the external pair (`source`, `external_id`).
pub(crate) fn by_external<'a, T: External>(
    rows: &'a [T],
    source: &str,
    external_id: &str,
) -> Option<&'a T> {
    rows.iter()
        .find(|r| r.external() == (Some(source), Some(external_id)))
}

/// The row planned earlier in this write, else the stored one: a batch sees its own earlier
/// items before the database. `stored` is only awaited when nothing is planned.
pub(crate) async fn planned_or_stored<T: Clone>(
    planned: Option<&T>,
    stored: impl Future<Output = StoreResult<Option<T>>>,
) -> ApiResult<Option<T>> {
    match planned {
        Some(row) => Ok(Some(row.clone())),
        None => Ok(stored.await?),
    }
}

fn replace_or_push<T>(rows: &mut Vec<T>, row: T, same: impl Fn(&T) -> bool) {
    match rows.iter_mut().find(|r| same(r)) {
        Some(slot) => *slot = row,
        None => rows.push(row),
    }
}

impl WritePlan {
    pub fn new(ws: &Workspace, actor: &str) -> Self {
        Self {
            workspace_id: ws.id.clone(),
            account_id: ws.account_id.clone(),
            actor: actor.to_string(),
            now: now(),
            writes: MemoryWrites::default(),
            fresh: Vec::new(),
            stale: Vec::new(),
            memory_rules: None,
            thread: None,
        }
    }

    /// Records a note's new state with a history row. Its text is (re)indexed under a new key
    /// when title, content or kind changed; rejected and forgotten notes leave the indexes.
    pub fn put_note(
        &mut self,
        mut note: NoteRow,
        old: Option<&NoteRow>,
        action: HistoryAction,
        reason: Option<String>,
    ) -> NoteRow {
        let indexable = note.status.is_indexed();
        let text_changed = old.is_none_or(|o| {
            o.content != note.content
                || o.title != note.title
                || o.kind != note.kind
                || o.index_key.is_none()
        });
        let old_key = old.and_then(|o| o.index_key.clone());
        if indexable && !text_changed {
            note.index_key = old_key;
        } else {
            self.stale.extend(old_key);
            self.fresh.retain(|n| n.id != note.id);
            note.index_key = None;
            if indexable {
                note.index_key = Some(new_id());
                self.fresh.push(note.clone());
            }
        }
        self.writes.history.push(HistoryRow {
            id: new_id(),
            note_id: note.id.clone(),
            workspace_id: note.workspace_id.clone(),
            revision: note.revision,
            action,
            actor: self.actor.clone(),
            reason,
            snapshot: serde_json::to_value(&note).unwrap_or_default(),
            created_at: self.now.clone(),
        });
        let id = note.id.clone();
        replace_or_push(&mut self.writes.notes, note.clone(), |n| n.id == id);
        note
    }

    pub fn note(&self, id: &str) -> Option<&NoteRow> {
        self.writes.notes.iter().find(|n| n.id == id)
    }

    pub fn note_by_external(&self, source: &str, external_id: &str) -> Option<&NoteRow> {
        by_external(&self.writes.notes, source, external_id)
    }

    pub fn put_entity(&mut self, e: EntityRow) {
        let id = e.id.clone();
        replace_or_push(&mut self.writes.entities, e, |x| x.id == id);
    }

    pub fn entity(&self, id: &str) -> Option<&EntityRow> {
        self.writes.entities.iter().find(|e| e.id == id)
    }

    pub fn entity_by_external(&self, source: &str, external_id: &str) -> Option<&EntityRow> {
        by_external(&self.writes.entities, source, external_id)
    }

    pub fn entity_by_name(&self, entity_type: &str, name: &str) -> Option<&EntityRow> {
        self.writes
            .entities
            .iter()
            .find(|e| e.entity_type == entity_type && e.name.eq_ignore_ascii_case(name))
    }
}

/// What an upsert did, counted in batch results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Updated,
    Unchanged,
}

impl Memory {
    /// One item written on its own: planned and committed under the workspace's write lock,
    /// as a batch of one.
    pub(crate) async fn write_one<T>(
        &self,
        ws: &Workspace,
        actor: &str,
        plan_one: impl AsyncFnOnce(&mut WritePlan) -> ApiResult<T>,
    ) -> ApiResult<T> {
        let _guard = self.lock(&ws.id).await;
        let mut plan = WritePlan::new(ws, actor);
        let done = plan_one(&mut plan).await?;
        self.commit(plan).await?;
        Ok(done)
    }
}
