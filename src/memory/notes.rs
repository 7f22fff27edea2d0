//! Notes: create or upsert by external id, edit, review (approve / reject), supersede, forget,
//! list and history. Every change writes a history row.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::memory::model::{NoteHistory, NoteInput, NoteList, NotePatch, NoteStatus};
use crate::memory::plan::{planned_or_stored, Upsert};
use crate::memory::{Memory, WritePlan};
use crate::store::memory::{HistoryAction, NoteFilter, NoteRow};
use crate::store::time::new_id;
use crate::store::Workspace;
use crate::validate::{self as v, MAX_CONTENT_CHARS};

const MAX_TITLE_CHARS: usize = 500;

fn forgotten(id: &str) -> ApiError {
    ApiError::Conflict(format!(
        "note {id} was forgotten; forgotten notes stay out of every index and pack and cannot be edited"
    ))
}

/// A note is written approved or pending; rejecting and forgetting have their own routes.
fn writable(status: Option<NoteStatus>) -> ApiResult<Option<NoteStatus>> {
    match status {
        None | Some(NoteStatus::Approved | NoteStatus::Pending) => Ok(status),
        Some(_) => Err(ApiError::bad_request(
            "status: a note is written as approved or pending (reject with POST .../reject, forget with DELETE)",
        )),
    }
}

/// The fields of a `NoteInput`, checked; `None` where the input left a field out.
struct NoteFields {
    content: String,
    title: Option<String>,
    kind: Option<String>,
    tags: Option<Vec<String>>,
    importance: Option<f64>,
    confidence: Option<f64>,
    metadata: Option<serde_json::Value>,
    inferred: bool,
    status: Option<NoteStatus>,
    external: Option<(String, String)>,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

impl NoteFields {
    /// Checks in field order, so the first bad field is the one named.
    fn check(input: &NoteInput) -> ApiResult<Self> {
        Ok(Self {
            content: v::text("content", &input.content, MAX_CONTENT_CHARS)?,
            title: v::optional_text("title", input.title.as_deref(), MAX_TITLE_CHARS)?,
            kind: v::optional_text("kind", input.kind.as_deref(), v::MAX_LABEL_CHARS)?,
            tags: input
                .tags
                .as_deref()
                .map(|t| v::labels("tags", t, 50))
                .transpose()?,
            importance: input
                .importance
                .map(|x| v::unit("importance", x))
                .transpose()?,
            confidence: input
                .confidence
                .map(|x| v::unit("confidence", x))
                .transpose()?,
            metadata: v::metadata("metadata", input.metadata.as_ref())?,
            inferred: input.inferred.unwrap_or(false),
            status: writable(input.status)?,
            external: v::external(
                input.external_source.as_deref(),
                input.external_id.as_deref(),
            )?,
            valid_from: v::optional_timestamp("valid_from", input.valid_from.as_deref())?,
            valid_to: v::optional_timestamp("valid_to", input.valid_to.as_deref())?,
        })
    }

    /// The existing note with the given fields changed (content always: it is required). Its
    /// status changes only by review (approve / reject), never by writing it again.
    fn update(self, old: &NoteRow) -> ApiResult<NoteRow> {
        if self.status.is_some_and(|s| s != old.status) {
            return Err(ApiError::Conflict(format!(
                "status: note {} is {}; its status changes by review (POST /v1/memory/notes/{{id}}/approve or /reject)",
                old.id,
                old.status.as_str()
            )));
        }
        let mut n = old.clone();
        n.content = self.content;
        n.title = self.title.or(n.title);
        n.kind = self.kind.unwrap_or(n.kind);
        n.tags = self.tags.unwrap_or(n.tags);
        n.importance = self.importance.unwrap_or(n.importance);
        n.confidence = self.confidence.unwrap_or(n.confidence);
        n.metadata = self.metadata.unwrap_or(n.metadata);
        n.status = self.status.unwrap_or(n.status);
        n.valid_from = self.valid_from.unwrap_or(n.valid_from);
        n.valid_to = self.valid_to.or(n.valid_to);
        Ok(n)
    }

    /// A new note: an inferred one waits for review (pending) at a lower confidence.
    fn create(self, plan: &WritePlan) -> NoteRow {
        let inferred = self.inferred;
        let status = self.status.unwrap_or(if inferred {
            NoteStatus::Pending
        } else {
            NoteStatus::Approved
        });
        let mut metadata = self.metadata.unwrap_or_else(|| json!({}));
        if inferred {
            metadata["inferred"] = json!(true);
        }
        let (external_source, external_id) = self.external.unzip();
        NoteRow {
            id: new_id(),
            account_id: plan.account_id.clone(),
            workspace_id: plan.workspace_id.clone(),
            title: self.title,
            content: self.content,
            kind: self.kind.unwrap_or_else(|| "fact".into()),
            tags: self.tags.unwrap_or_default(),
            importance: self.importance.unwrap_or(0.5),
            confidence: self.confidence.unwrap_or(if inferred { 0.6 } else { 1.0 }),
            metadata,
            status,
            external_source,
            external_id,
            valid_from: self.valid_from.unwrap_or_else(|| plan.now.clone()),
            valid_to: self.valid_to,
            supersedes: None,
            superseded_by: None,
            revision: 1,
            index_key: None,
            created_by: plan.actor.clone(),
            created_at: plan.now.clone(),
            updated_at: plan.now.clone(),
            thread_id: plan.thread.as_ref().map(|t| t.0.clone()),
            thread_seq: plan.thread.as_ref().map(|t| t.1),
        }
    }
}

impl Memory {
    async fn find_note(&self, plan: &WritePlan, id: &str) -> ApiResult<Option<NoteRow>> {
        planned_or_stored(plan.note(id), self.store.note(&plan.workspace_id, id)).await
    }

    pub async fn create_note(
        &self,
        ws: &Workspace,
        actor: &str,
        input: NoteInput,
    ) -> ApiResult<(NoteRow, Upsert)> {
        self.write_one(ws, actor, async |plan| self.plan_note(plan, input).await)
            .await
    }

    /// Plans a note write: a new note, or an update of the note with the same external id
    /// (nothing at all when every field is already as given).
    pub(crate) async fn plan_note(
        &self,
        plan: &mut WritePlan,
        input: NoteInput,
    ) -> ApiResult<(NoteRow, Upsert)> {
        let fields = NoteFields::check(&input)?;
        let existing = match &fields.external {
            Some((s, i)) => {
                let stored = self.store.note_by_external(&plan.workspace_id, s, i);
                planned_or_stored(plan.note_by_external(s, i), stored).await?
            }
            None => None,
        };
        let (mut note, old) = match existing {
            Some(old) if old.status == NoteStatus::Forgotten => return Err(forgotten(&old.id)),
            Some(old) => (fields.update(&old)?, Some(old)),
            None => (fields.create(plan), None),
        };
        if let Some(to) = &note.valid_to {
            if *to <= note.valid_from {
                return Err(ApiError::bad_request("valid_to: must be after valid_from"));
            }
        }
        if let Some(target) = input.supersedes.as_deref() {
            if target == note.id {
                return Err(ApiError::bad_request(
                    "supersedes: a note cannot supersede itself",
                ));
            }
            self.supersede(plan, target, &note.id, &note.valid_from)
                .await?;
            note.supersedes = Some(target.to_string());
        }
        let text_changed = old
            .as_ref()
            .is_none_or(|o| o.content != note.content || o.title != note.title);
        if text_changed {
            if plan.memory_rules.is_none() {
                plan.memory_rules = Some(self.guard.memory_rules(&plan.workspace_id).await?);
            }
            let rules = plan.memory_rules.as_deref().unwrap_or_default();
            self.guard.screen_note(rules, &mut note)?;
        }
        match old {
            Some(old) if old == note => Ok((old, Upsert::Unchanged)),
            Some(old) => {
                note.revision = old.revision + 1;
                note.updated_at = plan.now.clone();
                Ok((
                    plan.put_note(note, Some(&old), HistoryAction::Updated, None),
                    Upsert::Updated,
                ))
            }
            None => Ok((
                plan.put_note(note, None, HistoryAction::Created, None),
                Upsert::Created,
            )),
        }
    }

    /// Closes the validity of `target` where its successor's begins; it stays in history.
    async fn supersede(
        &self,
        plan: &mut WritePlan,
        target: &str,
        successor: &str,
        from: &str,
    ) -> ApiResult<()> {
        let old = self.find_note(plan, target).await?.ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "supersedes: note {target} not found in this workspace"
            ))
        })?;
        if old.superseded_by.as_deref() == Some(successor) {
            return Ok(());
        }
        if old.status == NoteStatus::Forgotten {
            return Err(forgotten(target));
        }
        let mut n = old.clone();
        n.valid_to = Some(match &old.valid_to {
            Some(t) if t.as_str() < from => t.clone(),
            _ => from.to_string(),
        });
        n.superseded_by = Some(successor.to_string());
        n.revision += 1;
        n.updated_at = plan.now.clone();
        plan.put_note(
            n,
            Some(&old),
            HistoryAction::Superseded,
            Some(format!("superseded by {successor}")),
        );
        Ok(())
    }

    pub async fn get_note(&self, ws: &Workspace, id: &str) -> ApiResult<NoteRow> {
        self.store
            .note(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Note"))
    }

    pub async fn update_note(
        &self,
        ws: &Workspace,
        actor: &str,
        id: &str,
        patch: NotePatch,
    ) -> ApiResult<NoteRow> {
        let _guard = self.lock(&ws.id).await;
        let old = self.get_note(ws, id).await?;
        if old.status == NoteStatus::Forgotten {
            return Err(forgotten(id));
        }
        let (mut n, action) = patched(&old, &patch)?;
        if n.status != old.status {
            self.refuse_own_review(ws, actor, &old).await?;
        }
        if n.content != old.content || n.title != old.title {
            let rules = self.guard.memory_rules(&ws.id).await?;
            self.guard.screen_note(&rules, &mut n)?;
        }
        if n == old {
            return Ok(old);
        }
        n.revision += 1;
        let mut plan = WritePlan::new(ws, actor);
        n.updated_at = plan.now.clone();
        let note = plan.put_note(n, Some(&old), action, patch.reason);
        self.commit(plan).await?;
        Ok(note)
    }

    /// Approve or reject (a reviewer's decision), or forget; the same status again is a
    /// no-op that returns the note.
    pub async fn set_status(
        &self,
        ws: &Workspace,
        actor: &str,
        id: &str,
        status: NoteStatus,
        reason: Option<String>,
    ) -> ApiResult<NoteRow> {
        let _guard = self.lock(&ws.id).await;
        let old = self.get_note(ws, id).await?;
        if old.status == status {
            return Ok(old);
        }
        if old.status == NoteStatus::Forgotten {
            return Err(forgotten(id));
        }
        let reason = v::optional_text("reason", reason.as_deref(), 2_000)?;
        if status != NoteStatus::Forgotten {
            self.refuse_own_review(ws, actor, &old).await?;
        }
        let mut plan = WritePlan::new(ws, actor);
        let mut n = old.clone();
        n.status = status;
        n.revision += 1;
        n.updated_at = plan.now.clone();
        let action = HistoryAction::for_status(status);
        let note = plan.put_note(n, Some(&old), action, reason);
        self.commit(plan).await?;
        Ok(note)
    }

    pub async fn list_notes(&self, ws: &Workspace, filter: NoteFilter) -> ApiResult<NoteList> {
        let fetch = async |f: NoteFilter| self.store.list_notes(&ws.id, &f).await;
        v::page(filter, fetch, |r| v::encode_cursor(&r.created_at, &r.id)).await
    }

    /// Separation of duties: whoever wrote a note (created it, or made its latest content or
    /// status-to-pending change) cannot decide its review, whatever scopes it holds; a second actor must.
    pub async fn refuse_own_review(
        &self,
        ws: &Workspace,
        actor: &str,
        note: &NoteRow,
    ) -> ApiResult<()> {
        let history = self.store.note_history(&ws.id, &note.id).await?;
        let last_writer = history
            .iter()
            .filter(|h| matches!(h.action, HistoryAction::Created | HistoryAction::Updated))
            .max_by_key(|h| h.revision)
            .map(|h| h.actor.as_str());
        if note.created_by == actor || last_writer == Some(actor) {
            return Err(ApiError::Forbidden(format!(
                "note {}: its writer cannot review it; another reviewer must decide",
                note.id
            )));
        }
        Ok(())
    }

    pub async fn note_history(&self, ws: &Workspace, id: &str) -> ApiResult<NoteHistory> {
        self.get_note(ws, id).await?;
        Ok(NoteHistory {
            object: "list".into(),
            note_id: id.to_string(),
            data: self.store.note_history(&ws.id, id).await?,
        })
    }
}

/// The note with a patch's fields checked and applied, and the history action it records (a
/// status change records the new status).
fn patched(old: &NoteRow, patch: &NotePatch) -> ApiResult<(NoteRow, HistoryAction)> {
    let mut n = old.clone();
    if let Some(c) = &patch.content {
        n.content = v::text("content", c, MAX_CONTENT_CHARS)?;
    }
    if let Some(t) = &patch.title {
        n.title = v::optional_text("title", Some(t), MAX_TITLE_CHARS)?;
    }
    if let Some(k) = &patch.kind {
        n.kind = v::text("kind", k, v::MAX_LABEL_CHARS)?;
    }
    if let Some(t) = &patch.tags {
        n.tags = v::labels("tags", t, 50)?;
    }
    if let Some(x) = patch.importance {
        n.importance = v::unit("importance", x)?;
    }
    if let Some(x) = patch.confidence {
        n.confidence = v::unit("confidence", x)?;
    }
    if let Some(m) = v::metadata("metadata", patch.metadata.as_ref())? {
        n.metadata = m;
    }
    if patch.external_source.is_some() || patch.external_id.is_some() {
        let (s, i) = v::external(
            patch.external_source.as_deref(),
            patch.external_id.as_deref(),
        )?
        .unwrap_or_default();
        n.external_source = Some(s);
        n.external_id = Some(i);
    }
    if let Some(t) = v::optional_timestamp("valid_from", patch.valid_from.as_deref())? {
        n.valid_from = t;
    }
    if let Some(t) = v::optional_timestamp("valid_to", patch.valid_to.as_deref())? {
        n.valid_to = Some(t);
    }
    if let Some(to) = &n.valid_to {
        if *to <= n.valid_from {
            return Err(ApiError::bad_request("valid_to: must be after valid_from"));
        }
    }
    let action = match patch.status {
        Some(NoteStatus::Forgotten) => {
            return Err(ApiError::bad_request(
                "status: forget a note with DELETE /v1/memory/notes/{id}",
            ))
        }
        Some(s) if s != old.status => {
            n.status = s;
            HistoryAction::for_status(s)
        }
        _ => HistoryAction::Updated,
    };
    Ok((n, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> NoteRow {
        NoteRow::sample(NoteStatus::Pending, "2026-01-01T00:00:00.000Z")
    }

    #[test]
    fn a_status_patch_records_the_new_status() {
        let patch = NotePatch {
            status: Some(NoteStatus::Approved),
            ..Default::default()
        };
        let (n, action) = patched(&note(), &patch).unwrap();
        assert_eq!(n.status, NoteStatus::Approved);
        assert_eq!(action, HistoryAction::Approved);

        let same = NotePatch {
            status: Some(NoteStatus::Pending),
            importance: Some(0.9),
            ..Default::default()
        };
        let (n, action) = patched(&note(), &same).unwrap();
        assert_eq!(n.importance, 0.9);
        assert_eq!(action, HistoryAction::Updated);
    }

    #[test]
    fn a_patch_cannot_forget_or_end_validity_before_it_begins() {
        let forget = NotePatch {
            status: Some(NoteStatus::Forgotten),
            ..Default::default()
        };
        let err = patched(&note(), &forget).unwrap_err();
        assert_eq!(
            err.to_string(),
            "status: forget a note with DELETE /v1/memory/notes/{id}"
        );
        let backwards = NotePatch {
            valid_to: Some("2025-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let err = patched(&note(), &backwards).unwrap_err();
        assert_eq!(err.to_string(), "valid_to: must be after valid_from");
    }

    #[test]
    fn note_fields_are_checked_in_field_order() {
        let input = NoteInput {
            content: " ".into(),
            status: Some(NoteStatus::Rejected),
            ..Default::default()
        };
        let err = NoteFields::check(&input).err().unwrap();
        assert_eq!(err.to_string(), "content: must not be empty");
        let input = NoteInput {
            content: "x".into(),
            status: Some(NoteStatus::Rejected),
            ..Default::default()
        };
        let err = NoteFields::check(&input).err().unwrap();
        assert!(err
            .to_string()
            .starts_with("status: a note is written as approved or pending"));
    }
}
