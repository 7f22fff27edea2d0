//! Extractors: the request's parts (body, query, path), the authenticated principal, the
//! workspace it acts in and the client IP.
//!
//! The rule: every extractor a handler uses rejects with [`ApiError`], so every refusal is the
//! JSON error shape and a 400 names the field or parameter. Handlers use [`ApiJson`],
//! [`ApiQuery`] and [`ApiPath`], never axum's `Json`, `Query` or `Path` (whose rejections are
//! `text/plain`).

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::accounts::roles::Role;
use crate::accounts::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Workspace;

/// A JSON body. Malformed JSON, a wrong type or an unknown enum value is a 400 whose message
/// names the field; a body over `server.max_body_bytes` is a 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: an empty body is `T::default()`, anything else is read as [`ApiJson`].
pub struct MaybeJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_json(&bytes).map(MaybeJson)
    }
}

/// The whole body, within `server.max_body_bytes` (413 beyond it).
async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(state.config.server.max_body_bytes)
        } else {
            ApiError::bad_request(format!(
                "could not read the request body: {}",
                e.body_text()
            ))
        }
    })
}

/// Query parameters. A wrong type or an unknown parameter is a 400 whose message names the
/// parameter (`limit: invalid digit found in string`).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| Self(value))
            .map_err(|rejection| {
                // axum's text is "Failed to deserialize query string: <param>: <why>"; the
                // parameter and the reason are what a client can act on.
                let text = rejection.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::bad_request(why)
            })
    }
}

/// Path parameters. A segment that is not valid UTF-8 or not of the expected type is a 400
/// naming the parameter.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status().is_server_error() => Err(ApiError::Internal(
                anyhow::anyhow!("path parameters: {}", rejection.body_text()),
            )),
            Err(rejection) => {
                // axum's text is "Invalid URL: <why>", where <why> names the parameter.
                let text = rejection.body_text();
                let why = text.strip_prefix("Invalid URL: ").unwrap_or(&text);
                Err(ApiError::bad_request(format!("path: {why}")))
            }
        }
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty; expected a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| describe(&e))?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// A JSON value already parsed (an MCP tool's arguments) as `T`: the same 400 naming the
/// field that a request body gets.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| describe(&e))
}

fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_json::error::Category;
    let inner = e.inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request(format!("malformed JSON: {inner}"))
        }
        Category::Data => {
            let path = e.path().to_string();
            let message = strip_position(&inner.to_string());
            if path == "." || path.is_empty() {
                ApiError::bad_request(message)
            } else {
                ApiError::bad_request(format!("{path}: {message}"))
            }
        }
    }
}

/// serde_json appends " at line L column C"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Any authenticated caller: a session or a runtime API key.
pub struct Auth(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| ApiError::Unauthorized("Missing Authorization header".into()))
    }
}

/// A dashboard session. Runtime API keys get 403, as management routes require.
pub struct SessionUser {
    pub user_id: String,
    pub account_id: String,
    pub role: Role,
}

impl SessionUser {
    pub fn principal(&self) -> Principal {
        Principal::Session {
            user_id: self.user_id.clone(),
            account_id: self.account_id.clone(),
            role: self.role,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Session {
                user_id,
                account_id,
                role,
            } => Ok(Self {
                user_id,
                account_id,
                role,
            }),
            Principal::ApiKey { .. } => Err(ApiError::SessionRequired),
        }
    }
}

/// The client's IP: the peer address, or the right-most `X-Forwarded-For` entry when
/// `server.trust_forwarded_for` is on.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(client_ip(
            &parts.headers,
            &parts.extensions,
            state.config.server.trust_forwarded_for,
        )))
    }
}

pub fn client_ip(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded: bool,
) -> IpAddr {
    if trust_forwarded {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            // The right-most entry is the one our trusted proxy appended; entries to its
            // left come from the client and can be forged.
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The caller, the workspace the request acts in and the route's query parameters `Q`, whose
/// `workspace_id` names the workspace (for routes without a body; body routes use
/// [`workspace`]). A bad query is a 400 naming the parameter; an unknown workspace, or one a
/// bound key may not see, is a 404.
pub struct Scope<Q = WorkspaceParam> {
    pub principal: Principal,
    pub workspace: Workspace,
    pub query: Q,
}

/// Query parameters that may name the request's workspace.
pub trait NamesWorkspace {
    fn workspace_slug(&self) -> Option<&str>;
}

/// The query of routes whose only parameter is the workspace.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceParam {
    pub workspace_id: Option<String>,
}

macro_rules! names_workspace {
    ($($query:ty),* $(,)?) => {
        $(impl NamesWorkspace for $query {
            fn workspace_slug(&self) -> Option<&str> {
                self.workspace_id.as_deref()
            }
        })*
    };
}

names_workspace!(
    WorkspaceParam,
    crate::memory::model::NoteListParams,
    crate::memory::model::EntityListParams,
    crate::memory::model::LinkListParams,
    crate::memory::model::EventListParams,
    crate::guard::model::ApprovalParams,
    crate::guard::model::AuditParams,
    crate::harness::model::ListParams,
    crate::harness::model::MissionListParams,
    crate::harness::model::TraceListParams,
    crate::http::memory::ForgetParams,
    crate::http::sources::ListParams,
    crate::memory::model::NoteInput,
    crate::memory::conversations::ConversationInput,
    crate::memory::model::NotePatch,
    crate::memory::model::EntityInput,
    crate::memory::model::EntityPatch,
    crate::memory::model::LinkInput,
    crate::memory::model::EventInput,
    crate::memory::model::FeedbackInput,
    crate::memory::model::BatchInput,
    crate::context::model::ContextPackRequest,
    crate::context::model::ContextRequest,
    crate::guard::model::PolicyInput,
    crate::guard::model::CheckInput,
    crate::guard::model::DecideInput,
    crate::guard::model::AuditInput,
    crate::harness::model::VersionInput,
    crate::harness::model::MissionInput,
    crate::harness::model::MissionPatch,
    crate::harness::model::StepInput,
    crate::harness::model::StepPatch,
    crate::harness::model::ArtifactInput,
    crate::harness::model::TraceInput,
    crate::harness::model::FeedbackInput,
    crate::harness::model::ReflectInput,
    crate::sources::model::SearchRequest,
);

impl<Q> FromRequestParts<AppState> for Scope<Q>
where
    Q: DeserializeOwned + NamesWorkspace + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        let ApiQuery(query) = ApiQuery::<Q>::from_request_parts(parts, state).await?;
        let workspace = workspace(state, &principal, query.workspace_slug()).await?;
        refuse_archived(&parts.method, &workspace)?;
        Ok(Self {
            principal,
            workspace,
            query,
        })
    }
}

/// The caller, the workspace the request acts in and the JSON body `T`, whose `workspace_id`
/// field names the workspace (the body counterpart of [`Scope`]). The body is read as
/// [`ApiJson`] first, so a malformed body is a 400 before an unknown workspace is a 404.
pub struct ScopedJson<T> {
    pub principal: Principal,
    pub workspace: Workspace,
    pub body: T,
}

impl<T> FromRequest<AppState> for ScopedJson<T>
where
    T: DeserializeOwned + NamesWorkspace + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Auth(principal) = Auth::from_request_parts(&mut parts, state).await?;
        let method = parts.method.clone();
        let read_only = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .is_some_and(|p| READ_ONLY_POSTS.contains(&p.as_str()));
        let req = Request::from_parts(parts, body);
        let ApiJson(body) = ApiJson::<T>::from_request(req, state).await?;
        let slug = body.workspace_slug().map(str::to_owned);
        let workspace = workspace(state, &principal, slug.as_deref()).await?;
        if !read_only {
            refuse_archived(&method, &workspace)?;
        }
        Ok(Self {
            principal,
            workspace,
            body,
        })
    }
}

/// The workspace `slug` names, scoped to the caller: what [`Scope`] and [`ScopedJson`] use, and
/// the requests whose workspace is neither a query parameter nor a JSON body field (an optional
/// body, a multipart form) call.
pub async fn workspace(
    state: &AppState,
    principal: &Principal,
    slug: Option<&str>,
) -> Result<Workspace, ApiError> {
    crate::accounts::workspaces::resolve(state.accounts.as_ref(), principal, slug).await
}

/// The workspace `slug` names for this session, when it names one (404 for one it cannot use).
pub async fn named_workspace(
    state: &AppState,
    session: &SessionUser,
    slug: Option<&str>,
) -> Result<Option<Workspace>, ApiError> {
    match slug {
        Some(slug) => Ok(Some(
            workspace(state, &session.principal(), Some(slug)).await?,
        )),
        None => Ok(None),
    }
}

/// POST routes that only read (a search, a context pack): allowed in an archived workspace.
const READ_ONLY_POSTS: [&str; 3] = [
    "/v1/search",
    "/v1/memory/context-pack",
    "/v1/memory/context",
];

/// Reads pass; a write to an archived workspace is refused ([`writable`]).
fn refuse_archived(method: &axum::http::Method, ws: &Workspace) -> Result<(), ApiError> {
    let reads = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD);
    if reads {
        return Ok(());
    }
    writable(ws)
}

/// An archived workspace keeps its data readable and refuses every write (409).
pub fn writable(ws: &Workspace) -> Result<(), ApiError> {
    if ws.status != "archived" {
        return Ok(());
    }
    Err(ApiError::Conflict(format!(
        "workspace {} is archived and refuses writes; set its status to active to write again",
        ws.workspace_id
    )))
}

/// 201 for a new row, 200 for an update or an unchanged upsert.
pub fn written<T: serde::Serialize>(body: T, created: bool) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}
