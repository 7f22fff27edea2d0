//! `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/pricing`, `GET /v1/usage`: the
//! OpenAI-compatible gateway surface.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::accounts::workspaces;
use crate::error::{ApiError, ApiResult, ErrorBody, OpenAiError};
use crate::gateway::{Caller, Reply};
use crate::http::extract::{ApiJson, Auth};
use crate::state::AppState;
use crate::store::gateway::{UsageFilter, UsageRow};

/// OpenAI's chat completion request; every field is passed on to the provider.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ChatRequest {
    /// auto, fast, max, or a registered model name or alias.
    pub model: String,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    pub stream: Option<bool>,
    pub max_tokens: Option<u64>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
}

/// The optional `cairn` object of a chat request: ground the answer in a context pack.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grounding {
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub context: GroundingContext,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroundingContext {
    /// Default: the last user message.
    pub query: Option<String>,
    pub max_tokens: Option<usize>,
    pub include_sources: Option<bool>,
}

/// Builds the pack and places it as a system message before the conversation's first
/// non-system message; answers what the response's `cairn` object carries.
async fn ground(
    state: &AppState,
    ws: &crate::store::Workspace,
    g: Grounding,
    body: &mut Value,
) -> ApiResult<Value> {
    let messages = body
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| ApiError::bad_request("messages: expected a non-empty array"))?;
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| crate::gateway::text_of(&m["content"]))
        .unwrap_or_default();
    let query = g.context.query.unwrap_or(last_user);
    let pack = state
        .context
        .build(
            ws,
            crate::context::model::ContextPackRequest {
                query,
                max_tokens: g.context.max_tokens,
                include_sources: g.context.include_sources,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("cairn.context.{m}")),
            other => other,
        })?;
    let at = messages
        .iter()
        .position(|m| m["role"] != "system" && m["role"] != "developer")
        .unwrap_or(messages.len());
    messages.insert(
        at,
        serde_json::json!({"role": "system", "content": format!(
            "Context from Cairn, numbered for citation ([n]):\n{}", pack.context)}),
    );
    let citations: Vec<Value> = pack
        .items
        .iter()
        .map(|i| {
            serde_json::json!({"marker": i.citation.marker, "type": i.item_type, "id": i.id,
                                    "citation": i.citation, "score": i.scores.score})
        })
        .collect();
    Ok(
        serde_json::json!({"pack_id": pack.pack_id, "trace_id": pack.trace_id,
                          "tokens": pack.usage.tokens_used, "citations": citations}),
    )
}

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("bearer" = [])), request_body = ChatRequest,
    responses((status = 200, description = "OpenAI chat completion, or an SSE stream of chunks when `stream` is true; header x-cairn-cost"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn completions(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: axum::http::HeaderMap,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<Response, OpenAiError> {
    let cache = match headers.get("x-cairn-cache").and_then(|v| v.to_str().ok()) {
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(_) => {
            return Err(ApiError::bad_request("x-cairn-cache: expected on or off").into());
        }
        None => None,
    };
    if !body.is_object() {
        return Err(ApiError::bad_request("expected a JSON object").into());
    }
    let grounding: Option<Grounding> = match body.as_object_mut().and_then(|o| o.remove("cairn")) {
        Some(v) => Some(
            serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("cairn: {e}")))?,
        ),
        None => None,
    };
    let slug = grounding.as_ref().and_then(|g| g.workspace_id.clone());
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, slug.as_deref()).await?;
    let grounded = match grounding {
        Some(g) => Some(ground(&state, &ws, g, &mut body).await?),
        None => None,
    };
    let caller = Caller {
        account_id: p.account_id().to_string(),
        workspace_id: ws.id.clone(),
        api_key_id: p.key_id().map(str::to_string),
        workspace_budget_usd: ws.monthly_budget_usd,
        key_budget_usd: p.key_budget_usd(),
    };
    match state.gateway.chat(caller, body, cache).await? {
        Reply::Json {
            mut body,
            cost_usd,
            cache,
        } => {
            if let Some(g) = grounded {
                body["cairn"] = g;
            }
            let mut res = Json(body).into_response();
            if let Ok(v) = format!("{cost_usd:.8}").parse() {
                res.headers_mut().insert("x-cairn-cost", v);
            }
            res.headers_mut()
                .insert("x-cairn-cache", axum::http::HeaderValue::from_static(cache));
            Ok(res)
        }
        Reply::Stream(body) => {
            let mut res = (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response();
            // A stream has no body object to carry `cairn`; the pack and trace ids ride in
            // headers.
            if let Some(g) = grounded {
                for (name, key) in [
                    ("x-cairn-pack-id", "pack_id"),
                    ("x-cairn-trace-id", "trace_id"),
                ] {
                    if let Some(v) = g[key].as_str().and_then(|s| s.parse().ok()) {
                        res.headers_mut().insert(name, v);
                    }
                }
            }
            Ok(res)
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ModelCard {
    pub id: String,
    pub object: String,
    pub owned_by: String,
    pub created: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<ModelCard>,
}

#[utoipa::path(get, path = "/v1/models", tag = "openai", security(("bearer" = [])),
    responses((status = 200, body = ModelList)))]
pub async fn models(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<ModelList>, OpenAiError> {
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, None).await?;
    let card = |id: &str| ModelCard {
        id: id.to_string(),
        object: "model".into(),
        owned_by: "cairn".into(),
        created: 0,
    };
    let mut data: Vec<ModelCard> = ["auto", "fast", "max"].iter().map(|m| card(m)).collect();
    let catalog = state.gateway.catalog();
    for m in catalog.models.iter().filter(|m| m.enabled) {
        // What routing would let this caller use; a local endpoint's models go by their
        // aliases only.
        if !m.visible_to(p.account_id(), &ws.id) {
            continue;
        }
        if m.local.is_none() {
            data.push(card(&m.name));
        }
        data.extend(m.aliases.iter().map(|a| card(a)));
    }
    Ok(Json(ModelList {
        object: "list".into(),
        data,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PriceEntry {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub input_per_1m: f64,
    pub output_per_1m: f64,
    pub capabilities: Vec<String>,
    pub context_window: usize,
}

#[derive(Serialize, ToSchema)]
pub struct Pricing {
    pub object: String,
    pub data: Vec<PriceEntry>,
    pub researched_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/pricing", tag = "openai",
    responses((status = 200, body = Pricing)))]
pub async fn pricing(State(state): State<AppState>) -> Json<Pricing> {
    let catalog = state.gateway.catalog();
    let data = catalog
        .models
        .iter()
        .filter(|m| m.local.is_none())
        .map(|m| PriceEntry {
            id: m.name.clone(),
            name: m.upstream.clone(),
            provider: m.provider.clone(),
            input_per_1m: m.input_per_1k * 1000.0,
            output_per_1m: m.output_per_1k * 1000.0,
            capabilities: catalog
                .capabilities
                .get(&m.name)
                .cloned()
                .unwrap_or_default(),
            context_window: m.context_window,
        })
        .collect();
    Json(Pricing {
        object: "list".into(),
        data,
        researched_at: None,
    })
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
    responses((status = 200, body = UsageList), (status = 400, body = ErrorBody)))]
pub async fn usage(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<UsageParams>,
) -> ApiResult<Json<UsageList>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit: expected 1-1000"));
    }
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

#[derive(Serialize, ToSchema)]
pub struct Balance {
    pub balance_usd: f64,
    /// Held by requests in flight.
    pub reserved_usd: f64,
    pub currency: String,
}

#[utoipa::path(get, path = "/v1/balance", tag = "openai", security(("bearer" = [])),
    responses((status = 200, body = Balance)))]
pub async fn balance(State(state): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Balance>> {
    let (balance_usd, reserved_usd) = state.gateway.ledger.balance(p.account_id()).await?;
    Ok(Json(Balance {
        balance_usd,
        reserved_usd,
        currency: "usd".into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCredit {
    pub amount_usd: f64,
    pub note: Option<String>,
    /// Credit the account of the user with this email (default: the admin's own account).
    pub email: Option<String>,
}

#[utoipa::path(post, path = "/v1/billing/add", tag = "openai", security(("bearer" = [])), request_body = AddCredit,
    responses((status = 200, body = Balance), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn add_credit(
    State(state): State<AppState>,
    user: crate::http::extract::SessionUser,
    ApiJson(req): ApiJson<AddCredit>,
) -> ApiResult<Json<Balance>> {
    if user.role != "admin" {
        return Err(ApiError::Forbidden("Admin session required".into()));
    }
    if !req.amount_usd.is_finite() || req.amount_usd <= 0.0 || req.amount_usd > 1_000_000.0 {
        return Err(ApiError::bad_request(
            "amount_usd: expected a positive amount up to 1,000,000",
        ));
    }
    let account_id = match &req.email {
        Some(email) => {
            state
                .accounts
                .user_by_email(&crate::accounts::users::normalise_email(email)?)
                .await?
                .ok_or(ApiError::NotFound("User"))?
                .account_id
        }
        None => user.account_id.clone(),
    };
    let actor = format!("user:{}", user.user_id);
    let ledger = &state.gateway.ledger;
    ledger
        .credit(&account_id, req.amount_usd, &actor, req.note.as_deref())
        .await?;
    let (balance_usd, reserved_usd) = ledger.balance(&account_id).await?;
    Ok(Json(Balance {
        balance_usd,
        reserved_usd,
        currency: "usd".into(),
    }))
}

#[utoipa::path(post, path = "/v1/billing/checkout", tag = "openai", security(("bearer" = [])),
    responses((status = 501, body = ErrorBody)))]
pub async fn checkout(Auth(_caller): Auth) -> ApiResult<Json<Balance>> {
    Err(ApiError::NotImplemented(
        "Card payments are not available in self-hosted Cairn; an admin adds credit with POST /v1/billing/add."
            .into(),
    ))
}

/// Workspace scope of a usage query: a bound key sees only its workspace.
async fn usage_scope(
    state: &AppState,
    p: &crate::accounts::Principal,
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
    let d = value.unwrap_or(default);
    if !(1..=366).contains(&d) {
        return Err(ApiError::bad_request("days: expected 1-366"));
    }
    Ok(d)
}

async fn window(
    state: &AppState,
    p: &crate::accounts::Principal,
    days: i64,
    workspace: Option<String>,
    api_key_id: Option<String>,
    request_type: Option<String>,
) -> ApiResult<Vec<UsageRow>> {
    let since = chrono::Utc::now() - chrono::Duration::days(days);
    let filter = UsageFilter {
        workspace_id: workspace,
        api_key_id,
        request_type,
        before: None,
        since: Some(crate::store::time::rfc3339(since)),
        limit: 1_000_000,
    };
    Ok(state.gateway.usage_rows(p.account_id(), &filter).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BreakdownParams {
    /// api_key or workspace.
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
    responses((status = 200, body = Breakdown), (status = 400, body = ErrorBody)))]
pub async fn breakdown(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BreakdownParams>,
) -> ApiResult<Json<Breakdown>> {
    if !matches!(q.group_by.as_str(), "api_key" | "workspace") {
        return Err(ApiError::bad_request(
            "group_by: expected api_key or workspace",
        ));
    }
    let d = days(q.days, 30)?;
    let ws = usage_scope(&state, &p, q.workspace_id.as_deref()).await?;
    let rows = window(&state, &p, d, ws, q.api_key_id, q.request_type).await?;
    let mut groups: std::collections::BTreeMap<String, (u64, i64, f64, f64)> = Default::default();
    for r in &rows {
        let key = if q.group_by == "api_key" {
            r.api_key_id.clone().unwrap_or_else(|| "session".into())
        } else {
            r.workspace_id.clone().unwrap_or_default()
        };
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += r.input_tokens + r.output_tokens;
        g.2 += r.charged_usd;
        g.3 += r.actual_cost_usd;
    }
    let field = if q.group_by == "api_key" {
        "api_key_id"
    } else {
        "workspace_id"
    };
    let data = groups
        .into_iter()
        .map(|(k, (n, tokens, charged, actual))| {
            serde_json::json!({field: k, "requests": n, "tokens": tokens,
                               "charged_usd": charged, "actual_cost_usd": actual})
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
    pub tier_breakdown: std::collections::BTreeMap<String, u64>,
    pub request_type_breakdown: std::collections::BTreeMap<String, u64>,
    pub daily: Vec<Daily>,
}

#[utoipa::path(get, path = "/v1/stats", tag = "openai", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, body = Stats), (status = 400, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatsParams>,
) -> ApiResult<Json<Stats>> {
    let d = days(q.days, 30)?;
    let daily_days = days(q.daily_days, 14)?;
    let ws = usage_scope(&state, &p, q.workspace_id.as_deref()).await?;
    let rows = window(
        &state,
        &p,
        d.max(daily_days),
        ws,
        q.api_key_id.clone(),
        q.request_type,
    )
    .await?;
    let cutoff = crate::store::time::rfc3339(chrono::Utc::now() - chrono::Duration::days(d));
    let in_window: Vec<&UsageRow> = rows.iter().filter(|r| r.created_at >= cutoff).collect();
    let mut tiers: std::collections::BTreeMap<String, u64> = ["auto", "fast", "max"]
        .iter()
        .map(|t| (t.to_string(), 0))
        .collect();
    let mut types: std::collections::BTreeMap<String, u64> = Default::default();
    let (mut latency, mut timed) = (0.0, 0u64);
    for r in &in_window {
        *tiers.entry(r.tier.clone()).or_default() += 1;
        *types.entry(r.request_type.clone()).or_default() += 1;
        if let Some(l) = r.latency_ms {
            latency += l;
            timed += 1;
        }
    }
    let today = chrono::Utc::now().date_naive();
    let daily = (0..daily_days)
        .rev()
        .map(|back| {
            let date = (today - chrono::Duration::days(back))
                .format("%Y-%m-%d")
                .to_string();
            let of_day: Vec<&UsageRow> = rows
                .iter()
                .filter(|r| r.created_at.starts_with(&date))
                .collect();
            Daily {
                requests: of_day.len() as u64,
                tokens: of_day
                    .iter()
                    .map(|r| r.input_tokens + r.output_tokens)
                    .sum(),
                charged_usd: of_day.iter().map(|r| r.charged_usd).sum(),
                actual_cost_usd: of_day.iter().map(|r| r.actual_cost_usd).sum(),
                date,
            }
        })
        .collect();
    Ok(Json(Stats {
        window_days: d,
        daily_window_days: daily_days,
        api_key_id: q.api_key_id,
        workspace_id: q.workspace_id,
        requests: in_window.len() as u64,
        total_tokens: in_window
            .iter()
            .map(|r| r.input_tokens + r.output_tokens)
            .sum(),
        avg_latency_ms: if timed == 0 {
            0.0
        } else {
            latency / timed as f64
        },
        charged_usd: in_window.iter().map(|r| r.charged_usd).sum(),
        actual_cost_usd: in_window.iter().map(|r| r.actual_cost_usd).sum(),
        tier_breakdown: tiers,
        request_type_breakdown: types,
        daily,
    }))
}
