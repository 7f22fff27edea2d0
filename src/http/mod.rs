//! Route tables and thin handlers. Handlers extract inputs, call one area function and wrap the
//! result; no SQL and no business logic lives here.

pub mod actions;
pub mod auth;
pub mod billing;
pub mod chat;
pub mod embeddings;
pub mod extract;
pub mod harness;
pub mod health;
pub mod keys;
pub mod local_endpoints;
pub mod memory;
pub mod middleware;
pub mod openapi;
pub mod sources;
pub mod usage;
pub mod workspaces;

use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState) -> Router {
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .merge(chat::public_routes(&state))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::limit_anonymous,
        ));

    let authenticated = Router::new()
        .route("/api/auth/me", get(auth::me))
        .route("/v1/keys", post(keys::create).get(keys::list))
        .route("/v1/keys/{id}", delete(keys::revoke))
        .route(
            "/v1/workspaces",
            post(workspaces::create).get(workspaces::list),
        )
        .route(
            "/v1/workspaces/{workspace_id}",
            get(workspaces::get).patch(workspaces::update),
        )
        .route(
            "/v1/sources",
            post(sources::create)
                .get(sources::list)
                .layer(DefaultBodyLimit::max(state.config.sources.max_upload_bytes)),
        )
        .route(
            "/v1/sources/{id}",
            get(sources::get).delete(sources::delete),
        )
        .route("/v1/sources/{id}/reindex", post(sources::reindex))
        .route("/v1/documents/{id}", get(sources::document))
        .route("/v1/documents/{id}/chunks", get(sources::chunks))
        .route("/v1/search", post(sources::search))
        .merge(embeddings::routes(&state))
        .merge(chat::routes(&state))
        .merge(usage::routes(&state))
        .merge(billing::routes(&state))
        .merge(local_endpoints::routes(&state))
        .route(
            "/v1/memory/notes",
            post(memory::create_note).get(memory::list_notes),
        )
        .route(
            "/v1/memory/notes/{id}",
            get(memory::get_note)
                .patch(memory::update_note)
                .delete(memory::forget_note),
        )
        .route("/v1/memory/notes/{id}/approve", post(memory::approve_note))
        .route("/v1/memory/notes/{id}/reject", post(memory::reject_note))
        .route("/v1/memory/notes/{id}/history", get(memory::note_history))
        .route(
            "/v1/memory/entities",
            post(memory::create_entity).get(memory::list_entities),
        )
        .route("/v1/memory/entities/{id}", patch(memory::update_entity))
        .route(
            "/v1/memory/links",
            post(memory::create_link).get(memory::list_links),
        )
        .route("/v1/memory/links/{id}", delete(memory::delete_link))
        .route(
            "/v1/memory/events",
            post(memory::create_event).get(memory::list_events),
        )
        .route("/v1/memory/feedback", post(memory::feedback))
        .route("/v1/memory/batch", post(memory::batch))
        .route("/v1/memory/context-pack", post(memory::context_pack))
        .route("/v1/memory/context-packs/{pack_id}", get(memory::get_pack))
        .route("/v1/memory/context", post(memory::context))
        .route(
            "/v1/actions/policies",
            get(actions::list_policies).post(actions::create_policy),
        )
        .route("/v1/actions/check", post(actions::check))
        .route("/v1/actions/approvals", get(actions::list_approvals))
        .route("/v1/actions/approvals/{id}/decide", post(actions::decide))
        .route(
            "/v1/actions/audit",
            get(actions::list_audit).post(actions::record_audit),
        )
        .route(
            "/v1/harness/versions",
            get(harness::list_versions).post(harness::create_version),
        )
        .route(
            "/v1/harness/missions",
            get(harness::list_missions).post(harness::upsert_mission),
        )
        .route(
            "/v1/harness/missions/{id}",
            get(harness::get_mission).patch(harness::update_mission),
        )
        .route(
            "/v1/harness/missions/{id}/steps",
            post(harness::upsert_step),
        )
        .route(
            "/v1/harness/missions/{id}/steps/{step_id}",
            patch(harness::update_step),
        )
        .route(
            "/v1/harness/missions/{id}/artifacts",
            post(harness::add_artifact),
        )
        .route(
            "/v1/harness/traces",
            get(harness::list_traces).post(harness::record_trace),
        )
        .route("/v1/harness/feedback", post(harness::feedback))
        .route("/v1/harness/reflections", get(harness::list_reflections))
        .route(
            "/v1/harness/reflections/generate",
            post(harness::generate_reflection),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::authenticate,
        ));

    let max_body = state.config.server.max_body_bytes;
    public
        .merge(authenticated)
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
