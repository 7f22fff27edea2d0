//! `/v1/harness/*`: versions, missions, steps, artifacts, traces, feedback and reflections.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Json;

use crate::error::{ApiResult, ErrorBody};
use crate::harness::model::{
    ArtifactInput, FeedbackInput, FeedbackResult, ListParams, MissionDetail, MissionInput,
    MissionList, MissionListParams, MissionPatch, ReflectInput, ReflectionList, StepInput,
    StepPatch, TraceInput, TraceList, TraceListParams, VersionInput, VersionList,
};
use crate::http::extract::{workspace, written, ApiJson, Auth};
use crate::http::sources::WorkspaceParam;
use crate::memory::validate::limit;
use crate::state::AppState;
use crate::store::harness::{
    ArtifactRow, MissionRow, ReflectionRow, StepRow, TraceFilter, TraceRow, VersionRow,
};

#[utoipa::path(get, path = "/v1/harness/versions", tag = "harness", security(("bearer" = [])), params(WorkspaceParam),
    responses((status = 200, body = VersionList)))]
pub async fn list_versions(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<VersionList>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.harness.versions(&ws).await?))
}

#[utoipa::path(post, path = "/v1/harness/versions", tag = "harness", security(("bearer" = [])), request_body = VersionInput,
    responses((status = 201, body = VersionRow), (status = 400, body = ErrorBody)))]
pub async fn create_version(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<VersionInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let row = state.harness.add_version(&ws, &p.actor(), input).await?;
    Ok(written(row, true))
}

#[utoipa::path(get, path = "/v1/harness/missions", tag = "harness", security(("bearer" = [])), params(MissionListParams),
    responses((status = 200, body = MissionList), (status = 400, body = ErrorBody)))]
pub async fn list_missions(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<MissionListParams>,
) -> ApiResult<Json<MissionList>> {
    let n = limit(q.limit, 50, 200)?;
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(
        state.harness.missions(&ws, q.status.as_deref(), n).await?,
    ))
}

#[utoipa::path(post, path = "/v1/harness/missions", tag = "harness", security(("bearer" = [])), request_body = MissionInput,
    responses((status = 201, body = MissionRow), (status = 200, description = "upserted", body = MissionRow),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn upsert_mission(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<MissionInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (row, created) = state.harness.upsert_mission(&ws, input).await?;
    Ok(written(row, created))
}

#[utoipa::path(get, path = "/v1/harness/missions/{id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses((status = 200, body = MissionDetail), (status = 404, body = ErrorBody)))]
pub async fn get_mission(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Query(q): Query<WorkspaceParam>,
) -> ApiResult<Json<MissionDetail>> {
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.harness.mission_detail(&ws, &id).await?))
}

#[utoipa::path(patch, path = "/v1/harness/missions/{id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = MissionPatch,
    responses((status = 200, body = MissionRow), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_mission(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<MissionPatch>,
) -> ApiResult<Json<MissionRow>> {
    let ws = workspace(&state, &p, patch.workspace_id.as_deref()).await?;
    Ok(Json(state.harness.update_mission(&ws, &id, patch).await?))
}

#[utoipa::path(post, path = "/v1/harness/missions/{id}/steps", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StepInput,
    responses((status = 201, body = StepRow), (status = 200, description = "upserted by step_ref", body = StepRow),
        (status = 404, body = ErrorBody)))]
pub async fn upsert_step(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<StepInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let (row, created) = state.harness.upsert_step(&ws, &id, input).await?;
    Ok(written(row, created))
}

#[utoipa::path(patch, path = "/v1/harness/missions/{id}/steps/{step_id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path), ("step_id" = String, Path)), request_body = StepPatch,
    responses((status = 200, body = StepRow), (status = 404, body = ErrorBody)))]
pub async fn update_step(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, step_id)): Path<(String, String)>,
    ApiJson(patch): ApiJson<StepPatch>,
) -> ApiResult<Json<StepRow>> {
    let ws = workspace(&state, &p, patch.workspace_id.as_deref()).await?;
    Ok(Json(
        state.harness.update_step(&ws, &id, &step_id, patch).await?,
    ))
}

#[utoipa::path(post, path = "/v1/harness/missions/{id}/artifacts", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ArtifactInput,
    responses((status = 201, body = ArtifactRow), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_artifact(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ArtifactInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let row = state.harness.add_artifact(&ws, &id, input).await?;
    Ok(written(row, true))
}

#[utoipa::path(get, path = "/v1/harness/traces", tag = "harness", security(("bearer" = [])), params(TraceListParams),
    responses((status = 200, body = TraceList), (status = 400, body = ErrorBody)))]
pub async fn list_traces(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<TraceListParams>,
) -> ApiResult<Json<TraceList>> {
    let filter = TraceFilter {
        mission_id: q.mission_id,
        trace_type: q.trace_type,
        before: None,
        limit: limit(q.limit, 50, 200)?,
    };
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(
        state
            .harness
            .traces(&ws, filter, q.cursor.as_deref())
            .await?,
    ))
}

#[utoipa::path(post, path = "/v1/harness/traces", tag = "harness", security(("bearer" = [])), request_body = TraceInput,
    responses((status = 201, body = TraceRow), (status = 400, body = ErrorBody)))]
pub async fn record_trace(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<TraceInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let row = state.harness.record_trace(&ws, input).await?;
    Ok(written(row, true))
}

#[utoipa::path(post, path = "/v1/harness/feedback", tag = "harness", security(("bearer" = [])), request_body = FeedbackInput,
    responses((status = 201, body = FeedbackResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<FeedbackInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let result = state.harness.feedback(&ws, &p.actor(), input).await?;
    Ok(written(result, true))
}

#[utoipa::path(get, path = "/v1/harness/reflections", tag = "harness", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = ReflectionList)))]
pub async fn list_reflections(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ListParams>,
) -> ApiResult<Json<ReflectionList>> {
    let n = limit(q.limit, 50, 200)?;
    let ws = workspace(&state, &p, q.workspace_id.as_deref()).await?;
    Ok(Json(state.harness.reflections(&ws, n).await?))
}

#[utoipa::path(post, path = "/v1/harness/reflections/generate", tag = "harness", security(("bearer" = [])), request_body = ReflectInput,
    responses((status = 201, body = ReflectionRow), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn generate_reflection(
    State(state): State<AppState>,
    Auth(p): Auth,
    ApiJson(input): ApiJson<ReflectInput>,
) -> ApiResult<Response> {
    let ws = workspace(&state, &p, input.workspace_id.as_deref()).await?;
    let row = state.harness.reflect(&ws, &p.actor(), input).await?;
    Ok(written(row, true))
}
