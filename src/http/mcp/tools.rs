//! The MCP tools: what each takes (a JSON Schema written for a model to read), the scope it
//! needs, and the one area call it makes: the same call as its REST route. A refusal is a
//! tool error whose text is the REST status and message.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::accounts::roles::Scope;
use crate::accounts::Principal;
use crate::context::model::ContextPackRequest;
use crate::error::{ApiError, ApiResult};
use crate::guard::model::{AuditInput, CheckInput};
use crate::harness::model::FeedbackInput;
use crate::http::extract::{from_value, workspace, writable};
use crate::memory::model::{NoteInput, NoteStatus};
use crate::sources::intake::{self, Items};
use crate::sources::model::{CreateSource, SearchHit, SearchRequest};
use crate::state::AppState;
use crate::store::Workspace;

/// `context_pack`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackArgs {
    /// What you are about to answer or do, in your own words; the pack is ranked against it.
    pub query: String,
    /// Most tokens of context to return (default 2000).
    pub budget: Option<usize>,
    /// Only memories of these kinds, e.g. ["preference", "decision"].
    pub kinds: Option<Vec<String>>,
    /// Answer with what was true at this time (RFC 3339, e.g. 2026-01-31T00:00:00Z); default now.
    pub as_of: Option<String>,
    /// Also include passages from the knowledge base (default true).
    pub include_sources: Option<bool>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `remember`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RememberArgs {
    /// The memory, one self-contained statement ("Dana prefers invoices in EUR").
    pub content: String,
    /// A short title.
    pub title: Option<String>,
    /// fact (default), preference, decision, lesson, or another label.
    pub kind: Option<String>,
    /// Labels to filter by later.
    pub tags: Option<Vec<String>>,
    /// 0 to 1 (default 0.5): how much this should weigh in future context.
    pub importance: Option<f64>,
    /// true when you inferred this rather than were told it: it waits for a reviewer.
    pub inferred: Option<bool>,
    /// The id of a note this one replaces (it stays in history).
    pub supersedes: Option<String>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `search`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for in the knowledge base.
    pub query: String,
    /// How many passages, 1 to 100 (default 10).
    pub limit: Option<usize>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `get_note` and `forget`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteArgs {
    /// The note's id (from context_pack citations or remember).
    pub id: String,
    /// Why it should be forgotten (forget only; kept in the note's history).
    pub reason: Option<String>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `add_source`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceArgs {
    /// An http(s) URL to fetch and ingest (give either url or text).
    pub url: Option<String>,
    /// Text to ingest as a document (give either url or text).
    pub text: Option<String>,
    /// The document's title.
    pub title: Option<String>,
    /// Labels to filter by later.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `check_action`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    /// The application you act for, e.g. "billing-agent".
    pub app: String,
    /// The tool you are about to call, e.g. "stripe.refund".
    pub tool_ref: String,
    /// What kind of action: read, write, delete, payment, email, ...
    pub action_type: String,
    /// The specific operation, e.g. "refund".
    pub operation: Option<String>,
    /// low, medium, high or critical.
    pub risk_level: Option<String>,
    /// Money the action would spend, in USD.
    pub requested_amount_usd: Option<f64>,
    /// The mission this action belongs to.
    pub mission_id: Option<String>,
    /// Anything else a reviewer should see.
    pub metadata: Option<Value>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `report_action`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportArgs {
    /// What happened: executed, failed or blocked.
    pub event: String,
    /// The tool you called.
    pub tool_ref: Option<String>,
    /// The kind of action (as in check_action).
    pub action_type: Option<String>,
    /// The application you act for.
    pub app: Option<String>,
    /// The approval id check_action returned, if it needed one.
    pub approval_id: Option<String>,
    /// Money actually spent, in USD.
    pub amount_usd: Option<f64>,
    /// The mission this action belongs to.
    pub mission_id: Option<String>,
    /// Details of the outcome.
    pub detail: Option<Value>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// `feedback`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackArgs {
    /// The trace_id a context_pack returned.
    pub trace_id: String,
    /// -5 (harmful) to 5 (exactly right): moves the pack's memories up or down next time.
    pub rating: Option<f64>,
    /// success, failure or partial.
    pub outcome: Option<String>,
    /// What was good or missing.
    pub comment: Option<String>,
    /// A lesson to keep as a memory (reviewed before it is used).
    pub remember_text: Option<String>,
    /// The workspace (slug), when your key may act in more than one.
    pub workspace_id: Option<String>,
}

/// (name, description, schema, read-only)
fn tool<T: JsonSchema + 'static>(
    name: &'static str,
    description: &'static str,
    read_only: bool,
) -> Tool {
    let schema = rmcp::handler::server::common::schema_for_type::<T>();
    Tool::new(name, description, schema)
        .with_annotations(ToolAnnotations::new().read_only(read_only))
}

/// Every tool, as `tools/list` shows them.
pub fn list() -> Vec<Tool> {
    vec![
        tool::<PackArgs>("context_pack", "Call before every reply or action: the memories and knowledge-base passages relevant to `query`, ranked and cut to a token budget, each cited with an [n] marker. Returns the context text, the cited items and a trace_id for feedback.", true),
        tool::<RememberArgs>("remember", "Save one durable memory (fact, preference, decision, lesson). The workspace's policies may keep it pending until a person reviews it.", false),
        tool::<SearchArgs>("search", "Search the knowledge base (uploaded files, web pages, records): passages with their source, title and URL.", true),
        tool::<NoteArgs>("get_note", "Read one memory note by id: its content, kind, status, validity and history pointers.", true),
        tool::<NoteArgs>("forget", "Forget a memory note by id (it stays in its history, no longer used in context).", false),
        tool::<SourceArgs>("add_source", "Add a URL or a text to the knowledge base; it is searchable when this returns.", false),
        tool::<CheckArgs>("check_action", "Ask before a consequential action (payments, emails, deletes, external writes). Answers allow, require_approval (wait for a person; an approval_id is returned) or deny, with reasons. Follow the decision.", false),
        tool::<ReportArgs>("report_action", "Report what you did after acting: executed, failed or blocked, with the approval id if there was one.", false),
        tool::<FeedbackArgs>("feedback", "Rate how useful a context pack was (by its trace_id): good ratings lift its memories next time, bad ones lower them.", false),
    ]
}

/// Runs tool `name` for `p` with `args`: its result, or a tool error with the REST status and
/// message.
pub async fn call(state: &AppState, p: &Principal, name: &str, args: JsonObject) -> CallToolResult {
    match run(state, p, name, Value::Object(args)).await {
        Ok((text, value)) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            result.structured_content = Some(value);
            result
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{} {}",
            e.status_code().as_u16(),
            e
        ))]),
    }
}

/// One REST body type made from a tool's arguments (same field names).
fn body<T: DeserializeOwned>(args: impl Serialize) -> ApiResult<T> {
    serde_json::to_value(args)
        .map_err(|e| ApiError::Internal(e.into()))
        .and_then(from_value)
}

/// The scope's check, then the workspace the arguments name (or the key's own).
async fn scoped(
    state: &AppState,
    p: &Principal,
    scope: Scope,
    slug: Option<&str>,
) -> ApiResult<Workspace> {
    p.require(scope)?;
    workspace(state, p, slug).await
}

fn json_of(v: impl Serialize) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into()))
}

/// (text for the model, the whole answer as structured content)
type Answer = (String, Value);

async fn run(state: &AppState, p: &Principal, name: &str, value: Value) -> ApiResult<Answer> {
    match name {
        "context_pack" => context_pack(state, p, from_value(value)?).await,
        "remember" => remember(state, p, from_value(value)?).await,
        "search" => search(state, p, from_value(value)?).await,
        "get_note" => get_note(state, p, from_value(value)?).await,
        "forget" => forget(state, p, from_value(value)?).await,
        "add_source" => add_source(state, p, from_value(value)?).await,
        "check_action" => check_action(state, p, from_value(value)?).await,
        "report_action" => report_action(state, p, from_value(value)?).await,
        "feedback" => feedback(state, p, from_value(value)?).await,
        other => Err(ApiError::bad_request(format!(
            "name: no tool named {other}; tools/list names them"
        ))),
    }
}

async fn context_pack(state: &AppState, p: &Principal, a: PackArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::MemoryRead, a.workspace_id.as_deref()).await?;
    let req = ContextPackRequest {
        query: a.query,
        max_tokens: a.budget,
        include_sources: Some(a.include_sources.unwrap_or(true)),
        kinds: a.kinds,
        as_of: a.as_of,
        ..Default::default()
    };
    let pack = state.context.build(&ws, req).await?;
    let mut text = if pack.context.is_empty() {
        "Nothing relevant in memory or the knowledge base.".to_string()
    } else {
        pack.context.clone()
    };
    if let Some(trace) = &pack.trace_id {
        text.push_str(&format!(
            "\n\n(trace_id {trace}: rate this context with feedback)"
        ));
    }
    Ok((text, json_of(&pack)?))
}

async fn remember(state: &AppState, p: &Principal, a: RememberArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::MemoryWrite, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let input: NoteInput = body(RememberArgs {
        workspace_id: None,
        ..a
    })?;
    let (note, _) = state.memory.create_note(&ws, &p.actor(), input).await?;
    let text = format!("Remembered as note {} ({}).", note.id, note.status.as_str());
    Ok((text, json_of(&note)?))
}

async fn search(state: &AppState, p: &Principal, a: SearchArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::SourcesRead, a.workspace_id.as_deref()).await?;
    let req: SearchRequest = body(json!({"query": a.query, "limit": a.limit}))?;
    let found = state.sources.search(&ws, req).await?;
    Ok((passages(&found.data), json_of(&found)?))
}

/// The search hits as numbered passages with their titles.
fn passages(hits: &[SearchHit]) -> String {
    if hits.is_empty() {
        return "No passages matched.".to_string();
    }
    hits.iter()
        .enumerate()
        .map(|(i, h)| {
            let c = &h.citation;
            let title = c
                .title
                .as_deref()
                .or(c.url.as_deref())
                .unwrap_or("untitled");
            format!("[{}] {title}\n{}", i + 1, h.text)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

async fn get_note(state: &AppState, p: &Principal, a: NoteArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::MemoryRead, a.workspace_id.as_deref()).await?;
    let note = state.memory.get_note(&ws, &a.id).await?;
    Ok((note.content.clone(), json_of(&note)?))
}

async fn forget(state: &AppState, p: &Principal, a: NoteArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::MemoryWrite, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let note = state
        .memory
        .set_status(&ws, &p.actor(), &a.id, NoteStatus::Forgotten, a.reason)
        .await?;
    let value = json!({"id": note.id, "status": note.status, "forgotten": true});
    Ok((format!("Forgot note {}.", note.id), value))
}

async fn add_source(state: &AppState, p: &Principal, a: SourceArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::SourcesWrite, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let req: CreateSource = body(SourceArgs {
        workspace_id: None,
        ..a
    })?;
    let intake = intake::from_json(req, state.sources.settings.max_records)?;
    let Items::One(pending) = intake.items else {
        return Err(ApiError::bad_request("give url or text"));
    };
    let (_, view) = state.sources.create(&ws, *pending, intake.wait).await?;
    let text = format!(
        "Source {} is {}{}.",
        view.id,
        view.status,
        view.document_id
            .as_deref()
            .map(|d| format!(" (document {d})"))
            .unwrap_or_default()
    );
    Ok((text, json_of(&view)?))
}

async fn check_action(state: &AppState, p: &Principal, a: CheckArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::ActionsCheck, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let input: CheckInput = body(CheckArgs {
        workspace_id: None,
        ..a
    })?;
    let result = crate::http::actions::check_action(state, &ws, p, input).await?;
    let value = json_of(&result)?;
    let text = format!(
        "{}{}",
        value["decision"].as_str().unwrap_or_default(),
        result
            .reasons
            .first()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    Ok((text, value))
}

async fn report_action(state: &AppState, p: &Principal, a: ReportArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::ActionsReport, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let input: AuditInput = body(ReportArgs {
        workspace_id: None,
        ..a
    })?;
    let (row, _) = state.guard.record(&ws, &p.actor(), input).await?;
    Ok((format!("Recorded as audit row {}.", row.id), json_of(&row)?))
}

async fn feedback(state: &AppState, p: &Principal, a: FeedbackArgs) -> ApiResult<Answer> {
    let ws = scoped(state, p, Scope::Harness, a.workspace_id.as_deref()).await?;
    writable(&ws)?;
    let input: FeedbackInput = body(FeedbackArgs {
        workspace_id: None,
        ..a
    })?;
    let result = state.harness.feedback(&ws, &p.actor(), input).await?;
    let text = format!("Thanks: {} items rated.", result.items_rated);
    Ok((text, json_of(&result)?))
}
