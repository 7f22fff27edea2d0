//! `GET /admin/v1/events`: Server-Sent Events for the operator (seed 000 "Admin - Events").
//! Each event has an `id`; a client that reconnects with `Last-Event-ID` gets what it missed
//! first (`events::EventHub` keeps the last 1,000). A comment line every 15 s keeps idle
//! connections (and the proxies between) open; a client too slow for the stream is told how
//! many events it lost and goes on with the next.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::http::openapi::Authed;
use crate::state::AppState;

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
        (status = 200, content_type = "text/event-stream", description = "route_success, route_error ... as Server-Sent Events, with heartbeat comments"),
        (status = 400, body = crate::error::ErrorBody, description = "Last-Event-ID is not an event id")))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let sub = state.gateway.events.subscribe(last_event_id(&headers)?);
    let missed = stream::iter(sub.missed.into_iter().map(|e| Ok(sse(&e))));
    let live = stream::unfold(sub.live, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((Ok(sse(&e)), rx)),
                Err(RecvError::Lagged(n)) => {
                    let note = SseEvent::default().comment(format!("lagged: {n} events dropped"));
                    return Some((Ok(note), rx));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(missed.chain(live)).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
