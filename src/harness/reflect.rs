//! Reflections: selected traces go to a model (any OpenAI-compatible chat completions
//! endpoint, `[reflection]` in config) which answers with one lesson; it is stored and,
//! when asked, kept as a pending `lesson` note. Without a provider the route answers 503.
//! The call goes through the outbound policy (`crate::outbound`) with the operator's reach.

use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::harness::model::{ReflectInput, ReflectionList};
use crate::harness::Harness;
use crate::memory::model::{NoteInput, NoteStatus};
use crate::outbound::{self, Outbound, Reach, DEFAULT_MAX_BODY};
use crate::store::harness::{ReflectionRow, TraceRow};
use crate::store::time::{new_id, now};
use crate::store::Workspace;
use crate::validate as v;

const INSTRUCTIONS: &str = "You review traces of an AI agent's work: what it was asked, the context it used, \
what it answered, the outcome and the feedback it got. Write one concise, actionable lesson (at most four \
sentences) the agent should remember next time. Reply with the lesson only.";

pub struct Reflector {
    client: Outbound,
    base_url: String,
    api_key: SecretString,
    pub model: String,
}

impl Reflector {
    pub fn new(
        base_url: &str,
        api_key: &str,
        model: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: Outbound::new(Reach::Operator, timeout, DEFAULT_MAX_BODY)?,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.into(),
            model: model.to_string(),
        })
    }

    async fn complete(&self, system: &str, user: &str) -> ApiResult<String> {
        let unavailable = |why: String| {
            tracing::warn!(%why, "reflection provider call failed");
            ApiError::ServiceUnavailable(format!("Reflection provider failed: {why}"))
        };
        let mut req = self
            .client
            .post(&format!("{}/chat/completions", self.base_url))
            .map_err(|e| unavailable(e.to_string()))?
            .json(&json!({"model": self.model, "temperature": 0.2,
                          "messages": [{"role": "system", "content": system},
                                       {"role": "user", "content": user}]}));
        let key = self.api_key.expose_secret();
        if !key.is_empty() {
            req = req.bearer_auth(key);
        }
        let res = req
            .send()
            .await
            .map_err(|e| unavailable(outbound::describe(e)))?;
        let status = res.status();
        if !status.is_success() {
            return Err(unavailable(format!("it answered HTTP {status}")));
        }
        let body: Value = self.client.json(res).await.map_err(unavailable)?;
        body["choices"][0]["message"]["content"]
            .as_str()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unavailable("its answer had no message content".into()))
    }
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
    pub async fn reflect(
        &self,
        ws: &Workspace,
        actor: &str,
        input: ReflectInput,
    ) -> ApiResult<ReflectionRow> {
        v::count("trace_ids", input.trace_ids.len(), 1, 50, "trace ids")?;
        let extra = v::optional_text("instructions", input.instructions.as_deref(), 4_000)?;
        let traces = self.store.traces_by_ids(&ws.id, &input.trace_ids).await?;
        if traces.len() != input.trace_ids.len() {
            return Err(ApiError::Unprocessable(
                "trace_ids: some traces do not exist in this workspace".into(),
            ));
        }
        let Some(reflector) = &self.reflector else {
            return Err(ApiError::ServiceUnavailable(
                "No reflection provider configured".into(),
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
        let insight = reflector.complete(&system, &user.join("\n\n")).await?;
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
            model: reflector.model.clone(),
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
