//! `POST /v1/memory/batch`: notes, entities, links, events and feedback in one transaction,
//! keyed by external ids so the same batch sent twice changes nothing.

use std::time::Instant;

use crate::error::{ApiError, ApiResult};
use crate::memory::model::{
    BatchCounts, BatchInput, BatchResult, EntityInput, EventInput, FeedbackInput, NoteInput,
};
use crate::memory::plan::Upsert;
use crate::memory::{Memory, WritePlan};
use crate::store::time::new_id;
use crate::store::Workspace;

/// The `external_source` of batch items that name only an `external_id`.
const DEFAULT_SOURCE: &str = "batch";

/// An item's error, named by its path in the request (`notes[2].content: ...`).
pub(super) fn at(path: String) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("{path}.{m}")),
        ApiError::Unprocessable(m) => ApiError::Unprocessable(format!("{path}.{m}")),
        ApiError::Conflict(m) => ApiError::Conflict(format!("{path}: {m}")),
        other => other,
    }
}

/// A batch item keyed by its external pair.
trait Keyed {
    /// (`workspace_id`, `external_source`, `external_id`)
    fn keys(&mut self) -> (&Option<String>, &mut Option<String>, &Option<String>);
}

macro_rules! keyed {
    ($($t:ty),+) => {$(
        impl Keyed for $t {
            fn keys(&mut self) -> (&Option<String>, &mut Option<String>, &Option<String>) {
                (&self.workspace_id, &mut self.external_source, &self.external_id)
            }
        }
    )+};
}
keyed!(NoteInput, EntityInput, EventInput, FeedbackInput);

/// Every keyed item needs an external id and names no workspace of its own; the source
/// defaults to `batch`.
fn keyed_all<T: Keyed>(field: &str, items: &mut [T]) -> ApiResult<()> {
    for (i, item) in items.iter_mut().enumerate() {
        let (workspace_id, source, id) = item.keys();
        if workspace_id.is_some() {
            return Err(ApiError::bad_request(format!(
                "{field}[{i}].workspace_id: give workspace_id once, on the batch"
            )));
        }
        if id.is_none() {
            return Err(ApiError::bad_request(format!(
                "{field}[{i}].external_id: every batch item needs a stable external_id, so a retried batch changes nothing"
            )));
        }
        source.get_or_insert_with(|| DEFAULT_SOURCE.to_string());
    }
    Ok(())
}

/// Plans each item of one list and counts the outcomes; an error names the item
/// (`notes[2].content: ...`). A macro, not a function: the five lists hold five types and
/// each plan step borrows the plan mutably across an await.
macro_rules! each {
    ($items:expr, $field:literal, $counts:expr, |$item:ident| $plan_one:expr) => {
        each!($items, $field, $counts, |_i, $item| $plan_one)
    };
    ($items:expr, $field:literal, $counts:expr, |$idx:ident, $item:ident| $plan_one:expr) => {{
        let mut rows = Vec::new();
        for (i, $item) in $items.into_iter().enumerate() {
            let $idx = i;
            let (row, o) = $plan_one
                .await
                .map_err(at(format!(concat!($field, "[{}]"), i)))?;
            count(&mut $counts, o);
            rows.push(row);
        }
        rows
    }};
}

pub(super) fn count(c: &mut BatchCounts, o: Upsert) {
    match o {
        Upsert::Created => c.created += 1,
        Upsert::Updated => c.updated += 1,
        Upsert::Unchanged => c.unchanged += 1,
    }
}

/// The batch's size, and every item's keys (with the default source filled in), checked
/// before anything is read.
fn check(input: &mut BatchInput, max_items: usize) -> ApiResult<()> {
    let total = input.notes.len()
        + input.entities.len()
        + input.links.len()
        + input.events.len()
        + input.feedback.len();
    if total == 0 || total > max_items {
        return Err(ApiError::bad_request(format!(
            "a batch holds 1-{max_items} items in all (notes, entities, links, events, feedback)"
        )));
    }
    keyed_all("notes", &mut input.notes)?;
    keyed_all("entities", &mut input.entities)?;
    keyed_all("events", &mut input.events)?;
    keyed_all("feedback", &mut input.feedback)?;
    for (i, l) in input.links.iter_mut().enumerate() {
        if l.workspace_id.is_some() {
            return Err(ApiError::bad_request(format!(
                "links[{i}].workspace_id: give workspace_id once, on the batch"
            )));
        }
        for end in [&mut l.from, &mut l.to] {
            if end.external_id.is_some() {
                end.external_source
                    .get_or_insert_with(|| DEFAULT_SOURCE.to_string());
            }
        }
    }
    Ok(())
}

impl Memory {
    pub async fn batch(
        &self,
        ws: &Workspace,
        actor: &str,
        mut input: BatchInput,
        max_items: usize,
    ) -> ApiResult<BatchResult> {
        let started = Instant::now();
        check(&mut input, max_items)?;
        let _guard = self.lock(&ws.id).await;
        let mut plan = WritePlan::new(ws, actor);
        let mut out = self.plan_batch(&mut plan, input).await?;
        self.commit(plan).await?;
        out.took_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(out)
    }

    /// Plans every item in one plan, entities first so notes and links can name them; an
    /// error names the item (`notes[2].content: ...`).
    async fn plan_batch(&self, plan: &mut WritePlan, input: BatchInput) -> ApiResult<BatchResult> {
        let mut out = BatchResult::default();
        let entities = each!(input.entities, "entities", out.entities, |e| self
            .plan_entity(plan, e));
        // A batch's notes, in order, are one thread (a conversation's turns, say).
        let thread = (input.notes.len() > 1).then(new_id);
        let notes = each!(input.notes, "notes", out.notes, |i, n| {
            plan.thread = thread.clone().map(|t| (t, i as i64));
            self.plan_note(plan, n)
        });
        plan.thread = None;
        let links = each!(input.links, "links", out.links, |l| self.plan_link(plan, l));
        let events = each!(input.events, "events", out.events, |e| self
            .plan_event(plan, e));
        each!(input.feedback, "feedback", out.feedback, |f| self
            .plan_feedback(plan, f));
        out.entity_ids = entities.into_iter().map(|r| r.id).collect();
        out.note_ids = notes.into_iter().map(|r| r.id).collect();
        out.link_ids = links.into_iter().map(|r| r.id).collect();
        out.event_ids = events.into_iter().map(|r| r.id).collect();
        Ok(out)
    }
}
