//! MCP: Cairn's memory, knowledge base and guardrails as Model Context Protocol tools,
//! resources and a prompt, served over Streamable HTTP at `/mcp` with the official Rust SDK
//! (`rmcp`), and over stdio by `cairn mcp` (`stdio.rs`, a thin client of a running server).
//!
//! The rule: an MCP call is a REST call by another name. `/mcp` sits behind the same
//! authentication middleware as `/v1/*` (bearer key, rate limit), each tool needs the scope
//! its REST route needs (`Principal::require`), resolves the workspace the same way, and calls
//! the same area function, so policies, audit rows and usage see one path. An area's refusal
//! comes back as a tool error carrying the REST status and message, never as a protocol
//! failure. `/mcp` is one more HTTP route, so this lives in `http/` and shares its request
//! helpers (`extract`).

pub mod prompts;
pub mod resources;
pub mod stdio;
pub mod tools;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, GetPromptRequestParams, GetPromptResponse,
    Implementation, ListPromptsResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};

use crate::accounts::Principal;
use crate::error::ApiError;
use crate::state::AppState;

const INSTRUCTIONS: &str = "Cairn is your long-term memory and knowledge base. Before you answer \
or act, call context_pack with what you are about to do; cite its [n] markers. Save durable facts, \
preferences, decisions and lessons with remember. Before a consequential action call check_action \
and follow its decision; afterwards call report_action. Rate a pack's usefulness with feedback.";

/// The MCP server: one per session, each call answered for the principal of its own HTTP
/// request.
#[derive(Clone)]
pub struct CairnMcp {
    state: AppState,
}

/// The `/mcp` endpoint. Host checking is off: every request carries a bearer key (no cookie a
/// rebinding page could ride on), and an operator's own host names are not known here.
pub fn service(state: AppState) -> StreamableHttpService<CairnMcp, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    StreamableHttpService::new(
        move || {
            Ok(CairnMcp {
                state: state.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// The principal the authentication middleware put on this call's HTTP request.
fn principal(context: &RequestContext<RoleServer>) -> Result<Principal, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
        .ok_or_else(|| ErrorData::invalid_request("Missing Authorization header", None))
}

/// An area's refusal as a protocol error (resources and prompts, which have no error
/// result of their own): the REST status and message.
fn protocol_error(e: &ApiError) -> ErrorData {
    let message = format!("{} {}", e.status_code().as_u16(), e);
    match e {
        ApiError::NotFound(_) => ErrorData::resource_not_found(message, None),
        ApiError::BadRequest(_) | ApiError::Unprocessable(_) => {
            ErrorData::invalid_params(message, None)
        }
        ApiError::Internal(_) => ErrorData::internal_error(message, None),
        _ => ErrorData::invalid_request(message, None),
    }
}

impl ServerHandler for CairnMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_prompts()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("cairn", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let p = principal(&context)?;
        let args = request.arguments.unwrap_or_default();
        Ok(tools::call(&self.state, &p, &request.name, args)
            .await
            .into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let p = principal(&context)?;
        let cursor = request.and_then(|r| r.cursor);
        resources::list(&self.state, &p, cursor.as_deref())
            .await
            .map_err(|e| protocol_error(&e))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let p = principal(&context)?;
        resources::read(&self.state, &p, &request.uri)
            .await
            .map(Into::into)
            .map_err(|e| protocol_error(&e))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let p = principal(&context)?;
        prompts::get(&self.state, &p, &request.name, request.arguments)
            .await
            .map(Into::into)
            .map_err(|e| protocol_error(&e))
    }
}
