//! Gateway storage: usage rows, balances and budget spend.

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
    /// The model the request asked for (a route name such as `max`, or a model name).
    pub model: String,
    pub provider: String,
    pub upstream_model: String,
    /// The catalog model that served the answer (also the `x-cairn-model` header); for a
    /// cache hit, the one whose answer was cached.
    pub served_model: String,
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

#[cfg(test)]
impl UsageRow {
    /// A unit-test row: one chat request of `account` on `tier`, charged (and costing)
    /// `charged`, one token each way, made now; tests override the fields they vary.
    pub fn sample(account: &str, tier: &str, charged: f64) -> Self {
        Self {
            id: crate::store::time::new_id(),
            account_id: account.into(),
            api_key_id: None,
            workspace_id: None,
            metadata: serde_json::json!({}),
            tier: tier.into(),
            model: tier.into(),
            provider: "p".into(),
            upstream_model: "m".into(),
            served_model: "model-m".into(),
            routing_method: "auto:value".into(),
            execution_source: "provider".into(),
            billing_mode: "usage".into(),
            request_type: "chat".into(),
            input_tokens: 1,
            output_tokens: 1,
            actual_cost_usd: charged,
            charged_usd: charged,
            baseline_usd: charged,
            latency_ms: Some(1.0),
            created_at: crate::store::time::now(),
        }
    }
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

/// What usage sums are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageKey {
    /// The API key id; `session` for requests made with a dashboard session.
    ApiKey,
    /// The workspace row id (empty when none).
    Workspace,
    Tier,
    RequestType,
    /// The UTC date (`YYYY-MM-DD`) of `created_at`.
    Day,
    /// The catalog model that served the request.
    ServedModel,
    /// The provider that served it (`cache` for cache hits).
    Provider,
}

/// The sums of one group of usage rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageSums {
    /// The group's values, in the order of the keys asked for.
    pub keys: Vec<String>,
    pub requests: u64,
    /// Input plus output tokens.
    pub tokens: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// What the `max` route would have cost.
    pub baseline_usd: f64,
    pub charged_usd: f64,
    pub actual_cost_usd: f64,
    /// The sum of `latency_ms` over the rows that have one, and how many do.
    pub latency_ms: f64,
    pub timed: u64,
}

#[async_trait]
pub trait UsageStore: Send + Sync {
    /// Rows, newest first, at most `f.limit`.
    async fn list(&self, account_id: &str, f: &UsageFilter) -> anyhow::Result<Vec<UsageRow>>;
    /// Rows matching `f` (its `limit` ignored), summed per distinct value of `by` and
    /// ordered by it; with `by` empty, one group of everything (none when nothing matched).
    async fn sums(
        &self,
        account_id: &str,
        f: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>>;
    /// Like [`Self::sums`] over every account: the admin's installation-wide figures.
    async fn installation_sums(
        &self,
        f: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>>;
    /// Every account's rows, newest first: `limit` of them from `offset`, and the total.
    async fn installation_rows(&self, limit: i64, offset: i64) -> anyhow::Result<Page<UsageRow>>;
}

/// What a monthly budget belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetScope {
    Workspace,
    Key,
}

impl BudgetScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workspace => "workspace",
            Self::Key => "key",
        }
    }
}

/// A write the gateway makes once a request is answered; they are applied in batches, one
/// transaction each, off the request path.
#[derive(Debug, Clone)]
pub enum GatewayWrite {
    Usage(Box<UsageRow>),
    /// Takes `amount_usd` off the account's balance, with a ledger row.
    Charge {
        account_id: String,
        amount_usd: f64,
        usage_id: String,
        at: String,
    },
    /// Adds `amount_usd` to a budget's spend for `month` (`YYYY-MM`).
    Spend {
        scope: BudgetScope,
        scope_id: String,
        month: String,
        amount_usd: f64,
    },
    /// A failed attempt at `model` (the time series' `errors`).
    Failure {
        model: String,
        at: String,
    },
}

/// One stored point of the admin's time series: a metric of a model over one minute (raw) or
/// one hour (rolled up).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub model: String,
    pub resolution_ms: i64,
    /// The bucket's start, in ms since the epoch.
    pub ts: i64,
    pub count: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pruned {
    /// Raw points folded into hourly ones.
    pub rolled_up: u64,
    /// Points past the retention, deleted.
    pub deleted: u64,
}

#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Applies the writes in one transaction: all or none.
    async fn apply(&self, writes: &[GatewayWrite]) -> anyhow::Result<()>;
    /// Adds credit (with a ledger row) and answers the stored balance after it.
    async fn credit(
        &self,
        account_id: &str,
        amount_usd: f64,
        actor: &str,
        note: Option<&str>,
    ) -> anyhow::Result<f64>;
    /// The stored balance in USD (0 for an account never credited).
    async fn balance(&self, account_id: &str) -> anyhow::Result<f64>;
    /// The stored spend of a budget in a month.
    async fn spent(&self, scope: BudgetScope, scope_id: &str, month: &str) -> anyhow::Result<f64>;
}

/// A provider as stored; `secret_enc` is the sealed API key (see `gateway::sealed`).
#[derive(Debug, Clone)]
pub struct ProviderRow {
    pub name: String,
    /// openai, openai_compatible or anthropic.
    pub kind: String,
    pub base_url: String,
    /// Sealed JSON: {"api_key": "...", "headers": {...}}.
    pub secret_enc: Option<String>,
    pub timeout_secs: i64,
    /// `config` for rows seeded from the config file, `admin` for rows the admin API wrote.
    pub source: String,
    /// A disabled provider's models do not route.
    pub enabled: bool,
    /// Where the API key lives: `vault` (sealed in `secret_enc`), `env` (the variable
    /// `api_key_env` names, read at each catalog load) or `none`.
    pub cred_store: String,
    pub api_key_env: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ModelRow {
    pub name: String,
    pub provider: String,
    pub upstream: String,
    pub weight: i64,
    pub context_window: i64,
    pub input_per_1k: f64,
    pub output_per_1k: f64,
    pub aliases: Vec<String>,
    pub capabilities: Vec<String>,
    pub enabled: bool,
    pub source: String,
}

/// A self-hosted OpenAI-compatible server registered by an account (seed "Local endpoints").
#[derive(Debug, Clone)]
pub struct LocalEndpoint {
    pub id: String,
    pub account_id: String,
    /// The workspace row id it is bound to, if any.
    pub workspace_id: Option<String>,
    pub url: String,
    pub label: String,
    pub default_model: Option<String>,
    /// Sealed JSON object of the headers sent with every request.
    pub headers_enc: Option<String>,
    /// The header names (their values are secret and never shown).
    pub header_names: Vec<String>,
    /// healthy or unreachable.
    pub status: String,
    /// Model ids discovered at the last check.
    pub models: Vec<String>,
    pub last_error: Option<String>,
    pub checked_at: Option<String>,
    pub enabled: bool,
    /// An admin saved it last: it may reach the operator's internal networks (see
    /// `crate::outbound`); members' endpoints may only when the operator allows.
    pub registered_by_admin: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// One admin mutation: who, what, and the object before and after (views without secrets).
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: String,
    /// `user:<id>` or `key:<id>`.
    pub actor: String,
    /// e.g. `provider.update`.
    pub action: String,
    /// The object's id.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub created_at: String,
}

/// The `thompson` mode's belief about one model on one input-size bucket: Beta(alpha, beta)
/// over its reward.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    pub model: String,
    pub bucket: String,
    pub alpha: f64,
    pub beta: f64,
}

/// One routed request's reward, with the probability the chosen model had of being chosen
/// (seed 002's reward log, as `GET /admin/v1/rewards` lists it).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RewardRow {
    pub id: String,
    #[serde(rename = "model_id")]
    pub model: String,
    /// The input-size bucket: xs, s, m, l.
    pub bucket: String,
    /// The chance the model had of being drawn first (for inverse-propensity evaluation).
    pub probability: f64,
    /// 0 (failed) to 1.
    pub reward: f64,
    pub success: bool,
    pub latency_ms: f64,
    pub cost_usd: f64,
    /// `route` (an attempt's outcome) or `feedback` (a rating of the reply's trace).
    pub source: String,
    pub created_at: String,
}

/// One page of a list, and how many rows there are in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

#[async_trait]
pub trait CatalogStore: crate::store::provider_keys::ProviderKeyStore + Send + Sync {
    /// Makes the `config` rows exactly these, in one transaction: rows no longer in the file
    /// go, the others are updated in place; rows of other sources stay, and a config row whose
    /// name an admin row holds is not written (the admin's edit wins).
    async fn seed(&self, providers: &[ProviderRow], models: &[ModelRow]) -> anyhow::Result<()>;
    /// Inserts or updates a provider (its models stay), with the audit row, in one transaction.
    async fn save_provider(&self, p: &ProviderRow, audit: &AuditRow) -> anyhow::Result<()>;
    /// Deletes a provider and its models with the audit row; how many models went, or None
    /// when there was no such provider.
    async fn delete_provider(&self, name: &str, audit: &AuditRow) -> anyhow::Result<Option<u64>>;
    /// Inserts or updates a model, with the audit row, in one transaction.
    async fn save_model(&self, m: &ModelRow, audit: &AuditRow) -> anyhow::Result<()>;
    /// Deletes a model with the audit row; false when there was none.
    async fn delete_model(&self, name: &str, audit: &AuditRow) -> anyhow::Result<bool>;
    /// A stored setting (JSON text), if set.
    async fn setting(&self, key: &str) -> anyhow::Result<Option<String>>;
    /// Sets a setting, with the audit row, in one transaction.
    async fn put_setting(&self, key: &str, value: &str, audit: &AuditRow) -> anyhow::Result<()>;
    /// Replaces sealed secrets (providers' `secret_enc` by name, local endpoints'
    /// `headers_enc` by id, customer provider keys' `secret_enc` by id) and sets the setting `vault` to `vault_state`, with the audit row
    /// when given, in one transaction: a re-seal under a new key is all or nothing.
    async fn reseal(
        &self,
        providers: &[(String, Option<String>)],
        endpoints: &[(String, Option<String>)],
        provider_keys: &[(String, String)],
        vault_state: &str,
        audit: Option<&AuditRow>,
    ) -> anyhow::Result<()>;
    /// Every `thompson` posterior.
    async fn posteriors(&self) -> anyhow::Result<Vec<Posterior>>;
    /// A reward row and the posterior it updated, in one transaction.
    async fn record_reward(&self, reward: &RewardRow, posterior: &Posterior) -> anyhow::Result<()>;
    /// Reward rows, newest first.
    async fn rewards(&self, limit: i64, offset: i64) -> anyhow::Result<Page<RewardRow>>;
    /// Points of `metric` (of `model`, or every model) with `ts` in `[start, end)`.
    async fn points(
        &self,
        metric: &str,
        model: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> anyhow::Result<Vec<Point>>;
    /// The models with points.
    async fn point_models(&self) -> anyhow::Result<Vec<String>>;
    /// Folds raw points older than `raw_before_ms` into hourly ones and deletes points older
    /// than `keep_after_ms`, in one transaction.
    async fn prune_points(&self, raw_before_ms: i64, keep_after_ms: i64) -> anyhow::Result<Pruned>;
    /// An audit row for an admin mutation stored elsewhere (API keys).
    async fn record_audit(&self, audit: &AuditRow) -> anyhow::Result<()>;
    /// The admin audit, newest first.
    async fn audit(&self, limit: i64, offset: i64) -> anyhow::Result<Page<AuditRow>>;
    async fn providers(&self) -> anyhow::Result<Vec<ProviderRow>>;
    async fn models(&self) -> anyhow::Result<Vec<ModelRow>>;
    /// Every endpoint of every account: what routing loads.
    async fn all_endpoints(&self) -> anyhow::Result<Vec<LocalEndpoint>>;
    /// An account's endpoints, optionally only those bound to one workspace (row id).
    async fn endpoints(
        &self,
        account_id: &str,
        workspace_id: Option<&str>,
    ) -> anyhow::Result<Vec<LocalEndpoint>>;
    async fn endpoint(&self, account_id: &str, id: &str) -> anyhow::Result<Option<LocalEndpoint>>;
    /// Inserts or replaces by id.
    async fn save_endpoint(&self, e: &LocalEndpoint) -> anyhow::Result<()>;
    async fn delete_endpoint(&self, account_id: &str, id: &str) -> anyhow::Result<bool>;
}
