//! `POST /v1/memory/conversations`: a session of a conversation as its turns (speaker, text,
//! time), the way mem0's `add(messages)` and Zep's sessions take them. Each turn becomes a
//! note `Speaker: text`, valid from the turn's time (else the session's), titled with the
//! session's date, keyed by the session and the turn so a session sent again changes nothing,
//! and placed in the session's thread so context packs can add a hit's neighbours.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::memory::batch::{at, count};
use crate::memory::model::{BatchCounts, NoteInput};
use crate::memory::Memory;
use crate::store::memory::NoteStatus;
use crate::store::Workspace;
use crate::validate;

/// The `external_source` of turn notes; their `external_id` is `{session_id}/{turn id}`.
const TURN_SOURCE: &str = "conversation";
/// The kind of turn notes.
const TURN_KIND: &str = "turn";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationInput {
    pub workspace_id: Option<String>,
    /// The session's stable id (1-200 characters): its turns form one thread.
    pub session_id: String,
    /// When the session took place (RFC 3339): the turns' `valid_from` unless a turn gives its
    /// own `at`. Default now.
    pub started_at: Option<String>,
    /// The title packs show above the session's turns; default the session's date and time.
    pub title: Option<String>,
    /// approved (default) or pending (for a reviewer).
    pub status: Option<NoteStatus>,
    /// The turns in order (1 to `memory.max_batch_items`).
    pub messages: Vec<MessageInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    /// Who spoke: a name, or a role such as `user` or `assistant`.
    #[serde(alias = "role")]
    pub speaker: String,
    #[serde(alias = "text")]
    pub content: String,
    /// The turn's stable id within the session; default its position (`1`, `2`, ...).
    pub id: Option<String>,
    /// When the turn was said (RFC 3339); default the session's `started_at`.
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationResult {
    pub session_id: String,
    pub notes: BatchCounts,
    /// The turns' note ids, in input order.
    pub note_ids: Vec<String>,
    pub took_ms: f64,
}

/// A session, checked: its turns as note inputs.
struct Session {
    id: String,
    notes: Vec<NoteInput>,
}

fn check(input: ConversationInput, max_items: usize) -> ApiResult<Session> {
    let id = validate::text("session_id", &input.session_id, 200)?;
    validate::count("messages", input.messages.len(), 1, max_items, "turns")?;
    let started = validate::optional_timestamp("started_at", input.started_at.as_deref())?;
    let title = match validate::optional_text("title", input.title.as_deref(), 500)? {
        Some(t) => Some(t),
        None => started.as_deref().and_then(session_date),
    };
    let mut notes = Vec::with_capacity(input.messages.len());
    for (i, m) in input.messages.into_iter().enumerate() {
        let field = |f: &str| format!("messages[{i}].{f}");
        let speaker = validate::text(&field("speaker"), &m.speaker, validate::MAX_LABEL_CHARS)?;
        let content = validate::text(&field("content"), &m.content, validate::MAX_CONTENT_CHARS)?;
        let turn = match m.id.as_deref() {
            Some(t) => validate::text(&field("id"), t, 200)?,
            None => (i + 1).to_string(),
        };
        let at = validate::optional_timestamp(&field("at"), m.at.as_deref())?;
        notes.push(NoteInput {
            title: title.clone(),
            content: format!("{speaker}: {content}"),
            kind: Some(TURN_KIND.into()),
            status: input.status,
            external_source: Some(TURN_SOURCE.into()),
            external_id: Some(format!("{id}/{turn}")),
            valid_from: at.or_else(|| started.clone()),
            ..Default::default()
        });
    }
    Ok(Session { id, notes })
}

/// "8 May 2023, 13:56 UTC": what a reader needs to place the session in time.
fn session_date(at: &str) -> Option<String> {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(at).ok()?.to_utc();
    Some(t.format("%-d %B %Y, %H:%M UTC").to_string())
}

impl Memory {
    /// Writes a session's turns as notes in one transaction, one thread per session.
    pub async fn conversation(
        &self,
        ws: &Workspace,
        actor: &str,
        input: ConversationInput,
        max_items: usize,
    ) -> ApiResult<ConversationResult> {
        let started = std::time::Instant::now();
        let session = check(input, max_items)?;
        let thread = format!("{TURN_SOURCE}:{}", session.id);
        let (counts, note_ids) = self
            .write_one(ws, actor, async |plan| {
                let mut counts = BatchCounts::default();
                let mut note_ids = Vec::with_capacity(session.notes.len());
                for (i, note) in session.notes.into_iter().enumerate() {
                    plan.thread = Some((thread.clone(), i as i64));
                    let (row, outcome) = self
                        .plan_note(plan, note)
                        .await
                        .map_err(at(format!("messages[{i}]")))?;
                    count(&mut counts, outcome);
                    note_ids.push(row.id);
                }
                Ok((counts, note_ids))
            })
            .await?;
        Ok(ConversationResult {
            session_id: session.id,
            notes: counts,
            note_ids,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
