//! `POST /v1/chat` and `POST /v1/plan` (seed 000 "Consumer Endpoints"): the routed gateway in
//! the seed's envelope, with the seed's error shape (not OpenAI's). Both act in the caller's
//! workspace (the key's binding, or `default`) and are charged like chat completions.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};

use crate::accounts::workspaces;
use crate::error::{ApiResult, ErrorBody};
use crate::gateway::consumer::chat::{ChatEnvelope, EnvelopeReply};
use crate::gateway::consumer::plan::{PlanReply, PlanRequest};
use crate::gateway::Caller;
use crate::http::extract::{ApiJson, Auth};
use crate::http::openapi::{Authed, JsonBody};
use crate::state::AppState;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/chat", post(chat))
        .route("/v1/plan", post(plan))
}

#[utoipa::path(post, path = "/v1/chat", tag = "gateway", security(("bearer" = [])),
    request_body = ChatEnvelope,
    responses(Authed, JsonBody,
        (status = 200, body = EnvelopeReply, description = "The answer, the negotiated model, its cost and the routing reason"),
        (status = 402, body = ErrorBody, description = "The balance or a budget cannot cover the request"),
        (status = 404, body = ErrorBody, description = "Unknown model_hint"),
        (status = 502, body = ErrorBody, description = "The answer failed output_format's validation twice (the message says why)"),
        (status = 503, body = ErrorBody, description = "No model fits the request and its policy, or every candidate failed")))]
pub async fn chat(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(env): ApiJson<ChatEnvelope>,
) -> ApiResult<Json<EnvelopeReply>> {
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, None).await?;
    Ok(Json(
        state
            .gateway
            .chat_envelope(Caller::of(&p, &ws), env)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/plan", tag = "gateway", security(("bearer" = [])),
    request_body = PlanRequest,
    responses(Authed, JsonBody,
        (status = 200, body = PlanReply, description = "The final plan and every round"),
        (status = 402, body = ErrorBody, description = "The balance or a budget cannot cover the request"),
        (status = 404, body = ErrorBody, description = "Unknown primary_model_id or review_model_id"),
        (status = 503, body = ErrorBody, description = "No model fits the request and its policy, or every candidate failed")))]
pub async fn plan(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(req): ApiJson<PlanRequest>,
) -> ApiResult<Json<PlanReply>> {
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, None).await?;
    Ok(Json(
        state
            .gateway
            .plan_adversarial(Caller::of(&p, &ws), req)
            .await?,
    ))
}
