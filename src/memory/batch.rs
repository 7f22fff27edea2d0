//! `POST /v1/memory/batch`: notes, entities, links, events and feedback in one transaction,
//! keyed by external ids so the same batch sent twice changes nothing.

use std::time::Instant;

use crate::error::{ApiError, ApiResult};
use crate::memory::model::{BatchCounts, BatchInput, BatchResult};
use crate::memory::plan::Upsert;
use crate::memory::{Memory, WritePlan};
use crate::store::Workspace;

/// The `external_source` of batch items that name only an `external_id`.
const DEFAULT_SOURCE: &str = "batch";

fn at(path: String) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::BadRequest(m) => ApiError::BadRequest(format!("{path}.{m}")),
        ApiError::Unprocessable(m) => ApiError::Unprocessable(format!("{path}.{m}")),
        ApiError::Conflict(m) => ApiError::Conflict(format!("{path}: {m}")),
        other => other,
    }
}

/// Every keyed item needs an external id; the source defaults to `batch`.
fn keyed(
    path: &str,
    workspace_id: &Option<String>,
    source: &mut Option<String>,
    id: &Option<String>,
) -> ApiResult<()> {
    if workspace_id.is_some() {
        return Err(ApiError::bad_request(format!(
            "{path}.workspace_id: give workspace_id once, on the batch"
        )));
    }
    if id.is_none() {
        return Err(ApiError::bad_request(format!(
            "{path}.external_id: every batch item needs a stable external_id, so a retried batch changes nothing"
        )));
    }
    source.get_or_insert_with(|| DEFAULT_SOURCE.to_string());
    Ok(())
}

fn count(c: &mut BatchCounts, o: Upsert) {
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
    for (i, n) in input.notes.iter_mut().enumerate() {
        let path = format!("notes[{i}]");
        keyed(
            &path,
            &n.workspace_id,
            &mut n.external_source,
            &n.external_id,
        )?;
    }
    for (i, e) in input.entities.iter_mut().enumerate() {
        let path = format!("entities[{i}]");
        keyed(
            &path,
            &e.workspace_id,
            &mut e.external_source,
            &e.external_id,
        )?;
    }
    for (i, e) in input.events.iter_mut().enumerate() {
        let path = format!("events[{i}]");
        keyed(
            &path,
            &e.workspace_id,
            &mut e.external_source,
            &e.external_id,
        )?;
    }
    for (i, f) in input.feedback.iter_mut().enumerate() {
        let path = format!("feedback[{i}]");
        keyed(
            &path,
            &f.workspace_id,
            &mut f.external_source,
            &f.external_id,
        )?;
    }
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
        for (i, e) in input.entities.into_iter().enumerate() {
            let (row, o) = self
                .plan_entity(plan, e)
                .await
                .map_err(at(format!("entities[{i}]")))?;
            count(&mut out.entities, o);
            out.entity_ids.push(row.id);
        }
        for (i, n) in input.notes.into_iter().enumerate() {
            let (row, o) = self
                .plan_note(plan, n)
                .await
                .map_err(at(format!("notes[{i}]")))?;
            count(&mut out.notes, o);
            out.note_ids.push(row.id);
        }
        for (i, l) in input.links.into_iter().enumerate() {
            let (row, o) = self
                .plan_link(plan, l)
                .await
                .map_err(at(format!("links[{i}]")))?;
            count(&mut out.links, o);
            out.link_ids.push(row.id);
        }
        for (i, e) in input.events.into_iter().enumerate() {
            let (row, o) = self
                .plan_event(plan, e)
                .await
                .map_err(at(format!("events[{i}]")))?;
            count(&mut out.events, o);
            out.event_ids.push(row.id);
        }
        for (i, f) in input.feedback.into_iter().enumerate() {
            let (_, o) = self
                .plan_feedback(plan, f)
                .await
                .map_err(at(format!("feedback[{i}]")))?;
            count(&mut out.feedback, o);
        }
        Ok(out)
    }
}
