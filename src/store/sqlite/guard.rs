//! `GuardStore` on SQLite: policies, approvals and the audit trail; a decision and its audit
//! row are written in one transaction.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};

use super::{json, strings};
use crate::store::guard::{
    ApprovalFilter, ApprovalRow, AuditEvent, AuditFilter, AuditRow, GuardStore, PolicyRow,
};
use crate::store::time::new_id;
use crate::store::StoreResult;

#[derive(Clone)]
pub struct SqliteGuard {
    pool: SqlitePool,
}

impl SqliteGuard {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn policy_row(r: &SqliteRow) -> sqlx::Result<PolicyRow> {
    Ok(PolicyRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        name: r.try_get("name")?,
        app: r.try_get("app")?,
        mission_id: r.try_get("mission_id")?,
        tool_ref: r.try_get("tool_ref")?,
        action_type: r.try_get("action_type")?,
        operation: r.try_get("operation")?,
        access_level: r.try_get("access_level")?,
        risk_level: r.try_get("risk_level")?,
        min_amount_usd: r.try_get("min_amount_usd")?,
        max_amount_usd: r.try_get("max_amount_usd")?,
        effect: r.try_get("effect")?,
        priority: r.try_get("priority")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        description: r.try_get("description")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn approval_row(r: &SqliteRow) -> sqlx::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        policy_id: r.try_get("policy_id")?,
        status: r.try_get("status")?,
        app: r.try_get("app")?,
        mission_id: r.try_get("mission_id")?,
        task_id: r.try_get("task_id")?,
        tool_ref: r.try_get("tool_ref")?,
        request: json(r.try_get("request")?),
        reasons: strings(r.try_get("reasons")?),
        requested_by: r.try_get("requested_by")?,
        decided_by: r.try_get("decided_by")?,
        decision_note: r.try_get("decision_note")?,
        expires_at: r.try_get("expires_at")?,
        decided_at: r.try_get("decided_at")?,
        created_at: r.try_get("created_at")?,
    })
}

fn audit_row(r: &SqliteRow) -> sqlx::Result<AuditRow> {
    Ok(AuditRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        event: r.try_get("event")?,
        decision: r.try_get("decision")?,
        app: r.try_get("app")?,
        mission_id: r.try_get("mission_id")?,
        task_id: r.try_get("task_id")?,
        actor_ref: r.try_get("actor_ref")?,
        tool_ref: r.try_get("tool_ref")?,
        action_type: r.try_get("action_type")?,
        policy_id: r.try_get("policy_id")?,
        approval_id: r.try_get("approval_id")?,
        amount_usd: r.try_get("amount_usd")?,
        detail: json(r.try_get("detail")?),
        recorded_by: r.try_get("recorded_by")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn insert_audit(tx: &mut Transaction<'_, Sqlite>, a: &AuditRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO action_audit (id, workspace_id, event, decision, app, mission_id, task_id, actor_ref, \
         tool_ref, action_type, policy_id, approval_id, amount_usd, detail, recorded_by, external_source, \
         external_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&a.id).bind(&a.workspace_id).bind(a.event).bind(&a.decision).bind(&a.app)
    .bind(&a.mission_id).bind(&a.task_id).bind(&a.actor_ref).bind(&a.tool_ref).bind(&a.action_type)
    .bind(&a.policy_id).bind(&a.approval_id).bind(a.amount_usd).bind(a.detail.to_string())
    .bind(&a.recorded_by).bind(&a.external_source).bind(&a.external_id).bind(&a.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl GuardStore for SqliteGuard {
    async fn policies(&self, ws: &str) -> StoreResult<Vec<PolicyRow>> {
        let rows = sqlx::query(
            "SELECT * FROM action_policies WHERE workspace_id = ? ORDER BY priority DESC, created_at, id",
        )
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(policy_row).collect::<sqlx::Result<_>>()?)
    }

    async fn policy_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<PolicyRow>> {
        Ok(super::fetch_optional(&self.pool, "SELECT * FROM action_policies WHERE workspace_id = ? AND external_source = ? AND external_id = ?", &[ws, source, external_id], policy_row).await?)
    }

    async fn put_policy(&self, p: &PolicyRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO action_policies (id, workspace_id, name, app, mission_id, tool_ref, action_type, operation, \
             access_level, risk_level, min_amount_usd, max_amount_usd, effect, priority, enabled, description, \
             external_source, external_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, app = excluded.app, \
             mission_id = excluded.mission_id, tool_ref = excluded.tool_ref, action_type = excluded.action_type, \
             operation = excluded.operation, access_level = excluded.access_level, risk_level = excluded.risk_level, \
             min_amount_usd = excluded.min_amount_usd, max_amount_usd = excluded.max_amount_usd, \
             effect = excluded.effect, priority = excluded.priority, enabled = excluded.enabled, \
             description = excluded.description, external_source = excluded.external_source, \
             external_id = excluded.external_id, updated_at = excluded.updated_at",
        )
        .bind(&p.id).bind(&p.workspace_id).bind(&p.name).bind(&p.app).bind(&p.mission_id)
        .bind(&p.tool_ref).bind(&p.action_type).bind(&p.operation).bind(&p.access_level)
        .bind(&p.risk_level).bind(p.min_amount_usd).bind(p.max_amount_usd).bind(p.effect)
        .bind(p.priority).bind(i64::from(p.enabled)).bind(&p.description).bind(&p.external_source)
        .bind(&p.external_id).bind(&p.created_at).bind(&p.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn approval(&self, ws: &str, id: &str) -> StoreResult<Option<ApprovalRow>> {
        Ok(super::fetch_optional(
            &self.pool,
            "SELECT * FROM action_approvals WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            approval_row,
        )
        .await?)
    }

    async fn approvals(&self, ws: &str, f: &ApprovalFilter) -> StoreResult<Vec<ApprovalRow>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM action_approvals WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(m) = &f.mission_id {
            q.push(" AND mission_id = ").push_bind(m);
        }
        if let Some(s) = &f.status {
            q.push(" AND status = ").push_bind(s);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(approval_row).collect::<sqlx::Result<_>>()?)
    }

    async fn expire_approvals(&self, ws: &str, now: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let expired = sqlx::query(
            "UPDATE action_approvals SET status = 'expired', decided_at = ? \
             WHERE workspace_id = ? AND status = 'pending' AND expires_at <= ? RETURNING *",
        )
        .bind(now)
        .bind(ws)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for r in &expired {
            let a = approval_row(r)?;
            let audit = AuditRow {
                id: new_id(),
                workspace_id: ws.to_string(),
                event: AuditEvent::Expired,
                decision: Some("require_approval".into()),
                app: a.app,
                mission_id: a.mission_id,
                task_id: a.task_id,
                actor_ref: None,
                tool_ref: Some(a.tool_ref),
                action_type: a.request["action_type"].as_str().map(str::to_string),
                policy_id: a.policy_id,
                approval_id: Some(a.id),
                amount_usd: a.request["requested_amount_usd"].as_f64(),
                detail: serde_json::json!({"expires_at": a.expires_at}),
                recorded_by: "system".into(),
                external_source: None,
                external_id: None,
                created_at: now.to_string(),
            };
            insert_audit(&mut tx, &audit).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_check(
        &self,
        audit: &AuditRow,
        approval: Option<&ApprovalRow>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(a) = approval {
            sqlx::query(
                "INSERT INTO action_approvals (id, workspace_id, policy_id, status, app, mission_id, task_id, \
                 tool_ref, request, reasons, requested_by, decided_by, decision_note, expires_at, decided_at, \
                 created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&a.id).bind(&a.workspace_id).bind(&a.policy_id).bind(a.status).bind(&a.app)
            .bind(&a.mission_id).bind(&a.task_id).bind(&a.tool_ref).bind(a.request.to_string())
            .bind(serde_json::to_string(&a.reasons).map_err(anyhow::Error::from)?).bind(&a.requested_by).bind(&a.decided_by).bind(&a.decision_note)
            .bind(&a.expires_at).bind(&a.decided_at).bind(&a.created_at)
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn decide(&self, a: &ApprovalRow, audit: &AuditRow) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE action_approvals SET status = ?, decided_by = ?, decision_note = ?, decided_at = ? \
             WHERE id = ? AND status = 'pending'",
        )
        .bind(a.status)
        .bind(&a.decided_by)
        .bind(&a.decision_note)
        .bind(&a.decided_at)
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn audit_by_external(
        &self,
        ws: &str,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<AuditRow>> {
        Ok(super::fetch_optional(&self.pool, "SELECT * FROM action_audit WHERE workspace_id = ? AND external_source = ? AND external_id = ?", &[ws, source, external_id], audit_row).await?)
    }

    async fn add_audit(&self, row: &AuditRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit(&self, ws: &str, f: &AuditFilter) -> StoreResult<Vec<AuditRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM action_audit WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(m) = &f.mission_id {
            q.push(" AND mission_id = ").push_bind(m);
        }
        if let Some(e) = &f.event {
            q.push(" AND event = ").push_bind(e);
        }
        if let Some(t) = &f.tool_ref {
            q.push(" AND tool_ref = ").push_bind(t);
        }
        super::push_before(&mut q, "created_at", &f.before);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(audit_row).collect::<sqlx::Result<_>>()?)
    }

    async fn spent_since(&self, ws: &str, since: &str) -> StoreResult<f64> {
        let total: Option<f64> = sqlx::query_scalar(
            "SELECT (SELECT COALESCE(SUM(amount_usd), 0) FROM action_audit WHERE workspace_id = ? \
                     AND event = 'executed' AND amount_usd IS NOT NULL AND created_at >= ?) \
                  + (SELECT COALESCE(SUM(charged_usd), 0) FROM gateway_usage \
                     WHERE workspace_id = ? AND created_at >= ?)",
        )
        .bind(ws)
        .bind(since)
        .bind(ws)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(total.unwrap_or(0.0))
    }
}
