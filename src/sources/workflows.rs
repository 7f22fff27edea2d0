//! `/admin/v1/workflows` (seed 000 "Admin - Workflows"): Cairn runs no Temporal; its
//! long-running work is the ingest queue, a durable job table (the sources and their document
//! versions) that survives restarts. This shows those jobs in the seed's workflow shape, every
//! workspace's, for the operator.
//!
//! Statuses map as: queued and processing -> RUNNING, ready -> COMPLETED, failed -> FAILED.

use serde::Serialize;
use utoipa::ToSchema;

use super::Sources;
use crate::error::{ApiError, ApiResult};
use crate::store::sources::SourceRow;

#[derive(Debug, Serialize, ToSchema)]
pub struct Workflow {
    pub workflow_id: String,
    /// ingest.
    pub workflow_type: String,
    /// RUNNING, COMPLETED or FAILED.
    pub status: String,
    /// queued, processing, ready or failed: the job's own state.
    pub job_status: String,
    pub workspace_id: String,
    pub title: Option<String>,
    pub start_time: String,
    /// When it ended (COMPLETED or FAILED).
    pub close_time: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub items: Vec<Workflow>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEvent {
    pub event_id: u32,
    /// WorkflowExecutionStarted, DocumentIndexed, WorkflowExecutionCompleted,
    /// WorkflowExecutionFailed.
    pub event_type: String,
    pub event_time: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowHistory {
    pub workflow_id: String,
    pub events: Vec<HistoryEvent>,
}

fn status_of(job: &str) -> &'static str {
    match job {
        "ready" => "COMPLETED",
        "failed" => "FAILED",
        _ => "RUNNING",
    }
}

/// The job statuses a workflow status names; 400 for an unknown one.
fn job_statuses(status: &str) -> ApiResult<&'static [&'static str]> {
    match status.to_ascii_uppercase().as_str() {
        "RUNNING" => Ok(&["queued", "processing"]),
        "COMPLETED" => Ok(&["ready"]),
        "FAILED" => Ok(&["failed"]),
        _ => Err(ApiError::bad_request(format!(
            "status: unknown `{status}`; expected RUNNING, COMPLETED or FAILED"
        ))),
    }
}

fn workflow(s: SourceRow) -> Workflow {
    let status = status_of(&s.status);
    Workflow {
        workflow_type: "ingest".into(),
        close_time: (status != "RUNNING").then(|| s.updated_at.clone()),
        status: status.into(),
        job_status: s.status,
        workspace_id: s.workspace_id,
        title: s.title.or(s.filename).or(s.url),
        start_time: s.created_at,
        error: s.error,
        workflow_id: s.id,
    }
}

impl Sources {
    pub async fn workflows(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> ApiResult<WorkflowList> {
        let statuses = status.map(job_statuses).transpose()?.unwrap_or(&[]);
        let (rows, total) = self.store.all_sources(statuses, limit, offset).await?;
        Ok(WorkflowList {
            items: rows.into_iter().map(workflow).collect(),
            total,
            limit,
            offset,
        })
    }

    pub async fn workflow(&self, id: &str) -> ApiResult<Workflow> {
        let s = self.store.source_any(id).await?;
        s.map(workflow).ok_or(ApiError::NotFound("Workflow"))
    }

    /// Started, each document version indexed, then how it ended.
    pub async fn workflow_history(&self, id: &str) -> ApiResult<WorkflowHistory> {
        let s = self
            .store
            .source_any(id)
            .await?
            .ok_or(ApiError::NotFound("Workflow"))?;
        let mut events = vec![(
            "WorkflowExecutionStarted",
            s.created_at.clone(),
            serde_json::json!({"kind": s.kind, "workspace_id": s.workspace_id}),
        )];
        for d in self.store.documents_of(&s.id).await? {
            events.push((
                "DocumentIndexed",
                d.created_at.clone(),
                serde_json::json!({"document_id": d.id, "version": d.version, "chunks": d.chunk_count}),
            ));
        }
        match s.status.as_str() {
            "ready" => events.push((
                "WorkflowExecutionCompleted",
                s.updated_at.clone(),
                serde_json::json!({}),
            )),
            "failed" => events.push((
                "WorkflowExecutionFailed",
                s.updated_at.clone(),
                serde_json::json!({"error": s.error}),
            )),
            _ => {}
        }
        Ok(WorkflowHistory {
            workflow_id: s.id,
            events: events
                .into_iter()
                .zip(1..)
                .map(|((kind, at, details), n)| HistoryEvent {
                    event_id: n,
                    event_type: kind.into(),
                    event_time: at,
                    details,
                })
                .collect(),
        })
    }
}
