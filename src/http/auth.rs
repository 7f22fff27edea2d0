//! `/api/auth/*`: register, login, refresh and logout are public (counted against the IP);
//! `me` needs a session.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::users::{self, AuthResponse, AuthSettings, Credentials, SignedIn, UserView};
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{ApiJson, ClientIp, SessionUser};
use crate::http::openapi::{JsonBody, Public, SessionOnly};
use crate::state::AppState;

pub fn public_routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/logout", post(logout))
}

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/api/auth/me", get(me))
}

const REFRESH_COOKIE: &str = "cairn_refresh";

pub(crate) fn settings(state: &AppState) -> AuthSettings<'_> {
    AuthSettings {
        sessions: &state.sessions,
        refresh_ttl_secs: state.config.auth.refresh_ttl_secs,
        allow_registration: state.config.auth.allow_registration,
    }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.auth.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{REFRESH_COOKIE}={value}; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn signed_in(state: &AppState, s: SignedIn) -> Response {
    let set = cookie(state, &s.refresh_token, state.config.auth.refresh_ttl_secs);
    ([(header::SET_COOKIE, set)], Json(s.body)).into_response()
}

fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_string())
}

#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = Credentials,
    responses(Public, JsonBody, (status = 200, body = AuthResponse, description = "Signed in; sets the refresh cookie"),
        (status = 403, body = ErrorBody, description = "Registration is disabled"),
        (status = 409, body = ErrorBody, description = "A user with this email exists")))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let done = users::register(state.accounts.as_ref(), &settings(&state), req).await?;
    Ok(signed_in(&state, done))
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = Credentials,
    responses(Public, JsonBody, (status = 200, body = AuthResponse), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, description = "Too many requests or failed logins from this IP")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let done = users::login(
        state.accounts.as_ref(),
        &settings(&state),
        &state.login_limiter,
        ip,
        req,
    )
    .await?;
    Ok(signed_in(&state, done))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    responses(Public, (status = 200, body = AuthResponse, description = "New session token; the refresh cookie is rotated"),
        (status = 401, body = ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let token = refresh_cookie(&headers);
    let done = users::refresh(state.accounts.as_ref(), &settings(&state), token.as_deref()).await?;
    Ok(signed_in(&state, done))
}

#[derive(Serialize, ToSchema)]
pub struct LoggedOut {
    pub logged_out: bool,
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(Public, (status = 200, body = LoggedOut, description = "The refresh token is revoked and the cookie cleared")))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    users::logout(state.accounts.as_ref(), refresh_cookie(&headers).as_deref()).await?;
    let clear = cookie(&state, "", 0);
    Ok((
        [(header::SET_COOKIE, clear)],
        Json(LoggedOut { logged_out: true }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(SessionOnly, (status = 200, body = UserView)))]
pub async fn me(State(state): State<AppState>, session: SessionUser) -> ApiResult<Json<UserView>> {
    Ok(Json(
        users::me(state.accounts.as_ref(), &session.user_id).await?,
    ))
}
