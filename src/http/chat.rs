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

#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", security(("bearer" = [])), request_body = ChatRequest,
    responses((status = 200, description = "OpenAI chat completion, or an SSE stream of chunks when `stream` is true; header x-cairn-cost"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn completions(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<Value>,
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
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, None).await?;
    let caller = Caller {
        account_id: p.account_id().to_string(),
        workspace_id: ws.id.clone(),
        api_key_id: p.key_id().map(str::to_string),
        workspace_budget_usd: ws.monthly_budget_usd,
    };
    match state.gateway.chat(caller, body, cache).await? {
        Reply::Json {
            body,
            cost_usd,
            cache,
        } => {
            let mut res = Json(body).into_response();
            if let Ok(v) = format!("{cost_usd:.8}").parse() {
                res.headers_mut().insert("x-cairn-cost", v);
            }
            res.headers_mut()
                .insert("x-cairn-cache", axum::http::HeaderValue::from_static(cache));
            Ok(res)
        }
        Reply::Stream(body) => Ok((
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response()),
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
pub async fn models(State(state): State<AppState>, Auth(_caller): Auth) -> Json<ModelList> {
    let card = |id: &str| ModelCard {
        id: id.to_string(),
        object: "model".into(),
        owned_by: "cairn".into(),
        created: 0,
    };
    let mut data: Vec<ModelCard> = ["auto", "fast", "max"].iter().map(|m| card(m)).collect();
    for m in state.gateway.models.iter().filter(|m| m.enabled) {
        data.push(card(&m.name));
        data.extend(m.aliases.iter().map(|a| card(a)));
    }
    Json(ModelList {
        object: "list".into(),
        data,
    })
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
    let data = state
        .config
        .models
        .iter()
        .map(|m| PriceEntry {
            id: m.name.clone(),
            name: m.upstream.clone(),
            provider: m.provider.clone(),
            input_per_1m: m.input_per_1k * 1000.0,
            output_per_1m: m.output_per_1k * 1000.0,
            capabilities: m.capabilities.clone(),
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
    let workspace_id = match (p.bound_workspace(), q.workspace_id.as_deref()) {
        (Some(_), slug) => Some(
            workspaces::resolve(state.accounts.as_ref(), &p, slug)
                .await?
                .id,
        ),
        (None, Some(slug)) => Some(
            workspaces::resolve(state.accounts.as_ref(), &p, Some(slug))
                .await?
                .id,
        ),
        (None, None) => None,
    };
    let filter = UsageFilter {
        workspace_id,
        api_key_id: q.api_key_id,
        request_type: q.request_type,
        before: q.before,
        limit: limit + 1,
    };
    let mut data = state.gateway.usage.list(p.account_id(), &filter).await?;
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
    let (balance_usd, reserved_usd) = state.gateway.billing.balance(p.account_id()).await?;
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
    let actor = format!("user:{}", user.user_id);
    let billing = &state.gateway.billing;
    billing
        .credit(
            &user.account_id,
            req.amount_usd,
            &actor,
            req.note.as_deref(),
        )
        .await?;
    let (balance_usd, reserved_usd) = billing.balance(&user.account_id).await?;
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
