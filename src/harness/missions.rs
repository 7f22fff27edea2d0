//! Missions (parent goals, by stable `mission_id` or external pair), their ledger steps
//! (upserted by `step_ref`) and artifacts; the detail view gathers approvals, audit and traces
//! recorded against the mission.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::harness::model::{
    ArtifactInput, MissionDetail, MissionInput, MissionList, MissionPatch, MissionUsage, StepInput,
    StepPatch,
};
use crate::harness::Harness;
use crate::store::guard::{ApprovalFilter, AuditFilter};
use crate::store::harness::{ArtifactRow, MissionRow, StepRow, TraceFilter};
use crate::store::time::{new_id, now};
use crate::store::{StoreError, Workspace};
use crate::validate as v;

fn progress(p: Option<f64>) -> ApiResult<Option<f64>> {
    p.map(|x| v::unit("progress", x)).transpose()
}

fn short(field: &str, value: Option<&str>) -> ApiResult<Option<String>> {
    v::optional_text(field, value, 300)
}

impl Harness {
    pub async fn upsert_mission(
        &self,
        ws: &Workspace,
        input: MissionInput,
    ) -> ApiResult<(MissionRow, bool)> {
        let mission_id = short("mission_id", input.mission_id.as_deref())?;
        let external = v::external(
            input.external_source.as_deref(),
            input.external_id.as_deref(),
        )?;
        if mission_id.is_none() && external.is_none() {
            return Err(ApiError::bad_request(
                "mission_id: give the stable mission_id or external_source + external_id",
            ));
        }
        let metadata = v::metadata("metadata", input.metadata.as_ref())?;
        let existing = self
            .store
            .mission_by_ref(
                &ws.id,
                mission_id.as_deref(),
                external.as_ref().map(|(s, i)| (s.as_str(), i.as_str())),
            )
            .await?;
        let at = now();
        let created = existing.is_none();
        let mut m = existing.unwrap_or_else(|| MissionRow {
            id: new_id(),
            workspace_id: ws.id.clone(),
            mission_id: None,
            external_source: None,
            external_id: None,
            app: None,
            title: None,
            goal: None,
            status: "active".into(),
            progress: 0.0,
            outcome: None,
            success: None,
            risk_level: None,
            metadata: json!({}),
            created_at: at.clone(),
            updated_at: at.clone(),
        });
        m.mission_id = mission_id.or(m.mission_id);
        if let Some((s, i)) = external {
            m.external_source = Some(s);
            m.external_id = Some(i);
        }
        m.app = short("app", input.app.as_deref())?.or(m.app);
        m.title = short("title", input.title.as_deref())?.or(m.title);
        m.goal = v::optional_text("goal", input.goal.as_deref(), v::MAX_CONTENT_CHARS)?.or(m.goal);
        m.status = short("status", input.status.as_deref())?.unwrap_or(m.status);
        m.progress = progress(input.progress)?.unwrap_or(m.progress);
        m.outcome = short("outcome", input.outcome.as_deref())?.or(m.outcome);
        m.success = input.success.or(m.success);
        m.risk_level = short("risk_level", input.risk_level.as_deref())?.or(m.risk_level);
        m.metadata = metadata.unwrap_or(m.metadata);
        m.updated_at = at;
        self.store
            .put_mission(&m)
            .await
            .map_err(|e| conflict(e, "mission"))?;
        Ok((m, created))
    }

    async fn mission_row(&self, ws: &Workspace, id: &str) -> ApiResult<MissionRow> {
        self.store
            .mission(&ws.id, id)
            .await?
            .ok_or(ApiError::NotFound("Mission"))
    }

    pub async fn update_mission(
        &self,
        ws: &Workspace,
        id: &str,
        p: MissionPatch,
    ) -> ApiResult<MissionRow> {
        let mut m = self.mission_row(ws, id).await?;
        m.title = short("title", p.title.as_deref())?.or(m.title);
        m.goal = v::optional_text("goal", p.goal.as_deref(), v::MAX_CONTENT_CHARS)?.or(m.goal);
        m.status = short("status", p.status.as_deref())?.unwrap_or(m.status);
        m.progress = progress(p.progress)?.unwrap_or(m.progress);
        m.outcome = short("outcome", p.outcome.as_deref())?.or(m.outcome);
        m.success = p.success.or(m.success);
        m.risk_level = short("risk_level", p.risk_level.as_deref())?.or(m.risk_level);
        if let Some(meta) = v::metadata("metadata", p.metadata.as_ref())? {
            m.metadata = meta;
        }
        m.updated_at = now();
        self.store.put_mission(&m).await?;
        Ok(m)
    }

    pub async fn missions(
        &self,
        ws: &Workspace,
        status: Option<&str>,
        limit: i64,
    ) -> ApiResult<MissionList> {
        Ok(MissionList {
            object: "list".into(),
            data: self.store.missions(&ws.id, status, limit).await?,
        })
    }

    pub async fn mission_detail(&self, ws: &Workspace, id: &str) -> ApiResult<MissionDetail> {
        let mission = self.mission_row(ws, id).await?;
        let steps = self.store.steps(&mission.id).await?;
        let artifacts = self.store.artifacts(&mission.id).await?;
        let (approvals, audit, traces) = match &mission.mission_id {
            Some(mid) => {
                let approvals = self
                    .guard
                    .approvals(
                        &ws.id,
                        &ApprovalFilter {
                            mission_id: Some(mid.clone()),
                            status: None,
                            limit: 200,
                        },
                    )
                    .await?;
                let audit = self
                    .guard
                    .audit(
                        &ws.id,
                        &AuditFilter {
                            mission_id: Some(mid.clone()),
                            limit: 200,
                            ..Default::default()
                        },
                    )
                    .await?;
                let traces = self
                    .store
                    .traces(
                        &ws.id,
                        &TraceFilter {
                            mission_id: Some(mid.clone()),
                            limit: 200,
                            ..Default::default()
                        },
                    )
                    .await?;
                (approvals, audit, traces)
            }
            None => (vec![], vec![], vec![]),
        };
        let usage = MissionUsage {
            traces: traces.len(),
            charged_usd: traces.iter().map(|t| t.charged_usd).sum(),
        };
        Ok(MissionDetail {
            mission,
            steps,
            artifacts,
            approvals,
            audit,
            usage,
            traces,
        })
    }

    pub async fn upsert_step(
        &self,
        ws: &Workspace,
        mission: &str,
        input: StepInput,
    ) -> ApiResult<(StepRow, bool)> {
        let m = self.mission_row(ws, mission).await?;
        let step_ref = v::text("step_ref", &input.step_ref, 300)?;
        let metadata = v::metadata("metadata", input.metadata.as_ref())?;
        let steps = self.store.steps(&m.id).await?;
        let at = now();
        let existing = steps.iter().find(|s| s.step_ref == step_ref).cloned();
        let created = existing.is_none();
        let mut s = existing.unwrap_or_else(|| StepRow {
            id: new_id(),
            mission_uuid: m.id.clone(),
            workspace_id: ws.id.clone(),
            step_ref: step_ref.clone(),
            task_id: None,
            title: None,
            status: "pending".into(),
            position: steps.len() as i64,
            detail: None,
            metadata: json!({}),
            created_at: at.clone(),
            updated_at: at.clone(),
        });
        s.task_id = short("task_id", input.task_id.as_deref())?.or(s.task_id);
        s.title = short("title", input.title.as_deref())?.or(s.title);
        s.status = short("status", input.status.as_deref())?.unwrap_or(s.status);
        s.position = input.position.unwrap_or(s.position);
        s.detail =
            v::optional_text("detail", input.detail.as_deref(), v::MAX_CONTENT_CHARS)?.or(s.detail);
        s.metadata = metadata.unwrap_or(s.metadata);
        s.updated_at = at;
        self.store.put_step(&s).await?;
        Ok((s, created))
    }

    pub async fn update_step(
        &self,
        ws: &Workspace,
        mission: &str,
        step_id: &str,
        p: StepPatch,
    ) -> ApiResult<StepRow> {
        let m = self.mission_row(ws, mission).await?;
        let mut s = self
            .store
            .steps(&m.id)
            .await?
            .into_iter()
            .find(|s| s.id == step_id)
            .ok_or(ApiError::NotFound("Step"))?;
        s.task_id = short("task_id", p.task_id.as_deref())?.or(s.task_id);
        s.title = short("title", p.title.as_deref())?.or(s.title);
        s.status = short("status", p.status.as_deref())?.unwrap_or(s.status);
        s.position = p.position.unwrap_or(s.position);
        s.detail =
            v::optional_text("detail", p.detail.as_deref(), v::MAX_CONTENT_CHARS)?.or(s.detail);
        if let Some(meta) = v::metadata("metadata", p.metadata.as_ref())? {
            s.metadata = meta;
        }
        s.updated_at = now();
        self.store.put_step(&s).await?;
        Ok(s)
    }

    pub async fn add_artifact(
        &self,
        ws: &Workspace,
        mission: &str,
        input: ArtifactInput,
    ) -> ApiResult<ArtifactRow> {
        let m = self.mission_row(ws, mission).await?;
        let a = ArtifactRow {
            id: new_id(),
            mission_uuid: m.id,
            workspace_id: ws.id.clone(),
            kind: v::text("kind", &input.kind, 100)?,
            title: short("title", input.title.as_deref())?,
            uri: v::optional_text("uri", input.uri.as_deref(), 2_000)?,
            content: v::optional_text("content", input.content.as_deref(), 200_000)?,
            metadata: v::metadata("metadata", input.metadata.as_ref())?
                .unwrap_or_else(|| json!({})),
            created_at: now(),
        };
        if a.uri.is_none() && a.content.is_none() && a.title.is_none() {
            return Err(ApiError::bad_request(
                "uri, content, title: an artifact needs at least one",
            ));
        }
        self.store.add_artifact(&a).await?;
        Ok(a)
    }
}

/// A clash on a unique key (the same mission_id under another external pair) is a 409.
fn conflict(e: StoreError, what: &str) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::Conflict(format!(
            "another {what} of this workspace already has that mission_id or external id"
        )),
        other => other.into(),
    }
}
