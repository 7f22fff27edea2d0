//! The OpenAPI document, generated from the handlers' annotations. A test writes it to
//! `schemas/openapi.json` and fails when the committed copy is stale.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{
    actions, auth, billing, chat, embeddings, harness, health, keys, local_endpoints, memory,
    sources, usage, workspaces,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Cairn", description = "Self-hosted knowledge base, agent memory and model gateway."),
    paths(
        health::healthz, health::metrics, openapi_json,
        auth::register, auth::login, auth::refresh, auth::logout, auth::me,
        keys::create, keys::list, keys::revoke,
        workspaces::create, workspaces::list, workspaces::get, workspaces::update,
        sources::create, sources::list, sources::get, sources::delete, sources::reindex,
        sources::document, sources::chunks, sources::search,
        embeddings::embeddings,
        chat::completions, chat::models, chat::pricing, usage::usage, billing::balance,
        billing::add_credit, billing::checkout, usage::breakdown, usage::stats,
        local_endpoints::register, local_endpoints::list, local_endpoints::get,
        local_endpoints::update, local_endpoints::delete, local_endpoints::recheck,
        local_endpoints::models,
        memory::create_note, memory::list_notes, memory::get_note, memory::update_note,
        memory::forget_note, memory::approve_note, memory::reject_note, memory::note_history,
        memory::create_entity, memory::list_entities, memory::update_entity,
        memory::create_link, memory::list_links, memory::delete_link,
        memory::create_event, memory::list_events, memory::feedback, memory::batch,
        memory::context_pack, memory::get_pack, memory::context,
        actions::list_policies, actions::create_policy, actions::check, actions::list_approvals,
        actions::decide, actions::list_audit, actions::record_audit,
        harness::list_versions, harness::create_version, harness::list_missions,
        harness::upsert_mission, harness::get_mission, harness::update_mission,
        harness::upsert_step, harness::update_step, harness::add_artifact,
        harness::list_traces, harness::record_trace, harness::feedback,
        harness::list_reflections, harness::generate_reflection,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health, metrics and this document"),
        (name = "auth", description = "Users and dashboard sessions"),
        (name = "keys", description = "Runtime API keys (session only)"),
        (name = "workspaces", description = "Workspaces of an account"),
        (name = "sources", description = "Ingest, documents, chunks and search"),
        (name = "memory", description = "Memory Vault: notes, review, entities, links, events, feedback, batch and context packs"),
        (name = "actions", description = "Action guardrails: policies, checks, approvals, audit"),
        (name = "harness", description = "Harness: versions, missions, traces, feedback, reflections"),
        (name = "openai", description = "OpenAI-compatible routes"),
        (name = "gateway", description = "Local endpoints: the account's own OpenAI-compatible servers"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A runtime API key (tok_...) or a dashboard session token from /api/auth/login",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn spec_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_string();
    let mut text = doc.to_pretty_json().unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "This OpenAPI document")))]
pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}
