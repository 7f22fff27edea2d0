//! Bodies of `/v1/harness/*`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::store::guard::{ApprovalRow, AuditRow};
use crate::store::harness::{
    ArtifactRow, MissionRow, ReflectionRow, StepRow, TraceFeedbackRow, TraceRow, VersionRow,
};
use crate::store::memory::NoteRow;

/// `POST /v1/harness/versions`. `config.context.weights` (relevance, recency, importance,
/// confidence, feedback) re-weights the workspace's context packs while the version is active;
/// `config.reflection.instructions` steers reflections.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionInput {
    pub workspace_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub config: Value,
    /// Make it the workspace's active version (the previous one is archived). Default false:
    /// a draft candidate.
    pub activate: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub object: String,
    pub data: Vec<VersionRow>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub workspace_id: Option<String>,
    pub limit: Option<i64>,
}

/// `POST /v1/harness/missions`: upserts by `mission_id`, else by the external pair.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissionInput {
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub app: Option<String>,
    pub title: Option<String>,
    pub goal: Option<String>,
    /// Default `active`.
    pub status: Option<String>,
    pub progress: Option<f64>,
    pub outcome: Option<String>,
    pub success: Option<bool>,
    pub risk_level: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MissionPatch {
    pub workspace_id: Option<String>,
    pub title: Option<String>,
    pub goal: Option<String>,
    pub status: Option<String>,
    pub progress: Option<f64>,
    pub outcome: Option<String>,
    pub success: Option<bool>,
    pub risk_level: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MissionListParams {
    pub workspace_id: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissionList {
    pub object: String,
    pub data: Vec<MissionRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissionUsage {
    pub traces: usize,
    pub charged_usd: f64,
}

/// The mission with everything recorded against it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissionDetail {
    pub mission: MissionRow,
    pub steps: Vec<StepRow>,
    pub artifacts: Vec<ArtifactRow>,
    pub approvals: Vec<ApprovalRow>,
    pub audit: Vec<AuditRow>,
    pub usage: MissionUsage,
    pub traces: Vec<TraceRow>,
}

/// `POST /v1/harness/missions/{id}/steps`: upserts by `step_ref`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    pub workspace_id: Option<String>,
    pub step_ref: String,
    pub task_id: Option<String>,
    pub title: Option<String>,
    /// Default `pending`.
    pub status: Option<String>,
    pub position: Option<i64>,
    pub detail: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepPatch {
    pub workspace_id: Option<String>,
    pub task_id: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub position: Option<i64>,
    pub detail: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactInput {
    pub workspace_id: Option<String>,
    /// email, file, doc, url, receipt, plan, report, code_summary, ...
    pub kind: String,
    pub title: Option<String>,
    pub uri: Option<String>,
    pub content: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// `POST /v1/harness/traces`: the seed's `HarnessTrace` fields.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceInput {
    pub workspace_id: Option<String>,
    /// Default `external_observation`.
    pub trace_type: Option<String>,
    pub harness_version_id: Option<String>,
    pub assistant_id: Option<String>,
    pub thread_id: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub input_summary: Option<String>,
    pub output_summary: Option<String>,
    pub context_strategy: Option<String>,
    /// `{documents: [{id, score}], memories: [{id, score, ...}]}`.
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    pub pack_id: Option<String>,
    pub charged_usd: Option<f64>,
    pub outcome: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TraceListParams {
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    pub trace_type: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceList {
    pub object: String,
    pub data: Vec<TraceRow>,
    pub next_cursor: Option<String>,
}

crate::validate::listing!(TraceList: TraceRow);

/// `POST /v1/harness/feedback`: a rating flows into the feedback scores of the memories and
/// documents the trace used; `remember_text` becomes a note; `forget_note_ids` are forgotten.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    pub workspace_id: Option<String>,
    pub trace_id: String,
    /// -5 to 5: above 0 marks the trace's items helpful, below 0 unhelpful.
    pub rating: Option<f64>,
    pub outcome: Option<String>,
    pub comment: Option<String>,
    pub remember_text: Option<String>,
    #[serde(default)]
    pub forget_note_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackResult {
    pub feedback: TraceFeedbackRow,
    /// The note made of `remember_text` (pending or approved per `harness.remember_status`
    /// and the memory-write guard).
    pub remembered: Option<NoteRow>,
    /// Items of the trace whose feedback score the rating moved.
    pub items_rated: usize,
}

/// `POST /v1/harness/reflections/generate`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReflectInput {
    pub workspace_id: Option<String>,
    pub trace_ids: Vec<String>,
    /// Store the insight as a `lesson` note (pending review).
    pub store_as_memory: Option<bool>,
    /// Extra guidance for the model.
    pub instructions: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReflectionList {
    pub object: String,
    pub data: Vec<ReflectionRow>,
}
