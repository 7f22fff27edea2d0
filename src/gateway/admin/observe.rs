//! What the operator reads: health per provider and model (breakers, error rates, latency,
//! last errors), installation-wide stats and request logs (every account's usage rows), the
//! admin audit, and the runtime registry. Read-only; nothing here calls a provider.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Listed, Paging};
use crate::error::ApiResult;
use crate::gateway::route::Health;
use crate::gateway::{providers, Gateway};
use crate::store::gateway::{AuditRow, RewardRow, UsageFilter, UsageKey, UsageRow, UsageSums};

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    pub providers: Vec<ProviderHealth>,
    pub models: Vec<ModelHealthView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderHealth {
    pub provider_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// healthy (every enabled model's breaker closed), degraded (some open), down (all open),
    /// disabled, or idle (no enabled model).
    pub state: String,
    pub models: usize,
    pub requests: u64,
    pub failures: u64,
    pub error_rate: f64,
    /// The most recent failure of any of its models.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelHealthView {
    pub model_id: String,
    pub provider_id: String,
    pub enabled: bool,
    /// healthy, open (out of routing until the cool-down ends), or disabled.
    pub state: String,
    /// closed, open or half_open.
    pub breaker: String,
    pub consecutive_failures: u32,
    /// Attempts since the server started.
    pub requests: u64,
    pub failures: u64,
    pub error_rate: f64,
    pub latency_ewma_ms: Option<f64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
}

/// Request figures of one group.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Figures {
    pub requests: u64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub charged_usd: f64,
    /// Mean over the requests that were timed.
    pub avg_latency_ms: Option<f64>,
}

impl From<&UsageSums> for Figures {
    fn from(s: &UsageSums) -> Self {
        Self {
            requests: s.requests,
            tokens: s.tokens,
            cost_usd: s.actual_cost_usd,
            charged_usd: s.charged_usd,
            avg_latency_ms: (s.timed > 0).then(|| s.latency_ms / s.timed as f64),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub global: Figures,
    /// Per catalog model that served.
    pub by_model: BTreeMap<String, Figures>,
    /// Per provider (`cache` for cache hits).
    pub by_provider: BTreeMap<String, Figures>,
}

/// One request of any account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogView {
    pub account_id: String,
    #[serde(flatten)]
    pub row: UsageRow,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    /// `user:<id>` or `key:<id>`.
    pub actor: String,
    pub action: String,
    pub target: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub created_at: String,
}

impl From<AuditRow> for AuditView {
    fn from(a: AuditRow) -> Self {
        Self {
            id: a.id,
            actor: a.actor,
            action: a.action,
            target: a.target,
            before: a.before,
            after: a.after,
            created_at: a.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EngineModels {
    /// What routing holds now (managed models; local endpoints' are per account).
    pub models: Vec<EngineModel>,
    pub total: usize,
    /// The provider types Cairn speaks.
    pub adapters: Vec<String>,
    pub adapter_info: Vec<AdapterInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EngineModel {
    pub id: String,
    pub provider_id: String,
    pub upstream: String,
    pub weight: u8,
    pub max_context_tokens: usize,
    pub input_per_1k: f64,
    pub output_per_1k: f64,
    pub aliases: Vec<String>,
    /// Enabled, with its provider enabled.
    pub enabled: bool,
    /// Routable now: enabled and its breaker not open.
    pub healthy: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdapterInfo {
    /// The provider's id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Where discovery and health checks ask.
    pub health_endpoint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminInfo {
    /// Always `admin`.
    pub cairn: String,
    pub version: String,
    /// keyfile (secrets sealed under the data directory's key file, open from the start) or
    /// password (under the admin password; locked until unlocked).
    pub vault_mode: String,
    pub vault_locked: bool,
    /// The password vault has a password (always true in keyfile mode): the first unlock of
    /// an uninitialized vault sets it.
    pub vault_initialized: bool,
    pub providers: usize,
    pub models: usize,
}

fn provider_state(enabled: bool, models: &[&ModelHealthView]) -> &'static str {
    let live: Vec<_> = models.iter().filter(|m| m.enabled).collect();
    if !enabled {
        "disabled"
    } else if live.is_empty() {
        "idle"
    } else if live.iter().all(|m| m.breaker == "open") {
        "down"
    } else if live.iter().any(|m| m.breaker == "open") {
        "degraded"
    } else {
        "healthy"
    }
}

impl Gateway {
    pub async fn health_report(&self) -> ApiResult<HealthReport> {
        let catalog = self.catalog();
        let rows = self.store.providers().await?;
        let models: Vec<ModelHealthView> = catalog
            .models
            .iter()
            .filter(|m| m.local.is_none())
            .map(|m| {
                let h = self.breakers.report(&m.name);
                let state = if !m.enabled {
                    "disabled"
                } else if h.breaker == "open" {
                    "open"
                } else {
                    "healthy"
                };
                ModelHealthView {
                    model_id: m.name.clone(),
                    provider_id: m.provider.clone(),
                    enabled: m.enabled,
                    state: state.into(),
                    breaker: h.breaker.into(),
                    consecutive_failures: h.consecutive_failures,
                    error_rate: h.error_rate(),
                    requests: h.requests,
                    failures: h.failures,
                    latency_ewma_ms: h.latency_ewma_ms,
                    last_error: h.last_error,
                    last_error_at: h.last_error_at,
                }
            })
            .collect();
        let providers = rows
            .iter()
            .map(|p| {
                let own: Vec<&ModelHealthView> =
                    models.iter().filter(|m| m.provider_id == p.name).collect();
                let requests = own.iter().map(|m| m.requests).sum();
                let failures = own.iter().map(|m| m.failures).sum();
                let last = own
                    .iter()
                    .filter(|m| m.last_error_at.is_some())
                    .max_by(|a, b| a.last_error_at.cmp(&b.last_error_at));
                ProviderHealth {
                    provider_id: p.name.clone(),
                    kind: p.kind.clone(),
                    state: provider_state(p.enabled, &own).into(),
                    models: own.len(),
                    requests,
                    failures,
                    error_rate: if requests == 0 {
                        0.0
                    } else {
                        failures as f64 / requests as f64
                    },
                    last_error: last.and_then(|m| m.last_error.clone()),
                    last_error_at: last.and_then(|m| m.last_error_at.clone()),
                }
            })
            .collect();
        Ok(HealthReport { providers, models })
    }

    /// Every account's requests, summed; `since`: only rows created at or after it.
    pub async fn installation_stats(&self, since: Option<String>) -> ApiResult<Stats> {
        self.ledger.flush_for_read().await;
        let filter = UsageFilter {
            since,
            ..UsageFilter::default()
        };
        let sums = |by: &'static [UsageKey]| self.usage.installation_sums(&filter, by);
        let global = sums(&[]).await?;
        let grouped = |list: Vec<UsageSums>| -> BTreeMap<String, Figures> {
            list.iter()
                .map(|s| (s.keys.first().cloned().unwrap_or_default(), s.into()))
                .collect()
        };
        Ok(Stats {
            global: global.first().map(Figures::from).unwrap_or_default(),
            by_model: grouped(sums(&[UsageKey::ServedModel]).await?),
            by_provider: grouped(sums(&[UsageKey::Provider]).await?),
        })
    }

    pub async fn request_logs(&self, paging: &Paging) -> ApiResult<Listed<LogView>> {
        self.ledger.flush_for_read().await;
        let (limit, offset) = paging.checked()?;
        let page = self.usage.installation_rows(limit, offset).await?;
        Ok(Listed::of(page, (limit, offset), |row| LogView {
            account_id: row.account_id.clone(),
            row,
        }))
    }

    /// Records an admin mutation made in another area (API keys).
    pub async fn record_audit(&self, row: AuditRow) -> ApiResult<()> {
        Ok(self.store.record_audit(&row).await?)
    }

    pub async fn admin_rewards(&self, paging: &Paging) -> ApiResult<Listed<RewardRow>> {
        let (limit, offset) = paging.checked()?;
        let page = self.store.rewards(limit, offset).await?;
        Ok(Listed::of(page, (limit, offset), |r| r))
    }

    pub async fn admin_audit(&self, paging: &Paging) -> ApiResult<Listed<AuditView>> {
        let (limit, offset) = paging.checked()?;
        let page = self.store.audit(limit, offset).await?;
        Ok(Listed::of(page, (limit, offset), AuditView::from))
    }

    pub fn engine_models(&self) -> EngineModels {
        let catalog = self.catalog();
        let models: Vec<EngineModel> = catalog
            .models
            .iter()
            .filter(|m| m.local.is_none())
            .map(|m| EngineModel {
                id: m.name.clone(),
                provider_id: m.provider.clone(),
                upstream: m.upstream.clone(),
                weight: m.weight,
                max_context_tokens: m.context_window,
                input_per_1k: m.input_per_1k,
                output_per_1k: m.output_per_1k,
                aliases: m.aliases.clone(),
                enabled: m.enabled,
                healthy: m.enabled && self.breakers.healthy(&m.name),
            })
            .collect();
        let mut adapter_info: Vec<AdapterInfo> = catalog
            .providers
            .values()
            .filter(|p| !p.name.starts_with("local:"))
            .map(|p| AdapterInfo {
                id: p.name.clone(),
                kind: p.api.kind().to_string(),
                health_endpoint: format!("{}/models", p.base_url.trim_end_matches('/')),
            })
            .collect();
        adapter_info.sort_by(|a, b| a.id.cmp(&b.id));
        EngineModels {
            total: models.len(),
            models,
            adapters: providers::kinds().map(str::to_string).collect(),
            adapter_info,
        }
    }

    pub async fn admin_info(&self) -> ApiResult<AdminInfo> {
        let catalog = self.catalog();
        let (vault_locked, vault_initialized) = self.vault_status().await?;
        Ok(AdminInfo {
            cairn: "admin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vault_mode: self.sealed.mode().as_str().into(),
            vault_locked,
            vault_initialized,
            providers: catalog
                .providers
                .keys()
                .filter(|p| !p.starts_with("local:"))
                .count(),
            models: catalog.models.iter().filter(|m| m.local.is_none()).count(),
        })
    }
}
