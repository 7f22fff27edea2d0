//! Seed 001's stats surface (a local proxy's): the caller's session and today, its last and
//! recent requests, the response cache's figures, and telemetry ingest from clients that call
//! models elsewhere.
//!
//! The rule: everything here reads and writes the gateway's usage rows of the caller's
//! account, so these figures, `/v1/usage` and the admin's stats always agree. Ingested records
//! are rows of `request_type` `telemetry` and `execution_source` `external`: counted, never
//! charged. A batch is checked whole before anything is written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{usage_row, Caller, Gateway};
use crate::error::{ApiError, ApiResult};
use crate::store::gateway::{UsageFilter, UsageKey, UsageRow, UsageSums};

/// The most records one `/ingest/batch` takes.
pub const MAX_BATCH: usize = 1000;
const RECENT: i64 = 50;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Totals {
    pub requests: u64,
    pub tokens: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// What the requests cost (USD).
    pub cost_usd: f64,
    /// What was charged (USD).
    pub charged_usd: f64,
    /// What `max` would have cost, less what was charged.
    pub saved_usd: f64,
}

impl From<&UsageSums> for Totals {
    fn from(s: &UsageSums) -> Self {
        Self {
            requests: s.requests,
            tokens: s.tokens,
            tokens_in: s.input_tokens,
            tokens_out: s.output_tokens,
            cost_usd: s.actual_cost_usd,
            charged_usd: s.charged_usd,
            saved_usd: (s.baseline_usd - s.charged_usd).max(0.0),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProxyStats {
    /// Since this server process started.
    pub session: Totals,
    /// Since 00:00 UTC.
    pub today: Totals,
    /// This session, per catalog model that served.
    pub by_model: BTreeMap<String, Totals>,
    /// The last 10 requests.
    pub recent: Vec<UsageRow>,
    pub session_started_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionStats {
    pub started_at: String,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CacheStats {
    /// The caller's requests answered from the cache, this session.
    pub hits: u64,
    /// The caller's chat requests a provider answered, this session.
    pub misses: u64,
    pub hit_rate: f64,
    /// Answers the cache holds now (every workspace's).
    pub entries: usize,
    pub ttl_secs: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryRecord {
    /// The model name (e.g. claude-haiku-4-5).
    pub model: String,
    /// Token count, >= 0.
    pub tokens: i64,
    /// Cost in USD, >= 0.
    pub cost: f64,
    /// When it happened (RFC 3339; default now).
    pub timestamp: Option<String>,
    pub agent: Option<String>,
    pub session_id: Option<String>,
    pub tokens_saved: Option<i64>,
    /// 0-1.
    pub compression_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestedRecords {
    pub ingested: usize,
}

/// The record as a usage row of `caller`, or the 400 naming `at`'s field.
fn row_of(caller: &Caller, r: TelemetryRecord, at: &str) -> ApiResult<UsageRow> {
    let field = |name: &str| format!("{at}{name}");
    let model = crate::validate::text(&field("model"), &r.model, 200)?;
    crate::validate::range(&field("tokens"), r.tokens, 0, 100_000_000)?;
    if !r.cost.is_finite() || !(0.0..=1_000_000.0).contains(&r.cost) {
        return Err(ApiError::bad_request(format!(
            "{}: expected a cost from 0 USD",
            field("cost")
        )));
    }
    if let Some(c) = r.compression_rate {
        crate::validate::unit(&field("compression_rate"), c)?;
    }
    if let Some(s) = r.tokens_saved {
        crate::validate::range(&field("tokens_saved"), s, 0, 100_000_000)?;
    }
    let created_at = match &r.timestamp {
        Some(t) => crate::validate::timestamp(&field("timestamp"), t)?,
        None => crate::store::time::now(),
    };
    let text = |name: &str, v: &Option<String>| {
        crate::validate::optional_text(&field(name), v.as_deref(), 200)
    };
    let metadata = json!({
        "agent": text("agent", &r.agent)?,
        "session_id": text("session_id", &r.session_id)?,
        "tokens_saved": r.tokens_saved,
        "compression_rate": r.compression_rate,
    });
    Ok(UsageRow {
        metadata,
        provider: "external".into(),
        upstream_model: model.clone(),
        served_model: model.clone(),
        routing_method: "ingest".into(),
        execution_source: "external".into(),
        billing_mode: "none".into(),
        input_tokens: r.tokens,
        actual_cost_usd: r.cost,
        baseline_usd: r.cost,
        created_at,
        ..usage_row(caller, &model, "telemetry")
    })
}

impl Gateway {
    async fn sums_since(
        &self,
        caller: &Caller,
        since: String,
        by: &[UsageKey],
    ) -> ApiResult<Vec<UsageSums>> {
        let filter = UsageFilter {
            since: Some(since),
            ..UsageFilter::default()
        };
        Ok(self.usage_sums(&caller.account_id, &filter, by).await?)
    }

    async fn totals_since(&self, caller: &Caller, since: String) -> ApiResult<Totals> {
        let sums = self.sums_since(caller, since, &[]).await?;
        Ok(sums.first().map(Totals::from).unwrap_or_default())
    }

    async fn recent_rows(&self, caller: &Caller, limit: i64) -> ApiResult<Vec<UsageRow>> {
        let filter = UsageFilter {
            limit,
            ..UsageFilter::default()
        };
        Ok(self.usage_rows(&caller.account_id, &filter).await?)
    }

    pub async fn proxy_stats(&self, caller: &Caller) -> ApiResult<ProxyStats> {
        let today = chrono::Utc::now()
            .format("%Y-%m-%dT00:00:00.000Z")
            .to_string();
        let by_model = self
            .sums_since(caller, self.started_at.clone(), &[UsageKey::ServedModel])
            .await?
            .iter()
            .map(|s| (s.keys.first().cloned().unwrap_or_default(), s.into()))
            .collect();
        Ok(ProxyStats {
            session: self.totals_since(caller, self.started_at.clone()).await?,
            today: self.totals_since(caller, today).await?,
            by_model,
            recent: self.recent_rows(caller, 10).await?,
            session_started_at: self.started_at.clone(),
        })
    }

    pub async fn session_stats(&self, caller: &Caller) -> ApiResult<SessionStats> {
        Ok(SessionStats {
            started_at: self.started_at.clone(),
            totals: self.totals_since(caller, self.started_at.clone()).await?,
        })
    }

    /// The caller's most recent request; 404 before its first.
    pub async fn last_request(&self, caller: &Caller) -> ApiResult<UsageRow> {
        let rows = self.recent_rows(caller, 1).await?;
        rows.into_iter().next().ok_or(ApiError::NotFound("Request"))
    }

    pub async fn recent_requests(&self, caller: &Caller) -> ApiResult<Vec<UsageRow>> {
        self.recent_rows(caller, RECENT).await
    }

    pub async fn cache_stats(&self, caller: &Caller) -> ApiResult<CacheStats> {
        let filter = UsageFilter {
            since: Some(self.started_at.clone()),
            request_type: Some("chat".into()),
            ..UsageFilter::default()
        };
        let by_provider = self
            .usage_sums(&caller.account_id, &filter, &[UsageKey::Provider])
            .await?;
        let hits: u64 = by_provider
            .iter()
            .filter(|s| s.keys.first().is_some_and(|k| k == "cache"))
            .map(|s| s.requests)
            .sum();
        let all: u64 = by_provider.iter().map(|s| s.requests).sum();
        let misses = all - hits;
        Ok(CacheStats {
            hits,
            misses,
            hit_rate: if all == 0 {
                0.0
            } else {
                hits as f64 / all as f64
            },
            entries: self.cache.len(),
            ttl_secs: self.cache.ttl().as_secs(),
        })
    }

    /// Checks every record (400 naming `[i].field` in a batch), then writes them all.
    pub async fn ingest_telemetry(
        &self,
        caller: &Caller,
        records: Vec<TelemetryRecord>,
        batch: bool,
    ) -> ApiResult<IngestedRecords> {
        if batch {
            crate::validate::count("records", records.len(), 1, MAX_BATCH, "records")?;
        }
        let mut rows = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            let at = if batch {
                format!("[{i}].")
            } else {
                String::new()
            };
            rows.push(row_of(caller, record, &at)?);
        }
        let ingested = rows.len();
        for row in rows {
            self.ledger.record(row);
        }
        // Answered only once the rows are stored.
        self.ledger.flush_for_read().await;
        Ok(IngestedRecords { ingested })
    }
}
