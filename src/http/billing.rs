//! `GET /v1/balance`, `POST /v1/billing/add`, `POST /v1/billing/checkout`: the prepaid
//! balance the gateway charges (see `gateway::ledger`).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, Auth, SessionUser};
use crate::http::openapi::{Keyed, KeyedJson};
use crate::state::AppState;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/balance", get(balance))
        .route("/v1/billing/add", post(add_credit))
        .route("/v1/billing/checkout", post(checkout))
}

#[derive(Serialize, ToSchema)]
pub struct Balance {
    pub balance_usd: f64,
    /// Held by requests in flight.
    pub reserved_usd: f64,
    pub currency: String,
}

#[utoipa::path(get, path = "/v1/balance", tag = "openai", security(("bearer" = [])),
    responses((status = 200, body = Balance),
        Keyed))]
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
    responses((status = 200, body = Balance),
        (status = 403, body = ErrorBody, description = "Not an admin's dashboard session"),
        (status = 404, body = ErrorBody, description = "No user with that email"),
        Keyed, KeyedJson))]
pub async fn add_credit(
    State(state): State<AppState>,
    user: SessionUser,
    ApiJson(req): ApiJson<AddCredit>,
) -> ApiResult<Json<Balance>> {
    if user.role != crate::accounts::roles::Role::Admin {
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
    responses(Keyed,
        (status = 501, body = ErrorBody, description = "Card payments are not available in self-hosted Cairn")))]
pub async fn checkout(Auth(_caller): Auth) -> ApiResult<Json<Balance>> {
    Err(ApiError::NotImplemented(
        "Card payments are not available in self-hosted Cairn; an admin adds credit with POST /v1/billing/add."
            .into(),
    ))
}
