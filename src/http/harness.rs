//! `/v1/harness/*`: versions, missions, steps, artifacts, traces, feedback and reflections.
//! Every route acts in one workspace: [`Scope`] (named by the query)
//! or [`ScopedJson`] (named by the body's `workspace_id`).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};

use crate::error::{ApiResult, ErrorBody};
use crate::gateway::{Caller, Prompt};
use crate::harness::model::{
    ArtifactInput, FeedbackInput, FeedbackResult, ListParams, MissionDetail, MissionInput,
    MissionList, MissionListParams, MissionPatch, ReflectInput, ReflectionList, StepInput,
    StepPatch, TraceInput, TraceList, TraceListParams, VersionInput, VersionList,
};
use crate::http::extract::{written, ApiPath, Scope, ScopedJson, WorkspaceParam};
use crate::http::openapi::{JsonBody, Scoped};
use crate::state::AppState;
use crate::store::harness::{
    ArtifactRow, MissionRow, ReflectionRow, StepRow, TraceFilter, TraceRow, VersionRow,
};
use crate::validate::{decode_cursor, limit};

pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/harness/versions",
            get(list_versions).post(create_version),
        )
        .route("/v1/harness/versions/{id}/activate", post(activate_version))
        .route(
            "/v1/harness/missions",
            get(list_missions).post(upsert_mission),
        )
        .route(
            "/v1/harness/missions/{id}",
            get(get_mission).patch(update_mission),
        )
        .route("/v1/harness/missions/{id}/steps", post(upsert_step))
        .route(
            "/v1/harness/missions/{id}/steps/{step_id}",
            patch(update_step),
        )
        .route("/v1/harness/missions/{id}/artifacts", post(add_artifact))
        .route("/v1/harness/traces", get(list_traces).post(record_trace))
        .route("/v1/harness/feedback", post(feedback))
        .route("/v1/harness/reflections", get(list_reflections))
        .route(
            "/v1/harness/reflections/generate",
            post(generate_reflection),
        )
}

#[utoipa::path(get, path = "/v1/harness/versions", tag = "harness", security(("bearer" = [])), params(WorkspaceParam),
    responses(Scoped, (status = 200, body = VersionList)))]
pub async fn list_versions(
    State(state): State<AppState>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<VersionList>> {
    Ok(Json(state.harness.versions(&ws).await?))
}

#[utoipa::path(post, path = "/v1/harness/versions", tag = "harness", security(("bearer" = [])), request_body = VersionInput,
    responses(Scoped, JsonBody, (status = 201, body = VersionRow)))]
pub async fn create_version(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<VersionInput>,
) -> ApiResult<Response> {
    if input.activate == Some(true) {
        // Activating a version changes what every agent of the workspace runs: a review.
        p.require(crate::accounts::roles::Scope::Review)?;
    }
    let row = state.harness.add_version(&ws, &p.actor(), input).await?;
    Ok(written(row, true))
}

#[utoipa::path(get, path = "/v1/harness/missions", tag = "harness", security(("bearer" = [])), params(MissionListParams),
    responses(Scoped, (status = 200, body = MissionList)))]
pub async fn list_missions(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<MissionListParams>,
) -> ApiResult<Json<MissionList>> {
    let n = limit(q.limit, 50, 200)?;
    Ok(Json(
        state.harness.missions(&ws, q.status.as_deref(), n).await?,
    ))
}

#[utoipa::path(post, path = "/v1/harness/missions", tag = "harness", security(("bearer" = [])), request_body = MissionInput,
    responses(Scoped, JsonBody, (status = 201, body = MissionRow), (status = 200, description = "upserted", body = MissionRow), (status = 409, body = ErrorBody)))]
pub async fn upsert_mission(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<MissionInput>,
) -> ApiResult<Response> {
    let (row, created) = state.harness.upsert_mission(&ws, input).await?;
    Ok(written(row, created))
}

#[utoipa::path(post, path = "/v1/harness/versions/{id}/activate", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path, description = "The version's id"), WorkspaceParam),
    responses(Scoped, (status = 200, body = VersionRow, description = "Now the workspace's active version; the one before is archived"),
        (status = 404, body = crate::error::ErrorBody, description = "No such version in the workspace")))]
pub async fn activate_version(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<VersionRow>> {
    Ok(Json(state.harness.activate_version(&ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/harness/missions/{id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path), WorkspaceParam),
    responses(Scoped, (status = 200, body = MissionDetail)))]
pub async fn get_mission(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Scope { workspace: ws, .. }: Scope,
) -> ApiResult<Json<MissionDetail>> {
    Ok(Json(state.harness.mission_detail(&ws, &id).await?))
}

#[utoipa::path(patch, path = "/v1/harness/missions/{id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = MissionPatch,
    responses(Scoped, JsonBody, (status = 200, body = MissionRow)))]
pub async fn update_mission(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        workspace: ws,
        body: patch,
        ..
    }: ScopedJson<MissionPatch>,
) -> ApiResult<Json<MissionRow>> {
    Ok(Json(state.harness.update_mission(&ws, &id, patch).await?))
}

#[utoipa::path(post, path = "/v1/harness/missions/{id}/steps", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = StepInput,
    responses(Scoped, JsonBody, (status = 201, body = StepRow), (status = 200, description = "upserted by step_ref", body = StepRow)))]
pub async fn upsert_step(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<StepInput>,
) -> ApiResult<Response> {
    let (row, created) = state.harness.upsert_step(&ws, &id, input).await?;
    Ok(written(row, created))
}

#[utoipa::path(patch, path = "/v1/harness/missions/{id}/steps/{step_id}", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path), ("step_id" = String, Path)), request_body = StepPatch,
    responses(Scoped, JsonBody, (status = 200, body = StepRow)))]
pub async fn update_step(
    State(state): State<AppState>,
    ApiPath((id, step_id)): ApiPath<(String, String)>,
    ScopedJson {
        workspace: ws,
        body: patch,
        ..
    }: ScopedJson<StepPatch>,
) -> ApiResult<Json<StepRow>> {
    Ok(Json(
        state.harness.update_step(&ws, &id, &step_id, patch).await?,
    ))
}

#[utoipa::path(post, path = "/v1/harness/missions/{id}/artifacts", tag = "harness", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ArtifactInput,
    responses(Scoped, JsonBody, (status = 201, body = ArtifactRow)))]
pub async fn add_artifact(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<ArtifactInput>,
) -> ApiResult<Response> {
    let row = state.harness.add_artifact(&ws, &id, input).await?;
    Ok(written(row, true))
}

#[utoipa::path(get, path = "/v1/harness/traces", tag = "harness", security(("bearer" = [])), params(TraceListParams),
    responses(Scoped, (status = 200, body = TraceList)))]
pub async fn list_traces(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<TraceListParams>,
) -> ApiResult<Json<TraceList>> {
    let filter = TraceFilter {
        mission_id: q.mission_id,
        trace_type: q.trace_type,
        limit: limit(q.limit, 50, 200)?,
        before: decode_cursor(q.cursor.as_deref())?,
    };
    Ok(Json(state.harness.traces(&ws, filter).await?))
}

#[utoipa::path(post, path = "/v1/harness/traces", tag = "harness", security(("bearer" = [])), request_body = TraceInput,
    responses(Scoped, JsonBody, (status = 201, body = TraceRow), (status = 422, body = ErrorBody)))]
pub async fn record_trace(
    State(state): State<AppState>,
    ScopedJson {
        workspace: ws,
        body: input,
        ..
    }: ScopedJson<TraceInput>,
) -> ApiResult<Response> {
    let row = state.harness.record_trace(&ws, input).await?;
    Ok(written(row, true))
}

#[utoipa::path(post, path = "/v1/harness/feedback", tag = "harness", security(("bearer" = [])), request_body = FeedbackInput,
    responses(Scoped, JsonBody, (status = 201, body = FeedbackResult), (status = 422, body = ErrorBody)))]
pub async fn feedback(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<FeedbackInput>,
) -> ApiResult<Response> {
    let (trace_id, rating) = (input.trace_id.clone(), input.rating);
    let result = state.harness.feedback(&ws, &p.actor(), input).await?;
    if let Some(r) = rating {
        reward_routing(&state, &ws, &trace_id, r).await;
    }
    Ok(written(result, true))
}

/// The first rating of a reply that `thompson` routing picked rewards the model that served
/// it. The feedback is stored already: a failure here is logged.
async fn reward_routing(
    state: &AppState,
    ws: &crate::store::Workspace,
    trace_id: &str,
    rating: f64,
) {
    // Only what Cairn recorded when it routed the reply, taken once: trace metadata is the
    // client's to write, and a second rating of the same reply rewards nothing.
    let Ok(Some(routing)) = state.harness.store.take_routing(&ws.id, trace_id).await else {
        return;
    };
    let pick = serde_json::from_value::<crate::gateway::bandit::Pick>(routing.clone());
    if let (Some(model), Ok(pick)) = (routing["model"].as_str(), pick) {
        if let Err(e) = state.gateway.rate(model, &pick, rating).await {
            tracing::warn!(trace = %trace_id, error = %e, "feedback: routing reward not stored");
        }
    }
}

#[utoipa::path(get, path = "/v1/harness/reflections", tag = "harness", security(("bearer" = [])), params(ListParams),
    responses(Scoped, (status = 200, body = ReflectionList)))]
pub async fn list_reflections(
    State(state): State<AppState>,
    Scope {
        workspace: ws,
        query: q,
        ..
    }: Scope<ListParams>,
) -> ApiResult<Json<ReflectionList>> {
    let n = limit(q.limit, 50, 200)?;
    Ok(Json(state.harness.reflections(&ws, n).await?))
}

#[utoipa::path(post, path = "/v1/harness/reflections/generate", tag = "harness", security(("bearer" = [])), request_body = ReflectInput,
    responses(Scoped, JsonBody, (status = 201, body = ReflectionRow), (status = 402, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn generate_reflection(
    State(state): State<AppState>,
    ScopedJson {
        principal: p,
        workspace: ws,
        body: input,
    }: ScopedJson<ReflectInput>,
) -> ApiResult<Response> {
    let prompt = state.harness.reflection_prompt(&ws, &input).await?;
    let answer = state
        .gateway
        .complete(
            Caller::of(&p, &ws),
            "reflection",
            Prompt {
                model: &prompt.model,
                system: &prompt.system,
                user: &prompt.user,
                temperature: 0.2,
            },
        )
        .await?;
    let row = state
        .harness
        .save_reflection(&ws, &p.actor(), input, answer.text, answer.served_by)
        .await?;
    Ok(written(row, true))
}
