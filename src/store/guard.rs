//! Guardrail storage: policies, approvals and the action audit trail.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreResult;

/// What a policy does with an action it matches, strictest last (the order ranks ties): the
/// same snake_case word in JSON and in the `effect` column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    RequireApproval,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::RequireApproval => "require_approval",
            Self::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PolicyRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub name: String,
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub operation: Option<String>,
    pub access_level: Option<String>,
    pub risk_level: Option<String>,
    pub min_amount_usd: Option<f64>,
    pub max_amount_usd: Option<f64>,
    pub effect: Effect,
    pub priority: i64,
    pub enabled: bool,
    pub description: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Where an approval stands: the same lowercase word in JSON and in the `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Expired,
}

impl ApprovalStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Rejected, Self::Expired]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub policy_id: Option<String>,
    pub status: ApprovalStatus,
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub tool_ref: String,
    /// The checked action, as sent.
    #[schema(value_type = Object)]
    pub request: Value,
    pub reasons: Vec<String>,
    /// The caller whose check asked for this approval; it can never decide it.
    pub requested_by: Option<String>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
    pub expires_at: String,
    pub decided_at: Option<String>,
    pub created_at: String,
}

/// What an audit row records: the same lowercase word in JSON and in the `event` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase")]
pub enum AuditEvent {
    /// A check that was allowed or sent for approval.
    Checked,
    Executed,
    Failed,
    /// A check that was denied, or an action reported as blocked.
    Blocked,
    Approved,
    Rejected,
    Expired,
}

impl AuditEvent {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Checked => "checked",
            Self::Executed => "executed",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// The events an agent may report with `POST /v1/actions/audit`: what it did. Approvals,
    /// rejections and expiries are written by Cairn alone, when they happen.
    pub fn reported(s: &str) -> Option<Self> {
        [Self::Executed, Self::Failed, Self::Blocked]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRow {
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub event: AuditEvent,
    pub decision: Option<String>,
    pub app: Option<String>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub actor_ref: Option<String>,
    pub tool_ref: Option<String>,
    pub action_type: Option<String>,
    pub policy_id: Option<String>,
    pub approval_id: Option<String>,
    pub amount_usd: Option<f64>,
    #[schema(value_type = Object)]
    pub detail: Value,
    /// `user:<id>` or `key:<id>`: who reported or decided it.
    pub recorded_by: String,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct ApprovalFilter {
    pub mission_id: Option<String>,
    pub status: Option<ApprovalStatus>,
    pub limit: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub mission_id: Option<String>,
    pub event: Option<String>,
    pub tool_ref: Option<String>,
    /// Rows before this (created_at, id) cursor.
    pub before: Option<(String, String)>,
    pub limit: i64,
}

#[async_trait]
pub trait GuardStore: Send + Sync {
    async fn policies(&self, workspace_id: &str) -> StoreResult<Vec<PolicyRow>>;
    async fn policy_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<PolicyRow>>;
    async fn put_policy(&self, p: &PolicyRow) -> StoreResult<()>;

    async fn approval(&self, workspace_id: &str, id: &str) -> StoreResult<Option<ApprovalRow>>;
    async fn approvals(
        &self,
        workspace_id: &str,
        f: &ApprovalFilter,
    ) -> StoreResult<Vec<ApprovalRow>>;
    /// Marks pending approvals whose time is up as expired, with an audit row each.
    async fn expire_approvals(&self, workspace_id: &str, now: &str) -> StoreResult<()>;
    /// Records a check: its audit row and, when approval is needed, the approval.
    async fn record_check(
        &self,
        audit: &AuditRow,
        approval: Option<&ApprovalRow>,
    ) -> StoreResult<()>;
    /// Decides a pending approval; false when it was no longer pending.
    async fn decide(&self, approval: &ApprovalRow, audit: &AuditRow) -> StoreResult<bool>;

    async fn audit_by_external(
        &self,
        workspace_id: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<AuditRow>>;
    async fn add_audit(&self, row: &AuditRow) -> StoreResult<()>;
    async fn audit(&self, workspace_id: &str, f: &AuditFilter) -> StoreResult<Vec<AuditRow>>;
    /// What the workspace spent since `since`: the amounts of its executed actions plus what
    /// its gateway requests were charged (usage rows), the two halves of its monthly budget.
    async fn spent_since(&self, workspace_id: &str, since: &str) -> StoreResult<f64>;
}
