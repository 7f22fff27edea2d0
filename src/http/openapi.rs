//! The OpenAPI document, generated from the handlers' annotations. A test writes it to
//! `schemas/openapi.json` and fails when the committed copy is stale.
//!
//! The rule: a route documents every status it can answer. The refusals most routes share
//! (credential, rate limit, session, workspace, malformed input) are the response sets below,
//! listed first in a route's `responses(...)`; the route then adds its own statuses.
//! `tests/api/contract.rs` checks the document against the server's real answers.

use std::collections::BTreeMap;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::content::Content;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::{ErrorBody, OpenAiErrorBody, PaymentFigures};
use crate::state::AppState;

use crate::http::{
    actions, admin, auth, billing, chat, consumer, embeddings, events, harness, health, keys,
    local_endpoints, memory, provider_keys, proxy_stats, scopes, sources, usage, users, workspaces,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Cairn", description = "Self-hosted knowledge base, agent memory and model gateway."),
    paths(
        health::healthz, health::metrics, openapi_json,
        auth::register, auth::login, auth::refresh, auth::logout, auth::me,
        users::setup, users::setup_status, users::list, users::update,
        keys::create, keys::list, keys::revoke, provider_keys::create, provider_keys::list, provider_keys::delete,
        workspaces::create, workspaces::list, workspaces::get, workspaces::update,
        sources::create, sources::list, sources::get, sources::delete, sources::reindex,
        sources::document, sources::chunks, sources::search,
        embeddings::embeddings,
        chat::completions, chat::models, consumer::chat, consumer::plan,
        proxy_stats::stats, proxy_stats::last, proxy_stats::session, proxy_stats::cache_stats,
        proxy_stats::recent, proxy_stats::ingest, proxy_stats::ingest_batch, chat::pricing, usage::usage, billing::balance,
        billing::add_credit, billing::checkout, usage::breakdown, usage::stats,
        local_endpoints::register, local_endpoints::list, local_endpoints::get,
        local_endpoints::update, local_endpoints::delete, local_endpoints::recheck,
        local_endpoints::models,
        memory::create_note, memory::list_notes, memory::get_note, memory::update_note,
        memory::forget_note, memory::approve_note, memory::reject_note, memory::note_history,
        memory::create_entity, memory::list_entities, memory::update_entity,
        memory::create_link, memory::list_links, memory::delete_link,
        memory::create_event, memory::list_events, memory::feedback, memory::batch, memory::conversation,
        memory::context_pack, memory::get_pack, memory::context,
        actions::list_policies, actions::create_policy, actions::replace_policy, actions::check, actions::list_approvals,
        actions::decide, actions::list_audit, actions::record_audit,
        harness::list_versions, harness::create_version, harness::activate_version, harness::list_missions,
        harness::upsert_mission, harness::get_mission, harness::update_mission,
        harness::upsert_step, harness::update_step, harness::add_artifact,
        harness::list_traces, harness::record_trace, harness::feedback,
        harness::list_reflections, harness::generate_reflection,
        admin::info, admin::unlock, admin::lock, admin::rotate, admin::catalog::save_provider, admin::catalog::list_providers,
        admin::catalog::patch_provider, admin::catalog::delete_provider, admin::catalog::discover,
        admin::catalog::save_model, admin::catalog::list_models, admin::catalog::patch_model,
        admin::catalog::delete_model, admin::engine_models, admin::routing_config,
        admin::put_routing_config, admin::simulate, admin::health, admin::stats, admin::logs,
        admin::audit, admin::rewards, admin::tsdb_query, admin::tsdb_metrics, admin::tsdb_prune,
        admin::tsdb_retention, admin::workflows, admin::workflow, admin::workflow_history, admin::events::events, events::events, admin::keys::create, admin::keys::list, admin::keys::rotate,
        admin::keys::patch, admin::keys::revoke,
    ),
    components(schemas(ErrorBody, OpenAiErrorBody, PaymentFigures)),
    modifiers(&BearerAuth, &DeclaredNeeds),
    tags(
        (name = "system", description = "Health, metrics and this document"),
        (name = "auth", description = "Users and dashboard sessions"),
        (name = "keys", description = "Runtime API keys (session only)"),
        (name = "users", description = "First admin setup; users and their roles (admin only)"),
        (name = "workspaces", description = "Workspaces of an account"),
        (name = "sources", description = "Ingest, documents, chunks and search"),
        (name = "memory", description = "Memory Vault: notes, review, entities, links, events, feedback, batch and context packs"),
        (name = "actions", description = "Action guardrails: policies, checks, approvals, audit"),
        (name = "harness", description = "Harness: versions, missions, traces, feedback, reflections"),
        (name = "openai", description = "OpenAI-compatible routes"),
        (name = "gateway", description = "Local endpoints: the account's own OpenAI-compatible servers"),
        (name = "admin", description = "The operator's API (admin scope): providers, models, routing, health, stats, logs, audit"),
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

/// Writes each authenticated operation's need (`http/scopes.rs`) into its security
/// requirement, and documents the 403 a caller without that scope gets and the 409 a write to
/// an archived workspace gets.
struct DeclaredNeeds;

impl Modify for DeclaredNeeds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                ("GET", item.get.as_mut()),
                ("POST", item.post.as_mut()),
                ("PATCH", item.patch.as_mut()),
                ("DELETE", item.delete.as_mut()),
                ("PUT", item.put.as_mut()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                if op.security.as_ref().is_none_or(|s| s.is_empty()) {
                    continue;
                }
                let needed = scopes::openapi_scopes(method, path);
                let privileged = needed.iter().any(|s| s != "session");
                op.security = Some(vec![SecurityRequirement::new("bearer", needed)]);
                let responses = &mut op.responses.responses;
                let openai = crate::http::middleware::is_openai_route(path);
                let body = if openai {
                    "OpenAiErrorBody"
                } else {
                    "ErrorBody"
                };
                if privileged {
                    responses.entry("403".into()).or_insert_with(|| {
                        refusal(
                            body,
                            "The credential lacks the scope this route needs; the message names it",
                        )
                    });
                }
                if privileged && method != "GET" && !openai {
                    responses.entry("409".into()).or_insert_with(|| {
                        refusal("ErrorBody", "The workspace is archived and refuses writes")
                    });
                }
            }
        }
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
    responses(Public, (status = 200, description = "This OpenAPI document")))]
pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}

/// `/openapi.json`, public.
pub fn public_routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// A refusal whose body is the schema `body` (`ErrorBody`, or `OpenAiErrorBody` on the
/// OpenAI-compatible routes).
fn refusal(body: &str, description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(body))),
        )
        .build()
        .into()
}

const MALFORMED: &str = "A malformed query or path parameter or body field; the message names it";
const NO_CREDENTIAL: &str = "Missing, invalid or expired credential";
/// The shorter wording of `NO_CREDENTIAL` and `OVER_LIMIT` the OpenAI-style routes document.
const KEYED_NO_CREDENTIAL: &str = "Missing or invalid credential";
const KEYED_OVER_LIMIT: &str = "Rate limit exceeded";
const KEYED_BAD_FIELD: &str = "A field is wrong (the message names it)";
const KEYED_TOO_LARGE: &str = "Body over the size limit";
const OVER_LIMIT: &str =
    "Over the requests-per-minute limit (of the credential, or of the IP without one); see Retry-After";

/// Declares a set of shared refusals as a type `responses(...)` can list.
macro_rules! refusals {
    ($(#[$doc:meta])* $name:ident: $(($code:literal, $description:expr)),+ $(,)?) => {
        refusals!($(#[$doc])* $name("ErrorBody"): $(($code, $description)),+);
    };
    ($(#[$doc:meta])* $name:ident($body:literal): $(($code:literal, $description:expr)),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($code.to_string(), refusal($body, $description))),+])
            }
        }
    };
}

refusals!(
    /// Public routes: the per-IP budget of anonymous requests.
    Public: ("429", "Too many requests from this IP; see Retry-After"),
);

refusals!(
    /// Any authenticated route.
    Authed: ("401", NO_CREDENTIAL), ("429", OVER_LIMIT),
);

refusals!(
    /// Management routes that need a dashboard session.
    SessionOnly:
        ("401", NO_CREDENTIAL),
        ("403", "Needs a dashboard session; runtime API keys (tok_...) are refused"),
        ("429", OVER_LIMIT),
);

refusals!(
    /// Routes acting in a workspace (named by `workspace_id`, or the key's binding, or
    /// `default`).
    Scoped:
        ("400", MALFORMED),
        ("401", NO_CREDENTIAL),
        ("404", "The workspace or the resource does not exist in this account, or the key may not see it"),
        ("429", OVER_LIMIT),
);

refusals!(
    /// Local-endpoint routes that name one endpoint (`{id}`).
    NoEndpoint: ("404", "No such endpoint in this account"),
);

refusals!(
    /// Routes with path or query parameters.
    BadParams: ("400", MALFORMED),
);

refusals!(
    /// Routes with a JSON body.
    JsonBody:
        ("400", "Malformed JSON, an empty body, a wrong type or an unknown field; the message names it"),
        ("413", "The body is larger than `server.max_body_bytes`"),
);

refusals!(
    /// The credential refusals of the OpenAI-style account routes (balance, billing, usage).
    Keyed: ("401", KEYED_NO_CREDENTIAL), ("429", KEYED_OVER_LIMIT),
);

refusals!(
    /// `Keyed` in OpenAI's error shape (chat completions, models, embeddings).
    OpenAiKeyed("OpenAiErrorBody"): ("401", KEYED_NO_CREDENTIAL), ("429", KEYED_OVER_LIMIT),
);

refusals!(
    /// The body refusals of the OpenAI-style account routes with a JSON body.
    KeyedJson: ("400", KEYED_BAD_FIELD), ("413", KEYED_TOO_LARGE),
);

refusals!(
    /// `KeyedJson` in OpenAI's error shape.
    OpenAiKeyedJson("OpenAiErrorBody"): ("400", KEYED_BAD_FIELD), ("413", KEYED_TOO_LARGE),
);

refusals!(
    /// The usage and statistics queries: `Keyed`, a bad parameter, or a workspace filter
    /// naming no workspace of the account.
    UsageQuery:
        ("400", "A query parameter is wrong (the message names it)"),
        ("401", KEYED_NO_CREDENTIAL),
        ("404", "Unknown workspace"),
        ("429", KEYED_OVER_LIMIT),
);

refusals!(
    /// `Authed` and `JsonBody` on the OpenAI-compatible routes, in OpenAI's error shape.
    OpenAiRefusals("OpenAiErrorBody"):
        ("400", "Malformed JSON, an empty body, a wrong type or an unknown field; the message names it"),
        ("401", NO_CREDENTIAL),
        ("413", "The body is larger than `server.max_body_bytes`"),
        ("429", OVER_LIMIT),
);
