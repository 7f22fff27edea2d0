//! `/v1/actions/*`: policies, checks, approvals and the audit trail. Every route acts in one
//! workspace: [`Scope`] (named by the query)
//! or [`ScopedJson`] (named by the body's `workspace_id`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};

use crate::accounts::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::guard::model::{
    ApprovalList, ApprovalParams, AuditInput, AuditList, AuditParams, CheckInput, CheckResult,
    DecideInput, PolicyInput, PolicyList,
};
use crate::http::extract::{written, ApiPath, Scope, ScopedJson, WorkspaceParam};
use crate::http::openapi::{JsonBody, Scoped};
use crate::state::AppState;
use crate::store::guard::{ApprovalRow, AuditFilter, AuditRow, PolicyRow};
use crate::store::Workspace;
use crate::validate::{decode_cursor, limit};

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/actions/policies",
            get(list_policies).post(create_policy),
        )
        .route("/v1/actions/policies/{id}", put(replace_policy))
        .route("/v1/actions/check", post(check))
        .route("/v1/actions/approvals", get(list_approvals))
        .route("/v1/actions/approvals/{id}/decide", post(decide))
        .route("/v1/actions/audit", get(list_audit).post(record_audit))
}

#[utoipa::path(get, path = "/v1/actions/policies", tag = "actions", security(("bearer" = [])), params(WorkspaceParam),
    responses(Scoped, (status = 200, body = PolicyList)))]
pub async fn list_policies(
    State(state): State<AppState>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<PolicyList>> {
    Ok(Json(state.guard.list_policies(&ws).await?))
}

#[utoipa::path(post, path = "/v1/actions/policies", tag = "actions", security(("bearer" = [])), request_body = PolicyInput,
    responses(Scoped, JsonBody, (status = 201, body = PolicyRow), (status = 200, description = "upserted by external id", body = PolicyRow)))]
pub async fn create_policy(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<PolicyInput>,
) -> ApiResult<Response> {
    let (row, created) = state.guard.upsert_policy(&ws, input).await?;
    Ok(written(row, created))
}

#[utoipa::path(put, path = "/v1/actions/policies/{id}", tag = "actions", security(("bearer" = [])),
    params(("id" = String, Path, description = "The policy's id")), request_body = PolicyInput,
    responses(Scoped, JsonBody, (status = 200, body = PolicyRow, description = "Replaced: the id and creation time stay"),
        (status = 404, body = ErrorBody, description = "No such policy in the workspace"),
        (status = 409, body = ErrorBody, description = "Another policy holds the external source and id")))]
pub async fn replace_policy(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<PolicyInput>,
) -> ApiResult<Json<PolicyRow>> {
    Ok(Json(state.guard.replace_policy(&ws, &id, input).await?))
}

#[utoipa::path(post, path = "/v1/actions/check", tag = "actions", security(("bearer" = [])), request_body = CheckInput,
    responses(Scoped, JsonBody, (status = 200, body = CheckResult)))]
pub async fn check(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<CheckInput>,
) -> ApiResult<Json<CheckResult>> {
    Ok(Json(check_action(&state, &ws, &p, input).await?))
}

/// An action check, as REST and MCP make it.
pub async fn check_action(
    state: &AppState,
    ws: &Workspace,
    p: &Principal,
    input: CheckInput,
) -> ApiResult<CheckResult> {
    if input.dry_run {
        // A dry run records nothing: probing the policies' thresholds unseen is for those who
        // write them.
        p.require(crate::accounts::roles::Scope::Policy)?;
    }
    if ws.monthly_budget_usd.is_some() {
        // The budget counts gateway spend, whose usage rows are written behind the requests.
        state.gateway.ledger.flush_for_read().await;
    }
    state.guard.check(ws, &p.actor(), input).await
}

#[utoipa::path(get, path = "/v1/actions/approvals", tag = "actions", security(("bearer" = [])), params(ApprovalParams),
    responses(Scoped, (status = 200, body = ApprovalList)))]
pub async fn list_approvals(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<ApprovalParams>,
) -> ApiResult<Json<ApprovalList>> {
    let n = limit(q.limit, 50, 200)?;
    Ok(Json(
        state
            .guard
            .approvals(&ws, q.mission_id, q.status, n)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/actions/approvals/{id}/decide", tag = "actions", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = DecideInput,
    responses(Scoped, JsonBody, (status = 200, body = ApprovalRow), (status = 409, body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<DecideInput>,
) -> ApiResult<Json<ApprovalRow>> {
    Ok(Json(state.guard.decide(&ws, &p.actor(), &id, input).await?))
}

#[utoipa::path(get, path = "/v1/actions/audit", tag = "actions", security(("bearer" = [])), params(AuditParams),
    responses(Scoped, (status = 200, body = AuditList)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<AuditParams>,
) -> ApiResult<Json<AuditList>> {
    let filter = AuditFilter {
        mission_id: q.mission_id,
        event: q.event,
        tool_ref: q.tool_ref,
        limit: limit(q.limit, 50, 200)?,
        before: decode_cursor(q.cursor.as_deref())?,
    };
    Ok(Json(state.guard.audit(&ws, filter).await?))
}

#[utoipa::path(post, path = "/v1/actions/audit", tag = "actions", security(("bearer" = [])), request_body = AuditInput,
    responses(Scoped, JsonBody, (status = 201, body = AuditRow), (status = 200, description = "already recorded (same external id)", body = AuditRow)))]
pub async fn record_audit(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<AuditInput>,
) -> ApiResult<Response> {
    let (row, created) = state.guard.record(&ws, &p.actor(), input).await?;
    Ok(written(row, created))
}
