//! Bodies of `/v1/actions/*`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::guard::policy::Effect;
use crate::store::guard::{ApprovalRow, AuditRow, PolicyRow};

/// `POST /v1/actions/policies`: a known external pair updates that policy.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub workspace_id: Option<String>,
    pub name: String,
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub tool_ref: Option<String>,
    /// read, write, spend, communication, code, memory_write, ...
    pub action_type: Option<String>,
    pub operation: Option<String>,
    /// read_only, write, destructive, ...
    pub access_level: Option<String>,
    /// low, medium, high or critical.
    pub risk_level: Option<String>,
    pub min_amount_usd: Option<f64>,
    pub max_amount_usd: Option<f64>,
    pub effect: Effect,
    /// Higher wins among equally specific matches; default 0.
    pub priority: Option<i64>,
    /// Default true.
    pub enabled: Option<bool>,
    pub description: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    pub object: String,
    pub data: Vec<PolicyRow>,
}

/// `POST /v1/actions/check`, as in the seed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInput {
    pub workspace_id: Option<String>,
    pub app: String,
    /// The parent mission's stable id.
    pub mission_id: Option<String>,
    /// The child work unit inside the mission.
    pub task_id: Option<String>,
    pub actor_ref: Option<String>,
    pub tool_ref: String,
    pub action_type: String,
    pub operation: Option<String>,
    pub access_level: Option<String>,
    pub risk_level: Option<String>,
    pub requested_amount_usd: Option<f64>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Only say what the policies would decide (the dashboard's tester; needs the `policy`
    /// scope): nothing is recorded, no approval is asked for, and `audit_id` is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// allow, require_approval or deny.
    pub decision: Effect,
    pub policy_id: Option<String>,
    pub reasons: Vec<String>,
    /// Set when the decision is require_approval: decide it with
    /// `POST /v1/actions/approvals/{id}/decide`.
    pub approval_id: Option<String>,
    pub audit_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParams {
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    /// pending, approved, rejected or expired.
    pub status: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalList {
    pub object: String,
    pub data: Vec<ApprovalRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideInput {
    pub workspace_id: Option<String>,
    pub decision: Decision,
    pub note: Option<String>,
}

/// `POST /v1/actions/audit`: what an agent did (or failed or was blocked from doing).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditInput {
    pub workspace_id: Option<String>,
    /// executed, failed or blocked.
    pub event: String,
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub actor_ref: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub policy_id: Option<String>,
    pub approval_id: Option<String>,
    pub amount_usd: Option<f64>,
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    pub workspace_id: Option<String>,
    pub mission_id: Option<String>,
    pub event: Option<String>,
    pub tool_ref: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub object: String,
    pub data: Vec<AuditRow>,
    pub next_cursor: Option<String>,
}

crate::validate::listing!(AuditList: AuditRow);
