//! Events (summarised history) and feedback on the items of context packs.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::memory::model::{
    EventInput, EventList, FeedbackInput, FeedbackResult, ItemType, NoteStatus, Signal,
};
use crate::memory::plan::{by_external, planned_or_stored, Upsert};
use crate::memory::{Memory, WritePlan};
use crate::store::memory::{EventFilter, EventRow, FeedbackRow, HistoryAction, NoteRow};
use crate::store::time::new_id;
use crate::store::Workspace;
use crate::validate as v;

impl Memory {
    pub async fn record_event(
        &self,
        ws: &Workspace,
        actor: &str,
        input: EventInput,
    ) -> ApiResult<(EventRow, Upsert)> {
        self.write_one(ws, actor, async |plan| self.plan_event(plan, input).await)
            .await
    }

    /// A known external pair updates that event.
    pub(crate) async fn plan_event(
        &self,
        plan: &mut WritePlan,
        input: EventInput,
    ) -> ApiResult<(EventRow, Upsert)> {
        let event_type = v::text("type", &input.event_type, v::MAX_LABEL_CHARS)?;
        let summary = v::text("summary", &input.summary, v::MAX_CONTENT_CHARS)?;
        let actor = v::optional_text("actor", input.actor.as_deref(), 300)?;
        let mission_id = v::optional_text("mission_id", input.mission_id.as_deref(), 300)?;
        let task_id = v::optional_text("task_id", input.task_id.as_deref(), 300)?;
        let occurred_at = v::optional_timestamp("occurred_at", input.occurred_at.as_deref())?;
        let metadata = v::metadata("metadata", input.metadata.as_ref())?;
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        let ws = plan.workspace_id.clone();
        let existing = self.find_event(plan, external.as_ref()).await?;
        let (event, outcome) = match existing {
            Some(old) => {
                let mut e = old.clone();
                e.event_type = event_type;
                e.summary = summary;
                e.actor = actor.or(e.actor);
                e.mission_id = mission_id.or(e.mission_id);
                e.task_id = task_id.or(e.task_id);
                e.occurred_at = occurred_at.unwrap_or(e.occurred_at);
                e.metadata = metadata.unwrap_or(e.metadata);
                if e == old {
                    return Ok((old, Upsert::Unchanged));
                }
                (e, Upsert::Updated)
            }
            None => (
                EventRow {
                    id: new_id(),
                    workspace_id: ws,
                    event_type,
                    summary,
                    actor,
                    mission_id,
                    task_id,
                    occurred_at: occurred_at.unwrap_or_else(|| plan.now.clone()),
                    metadata: metadata.unwrap_or_else(|| json!({})),
                    external_source: external.as_ref().map(|x| x.0.clone()),
                    external_id: external.as_ref().map(|x| x.1.clone()),
                    created_at: plan.now.clone(),
                },
                Upsert::Created,
            ),
        };
        let id = event.id.clone();
        plan.writes.events.retain(|e| e.id != id);
        plan.writes.events.push(event.clone());
        Ok((event, outcome))
    }

    /// The event with this external pair, planned in this write or stored.
    async fn find_event(
        &self,
        plan: &WritePlan,
        external: Option<&(String, String)>,
    ) -> ApiResult<Option<EventRow>> {
        let Some((s, i)) = external else {
            return Ok(None);
        };
        let stored = self.store.event_by_external(&plan.workspace_id, s, i);
        planned_or_stored(by_external(&plan.writes.events, s, i), stored).await
    }

    pub async fn list_events(&self, ws: &Workspace, filter: EventFilter) -> ApiResult<EventList> {
        let filter = EventFilter {
            from: v::optional_timestamp("from", filter.from.as_deref())?,
            to: v::optional_timestamp("to", filter.to.as_deref())?,
            ..filter
        };
        let fetch = async |f: EventFilter| self.store.list_events(&ws.id, &f).await;
        v::page(filter, fetch, |r| v::encode_cursor(&r.occurred_at, &r.id)).await
    }

    pub async fn give_feedback(
        &self,
        ws: &Workspace,
        actor: &str,
        input: FeedbackInput,
    ) -> ApiResult<(FeedbackResult, Upsert)> {
        self.write_one(ws, actor, async |plan| {
            self.plan_feedback(plan, input).await
        })
        .await
    }

    /// Records the signal; `remember` also approves a pending note and `forget` forgets it.
    pub(crate) async fn plan_feedback(
        &self,
        plan: &mut WritePlan,
        input: FeedbackInput,
    ) -> ApiResult<(FeedbackResult, Upsert)> {
        let item_id = v::text("item_id", &input.item_id, 200)?;
        let item_type = input.item_type.unwrap_or(ItemType::Note);
        let comment = v::optional_text("comment", input.comment.as_deref(), 2_000)?;
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        let ws = plan.workspace_id.clone();
        if let Some(known) = self.known_feedback(plan, external.as_ref()).await? {
            let result = FeedbackResult {
                feedback: known,
                note: None,
            };
            return Ok((result, Upsert::Unchanged));
        }
        if let Some(pack) = &input.pack_id {
            if self.store.pack(&ws, pack).await?.is_none() {
                return Err(ApiError::Unprocessable(format!(
                    "pack_id: no context pack {pack} in this workspace"
                )));
            }
        }
        let mut note = None;
        if item_type == ItemType::Note {
            let old = match plan.note(&item_id) {
                Some(n) => Some(n.clone()),
                None => self.store.note(&ws, &item_id).await?,
            }
            .ok_or_else(|| {
                ApiError::Unprocessable(format!("item_id: no note {item_id} in this workspace"))
            })?;
            note = self.apply_signal(plan, old, input.signal);
        }
        let row = FeedbackRow {
            id: new_id(),
            workspace_id: ws,
            pack_id: input.pack_id,
            item_type,
            item_id,
            signal: input.signal,
            actor: plan.actor.clone(),
            comment,
            external_source: external.as_ref().map(|x| x.0.clone()),
            external_id: external.as_ref().map(|x| x.1.clone()),
            created_at: plan.now.clone(),
        };
        plan.writes.feedback.push(row.clone());
        Ok((
            FeedbackResult {
                feedback: row,
                note,
            },
            Upsert::Created,
        ))
    }

    /// Feedback already recorded (in this write or before) under the external pair: sending
    /// it again changes nothing.
    async fn known_feedback(
        &self,
        plan: &WritePlan,
        external: Option<&(String, String)>,
    ) -> ApiResult<Option<FeedbackRow>> {
        let Some((s, i)) = external else {
            return Ok(None);
        };
        let stored = self.store.feedback_by_external(&plan.workspace_id, s, i);
        planned_or_stored(by_external(&plan.writes.feedback, s, i), stored).await
    }

    fn apply_signal(&self, plan: &mut WritePlan, old: NoteRow, signal: Signal) -> Option<NoteRow> {
        let status = match signal {
            Signal::Remember if old.status == NoteStatus::Pending => NoteStatus::Approved,
            Signal::Forget if old.status != NoteStatus::Forgotten => NoteStatus::Forgotten,
            _ => return None,
        };
        let mut n = old.clone();
        n.status = status;
        n.revision += 1;
        n.updated_at = plan.now.clone();
        let action = HistoryAction::for_status(status);
        Some(plan.put_note(
            n,
            Some(&old),
            action,
            Some(format!("feedback: {}", signal.as_str())),
        ))
    }
}

impl Memory {
    /// One feedback row per item (harness feedback rating a trace's memories and documents);
    /// returns how many were recorded.
    pub async fn rate_items(
        &self,
        ws: &Workspace,
        actor: &str,
        pack_id: Option<String>,
        items: &[(ItemType, String)],
        signal: Signal,
        comment: Option<String>,
    ) -> ApiResult<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        let _guard = self.lock(&ws.id).await;
        let mut plan = WritePlan::new(ws, actor);
        for (item_type, item_id) in items {
            plan.writes.feedback.push(FeedbackRow {
                id: new_id(),
                workspace_id: ws.id.clone(),
                pack_id: pack_id.clone(),
                item_type: *item_type,
                item_id: item_id.clone(),
                signal,
                actor: actor.to_string(),
                comment: comment.clone(),
                external_source: None,
                external_id: None,
                created_at: plan.now.clone(),
            });
        }
        self.commit(plan).await?;
        Ok(items.len())
    }
}
