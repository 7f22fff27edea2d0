//! Route tables and thin handlers. Handlers extract inputs, call one area function and wrap the
//! result; no SQL and no business logic lives here.
//!
//! Each area module exports `routes()` (authenticated) and, where it has public routes,
//! `public_routes()`; [`router`] merges them and adds the layers. To add a route: write the
//! handler with its `#[utoipa::path]` in the area's module, add it to that module's `routes()`
//! and to `openapi.rs`'s `paths(...)`. Handlers take [`extract`]'s extractors, never axum's
//! `Json`, `Query` or `Path`, so every refusal is the JSON error shape.

pub mod actions;
pub mod admin;
pub mod auth;
pub mod billing;
pub mod chat;
pub mod consumer;
pub mod dashboard;
pub mod embeddings;
pub mod events;
pub mod extract;
pub mod harness;
pub mod health;
pub mod keys;
pub mod local_endpoints;
pub mod mcp;
pub mod memory;
pub mod middleware;
pub mod openapi;
pub mod provider_keys;
pub mod proxy_stats;
pub mod scopes;
pub mod sources;
pub mod usage;
pub mod users;
pub mod workspaces;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API: each area's public routes (counted against the caller's IP) and
/// authenticated routes (behind the credential check and its rate limit), then the layers every
/// request passes.
pub fn router(state: AppState) -> Router {
    let public = Router::new()
        .merge(health::public_routes(&state))
        .merge(openapi::public_routes(&state))
        .merge(auth::public_routes(&state))
        .merge(users::public_routes(&state))
        .merge(chat::public_routes(&state))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::limit_anonymous,
        ));

    let authenticated = Router::new()
        .merge(auth::routes(&state))
        .merge(keys::routes(&state))
        .merge(provider_keys::routes(&state))
        .merge(users::routes(&state))
        .merge(workspaces::routes(&state))
        .merge(sources::routes(&state))
        .merge(memory::routes(&state))
        .merge(actions::routes(&state))
        .merge(harness::routes(&state))
        .merge(chat::routes(&state))
        .merge(consumer::routes(&state))
        .merge(usage::routes(&state))
        .merge(billing::routes(&state))
        .merge(embeddings::routes(&state))
        .merge(events::routes(&state))
        .merge(local_endpoints::routes(&state))
        .merge(admin::routes(&state))
        .merge(proxy_stats::routes(&state))
        // MCP (Streamable HTTP): the same credential check, rate limit and scopes per tool.
        .route_service("/mcp", mcp::service(state.clone()))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));

    let max_body = state.config.server.max_body_bytes;
    // The dashboard's files: public (they hold no data) and outside the anonymous limit, so
    // loading the app does not spend what logging in needs.
    public
        .merge(authenticated)
        .merge(dashboard::routes(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::record_metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        .with_state(state)
}

async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    refuse(&state, &req, ApiError::NotFound("Route"))
}

async fn method_not_allowed(State(state): State<AppState>, req: Request) -> Response {
    refuse(&state, &req, ApiError::MethodNotAllowed)
}

fn refuse(state: &AppState, req: &Request, err: ApiError) -> Response {
    let decision = middleware::anonymous_decision(state, req);
    let path = req.uri().path();
    let response = if decision.allowed {
        middleware::error_response(path, err)
    } else {
        middleware::error_response(
            path,
            ApiError::RateLimited {
                retry_after_secs: decision.reset_secs,
            },
        )
    };
    middleware::with_limit_headers(response, decision)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}
