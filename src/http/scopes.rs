//! What each authenticated route needs: the one table the middleware checks and the OpenAPI
//! document shows.
//!
//! The rule: every authenticated route is listed here. A route that is missing is refused to
//! everyone (and the unit test below fails), so a new route cannot ship open by accident.
//! Checks that depend on the body (a note PATCH that changes status, a version created
//! active) add the privileged scope in the area's handler.

use axum::http::Method;

use crate::accounts::roles::Scope;

/// What a route asks of its caller beyond a valid credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// This scope (a session holds its role's scopes).
    Scope(Scope),
    /// A dashboard session; the handler's `SessionUser` extractor refuses keys.
    Session,
    /// Any valid credential: the caller's own balance, usage and prices.
    Authenticated,
}

use Need::{Authenticated, Session};
use Scope::*;

const fn s(scope: Scope) -> Need {
    Need::Scope(scope)
}

/// (method, route template, need)
pub const TABLE: &[(&str, &str, Need)] = &[
    ("GET", "/api/auth/me", Session),
    ("POST", "/v1/keys", Session),
    ("GET", "/v1/keys", Session),
    ("DELETE", "/v1/keys/{id}", Session),
    ("POST", "/v1/provider-keys", Session),
    ("GET", "/v1/provider-keys", Session),
    ("DELETE", "/v1/provider-keys/{id}", Session),
    ("POST", "/v1/workspaces", Session),
    ("GET", "/v1/workspaces", Session),
    ("GET", "/v1/workspaces/{workspace_id}", Authenticated),
    ("PATCH", "/v1/workspaces/{workspace_id}", Session),
    ("GET", "/v1/users", s(Admin)),
    ("PATCH", "/v1/users/{id}", s(Admin)),
    ("POST", "/v1/sources", s(SourcesWrite)),
    ("GET", "/v1/sources", s(SourcesRead)),
    ("GET", "/v1/sources/{id}", s(SourcesRead)),
    ("DELETE", "/v1/sources/{id}", s(SourcesWrite)),
    ("POST", "/v1/sources/{id}/reindex", s(SourcesWrite)),
    ("GET", "/v1/documents/{id}", s(SourcesRead)),
    ("GET", "/v1/documents/{id}/chunks", s(SourcesRead)),
    ("POST", "/v1/search", s(SourcesRead)),
    ("POST", "/v1/memory/notes", s(MemoryWrite)),
    ("GET", "/v1/memory/notes", s(MemoryRead)),
    ("GET", "/v1/memory/notes/{id}", s(MemoryRead)),
    ("PATCH", "/v1/memory/notes/{id}", s(MemoryWrite)),
    ("DELETE", "/v1/memory/notes/{id}", s(MemoryWrite)),
    ("POST", "/v1/memory/notes/{id}/approve", s(Review)),
    ("POST", "/v1/memory/notes/{id}/reject", s(Review)),
    ("GET", "/v1/memory/notes/{id}/history", s(MemoryRead)),
    ("POST", "/v1/memory/entities", s(MemoryWrite)),
    ("GET", "/v1/memory/entities", s(MemoryRead)),
    ("PATCH", "/v1/memory/entities/{id}", s(MemoryWrite)),
    ("POST", "/v1/memory/links", s(MemoryWrite)),
    ("GET", "/v1/memory/links", s(MemoryRead)),
    ("DELETE", "/v1/memory/links/{id}", s(MemoryWrite)),
    ("POST", "/v1/memory/events", s(MemoryWrite)),
    ("GET", "/v1/memory/events", s(MemoryRead)),
    ("POST", "/v1/memory/feedback", s(MemoryWrite)),
    ("POST", "/v1/memory/batch", s(MemoryWrite)),
    ("POST", "/v1/memory/conversations", s(MemoryWrite)),
    ("POST", "/v1/memory/context-pack", s(MemoryRead)),
    ("GET", "/v1/memory/context-packs/{pack_id}", s(MemoryRead)),
    ("POST", "/v1/memory/context", s(MemoryRead)),
    ("GET", "/v1/actions/policies", s(ActionsCheck)),
    ("POST", "/v1/actions/policies", s(Policy)),
    ("PUT", "/v1/actions/policies/{id}", s(Policy)),
    ("POST", "/v1/actions/check", s(ActionsCheck)),
    ("GET", "/v1/actions/approvals", s(ActionsCheck)),
    ("POST", "/v1/actions/approvals/{id}/decide", s(Review)),
    ("GET", "/v1/actions/audit", s(ActionsCheck)),
    ("POST", "/v1/actions/audit", s(ActionsReport)),
    ("GET", "/v1/harness/versions", s(Harness)),
    ("POST", "/v1/harness/versions", s(Harness)),
    ("POST", "/v1/harness/versions/{id}/activate", s(Review)),
    ("GET", "/v1/harness/missions", s(Harness)),
    ("POST", "/v1/harness/missions", s(Harness)),
    ("GET", "/v1/harness/missions/{id}", s(Harness)),
    ("PATCH", "/v1/harness/missions/{id}", s(Harness)),
    ("POST", "/v1/harness/missions/{id}/steps", s(Harness)),
    (
        "PATCH",
        "/v1/harness/missions/{id}/steps/{step_id}",
        s(Harness),
    ),
    ("POST", "/v1/harness/missions/{id}/artifacts", s(Harness)),
    ("GET", "/v1/harness/traces", s(Harness)),
    ("POST", "/v1/harness/traces", s(Harness)),
    ("POST", "/v1/harness/feedback", s(Harness)),
    ("GET", "/v1/harness/reflections", s(Harness)),
    ("POST", "/v1/harness/reflections/generate", s(Harness)),
    ("POST", "/v1/chat/completions", s(Chat)),
    ("POST", "/v1/chat", s(Chat)),
    ("POST", "/v1/plan", s(Chat)),
    ("GET", "/stats", Authenticated),
    ("GET", "/stats/last", Authenticated),
    ("GET", "/stats/session", Authenticated),
    ("GET", "/cache-stats", Authenticated),
    ("GET", "/recent", Authenticated),
    ("POST", "/ingest", s(Chat)),
    ("POST", "/ingest/batch", s(Chat)),
    ("GET", "/v1/models", s(Chat)),
    ("GET", "/v1/pricing", Authenticated),
    ("POST", "/v1/embeddings", s(Embeddings)),
    ("GET", "/v1/usage", Authenticated),
    ("GET", "/v1/usage/breakdown", Authenticated),
    ("GET", "/v1/stats", Authenticated),
    ("GET", "/v1/balance", Authenticated),
    ("POST", "/v1/billing/add", s(Admin)),
    ("POST", "/v1/billing/checkout", Authenticated),
    ("POST", "/v1/local-endpoints", Session),
    ("GET", "/v1/local-endpoints", Session),
    ("GET", "/v1/local-endpoints/{id}", Session),
    ("PATCH", "/v1/local-endpoints/{id}", Session),
    ("DELETE", "/v1/local-endpoints/{id}", Session),
    ("POST", "/v1/local-endpoints/{id}/recheck", Session),
    ("GET", "/v1/local-endpoints/{id}/models", Session),
    ("GET", "/admin/v1/info", s(Admin)),
    ("POST", "/admin/v1/vault/unlock", s(Admin)),
    ("POST", "/admin/v1/vault/lock", s(Admin)),
    ("POST", "/admin/v1/vault/rotate", s(Admin)),
    ("POST", "/admin/v1/providers", s(Admin)),
    ("GET", "/admin/v1/providers", s(Admin)),
    ("PATCH", "/admin/v1/providers/{id}", s(Admin)),
    ("DELETE", "/admin/v1/providers/{id}", s(Admin)),
    ("GET", "/admin/v1/providers/{id}/discover", s(Admin)),
    ("POST", "/admin/v1/models", s(Admin)),
    ("GET", "/admin/v1/models", s(Admin)),
    ("PATCH", "/admin/v1/models/{id}", s(Admin)),
    ("DELETE", "/admin/v1/models/{id}", s(Admin)),
    ("GET", "/admin/v1/engine/models", s(Admin)),
    ("GET", "/admin/v1/routing-config", s(Admin)),
    ("PUT", "/admin/v1/routing-config", s(Admin)),
    ("POST", "/admin/v1/routing/simulate", s(Admin)),
    ("GET", "/admin/v1/health", s(Admin)),
    ("GET", "/admin/v1/stats", s(Admin)),
    ("GET", "/admin/v1/logs", s(Admin)),
    ("GET", "/admin/v1/audit", s(Admin)),
    ("GET", "/admin/v1/events", s(Admin)),
    ("GET", "/v1/events", s(Review)),
    ("GET", "/admin/v1/rewards", s(Admin)),
    ("GET", "/admin/v1/tsdb/query", s(Admin)),
    ("GET", "/admin/v1/tsdb/metrics", s(Admin)),
    ("POST", "/admin/v1/tsdb/prune", s(Admin)),
    ("PUT", "/admin/v1/tsdb/retention", s(Admin)),
    ("GET", "/admin/v1/workflows", s(Admin)),
    ("GET", "/admin/v1/workflows/{id}", s(Admin)),
    ("GET", "/admin/v1/workflows/{id}/history", s(Admin)),
    ("POST", "/admin/v1/apikeys", s(Admin)),
    ("GET", "/admin/v1/apikeys", s(Admin)),
    ("PATCH", "/admin/v1/apikeys/{id}", s(Admin)),
    ("DELETE", "/admin/v1/apikeys/{id}", s(Admin)),
    ("POST", "/admin/v1/apikeys/{id}/rotate", s(Admin)),
    // MCP: any credential reaches the endpoint; each tool needs its REST route's scope.
    ("POST", "/mcp", Authenticated),
    ("GET", "/mcp", Authenticated),
    ("DELETE", "/mcp", Authenticated),
];

/// What the route matched as `path` (a template) needs, or `None` for an unlisted route. A
/// catch-all segment (`{*id}`, for ids with slashes) is listed as the OpenAPI document names
/// it (`{id}`).
pub fn need(method: &Method, path: &str) -> Option<Need> {
    listed(method.as_str(), &path.replace("{*", "{"))
}

fn listed(method: &str, path: &str) -> Option<Need> {
    TABLE
        .iter()
        .find(|(m, p, _)| *p == path && m.eq_ignore_ascii_case(method))
        .map(|(_, _, need)| *need)
}

/// The OpenAPI words for a need: the scope's name, or none.
pub fn openapi_scopes(method: &str, path: &str) -> Vec<String> {
    match listed(method, path) {
        Some(Need::Scope(scope)) => vec![scope.as_str().to_string()],
        Some(Need::Session) => vec!["session".to_string()],
        Some(Need::Authenticated) | None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_authenticated_route_declares_what_it_needs() {
        let doc = crate::http::openapi::ApiDoc::openapi();
        let mut missing = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", item.get.as_ref()),
                ("POST", item.post.as_ref()),
                ("PATCH", item.patch.as_ref()),
                ("DELETE", item.delete.as_ref()),
                ("PUT", item.put.as_ref()),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let listed = TABLE.iter().any(|(m, p, _)| p == path && *m == method);
                if authenticated && !listed {
                    missing.push(format!("{method} {path}"));
                }
            }
        }
        assert!(missing.is_empty(), "routes without a need: {missing:?}");
    }

    #[test]
    fn privileged_routes_need_privileged_scopes() {
        let decide = need(&Method::POST, "/v1/actions/approvals/{id}/decide");
        assert_eq!(decide, Some(Need::Scope(Scope::Review)));
        let policy = need(&Method::POST, "/v1/actions/policies");
        assert_eq!(policy, Some(Need::Scope(Scope::Policy)));
        assert_eq!(need(&Method::GET, "/v1/nowhere"), None);
        let model = need(&Method::PATCH, "/admin/v1/models/{*id}");
        assert_eq!(model, Some(Need::Scope(Scope::Admin)));
    }
}
