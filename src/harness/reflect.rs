//! Reflections: selected traces go to a model, which answers with one lesson; it is stored
//! and, when asked, kept as a pending `lesson` note. The model is `reflection.model`, called
//! through the routed gateway by `http/` on behalf of the caller (so it is held, metered and
//! charged like chat); without one configured the route answers 503. This file builds the
//! prompt and stores the answer.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::harness::model::{ReflectInput, ReflectionList};
use crate::harness::Harness;
use crate::memory::model::{NoteInput, NoteStatus};
use crate::store::harness::{ReflectionRow, TraceRow};
use crate::store::time::{new_id, now};
use crate::store::Workspace;
use crate::validate as v;

const INSTRUCTIONS: &str = "You review traces of an AI agent's work: what it was asked, the context it used, \
what it answered, the outcome and the feedback it got. Write one concise, actionable lesson (at most four \
sentences) the agent should remember next time. Reply with the lesson only.";

/// What to ask the reflection model.
#[derive(Debug, Clone)]
pub struct ReflectionPrompt {
    /// `reflection.model`: a catalog model, an alias or a tier.
    pub model: String,
    pub system: String,
    pub user: String,
}

fn render(t: &TraceRow) -> String {
    let count = |k: &str| {
        t.context
            .get(k)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    format!(
        "Trace {} ({}), outcome {}, feedback {}:\n  input: {}\n  output: {}\n  context: {} memories, {} documents",
        t.id,
        t.trace_type,
        t.outcome,
        t.feedback_score.map_or("none".to_string(), |s| format!("{s:.1}")),
        t.input_summary.as_deref().unwrap_or("-"),
        t.output_summary.as_deref().unwrap_or("-"),
        count("memories"),
        count("documents"),
    )
}

impl Harness {
    /// Checks `input` and renders its traces into the prompt for the reflection model: 400
    /// for bad fields, 422 when a trace is not in the workspace, 503 without a model.
    pub async fn reflection_prompt(
        &self,
        ws: &Workspace,
        input: &ReflectInput,
    ) -> ApiResult<ReflectionPrompt> {
        v::count("trace_ids", input.trace_ids.len(), 1, 50, "trace ids")?;
        let extra = v::optional_text("instructions", input.instructions.as_deref(), 4_000)?;
        let traces = self.store.traces_by_ids(&ws.id, &input.trace_ids).await?;
        if traces.len() != input.trace_ids.len() {
            return Err(ApiError::Unprocessable(
                "trace_ids: some traces do not exist in this workspace".into(),
            ));
        }
        let Some(model) = self.settings.reflection_model.clone() else {
            return Err(ApiError::ServiceUnavailable(
                "No reflection model configured".into(),
            ));
        };
        let mut system = INSTRUCTIONS.to_string();
        if let Some(v) = self.store.active_version(&ws.id).await? {
            if let Some(i) = v
                .config
                .pointer("/reflection/instructions")
                .and_then(Value::as_str)
            {
                system = format!("{system}\n{i}");
            }
        }
        if let Some(e) = extra {
            system = format!("{system}\n{e}");
        }
        let user: Vec<String> = traces.iter().map(render).collect();
        Ok(ReflectionPrompt {
            model,
            system,
            user: user.join("\n\n"),
        })
    }

    /// Stores what `model` answered to `input`'s prompt, and the pending lesson note when
    /// asked for one.
    pub async fn save_reflection(
        &self,
        ws: &Workspace,
        actor: &str,
        input: ReflectInput,
        insight: String,
        model: String,
    ) -> ApiResult<ReflectionRow> {
        let note_id = if input.store_as_memory.unwrap_or(false) {
            let note = NoteInput {
                content: insight.clone(),
                kind: Some("lesson".into()),
                status: Some(NoteStatus::Pending),
                metadata: Some(json!({"source": "reflection", "trace_ids": input.trace_ids})),
                ..Default::default()
            };
            Some(self.memory.create_note(ws, actor, note).await?.0.id)
        } else {
            None
        };
        let row = ReflectionRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            trace_ids: input.trace_ids,
            insight,
            model,
            note_id,
            created_by: actor.to_string(),
            created_at: now(),
        };
        self.store.add_reflection(&row).await?;
        Ok(row)
    }

    pub async fn reflections(&self, ws: &Workspace, limit: i64) -> ApiResult<ReflectionList> {
        Ok(ReflectionList {
            object: "list".into(),
            data: self.store.reflections(&ws.id, limit).await?,
        })
    }
}
