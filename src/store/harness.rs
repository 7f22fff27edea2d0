//! Harness storage: versions, missions with steps and artifacts, traces, trace feedback and
//! reflections.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreResult;

/// A harness version's state (one active per workspace): the same lowercase word in JSON and
/// in the `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum VersionStatus {
    Draft,
    Active,
    Archived,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: VersionStatus,
    #[schema(value_type = Object)]
    pub config: Value,
    pub created_by: String,
    pub created_at: String,
    pub activated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MissionRow {
    /// Cairn's mission UUID, used only in URL paths.
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// The app's stable mission id (the parent goal).
    pub mission_id: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub app: Option<String>,
    pub title: Option<String>,
    pub goal: Option<String>,
    pub status: String,
    /// 0-1.
    pub progress: f64,
    pub outcome: Option<String>,
    pub success: Option<bool>,
    pub risk_level: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StepRow {
    pub id: String,
    #[serde(skip)]
    pub mission_uuid: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// Stable reference from the app, e.g. `task_456` or `task_456:step_1`.
    pub step_ref: String,
    pub task_id: Option<String>,
    pub title: Option<String>,
    pub status: String,
    pub position: i64,
    pub detail: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArtifactRow {
    pub id: String,
    #[serde(skip)]
    pub mission_uuid: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// email, file, doc, url, receipt, plan, report, code_summary, ...
    pub kind: String,
    pub title: Option<String>,
    pub uri: Option<String>,
    pub content: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
}

/// What a grounded chat reply adds to its pack's trace.
#[derive(Debug, Clone)]
pub struct TraceReply {
    /// `knowledge_reply`.
    pub trace_type: String,
    pub output_summary: String,
    pub charged_usd: f64,
    /// `{model, served_by, method, input_tokens, output_tokens, cost_usd}`, merged into the
    /// trace's metadata.
    pub usage: Value,
    /// `{model, bucket, probability}` when `thompson` picked the model: kept apart from the
    /// metadata (which clients write) for the first rating to take ([`HarnessStore::take_routing`]).
    pub routing: Option<Value>,
}

/// The seed's `HarnessTrace`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    /// knowledge_reply, docs_query, external_observation, context_pack, ...
    pub trace_type: String,
    pub harness_version_id: Option<String>,
    pub assistant_id: Option<String>,
    pub thread_id: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub input_summary: Option<String>,
    pub output_summary: Option<String>,
    pub context_strategy: String,
    /// `{documents: [{id, score}], memories: [{id, score, relevance_score, ...}]}`.
    #[schema(value_type = Object)]
    pub context: Value,
    pub pack_id: Option<String>,
    pub charged_usd: f64,
    pub outcome: String,
    pub feedback_score: Option<f64>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceFeedbackRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub trace_id: String,
    pub rating: Option<f64>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    /// The note `remember_text` became.
    pub remember_note_id: Option<String>,
    /// Notes forgotten by this feedback.
    pub forgotten: Vec<String>,
    pub actor: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReflectionRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub trace_ids: Vec<String>,
    pub insight: String,
    pub model: String,
    /// The memory note the insight was stored as, if asked.
    pub note_id: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    pub mission_id: Option<String>,
    pub trace_type: Option<String>,
    pub before: Option<(String, String)>,
    pub limit: i64,
}

#[async_trait]
pub trait HarnessStore: Send + Sync {
    async fn versions(&self, workspace_id: &str) -> StoreResult<Vec<VersionRow>>;
    async fn version(&self, workspace_id: &str, id: &str) -> StoreResult<Option<VersionRow>>;
    async fn active_version(&self, workspace_id: &str) -> StoreResult<Option<VersionRow>>;
    /// Inserts a version; an active one archives the previous active one in the same
    /// transaction.
    async fn add_version(&self, v: &VersionRow) -> StoreResult<()>;
    /// Makes version `id` the workspace's active one (the active one before is archived), in
    /// one transaction; false when the workspace has no such version.
    async fn activate_version(&self, workspace_id: &str, id: &str, at: &str) -> StoreResult<bool>;

    async fn mission(&self, workspace_id: &str, id: &str) -> StoreResult<Option<MissionRow>>;
    async fn mission_by_ref(
        &self,
        workspace_id: &str,
        mission_id: Option<&str>,
        external: Option<(&str, &str)>,
    ) -> StoreResult<Option<MissionRow>>;
    async fn missions(
        &self,
        workspace_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<MissionRow>>;
    async fn put_mission(&self, m: &MissionRow) -> StoreResult<()>;

    async fn steps(&self, mission_uuid: &str) -> StoreResult<Vec<StepRow>>;
    async fn put_step(&self, s: &StepRow) -> StoreResult<()>;
    async fn artifacts(&self, mission_uuid: &str) -> StoreResult<Vec<ArtifactRow>>;
    async fn add_artifact(&self, a: &ArtifactRow) -> StoreResult<()>;

    async fn trace(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TraceRow>>;
    async fn traces(&self, workspace_id: &str, f: &TraceFilter) -> StoreResult<Vec<TraceRow>>;
    async fn traces_by_ids(&self, workspace_id: &str, ids: &[String])
        -> StoreResult<Vec<TraceRow>>;
    async fn add_trace(&self, t: &TraceRow) -> StoreResult<()>;
    /// Turns a context pack's trace into the trace of the reply grounded in it: type, reply,
    /// cost and `usage` merged into its metadata. False when the workspace has no such trace.
    async fn record_reply(
        &self,
        workspace_id: &str,
        trace_id: &str,
        reply: &TraceReply,
    ) -> StoreResult<bool>;
    /// The routing Cairn recorded for a reply's trace, taken (cleared) in the same statement:
    /// only the first rating of a reply gets it.
    async fn take_routing(&self, workspace_id: &str, trace_id: &str) -> StoreResult<Option<Value>>;
    /// Records feedback and sets the trace's feedback score (mean rating) and outcome.
    async fn add_feedback(&self, f: &TraceFeedbackRow) -> StoreResult<()>;

    async fn reflections(&self, workspace_id: &str, limit: i64) -> StoreResult<Vec<ReflectionRow>>;
    async fn add_reflection(&self, r: &ReflectionRow) -> StoreResult<()>;
}
