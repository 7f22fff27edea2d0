//! `GET /v1/usage`, `GET /v1/usage/breakdown`, `GET /v1/stats`: what the gateway's requests
//! used and cost. The sums are the store's (`GROUP BY`); handlers only shape them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::{workspaces, Principal};
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiQuery, Auth};
use crate::http::openapi::UsageQuery;
use crate::state::AppState;
use crate::store::gateway::{UsageFilter, UsageKey, UsageRow, UsageSums};
use crate::store::time::rfc3339;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/usage", get(usage))
        .route("/v1/usage/breakdown", get(breakdown))
        .route("/v1/stats", get(stats))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// 1-1000, default 100.
    pub limit: Option<i64>,
    /// Rows created before this timestamp (the last row's `created_at`).
    pub before: Option<String>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub request_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UsageList {
    pub data: Vec<UsageRow>,
    pub has_more: bool,
}

#[utoipa::path(get, path = "/v1/usage", tag = "openai", security(("bearer" = [])), params(UsageParams),
    responses((status = 200, body = UsageList),
        UsageQuery))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<UsageParams>,
) -> ApiResult<Json<UsageList>> {
    let limit = crate::validate::range("limit", q.limit.unwrap_or(100), 1, 1000)?;
    let workspace_id = usage_scope(&state, &p, q.workspace_id.as_deref()).await?;
    let filter = UsageFilter {
        workspace_id,
        api_key_id: q.api_key_id,
        request_type: q.request_type,
        before: q.before,
        since: None,
        limit: limit + 1,
    };
    let mut data = state.gateway.usage_rows(p.account_id(), &filter).await?;
    let has_more = data.len() as i64 > limit;
    data.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(Json(UsageList { data, has_more }))
}

/// Workspace scope of a usage query: a bound key sees only its workspace.
async fn usage_scope(
    state: &AppState,
    p: &Principal,
    slug: Option<&str>,
) -> ApiResult<Option<String>> {
    Ok(match (p.bound_workspace(), slug) {
        (None, None) => None,
        (_, slug) => Some(
            workspaces::resolve(state.accounts.as_ref(), p, slug)
                .await?
                .id,
        ),
    })
}

fn days(value: Option<i64>, default: i64) -> ApiResult<i64> {
    crate::validate::range("days", value.unwrap_or(default), 1, 366)
}

/// Rows of the last `days` days matching the query.
fn window(
    days: i64,
    workspace_id: Option<String>,
    api_key_id: Option<String>,
    request_type: Option<String>,
) -> UsageFilter {
    let since = chrono::Utc::now() - chrono::Duration::days(days);
    UsageFilter {
        workspace_id,
        api_key_id,
        request_type,
        before: None,
        since: Some(rfc3339(since)),
        limit: 0,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BreakdownParams {
    /// api_key, workspace, model (the catalog model that served) or day (UTC date).
    pub group_by: String,
    /// Default 30.
    pub days: Option<i64>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub request_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Breakdown {
    pub object: String,
    pub group_by: String,
    pub window_days: i64,
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Value>,
}

#[utoipa::path(get, path = "/v1/usage/breakdown", tag = "openai", security(("bearer" = [])), params(BreakdownParams),
    responses((status = 200, body = Breakdown),
        UsageQuery))]
pub async fn breakdown(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<BreakdownParams>,
) -> ApiResult<Json<Breakdown>> {
    let (key, field) = match q.group_by.as_str() {
        "api_key" => (UsageKey::ApiKey, "api_key_id"),
        "workspace" => (UsageKey::Workspace, "workspace_id"),
        "model" => (UsageKey::ServedModel, "model"),
        "day" => (UsageKey::Day, "date"),
        _ => {
            return Err(ApiError::bad_request(
                "group_by: expected api_key, workspace, model or day",
            ))
        }
    };
    let d = days(q.days, 30)?;
    let ws = usage_scope(&state, &p, q.workspace_id.as_deref()).await?;
    let filter = window(d, ws, q.api_key_id, q.request_type);
    let groups = state
        .gateway
        .usage_sums(p.account_id(), &filter, &[key])
        .await?;
    let data = groups
        .into_iter()
        .map(|g| {
            let name = g.keys.into_iter().next().unwrap_or_default();
            serde_json::json!({field: name, "requests": g.requests, "tokens": g.tokens,
                               "charged_usd": g.charged_usd, "actual_cost_usd": g.actual_cost_usd,
                               "baseline_usd": g.baseline_usd})
        })
        .collect();
    Ok(Json(Breakdown {
        object: "list".into(),
        group_by: q.group_by,
        window_days: d,
        data,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Default 30.
    pub days: Option<i64>,
    /// Days in the daily series; default 14.
    pub daily_days: Option<i64>,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub request_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Daily {
    pub date: String,
    pub requests: u64,
    pub tokens: i64,
    pub charged_usd: f64,
    pub actual_cost_usd: f64,
}

#[derive(Serialize, ToSchema)]
pub struct Stats {
    pub window_days: i64,
    pub daily_window_days: i64,
    pub api_key_id: Option<String>,
    pub workspace_id: Option<String>,
    pub requests: u64,
    pub total_tokens: i64,
    pub avg_latency_ms: f64,
    pub charged_usd: f64,
    pub actual_cost_usd: f64,
    pub tier_breakdown: BTreeMap<String, u64>,
    pub request_type_breakdown: BTreeMap<String, u64>,
    pub daily: Vec<Daily>,
}

#[utoipa::path(get, path = "/v1/stats", tag = "openai", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = Stats),
        UsageQuery))]
pub async fn stats(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<StatsParams>,
) -> ApiResult<Json<Stats>> {
    let d = days(q.days, 30)?;
    let daily_days = days(q.daily_days, 14)?;
    let ws = usage_scope(&state, &p, q.workspace_id.as_deref()).await?;
    let scope = |days| {
        window(
            days,
            ws.clone(),
            q.api_key_id.clone(),
            q.request_type.clone(),
        )
    };
    let by_kind = state
        .gateway
        .usage_sums(
            p.account_id(),
            &scope(d),
            &[UsageKey::Tier, UsageKey::RequestType],
        )
        .await?;
    let by_day = state
        .gateway
        .usage_sums(p.account_id(), &scope(daily_days), &[UsageKey::Day])
        .await?;
    let mut stats = totals(&by_kind);
    stats.window_days = d;
    stats.daily_window_days = daily_days;
    stats.daily = daily_series(&by_day, daily_days);
    stats.api_key_id = q.api_key_id;
    stats.workspace_id = q.workspace_id;
    Ok(Json(stats))
}

/// The window's totals and its counts per tier and request type, from sums grouped by
/// (tier, request_type).
fn totals(groups: &[UsageSums]) -> Stats {
    let mut tiers: BTreeMap<String, u64> = ["auto", "fast", "max"]
        .iter()
        .map(|t| (t.to_string(), 0))
        .collect();
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut all = UsageSums::default();
    for g in groups {
        let key = |i: usize| g.keys.get(i).cloned().unwrap_or_default();
        *tiers.entry(key(0)).or_default() += g.requests;
        *types.entry(key(1)).or_default() += g.requests;
        all.requests += g.requests;
        all.tokens += g.tokens;
        all.charged_usd += g.charged_usd;
        all.actual_cost_usd += g.actual_cost_usd;
        all.latency_ms += g.latency_ms;
        all.timed += g.timed;
    }
    Stats {
        window_days: 0,
        daily_window_days: 0,
        api_key_id: None,
        workspace_id: None,
        requests: all.requests,
        total_tokens: all.tokens,
        avg_latency_ms: if all.timed == 0 {
            0.0
        } else {
            all.latency_ms / all.timed as f64
        },
        charged_usd: all.charged_usd,
        actual_cost_usd: all.actual_cost_usd,
        tier_breakdown: tiers,
        request_type_breakdown: types,
        daily: vec![],
    }
}

/// One entry per day of the last `days` days (today last), zero where nothing was used.
fn daily_series(by_day: &[UsageSums], days: i64) -> Vec<Daily> {
    let today = chrono::Utc::now().date_naive();
    (0..days)
        .rev()
        .map(|back| {
            let date = (today - chrono::Duration::days(back))
                .format("%Y-%m-%d")
                .to_string();
            let day = by_day.iter().find(|g| g.keys.first() == Some(&date));
            Daily {
                requests: day.map_or(0, |g| g.requests),
                tokens: day.map_or(0, |g| g.tokens),
                charged_usd: day.map_or(0.0, |g| g.charged_usd),
                actual_cost_usd: day.map_or(0.0, |g| g.actual_cost_usd),
                date,
            }
        })
        .collect()
}
