//! `/admin/v1/tsdb/*` (seed 000 "Admin - TSDB"): latency, tokens, cost, requests and errors
//! per model over time, in SQL.
//!
//! The rules: points are written in the usage writer's transaction (one per metric, model and
//! minute), so they agree with the usage rows; minute points older than the raw window (48 h)
//! are rolled up into hourly points, and every point older than the retention (30 days by
//! default, `PUT /admin/v1/tsdb/retention`) is deleted, by an hourly task or `POST
//! /admin/v1/tsdb/prune`. A query re-buckets whatever resolution covers the range into its
//! `step_ms`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};
use crate::gateway::Gateway;
use crate::store::time::rfc3339;

const SETTINGS_KEY: &str = "tsdb";
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const MAX_POINTS: i64 = 10_000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// (name, unit, how a bucket's value is made, what it measures).
pub const METRICS: &[(&str, &str, &str, &str)] = &[
    ("latency_ms", "ms", "mean", "Latency of answered attempts"),
    ("tokens", "tokens", "sum", "Input plus output tokens"),
    ("cost_usd", "USD", "sum", "What the requests cost"),
    (
        "requests",
        "requests",
        "sum",
        "Answered requests (cache hits included)",
    ),
    (
        "errors",
        "attempts",
        "sum",
        "Failed attempts (each failover counts)",
    ),
];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TsdbQuery {
    /// latency_ms, tokens, cost_usd, requests or errors.
    pub metric: String,
    /// One catalog model; every model summed when absent.
    pub model_id: Option<String>,
    /// RFC 3339; default: an hour before `end`.
    pub start: Option<String>,
    /// RFC 3339; default: now.
    pub end: Option<String>,
    /// Bucket width, at least 60000 (default 60000).
    pub step_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub metric: String,
    pub model_id: Option<String>,
    pub step_ms: i64,
    pub start: String,
    pub end: String,
    /// Buckets with data, in time order.
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    /// The bucket's start, ms since the epoch.
    pub ts: i64,
    pub time: String,
    /// The mean (latency_ms) or the sum (the others).
    pub value: f64,
    pub count: i64,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Points older than this are deleted (1-3650).
    pub retention_days: i64,
    /// Minute points older than this are rolled up into hourly ones (1-720, default 48).
    #[serde(default = "default_raw_hours")]
    pub raw_hours: i64,
}

fn default_raw_hours() -> i64 {
    48
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            retention_days: 30,
            raw_hours: default_raw_hours(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricInfo {
    pub name: String,
    pub unit: String,
    pub aggregation: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsList {
    pub metrics: Vec<MetricInfo>,
    /// The models with data.
    pub models: Vec<String>,
    #[serde(flatten)]
    pub retention: Retention,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PruneResult {
    pub ok: bool,
    /// Minute points folded into hourly ones.
    pub rolled_up: u64,
    /// Points past the retention, deleted.
    pub deleted: u64,
}

fn millis(field: &str, at: &str) -> ApiResult<i64> {
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| ApiError::bad_request(format!("{field}: expected an RFC 3339 time ({e})")))
}

fn time_of(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(String::new, rfc3339)
}

#[derive(Default)]
struct Bucket {
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Gateway {
    async fn retention(&self) -> ApiResult<Retention> {
        Ok(super::setting_or_default(self.store.as_ref(), SETTINGS_KEY).await?)
    }

    pub async fn tsdb_query(&self, q: TsdbQuery) -> ApiResult<Series> {
        let Some(&(_, _, aggregation, _)) = METRICS.iter().find(|m| m.0 == q.metric) else {
            let names: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
            return Err(ApiError::bad_request(format!(
                "metric: unknown `{}`; expected one of {}",
                q.metric,
                names.join(", ")
            )));
        };
        let end = match &q.end {
            Some(e) => millis("end", e)?,
            None => Utc::now().timestamp_millis(),
        };
        let start = match &q.start {
            Some(s) => millis("start", s)?,
            None => end - 60 * MINUTE_MS,
        };
        if start >= end {
            return Err(ApiError::bad_request("start: must be before end"));
        }
        let step = crate::validate::range(
            "step_ms",
            q.step_ms.unwrap_or(MINUTE_MS),
            MINUTE_MS,
            365 * DAY_MS,
        )?;
        if (end - start) / step > MAX_POINTS {
            return Err(ApiError::bad_request(format!(
                "step_ms: the range needs more than {MAX_POINTS} buckets; use a larger step"
            )));
        }
        self.ledger.flush_for_read().await;
        let points = self
            .store
            .points(&q.metric, q.model_id.as_deref(), start, end)
            .await?;
        let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
        for p in points {
            let b = buckets
                .entry(start + (p.ts - start).div_euclid(step) * step)
                .or_insert(Bucket {
                    min: f64::MAX,
                    max: f64::MIN,
                    ..Bucket::default()
                });
            b.count += p.count;
            b.sum += p.sum;
            b.min = b.min.min(p.min);
            b.max = b.max.max(p.max);
        }
        Ok(Series {
            metric: q.metric,
            model_id: q.model_id,
            step_ms: step,
            start: time_of(start),
            end: time_of(end),
            points: buckets
                .into_iter()
                .map(|(ts, b)| SeriesPoint {
                    ts,
                    time: time_of(ts),
                    value: if aggregation == "mean" && b.count > 0 {
                        b.sum / b.count as f64
                    } else {
                        b.sum
                    },
                    count: b.count,
                    min: b.min,
                    max: b.max,
                })
                .collect(),
        })
    }

    pub async fn tsdb_metrics(&self) -> ApiResult<MetricsList> {
        Ok(MetricsList {
            metrics: METRICS
                .iter()
                .map(|(name, unit, aggregation, description)| MetricInfo {
                    name: (*name).into(),
                    unit: (*unit).into(),
                    aggregation: (*aggregation).into(),
                    description: (*description).into(),
                })
                .collect(),
            models: self.store.point_models().await?,
            retention: self.retention().await?,
        })
    }

    /// Rolls raw points past the raw window up and deletes points past the retention.
    pub async fn tsdb_prune(&self) -> ApiResult<PruneResult> {
        self.ledger.flush_for_read().await;
        let r = self.retention().await?;
        let now = Utc::now().timestamp_millis();
        let pruned = self
            .store
            .prune_points(
                now - r.raw_hours * 3_600_000,
                now - r.retention_days * DAY_MS,
            )
            .await?;
        Ok(PruneResult {
            ok: true,
            rolled_up: pruned.rolled_up,
            deleted: pruned.deleted,
        })
    }

    pub async fn put_retention(&self, actor: &str, r: Retention) -> ApiResult<Retention> {
        crate::validate::range("retention_days", r.retention_days, 1, 3650)?;
        crate::validate::range("raw_hours", r.raw_hours, 1, 720)?;
        let before = self.retention().await?;
        let change = (actor, "tsdb.retention", SETTINGS_KEY);
        super::save_setting(self.store.as_ref(), change, &before, &r).await?;
        Ok(r)
    }
}

/// Prunes every hour (the first an hour after start).
pub fn spawn_pruning(gateway: &Arc<Gateway>) {
    let weak = Arc::downgrade(gateway);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PRUNE_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(g) = weak.upgrade() else { return };
            match g.tsdb_prune().await {
                Ok(p) => {
                    tracing::info!(rolled_up = p.rolled_up, deleted = p.deleted, "tsdb: pruned")
                }
                Err(e) => tracing::warn!(error = %e, "tsdb: prune failed"),
            }
        }
    });
}
