//! `GET /v1/events`: the reviewers' live stream (the dashboard's review queue follows it):
//! `memory_note` (a note written: its id and status) and `approval` (an approval asked for or
//! decided) of the caller's workspaces only, with `Last-Event-ID` resume and heartbeats like
//! the operator's `/admin/v1/events`. Needs the `review` scope.

use std::collections::HashSet;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::routing::get;
use axum::Router;
use futures::stream::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::accounts::roles::Scope;
use crate::accounts::{workspaces, Principal};
use crate::error::ApiResult;
use crate::http::admin::events::follow;
use crate::http::extract::{ApiQuery, Auth};
use crate::http::openapi::{Authed, BadParams};
use crate::state::AppState;

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/v1/events", get(events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventParams {
    /// Only this workspace's events (default: every workspace the caller may use).
    pub workspace_id: Option<String>,
}

/// The workspaces (row ids) whose events the caller may follow.
async fn followed(
    state: &AppState,
    p: &Principal,
    slug: Option<&str>,
) -> ApiResult<HashSet<String>> {
    let bound = matches!(
        p,
        Principal::ApiKey {
            workspace: Some(_),
            ..
        }
    );
    if slug.is_some() || bound {
        let ws = workspaces::resolve(state.accounts.as_ref(), p, slug).await?;
        return Ok(HashSet::from([ws.id]));
    }
    let all = state.accounts.list_workspaces(p.account_id()).await?;
    Ok(all.into_iter().map(|w| w.id).collect())
}

#[utoipa::path(get, path = "/v1/events", tag = "memory", security(("bearer" = [])),
    params(EventParams, ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(Authed, BadParams,
        (status = 200, content_type = "text/event-stream", description = "memory_note and approval events of the caller's workspaces as Server-Sent Events, with heartbeat comments"),
        (status = 404, body = crate::error::ErrorBody, description = "Unknown workspace")))]
pub async fn events(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    p.require(Scope::Review)?;
    let mine = followed(&state, &p, q.workspace_id.as_deref()).await?;
    follow(state, p, &headers, Scope::Review, move |e| {
        matches!(e.kind, "memory_note" | "approval")
            && e.data["workspace_id"]
                .as_str()
                .is_some_and(|w| mine.contains(w))
    })
}
