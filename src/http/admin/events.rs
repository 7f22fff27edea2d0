//! `GET /admin/v1/events`: Server-Sent Events for the operator (seed 000 "Admin - Events").
//! Each event has an `id`; a client that reconnects with `Last-Event-ID` gets what it missed
//! first (`events::EventHub` keeps the last 1,000). A comment line every 15 s keeps idle
//! connections (and the proxies between) open; a client too slow for the stream is told how
//! many events it lost and goes on with the next. The credential is checked again every 15 s:
//! a key revoked, disabled, expired or stripped of `admin` (or a user no longer admin) ends
//! the stream. [`follow`] serves the reviewers' stream (`GET /v1/events`) the same way.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::accounts::roles::Scope;
use crate::accounts::Principal;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::http::extract::Auth;
use crate::http::openapi::Authed;
use crate::state::AppState;
use crate::store::time::now;

const HEARTBEAT: Duration = Duration::from_secs(15);

fn sse(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind)
        .data(e.data.to_string())
}

fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    match headers.get("last-event-id") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID: expected an event id")),
    }
}

#[utoipa::path(get, path = "/admin/v1/events", tag = "admin", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id")),
    responses(Authed,
        (status = 200, content_type = "text/event-stream", description = "route_success, route_error, memory_note, approval ... as Server-Sent Events, with heartbeat comments"),
        (status = 400, body = crate::error::ErrorBody, description = "Last-Event-ID is not an event id")))]
pub async fn events(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    follow(state, p, &headers, Scope::Admin, |_| true)
}

/// The live stream of the events `keep` lets through, from after `Last-Event-ID`, ending when
/// the credential that opened it no longer holds `scope`.
pub fn follow(
    state: AppState,
    p: Principal,
    headers: &HeaderMap,
    scope: Scope,
    keep: impl Fn(&Event) -> bool + Send + Sync + 'static,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let sub = state.gateway.events.subscribe(last_event_id(headers)?);
    let keep = std::sync::Arc::new(keep);
    let kept = keep.clone();
    let missed = stream::iter(
        sub.missed
            .into_iter()
            .filter(move |e| kept(e))
            .map(|e| Ok(sse(&e))),
    );
    let live = stream::unfold((sub.live, keep), |(mut rx, keep)| async move {
        loop {
            match rx.recv().await {
                Ok(e) if keep(&e) => return Some((Ok(sse(&e)), (rx, keep))),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    let note = SseEvent::default().comment(format!("lagged: {n} events dropped"));
                    return Some((Ok(note), (rx, keep)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    let revoked = async move {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if !still_allowed(&state, &p, scope).await {
                return;
            }
        }
    };
    let stream = missed.chain(live).take_until(revoked);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// Whether the credential that opened the stream would still be let in with `scope` (a
/// store error: no).
async fn still_allowed(state: &AppState, p: &Principal, scope: Scope) -> bool {
    match p {
        Principal::ApiKey { key_id, .. } => match state.accounts.key_by_id(key_id).await {
            Ok(Some(k)) => {
                let expired = k
                    .expires_at
                    .as_deref()
                    .is_some_and(|at| at <= now().as_str());
                let scopes = crate::accounts::keys::key_scopes(k.scopes.as_ref());
                k.enabled && !expired && scopes.has(scope)
            }
            _ => false,
        },
        Principal::Session { user_id, .. } => match state.accounts.user_by_id(user_id).await {
            Ok(Some(u)) => u
                .role
                .parse::<crate::accounts::roles::Role>()
                .is_ok_and(|r| r.scopes().has(scope)),
            _ => false,
        },
    }
}
