//! Gateway storage: usage rows.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The seed's `UsageRow`, plus the provider and upstream model (kept for operators; the
/// public routes show them too since Cairn is self-hosted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageRow {
    pub id: String,
    #[serde(skip)]
    pub account_id: String,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// auto, fast, max, or named.
    pub tier: String,
    /// The model the request asked for.
    pub model: String,
    pub provider: String,
    pub upstream_model: String,
    pub routing_method: String,
    pub execution_source: String,
    pub billing_mode: String,
    /// chat or chat_stream.
    pub request_type: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub actual_cost_usd: f64,
    pub charged_usd: f64,
    /// What the `max` route would have cost.
    pub baseline_usd: f64,
    pub latency_ms: Option<f64>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct UsageFilter {
    pub workspace_id: Option<String>,
    pub api_key_id: Option<String>,
    pub request_type: Option<String>,
    /// Rows created before this timestamp.
    pub before: Option<String>,
    /// Rows created at or after this timestamp.
    pub since: Option<String>,
    pub limit: i64,
}

#[async_trait]
pub trait UsageStore: Send + Sync {
    async fn add(&self, row: &UsageRow) -> anyhow::Result<()>;
    async fn list(&self, account_id: &str, f: &UsageFilter) -> anyhow::Result<Vec<UsageRow>>;
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Balance,
    Budget,
}

/// An amount held for a request in flight.
#[derive(Debug, Clone)]
pub struct Hold {
    pub account_id: String,
    pub workspace_id: String,
    /// `YYYY-MM` of the workspace budget the hold counts against, when it has one.
    pub budget_month: Option<String>,
    pub balance: bool,
    pub amount_usd: f64,
}

#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Holds `hold.amount_usd` against the balance (when `hold.balance`) and the workspace's
    /// monthly budget (when `budget_usd` is set), atomically: both or neither.
    async fn reserve(
        &self,
        hold: &Hold,
        budget_usd: Option<f64>,
    ) -> anyhow::Result<Result<(), Refusal>>;
    /// Ends a hold: the actual cost is charged (ledger row) and the hold released.
    async fn settle(&self, hold: &Hold, actual_usd: f64, usage_id: &str) -> anyhow::Result<()>;
    async fn credit(
        &self,
        account_id: &str,
        amount_usd: f64,
        actor: &str,
        note: Option<&str>,
    ) -> anyhow::Result<f64>;
    /// (balance, reserved) in USD.
    async fn balance(&self, account_id: &str) -> anyhow::Result<(f64, f64)>;
}
