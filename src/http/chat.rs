//! `POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/pricing`: the OpenAI-compatible
//! gateway surface. Usage and stats are in `usage.rs`, balance and credit in `billing.rs`.
//! Errors here are written in OpenAI's shape so its SDKs read them.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::accounts::workspaces;
use crate::error::{ApiError, ApiResult, ErrorBody, OpenAiError, OpenAiErrorBody};
use crate::gateway::{self, Caller, Reply};
use crate::http::extract::{ApiJson, Auth};
use crate::http::openapi::OpenAiKeyed;
use crate::state::AppState;
use crate::store::harness::TraceReply;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/chat/completions", post(completions))
        .route("/v1/models", get(models))
}

/// The public routes of this module (the price list).
pub fn public_routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/v1/pricing", get(pricing))
}

/// The header naming the catalog model that served an answer.
const SERVED_MODEL: HeaderName = HeaderName::from_static("x-cairn-model");

/// OpenAI's chat completion request; every field is passed on to the provider.
#[derive(ToSchema)]
pub struct ChatRequest {
    /// auto, fast, max, or a registered model name or alias.
    pub model: String,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    pub stream: Option<bool>,
    /// `{"include_usage": true}` adds the usage chunk to a stream.
    #[schema(value_type = Option<Object>)]
    pub stream_options: Option<Value>,
    /// 1 to 1,000,000. When neither limit is given Cairn sends `gateway.default_max_tokens`
    /// upstream: the request holds the price of its limit times `n` before the call.
    pub max_tokens: Option<u64>,
    /// Wins over `max_tokens` when both are given.
    pub max_completion_tokens: Option<u64>,
    /// Choices, 1 to 128.
    pub n: Option<u64>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// Cairn's own: ground the answer in a context pack (never sent upstream).
    pub cairn: Option<Grounding>,
}

/// The optional `cairn` object of a chat request: ground the answer in a context pack.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grounding {
    pub workspace_id: Option<String>,
    /// The mission the reply serves (default: the request's `metadata.mission_id`): the pack
    /// favours its events, and the reply's trace (with its cost) counts toward it.
    pub mission_id: Option<String>,
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
    req: &mut gateway::ChatRequest,
) -> ApiResult<Value> {
    let messages = &mut req.messages;
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| gateway::text_of(&m["content"]))
        .unwrap_or_default();
    let query = g.context.query.unwrap_or(last_user);
    let metadata = g
        .mission_id
        .map(|mission_id| crate::context::model::PackMetadata {
            mission_id: Some(mission_id),
            ..Default::default()
        });
    let pack = state
        .context
        .build(
            ws,
            crate::context::model::ContextPackRequest {
                query,
                max_tokens: g.context.max_tokens,
                include_sources: g.context.include_sources,
                metadata,
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
    responses(
        (status = 200, description = "OpenAI chat completion, or an SSE stream of chunks when `stream` is true. `model` is the name asked for; headers: x-cairn-model (the catalog model that served), x-cairn-cost, x-cairn-cache; a stream carries its cost as the SSE comment `: x-cairn-cost <usd>` before `data: [DONE]`"),
        (status = 400, body = OpenAiErrorBody, description = "A field is missing or wrong (the message names it), or the provider refused the request"),
        (status = 402, body = OpenAiErrorBody, description = "The balance or a monthly budget cannot cover the request"),
        (status = 404, body = OpenAiErrorBody, description = "Unknown model, or unknown workspace in `cairn.workspace_id`"),
        (status = 413, body = OpenAiErrorBody, description = "Body over the size limit"),
        OpenAiKeyed,
        (status = 503, body = OpenAiErrorBody, description = "No model can serve now, or every candidate failed")))]
pub async fn completions(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    body: Result<ApiJson<Value>, ApiError>,
) -> Result<Response, OpenAiError> {
    // Taken as a Result so a malformed body, too, is answered in OpenAI's shape.
    let ApiJson(body) = body?;
    let cache = cache_choice(&headers)?;
    let Value::Object(mut fields) = body else {
        return Err(ApiError::bad_request("expected a JSON object").into());
    };
    let mut grounding = grounding_of(&mut fields)?;
    if let Some(g) = grounding.as_mut().filter(|g| g.mission_id.is_none()) {
        g.mission_id = fields
            .get("metadata")
            .and_then(|m| m["mission_id"].as_str())
            .map(str::to_string);
    }
    let slug = grounding.as_ref().and_then(|g| g.workspace_id.clone());
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, slug.as_deref()).await?;
    let mut req = gateway::ChatRequest::from_value(Value::Object(fields))?;
    let grounded = match grounding {
        Some(g) => Some(ground(&state, &ws, g, &mut req).await?),
        None => None,
    };
    let caller = Caller::of(&p, &ws);
    let requested = req.model.clone();
    let mut reply = state.gateway.chat(caller, req, cache).await?;
    if let Some(trace_id) = grounded.as_ref().and_then(|g| g["trace_id"].as_str()) {
        trace_when_done(&state, &ws, trace_id, &requested, &mut reply).await;
    }
    Ok(respond(reply, grounded))
}

/// Records a grounded reply on its pack's trace: a whole answer now, a stream once it ended
/// (in the background: its text and cost are known only then).
async fn trace_when_done(
    state: &AppState,
    ws: &crate::store::Workspace,
    trace_id: &str,
    requested: &str,
    reply: &mut Reply,
) {
    match reply {
        Reply::Json {
            body,
            cost_usd,
            served_by,
            method,
            pick,
            ..
        } => {
            let routed = Routed {
                requested,
                served_by,
                method,
                pick: pick.as_ref(),
            };
            let traced = trace_reply(&routed, body, *cost_usd);
            state.harness.record_reply(ws, trace_id, &traced).await;
        }
        Reply::Stream {
            served_by, ended, ..
        } => {
            // Take the ending the relay reports; the reply keeps a receiver nobody reads.
            let (_, unread) = tokio::sync::oneshot::channel();
            let ended = std::mem::replace(ended, unread);
            let (harness, ws, trace_id) = (state.harness.clone(), ws.clone(), trace_id.to_string());
            let (requested, served_by) = (requested.to_string(), served_by.clone());
            tokio::spawn(async move {
                let Ok(s) = ended.await else { return };
                let body = serde_json::json!({
                    "choices": [{"message": {"content": s.text}}],
                    "usage": {"prompt_tokens": s.input_tokens, "completion_tokens": s.output_tokens}});
                let routed = Routed {
                    requested: &requested,
                    served_by: &served_by,
                    method: "stream",
                    pick: None,
                };
                harness
                    .record_reply(&ws, &trace_id, &trace_reply(&routed, &body, s.cost_usd))
                    .await;
            });
        }
    }
}

/// Longest reply a trace keeps.
const MAX_TRACED_REPLY_CHARS: usize = 4_000;

/// How a grounded reply was routed.
struct Routed<'a> {
    requested: &'a str,
    served_by: &'a str,
    method: &'a str,
    pick: Option<&'a gateway::bandit::Pick>,
}

/// What a grounded reply adds to its pack's trace: the first choice's text, the usage, and
/// how it was routed (a rating of a `thompson` reply rewards the model: `http::harness`).
fn trace_reply(routed: &Routed<'_>, body: &Value, cost_usd: f64) -> TraceReply {
    let text = gateway::text_of(&body["choices"][0]["message"]["content"]);
    TraceReply {
        trace_type: "knowledge_reply".into(),
        output_summary: text.chars().take(MAX_TRACED_REPLY_CHARS).collect(),
        charged_usd: cost_usd,
        usage: serde_json::json!({"model": routed.requested, "served_by": routed.served_by,
            "method": routed.method,
            "input_tokens": body["usage"]["prompt_tokens"],
            "output_tokens": body["usage"]["completion_tokens"], "cost_usd": cost_usd}),
        routing: routed.pick.map(|p| {
            serde_json::json!({"model": routed.served_by, "bucket": p.bucket, "probability": p.probability})
        }),
    }
}

/// `x-cairn-cache: on|off`, if sent.
fn cache_choice(headers: &HeaderMap) -> ApiResult<Option<bool>> {
    match headers.get("x-cairn-cache").map(HeaderValue::to_str) {
        Some(Ok("on")) => Ok(Some(true)),
        Some(Ok("off")) => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request("x-cairn-cache: expected on or off")),
        None => Ok(None),
    }
}

/// Takes the `cairn` object out of the body: it is Cairn's, never sent upstream.
fn grounding_of(fields: &mut Map<String, Value>) -> ApiResult<Option<Grounding>> {
    fields
        .remove("cairn")
        .map(|v| {
            serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("cairn: {e}")))
        })
        .transpose()
}

/// The HTTP response for a gateway reply; `grounded`: what the `cairn` object carries.
fn respond(reply: Reply, grounded: Option<Value>) -> Response {
    match reply {
        Reply::Json {
            mut body,
            cost_usd,
            cache,
            served_by,
            ..
        } => {
            if let Some(g) = grounded {
                body["cairn"] = g;
            }
            let mut res = Json(body).into_response();
            let h = res.headers_mut();
            if let Ok(v) = format!("{cost_usd:.8}").parse() {
                h.insert("x-cairn-cost", v);
            }
            h.insert("x-cairn-cache", HeaderValue::from_static(cache));
            if let Ok(v) = HeaderValue::from_str(&served_by) {
                h.insert(SERVED_MODEL, v);
            }
            res
        }
        Reply::Stream {
            events, served_by, ..
        } => {
            let mut res = (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                Body::from_stream(events),
            )
                .into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&served_by) {
                h.insert(SERVED_MODEL, v);
            }
            // A stream has no body object to carry `cairn`; the pack and trace ids ride in
            // headers.
            if let Some(g) = grounded {
                for (name, key) in [
                    ("x-cairn-pack-id", "pack_id"),
                    ("x-cairn-trace-id", "trace_id"),
                ] {
                    if let Some(v) = g[key].as_str().and_then(|s| s.parse().ok()) {
                        h.insert(name, v);
                    }
                }
            }
            res
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
    responses((status = 200, body = ModelList),
        OpenAiKeyed))]
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
    responses((status = 200, body = Pricing),
        (status = 429, body = ErrorBody, description = "Rate limit exceeded (per IP)")))]
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
