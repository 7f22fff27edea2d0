//! The harness around the model: versioned configs, missions (steps, artifacts), traces of
//! what was retrieved and answered, feedback that flows back into memory ranking, and
//! reflections that turn traces into lessons.

pub mod missions;
pub mod model;
pub mod reflect;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::config::Weights;
use crate::context::model::{ContextPack, PackMetadata};
use crate::context::PackHooks;
use crate::error::{ApiError, ApiResult};
use crate::memory::model::{ItemType, NoteInput, NoteStatus, Signal};
use crate::memory::Memory;
use crate::store::guard::GuardStore;
use crate::store::harness::{
    HarnessStore, TraceFeedbackRow, TraceFilter, TraceReply, TraceRow, VersionRow, VersionStatus,
};
use crate::store::memory::NoteRow;
use crate::store::time::{new_id, now};
use crate::store::Workspace;
use crate::validate as v;

use model::{FeedbackInput, FeedbackResult, TraceInput, TraceList, VersionInput, VersionList};

#[derive(Debug, Clone)]
pub struct HarnessSettings {
    /// Status of notes made from `remember_text`: pending (default) or approved.
    pub remember_status: NoteStatus,
    /// `reflection.model`, when reflections are configured.
    pub reflection_model: Option<String>,
}

type Active = Option<(String, Option<Weights>)>;

pub struct Harness {
    pub store: Arc<dyn HarnessStore>,
    pub guard: Arc<dyn GuardStore>,
    pub memory: Arc<Memory>,
    pub settings: HarnessSettings,
    /// Active version per workspace, read on every context pack.
    active: RwLock<HashMap<String, Active>>,
}

fn weights_of(config: &Value) -> ApiResult<Option<Weights>> {
    let Some(w) = config.get("context").and_then(|c| c.get("weights")) else {
        return Ok(None);
    };
    let weights: Weights = serde_json::from_value(w.clone()).map_err(|e| {
        ApiError::bad_request(format!(
            "config.context.weights: {e} (relevance, recency, importance, confidence, feedback: numbers 0-10)"
        ))
    })?;
    if !weights.in_range() {
        return Err(ApiError::bad_request(
            "config.context.weights: each weight is a number from 0 to 10",
        ));
    }
    Ok(Some(weights))
}

impl Harness {
    /// Records a grounded chat reply on its pack's trace (`knowledge_reply`: the reply, its
    /// usage and cost), so feedback and the mission's usage see it. The reply has been
    /// answered already: a failure here is logged, not returned.
    pub async fn record_reply(&self, ws: &Workspace, trace_id: &str, reply: &TraceReply) {
        match self.store.record_reply(&ws.id, trace_id, reply).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(trace = %trace_id, "harness: the reply's trace is gone"),
            Err(e) => tracing::warn!(trace = %trace_id, error = %e, "harness: reply not traced"),
        }
    }

    pub fn new(
        store: Arc<dyn HarnessStore>,
        guard: Arc<dyn GuardStore>,
        memory: Arc<Memory>,
        settings: HarnessSettings,
    ) -> Self {
        Self {
            store,
            guard,
            memory,
            settings,
            active: RwLock::new(HashMap::new()),
        }
    }

    pub async fn add_version(
        &self,
        ws: &Workspace,
        actor: &str,
        input: VersionInput,
    ) -> ApiResult<VersionRow> {
        let name = v::text("name", &input.name, 200)?;
        if !input.config.is_object() {
            return Err(ApiError::bad_request("config: expected a JSON object"));
        }
        weights_of(&input.config)?;
        let at = now();
        let active = input.activate.unwrap_or(false);
        let row = VersionRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            name,
            description: v::optional_text("description", input.description.as_deref(), 2_000)?,
            status: if active {
                VersionStatus::Active
            } else {
                VersionStatus::Draft
            },
            config: input.config,
            created_by: actor.to_string(),
            created_at: at.clone(),
            activated_at: active.then_some(at),
        };
        self.store.add_version(&row).await?;
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ws.id);
        Ok(row)
    }

    /// Makes an existing version the workspace's active one (the one before is archived).
    pub async fn activate_version(&self, ws: &Workspace, id: &str) -> ApiResult<VersionRow> {
        if !self.store.activate_version(&ws.id, id, &now()).await? {
            return Err(ApiError::NotFound("Harness version"));
        }
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&ws.id);
        self.store
            .version(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Harness version"))
    }

    pub async fn versions(&self, ws: &Workspace) -> ApiResult<VersionList> {
        Ok(VersionList {
            object: "list".into(),
            data: self.store.versions(&ws.id).await?,
        })
    }

    pub async fn record_trace(&self, ws: &Workspace, input: TraceInput) -> ApiResult<TraceRow> {
        let context = v::metadata("context", input.context.as_ref())?.unwrap_or_else(|| json!({}));
        let metadata =
            v::metadata("metadata", input.metadata.as_ref())?.unwrap_or_else(|| json!({}));
        let charged = input.charged_usd.unwrap_or(0.0);
        if !charged.is_finite() || charged < 0.0 {
            return Err(ApiError::bad_request(
                "charged_usd: expected a non-negative amount",
            ));
        }
        if let Some(vid) = &input.harness_version_id {
            if self.store.version(&ws.id, vid).await?.is_none() {
                return Err(ApiError::Unprocessable(format!(
                    "harness_version_id: no harness version {vid} in this workspace"
                )));
            }
        }
        let short = |f: &str, x: Option<&str>| v::optional_text(f, x, 300);
        let long = |f: &str, x: Option<&str>| v::optional_text(f, x, v::MAX_CONTENT_CHARS);
        let row = TraceRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            trace_type: short("trace_type", input.trace_type.as_deref())?
                .unwrap_or_else(|| "external_observation".into()),
            harness_version_id: input.harness_version_id,
            assistant_id: short("assistant_id", input.assistant_id.as_deref())?,
            thread_id: short("thread_id", input.thread_id.as_deref())?,
            mission_id: short("mission_id", input.mission_id.as_deref())?,
            task_id: short("task_id", input.task_id.as_deref())?,
            input_summary: long("input_summary", input.input_summary.as_deref())?,
            output_summary: long("output_summary", input.output_summary.as_deref())?,
            context_strategy: short("context_strategy", input.context_strategy.as_deref())?
                .unwrap_or_else(|| "external".into()),
            context,
            pack_id: input.pack_id,
            charged_usd: charged,
            outcome: short("outcome", input.outcome.as_deref())?
                .unwrap_or_else(|| "unknown".into()),
            feedback_score: None,
            metadata,
            created_at: now(),
        };
        self.store.add_trace(&row).await?;
        Ok(row)
    }

    pub async fn traces(&self, ws: &Workspace, filter: TraceFilter) -> ApiResult<TraceList> {
        let fetch = async |f: TraceFilter| self.store.traces(&ws.id, &f).await;
        v::page(filter, fetch, |r| v::encode_cursor(&r.created_at, &r.id)).await
    }

    /// A rating marks every memory and document the trace used helpful (above 0) or unhelpful
    /// (below 0), so the next packs rank them accordingly; `remember_text` becomes a note and
    /// `forget_note_ids` are forgotten.
    pub async fn feedback(
        &self,
        ws: &Workspace,
        actor: &str,
        input: FeedbackInput,
    ) -> ApiResult<FeedbackResult> {
        let trace = self
            .store
            .trace(&ws.id, &input.trace_id)
            .await?
            .ok_or(ApiError::NotFound("Trace"))?;
        if let Some(r) = input.rating {
            rating(r)?;
        }
        let comment = v::optional_text("comment", input.comment.as_deref(), 2_000)?;
        let outcome = v::optional_text("outcome", input.outcome.as_deref(), 100)?;
        let remember = v::optional_text(
            "remember_text",
            input.remember_text.as_deref(),
            v::MAX_CONTENT_CHARS,
        )?;
        // Every note to forget must exist before anything is written.
        for id in &input.forget_note_ids {
            self.memory.get_note(ws, id).await.map_err(|_| {
                ApiError::Unprocessable(format!("forget_note_ids: no note {id} in this workspace"))
            })?;
        }
        let rated = match rating_signal(input.rating) {
            Some(signal) => {
                let items = traced_items(&trace);
                let pack_id = trace.pack_id.clone();
                let memory = &self.memory;
                memory
                    .rate_items(ws, actor, pack_id, &items, signal, comment.clone())
                    .await?
            }
            None => 0,
        };
        let remembered = match remember {
            Some(text) => Some(self.remember(ws, actor, text, &trace.id).await?),
            None => None,
        };
        self.forget(ws, actor, &input.forget_note_ids, &trace.id)
            .await?;
        let row = TraceFeedbackRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            trace_id: trace.id.clone(),
            rating: input.rating,
            outcome,
            comment,
            remember_note_id: remembered.as_ref().map(|n| n.id.clone()),
            forgotten: input.forget_note_ids,
            actor: actor.to_string(),
            created_at: now(),
        };
        self.store.add_feedback(&row).await?;
        Ok(FeedbackResult {
            feedback: row,
            remembered,
            items_rated: rated,
        })
    }

    /// Forgets the notes feedback named, each with the trace as the reason.
    async fn forget(
        &self,
        ws: &Workspace,
        actor: &str,
        note_ids: &[String],
        trace_id: &str,
    ) -> ApiResult<()> {
        for id in note_ids {
            let reason = format!("harness feedback on trace {trace_id}");
            self.memory
                .set_status(ws, actor, id, NoteStatus::Forgotten, Some(reason))
                .await?;
        }
        Ok(())
    }

    /// Feedback's `remember_text` as a lesson note (pending or approved, as configured).
    async fn remember(
        &self,
        ws: &Workspace,
        actor: &str,
        text: String,
        trace_id: &str,
    ) -> ApiResult<NoteRow> {
        let input = NoteInput {
            content: text,
            kind: Some("lesson".into()),
            status: Some(self.settings.remember_status),
            metadata: Some(json!({"source": "harness_feedback", "trace_id": trace_id})),
            ..Default::default()
        };
        Ok(self.memory.create_note(ws, actor, input).await?.0)
    }
}

#[async_trait]
impl PackHooks for Harness {
    async fn active_version(
        &self,
        workspace_id: &str,
    ) -> anyhow::Result<Option<(String, Option<Weights>)>> {
        if let Some(hit) = self
            .active
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(workspace_id)
        {
            return Ok(hit.clone());
        }
        let found: Active = match self.store.active_version(workspace_id).await? {
            Some(v) => Some((v.id.clone(), weights_of(&v.config).ok().flatten())),
            None => None,
        };
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(workspace_id.to_string(), found.clone());
        Ok(found)
    }

    async fn trace_pack(
        &self,
        ws: &Workspace,
        pack: &ContextPack,
        metadata: Option<&PackMetadata>,
    ) -> anyhow::Result<String> {
        let pick = |t: ItemType| -> Vec<Value> {
            pack.items
                .iter()
                .filter(|i| i.item_type == t)
                .map(|i| {
                    json!({"id": i.id, "score": i.scores.score,
                           "relevance_score": i.scores.relevance_score,
                           "recency_score": i.scores.recency_score,
                           "importance_score": i.scores.importance_score,
                           "confidence_score": i.scores.confidence_score,
                           "feedback_score": i.scores.feedback_score})
                })
                .collect()
        };
        let row = TraceRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            trace_type: "context_pack".into(),
            harness_version_id: pack.harness_version_id.clone(),
            assistant_id: None,
            thread_id: None,
            mission_id: metadata.and_then(|m| m.mission_id.clone()),
            task_id: metadata.and_then(|m| m.gwen_task_id.clone()),
            input_summary: Some(pack.query.clone()),
            output_summary: None,
            context_strategy: "context_pack".into(),
            context: json!({"memories": pick(ItemType::Note), "documents": pick(ItemType::Chunk),
                            "entities": pick(ItemType::Entity), "events": pick(ItemType::Event)}),
            pack_id: Some(pack.pack_id.clone()),
            charged_usd: 0.0,
            outcome: "unknown".into(),
            feedback_score: None,
            metadata: json!({"tokens_used": pack.usage.tokens_used,
                             "tokaroo_mission_uuid": metadata.and_then(|m| m.tokaroo_mission_uuid.clone())}),
            created_at: now(),
        };
        self.store.add_trace(&row).await?;
        Ok(row.id)
    }
}

/// The memories (notes) and documents (chunks) a trace's context lists.
fn traced_items(trace: &TraceRow) -> Vec<(ItemType, String)> {
    let mut items = Vec::new();
    for (key, kind) in [("memories", ItemType::Note), ("documents", ItemType::Chunk)] {
        if let Some(list) = trace.context.get(key).and_then(Value::as_array) {
            for item in list {
                if let Some(id) = item.get("id").and_then(Value::as_str) {
                    items.push((kind, id.to_string()));
                }
            }
        }
    }
    items
}

/// A rating above 0 is helpful, below 0 unhelpful; 0 or none rates nothing.
fn rating_signal(rating: Option<f64>) -> Option<Signal> {
    match rating {
        Some(r) if r > 0.0 => Some(Signal::Helpful),
        Some(r) if r < 0.0 => Some(Signal::Unhelpful),
        _ => None,
    }
}

/// A trace rating, from -5 to 5: above 0 marks the trace's items helpful, below 0 unhelpful.
fn rating(r: f64) -> ApiResult<f64> {
    if !(-5.0..=5.0).contains(&r) {
        return Err(ApiError::bad_request(
            "rating: expected a number from -5 to 5",
        ));
    }
    Ok(r)
}
