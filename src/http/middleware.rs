//! Request middleware: authentication with per-credential rate limits, and request metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::accounts::keys::{self, KEY_PREFIX};
use crate::accounts::rate_limit::Decision;
use crate::accounts::roles::Role;
use crate::accounts::Principal;
use crate::error::{ApiError, OpenAiError};
use crate::http::extract::client_ip;
use crate::http::scopes::{self, Need};
use crate::state::AppState;

/// Routes that mimic OpenAI answer errors in OpenAI's shape, so its SDKs can read them.
pub fn is_openai_route(path: &str) -> bool {
    matches!(
        path,
        "/v1/chat/completions" | "/v1/embeddings" | "/v1/models"
    ) || path.starts_with("/v1/models/")
}

pub fn error_response(path: &str, err: ApiError) -> Response {
    if is_openai_route(path) {
        OpenAiError(err).into_response()
    } else {
        err.into_response()
    }
}

async fn principal_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("Missing Authorization header".into()))?;
    let invalid = || ApiError::Unauthorized("Invalid or expired credential".into());
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(invalid)?;
    if token.starts_with(KEY_PREFIX) {
        return keys::authenticate(state.accounts.as_ref(), &state.key_touches, token)
            .await?
            .ok_or_else(invalid);
    }
    let claims = state.sessions.verify(token).ok_or_else(invalid)?;
    // The role is read now, not from the token, so a demotion takes effect at once.
    let user = state
        .accounts
        .user_by_id(&claims.sub)
        .await?
        .ok_or_else(invalid)?;
    Ok(Principal::Session {
        role: user.role.parse().unwrap_or(Role::Member),
        user_id: user.id,
        account_id: user.account_id,
    })
}

/// 403 naming what the matched route needs (`http/scopes.rs`) when the caller lacks it; a
/// route missing from the table is refused to everyone.
fn permitted(principal: &Principal, req: &Request) -> Result<(), ApiError> {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    match route.and_then(|r| scopes::need(req.method(), r)) {
        Some(Need::Scope(scope)) => principal.require(scope),
        Some(Need::Session | Need::Authenticated) => Ok(()),
        None => Err(ApiError::Forbidden(
            "this route declares no permission; refused".into(),
        )),
    }
}

/// The per-IP budget of requests without a valid credential.
pub fn anonymous_decision(state: &AppState, req: &Request) -> Decision {
    let ip = client_ip(
        req.headers(),
        req.extensions(),
        state.config.server.trust_forwarded_for,
    );
    state.rate_limiter.check(
        &format!("ip:{ip}"),
        state.config.rate_limit.anonymous_per_minute,
    )
}

pub fn with_limit_headers(mut response: Response, decision: Decision) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(decision.remaining),
    );
    response
}

fn over_limit(path: &str, decision: Decision) -> Response {
    error_response(
        path,
        ApiError::RateLimited {
            retry_after_secs: decision.reset_secs,
        },
    )
}

/// Public routes count against the caller's IP, so they too carry the limit headers.
pub async fn limit_anonymous(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let decision = anonymous_decision(&state, &req);
    let path = req.uri().path().to_string();
    let response = if decision.allowed {
        next.run(req).await
    } else {
        over_limit(&path, decision)
    };
    with_limit_headers(response, decision)
}

/// Authenticates the caller, applies its requests-per-minute limit and puts the `Principal`
/// in the request's extensions. Every response carries the limit headers: the credential's,
/// or the IP's when the credential is missing or invalid.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let principal = match principal_from_headers(&state, req.headers()).await {
        Ok(p) => p,
        Err(e) => {
            let decision = anonymous_decision(&state, &req);
            let response = if decision.allowed {
                error_response(&path, e)
            } else {
                over_limit(&path, decision)
            };
            return with_limit_headers(response, decision);
        }
    };
    // Auto-lock of the password vault counts idle time from the last authenticated request.
    state.gateway.vault_touch();
    let limit = match &principal {
        Principal::Session { .. } => state.config.rate_limit.session_per_minute,
        Principal::ApiKey {
            rate_limit_per_minute,
            ..
        } => rate_limit_per_minute
            .unwrap_or(state.config.rate_limit.default_per_minute)
            // A key stored above the operator's cap (set before it was lowered) gets the cap.
            .min(state.config.rate_limit.max_per_minute),
    };
    let decision = state.rate_limiter.check(&principal.rate_key(), limit);
    let response = if !decision.allowed {
        over_limit(&path, decision)
    } else if let Err(e) = permitted(&principal, &req) {
        error_response(&path, e)
    } else {
        req.extensions_mut().insert(principal);
        next.run(req).await
    };
    with_limit_headers(response, decision)
}

/// Counts requests and records their latency by method, route template and status. Every
/// label comes from a closed set, so strangers cannot grow the series count: a method outside
/// the standard nine is `other`, a path no route matched is `unmatched`, and the status is a
/// number the server itself chose.
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let elapsed = start.elapsed().as_secs_f64();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("cairn_http_requests_total", &labels).increment(1);
    metrics::histogram!("cairn_http_request_duration_seconds", &labels).record(elapsed);
    response
}

fn method_label(method: &Method) -> String {
    let known = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if known.contains(method) {
        method.as_str().to_string()
    } else {
        "other".to_string()
    }
}
