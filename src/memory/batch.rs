//! `POST /v1/memory/batch`: notes, entities, links, events and feedback in one transaction,
//! keyed by external ids so the same batch sent twice changes nothing.

use std::time::Instant;

use crate::error::{ApiError, ApiResult};
use crate::memory::model::{BatchCounts, BatchInput};
use crate::memory::plan::Outcome;
use crate::memory::{Memory, Plan};
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

fn count(c: &mut BatchCounts, o: Outcome) {
    match o {
        Outcome::Created => c.created += 1,
        Outcome::Updated => c.updated += 1,
        Outcome::Unchanged => c.unchanged += 1,
    }
}

impl Memory {
    pub async fn batch(
        &self,
        ws: &Workspace,
        actor: &str,
        mut input: BatchInput,
        max_items: usize,
    ) -> ApiResult<crate::memory::model::BatchResult> {
        let started = Instant::now();
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
            keyed(
                &format!("notes[{i}]"),
                &n.workspace_id,
                &mut n.external_source,
                &n.external_id,
            )?;
        }
        for (i, e) in input.entities.iter_mut().enumerate() {
            keyed(
                &format!("entities[{i}]"),
                &e.workspace_id,
                &mut e.external_source,
                &e.external_id,
            )?;
        }
        for (i, e) in input.events.iter_mut().enumerate() {
            keyed(
                &format!("events[{i}]"),
                &e.workspace_id,
                &mut e.external_source,
                &e.external_id,
            )?;
        }
        for (i, f) in input.feedback.iter_mut().enumerate() {
            keyed(
                &format!("feedback[{i}]"),
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

        let _guard = self.lock(&ws.id).await;
        let mut plan = Plan::new(ws, actor);
        let mut out = crate::memory::model::BatchResult::default();
        for (i, e) in input.entities.into_iter().enumerate() {
            let (row, o) = self
                .plan_entity(&mut plan, e)
                .await
                .map_err(at(format!("entities[{i}]")))?;
            count(&mut out.entities, o);
            out.entity_ids.push(row.id);
        }
        for (i, n) in input.notes.into_iter().enumerate() {
            let (row, o) = self
                .plan_note(&mut plan, n)
                .await
                .map_err(at(format!("notes[{i}]")))?;
            count(&mut out.notes, o);
            out.note_ids.push(row.id);
        }
        for (i, l) in input.links.into_iter().enumerate() {
            let (row, o) = self
                .plan_link(&mut plan, l)
                .await
                .map_err(at(format!("links[{i}]")))?;
            count(&mut out.links, o);
            out.link_ids.push(row.id);
        }
        for (i, e) in input.events.into_iter().enumerate() {
            let (row, o) = self
                .plan_event(&mut plan, e)
                .await
                .map_err(at(format!("events[{i}]")))?;
            count(&mut out.events, o);
            out.event_ids.push(row.id);
        }
        for (i, f) in input.feedback.into_iter().enumerate() {
            let (_, o) = self
                .plan_feedback(&mut plan, f)
                .await
                .map_err(at(format!("feedback[{i}]")))?;
            count(&mut out.feedback, o);
        }
        self.commit(plan).await?;
        out.took_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(out)
    }
}
