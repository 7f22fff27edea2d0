//! MCP prompts: `answer_with_memory` wraps a question in the context pack built for it, so a
//! client without tool use still answers from Cairn's memory, with citations.

use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};

use crate::accounts::roles::Scope;
use crate::accounts::Principal;
use crate::context::model::ContextPackRequest;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::workspace;
use crate::state::AppState;

const NAME: &str = "answer_with_memory";

pub fn list() -> Vec<Prompt> {
    vec![Prompt::new(
        NAME,
        Some("Answer a question from your memory and knowledge base, citing them."),
        Some(vec![PromptArgument::new("question")
            .with_description("What to answer")
            .with_required(true)]),
    )]
}

/// The prompt `name` filled in for `p`: the question with its context pack.
pub async fn get(
    state: &AppState,
    p: &Principal,
    name: &str,
    arguments: Option<JsonObject>,
) -> ApiResult<GetPromptResult> {
    if name != NAME {
        return Err(ApiError::bad_request(format!(
            "name: no prompt named {name}"
        )));
    }
    let question = arguments
        .as_ref()
        .and_then(|a| a.get("question"))
        .and_then(|q| q.as_str())
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ApiError::bad_request("question: required"))?
        .to_string();
    p.require(Scope::MemoryRead)?;
    let ws = workspace(state, p, None).await?;
    let req = ContextPackRequest {
        query: question.clone(),
        include_sources: Some(true),
        ..Default::default()
    };
    let pack = state.context.build(&ws, req).await?;
    let text =
        format!(
        "Answer the question using the context below; cite the [n] markers you rely on, and say \
so when the context does not answer it.\n\nContext:\n{}\n\nQuestion: {question}",
        if pack.context.is_empty() { "(nothing relevant)" } else { &pack.context }
    );
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description("A question with the context Cairn found for it"),
    )
}
