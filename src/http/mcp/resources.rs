//! MCP resources: the workspace's memory notes (`cairn://notes/{id}`) and knowledge-base
//! documents (`cairn://documents/{id}`), listed a page at a time (notes first, then
//! documents) and read by URI. A key sees the kinds its scopes allow (`memory:read`,
//! `sources:read`) in its own workspace, as over REST.

use rmcp::model::{ListResourcesResult, ReadResourceResult, Resource, ResourceContents};

use crate::accounts::roles::Scope;
use crate::accounts::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::workspace;
use crate::state::AppState;
use crate::store::memory::NoteFilter;
use crate::store::sources::SourceFilter;
use crate::store::Workspace;
use crate::validate::decode_cursor;

const PAGE: i64 = 50;
const NOTES: &str = "cairn://notes/";
const DOCUMENTS: &str = "cairn://documents/";

/// Where a listing stands: in the notes or in the sources, after the REST cursor given.
enum Stage {
    Notes(Option<String>),
    Sources(Option<String>),
}

fn stage_of(cursor: Option<&str>) -> ApiResult<Stage> {
    let rest = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match cursor {
        None => Ok(Stage::Notes(None)),
        Some(c) => match c.split_once(':') {
            Some(("notes", r)) => Ok(Stage::Notes(rest(r))),
            Some(("sources", r)) => Ok(Stage::Sources(rest(r))),
            _ => Err(ApiError::bad_request(
                "cursor: not a cursor this server gave",
            )),
        },
    }
}

/// One page of resources after `cursor`: the notes' pages, then the documents'.
pub async fn list(
    state: &AppState,
    p: &Principal,
    cursor: Option<&str>,
) -> ApiResult<ListResourcesResult> {
    let ws = workspace(state, p, None).await?;
    let scopes = p.scopes();
    match stage_of(cursor)? {
        Stage::Notes(after) => {
            if scopes.has(Scope::MemoryRead) {
                let (items, next) = notes_page(state, &ws, after).await?;
                if next.is_some() || !items.is_empty() {
                    let next = next.map(|c| format!("notes:{c}"));
                    return Ok(with_next(items, next.or(Some("sources:".into()))));
                }
            }
            sources_page(state, &ws, scopes.has(Scope::SourcesRead), None).await
        }
        Stage::Sources(after) => {
            sources_page(state, &ws, scopes.has(Scope::SourcesRead), after).await
        }
    }
}

/// A page of the workspace's notes and the REST cursor of the next one.
async fn notes_page(
    state: &AppState,
    ws: &Workspace,
    after: Option<String>,
) -> ApiResult<(Vec<Resource>, Option<String>)> {
    let filter = NoteFilter {
        status: None,
        kind: None,
        tag: None,
        before: decode_cursor(after.as_deref())?,
        limit: PAGE,
    };
    let page = state.memory.list_notes(ws, filter).await?;
    let items = page.data.iter().map(|n| {
        let name = n.title.clone().unwrap_or_else(|| short(&n.content));
        Resource::new(format!("{NOTES}{}", n.id), name)
            .with_description(format!("{} note, {}", n.kind, n.status.as_str()))
            .with_mime_type("application/json")
    });
    Ok((items.collect(), page.next_cursor))
}

/// A page of the workspace's ready documents (none without `sources:read`).
async fn sources_page(
    state: &AppState,
    ws: &Workspace,
    allowed: bool,
    after: Option<String>,
) -> ApiResult<ListResourcesResult> {
    if !allowed {
        return Ok(ListResourcesResult::default());
    }
    let filter = SourceFilter {
        status: Some("ready".into()),
        tag: None,
        before: decode_cursor(after.as_deref())?,
        limit: PAGE,
    };
    let page = state.sources.list(ws, filter).await?;
    let items = page
        .data
        .iter()
        .filter_map(|s| {
            let doc = s.document_id.as_ref()?;
            let name = s.title.clone().or(s.url.clone()).or(s.filename.clone());
            Some(
                Resource::new(
                    format!("{DOCUMENTS}{doc}"),
                    name.unwrap_or_else(|| doc.clone()),
                )
                .with_mime_type("text/plain"),
            )
        })
        .collect();
    let next = page.next_cursor.map(|c| format!("sources:{c}"));
    Ok(with_next(items, next))
}

fn with_next(items: Vec<Resource>, next: Option<String>) -> ListResourcesResult {
    let mut result = ListResourcesResult::with_all_items(items);
    result.next_cursor = next;
    result
}

/// The first words of a note, as its name when it has no title.
fn short(content: &str) -> String {
    let mut name: String = content.chars().take(60).collect();
    if name.len() < content.len() {
        name.push('…');
    }
    name
}

/// The resource at `uri`: a note as JSON, a document as its text.
pub async fn read(state: &AppState, p: &Principal, uri: &str) -> ApiResult<ReadResourceResult> {
    let ws = workspace(state, p, None).await?;
    if let Some(id) = uri.strip_prefix(NOTES) {
        p.require(Scope::MemoryRead)?;
        let note = state.memory.get_note(&ws, id).await?;
        let text = serde_json::to_string_pretty(&note).map_err(|e| ApiError::Internal(e.into()))?;
        return Ok(ReadResourceResult::new(vec![
            ResourceContents::TextResourceContents {
                uri: uri.to_string(),
                mime_type: Some("application/json".into()),
                text,
                meta: None,
            },
        ]));
    }
    if let Some(id) = uri.strip_prefix(DOCUMENTS) {
        p.require(Scope::SourcesRead)?;
        let doc = state.sources.document(&ws, id).await?;
        let text = match doc.title {
            Some(t) => format!("# {t}\n\n{}", doc.text.unwrap_or_default()),
            None => doc.text.unwrap_or_default(),
        };
        return Ok(ReadResourceResult::new(vec![ResourceContents::text(
            text, uri,
        )]));
    }
    Err(ApiError::bad_request(format!(
        "uri: expected {NOTES}{{id}} or {DOCUMENTS}{{id}}, got {uri}"
    )))
}
