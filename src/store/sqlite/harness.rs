//! `HarnessStore` on SQLite: versions (one active per workspace), missions with steps and
//! artifacts, traces, trace feedback and reflections.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{json, strings};
use crate::store::harness::{
    ArtifactRow, HarnessStore, MissionRow, ReflectionRow, StepRow, TraceFeedbackRow, TraceFilter,
    TraceReply, TraceRow, VersionRow, VersionStatus,
};
use crate::store::StoreResult;

#[derive(Clone)]
pub struct SqliteHarness {
    pool: SqlitePool,
}

impl SqliteHarness {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn version_row(r: &SqliteRow) -> sqlx::Result<VersionRow> {
    Ok(VersionRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        status: r.try_get("status")?,
        config: json(r.try_get("config")?),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        activated_at: r.try_get("activated_at")?,
    })
}

fn mission_row(r: &SqliteRow) -> sqlx::Result<MissionRow> {
    Ok(MissionRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        mission_id: r.try_get("mission_id")?,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        app: r.try_get("app")?,
        title: r.try_get("title")?,
        goal: r.try_get("goal")?,
        status: r.try_get("status")?,
        progress: r.try_get("progress")?,
        outcome: r.try_get("outcome")?,
        success: r.try_get::<Option<i64>, _>("success")?.map(|s| s != 0),
        risk_level: r.try_get("risk_level")?,
        metadata: json(r.try_get("metadata")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn step_row(r: &SqliteRow) -> sqlx::Result<StepRow> {
    Ok(StepRow {
        id: r.try_get("id")?,
        mission_uuid: r.try_get("mission_uuid")?,
        workspace_id: r.try_get("workspace_id")?,
        step_ref: r.try_get("step_ref")?,
        task_id: r.try_get("task_id")?,
        title: r.try_get("title")?,
        status: r.try_get("status")?,
        position: r.try_get("position")?,
        detail: r.try_get("detail")?,
        metadata: json(r.try_get("metadata")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn artifact_row(r: &SqliteRow) -> sqlx::Result<ArtifactRow> {
    Ok(ArtifactRow {
        id: r.try_get("id")?,
        mission_uuid: r.try_get("mission_uuid")?,
        workspace_id: r.try_get("workspace_id")?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        uri: r.try_get("uri")?,
        content: r.try_get("content")?,
        metadata: json(r.try_get("metadata")?),
        created_at: r.try_get("created_at")?,
    })
}

fn trace_row(r: &SqliteRow) -> sqlx::Result<TraceRow> {
    Ok(TraceRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        trace_type: r.try_get("trace_type")?,
        harness_version_id: r.try_get("harness_version_id")?,
        assistant_id: r.try_get("assistant_id")?,
        thread_id: r.try_get("thread_id")?,
        mission_id: r.try_get("mission_id")?,
        task_id: r.try_get("task_id")?,
        input_summary: r.try_get("input_summary")?,
        output_summary: r.try_get("output_summary")?,
        context_strategy: r.try_get("context_strategy")?,
        context: json(r.try_get("context")?),
        pack_id: r.try_get("pack_id")?,
        charged_usd: r.try_get("charged_usd")?,
        outcome: r.try_get("outcome")?,
        feedback_score: r.try_get("feedback_score")?,
        metadata: json(r.try_get("metadata")?),
        created_at: r.try_get("created_at")?,
    })
}

fn reflection_row(r: &SqliteRow) -> sqlx::Result<ReflectionRow> {
    Ok(ReflectionRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        trace_ids: strings(r.try_get("trace_ids")?),
        insight: r.try_get("insight")?,
        model: r.try_get("model")?,
        note_id: r.try_get("note_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

impl SqliteHarness {
    async fn optional<T>(
        &self,
        sql: &str,
        binds: &[&str],
        map: fn(&SqliteRow) -> sqlx::Result<T>,
    ) -> StoreResult<Option<T>> {
        Ok(super::fetch_optional(&self.pool, sql, binds, map).await?)
    }
}

#[async_trait]
impl HarnessStore for SqliteHarness {
    async fn versions(&self, ws: &str) -> StoreResult<Vec<VersionRow>> {
        let rows = sqlx::query("SELECT * FROM harness_versions WHERE workspace_id = ? ORDER BY created_at DESC, id DESC")
            .bind(ws)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(version_row).collect::<sqlx::Result<_>>()?)
    }

    async fn version(&self, ws: &str, id: &str) -> StoreResult<Option<VersionRow>> {
        self.optional(
            "SELECT * FROM harness_versions WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            version_row,
        )
        .await
    }

    async fn active_version(&self, ws: &str) -> StoreResult<Option<VersionRow>> {
        self.optional(
            "SELECT * FROM harness_versions WHERE workspace_id = ? AND status = 'active'",
            &[ws],
            version_row,
        )
        .await
    }

    async fn add_version(&self, v: &VersionRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if v.status == VersionStatus::Active {
            sqlx::query("UPDATE harness_versions SET status = 'archived' WHERE workspace_id = ? AND status = 'active'")
                .bind(&v.workspace_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO harness_versions (id, workspace_id, name, description, status, config, created_by, \
             created_at, activated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&v.id).bind(&v.workspace_id).bind(&v.name).bind(&v.description).bind(v.status)
        .bind(v.config.to_string()).bind(&v.created_by).bind(&v.created_at).bind(&v.activated_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn activate_version(&self, ws: &str, id: &str, at: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE harness_versions SET status = 'archived' \
             WHERE workspace_id = ? AND status = 'active' AND id <> ?",
        )
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE harness_versions SET status = 'active', activated_at = ? \
             WHERE workspace_id = ? AND id = ?",
        )
        .bind(at)
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn mission(&self, ws: &str, id: &str) -> StoreResult<Option<MissionRow>> {
        self.optional(
            "SELECT * FROM missions WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            mission_row,
        )
        .await
    }

    async fn mission_by_ref(
        &self,
        ws: &str,
        mission_id: Option<&str>,
        external: Option<(&str, &str)>,
    ) -> StoreResult<Option<MissionRow>> {
        if let Some(m) = mission_id {
            let found = self
                .optional(
                    "SELECT * FROM missions WHERE workspace_id = ? AND mission_id = ?",
                    &[ws, m],
                    mission_row,
                )
                .await?;
            if found.is_some() {
                return Ok(found);
            }
        }
        match external {
            Some((s, i)) => {
                self.optional(
                    "SELECT * FROM missions WHERE workspace_id = ? AND external_source = ? AND external_id = ?",
                    &[ws, s, i],
                    mission_row,
                )
                .await
            }
            None => Ok(None),
        }
    }

    async fn missions(
        &self,
        ws: &str,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<MissionRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM missions WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(s) = status {
            q.push(" AND status = ").push_bind(s);
        }
        q.push(" ORDER BY updated_at DESC, id DESC LIMIT ")
            .push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(mission_row).collect::<sqlx::Result<_>>()?)
    }

    async fn put_mission(&self, m: &MissionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO missions (id, workspace_id, mission_id, external_source, external_id, app, title, goal, \
             status, progress, outcome, success, risk_level, metadata, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET \
             mission_id = excluded.mission_id, external_source = excluded.external_source, \
             external_id = excluded.external_id, app = excluded.app, title = excluded.title, goal = excluded.goal, \
             status = excluded.status, progress = excluded.progress, outcome = excluded.outcome, \
             success = excluded.success, risk_level = excluded.risk_level, metadata = excluded.metadata, \
             updated_at = excluded.updated_at",
        )
        .bind(&m.id).bind(&m.workspace_id).bind(&m.mission_id).bind(&m.external_source)
        .bind(&m.external_id).bind(&m.app).bind(&m.title).bind(&m.goal).bind(&m.status).bind(m.progress)
        .bind(&m.outcome).bind(m.success.map(i64::from)).bind(&m.risk_level).bind(m.metadata.to_string())
        .bind(&m.created_at).bind(&m.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn steps(&self, mission_uuid: &str) -> StoreResult<Vec<StepRow>> {
        let rows = sqlx::query(
            "SELECT * FROM mission_steps WHERE mission_uuid = ? ORDER BY position, created_at, id",
        )
        .bind(mission_uuid)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(step_row).collect::<sqlx::Result<_>>()?)
    }

    async fn put_step(&self, s: &StepRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mission_steps (id, mission_uuid, workspace_id, step_ref, task_id, title, status, position, \
             detail, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(id) DO UPDATE SET step_ref = excluded.step_ref, task_id = excluded.task_id, \
             title = excluded.title, status = excluded.status, position = excluded.position, \
             detail = excluded.detail, metadata = excluded.metadata, updated_at = excluded.updated_at",
        )
        .bind(&s.id).bind(&s.mission_uuid).bind(&s.workspace_id).bind(&s.step_ref).bind(&s.task_id)
        .bind(&s.title).bind(&s.status).bind(s.position).bind(&s.detail).bind(s.metadata.to_string())
        .bind(&s.created_at).bind(&s.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn artifacts(&self, mission_uuid: &str) -> StoreResult<Vec<ArtifactRow>> {
        let rows = sqlx::query(
            "SELECT * FROM mission_artifacts WHERE mission_uuid = ? ORDER BY created_at, id",
        )
        .bind(mission_uuid)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(artifact_row).collect::<sqlx::Result<_>>()?)
    }

    async fn add_artifact(&self, a: &ArtifactRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mission_artifacts (id, mission_uuid, workspace_id, kind, title, uri, content, metadata, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&a.id).bind(&a.mission_uuid).bind(&a.workspace_id).bind(&a.kind).bind(&a.title)
        .bind(&a.uri).bind(&a.content).bind(a.metadata.to_string()).bind(&a.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn trace(&self, ws: &str, id: &str) -> StoreResult<Option<TraceRow>> {
        self.optional(
            "SELECT * FROM harness_traces WHERE workspace_id = ? AND id = ?",
            &[ws, id],
            trace_row,
        )
        .await
    }

    async fn traces(&self, ws: &str, f: &TraceFilter) -> StoreResult<Vec<TraceRow>> {
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM harness_traces WHERE workspace_id = ");
        q.push_bind(ws);
        if let Some(m) = &f.mission_id {
            q.push(" AND mission_id = ").push_bind(m);
        }
        if let Some(t) = &f.trace_type {
            q.push(" AND trace_type = ").push_bind(t);
        }
        super::push_before(&mut q, "created_at", &f.before);
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(trace_row).collect::<sqlx::Result<_>>()?)
    }

    async fn traces_by_ids(&self, ws: &str, ids: &[String]) -> StoreResult<Vec<TraceRow>> {
        let mut out = Vec::new();
        for id in ids {
            if let Some(t) = self.trace(ws, id).await? {
                out.push(t);
            }
        }
        Ok(out)
    }

    async fn add_trace(&self, t: &TraceRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO harness_traces (id, workspace_id, trace_type, harness_version_id, assistant_id, thread_id, \
             mission_id, task_id, input_summary, output_summary, context_strategy, context, pack_id, charged_usd, \
             outcome, feedback_score, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.id).bind(&t.workspace_id).bind(&t.trace_type).bind(&t.harness_version_id)
        .bind(&t.assistant_id).bind(&t.thread_id).bind(&t.mission_id).bind(&t.task_id)
        .bind(&t.input_summary).bind(&t.output_summary).bind(&t.context_strategy).bind(t.context.to_string())
        .bind(&t.pack_id).bind(t.charged_usd).bind(&t.outcome).bind(t.feedback_score)
        .bind(t.metadata.to_string()).bind(&t.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn record_reply(&self, ws: &str, id: &str, r: &TraceReply) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE harness_traces SET trace_type = ?, output_summary = ?, charged_usd = ?, \
             metadata = json_set(metadata, '$.usage', json(?)), routing = ? \
             WHERE workspace_id = ? AND id = ?",
        )
        .bind(&r.trace_type)
        .bind(&r.output_summary)
        .bind(r.charged_usd)
        .bind(r.usage.to_string())
        .bind(r.routing.as_ref().map(serde_json::Value::to_string))
        .bind(ws)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_routing(&self, ws: &str, id: &str) -> StoreResult<Option<serde_json::Value>> {
        // RETURNING gives the new (cleared) value: read, then clear only what is still there,
        // in one transaction, so two ratings cannot both take it.
        let mut tx = self.pool.begin().await?;
        let routing: Option<Option<String>> = sqlx::query_scalar(
            "SELECT routing FROM harness_traces WHERE workspace_id = ? AND id = ?",
        )
        .bind(ws)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(routing) = routing.flatten() else {
            return Ok(None);
        };
        let cleared = sqlx::query(
            "UPDATE harness_traces SET routing = NULL \
             WHERE workspace_id = ? AND id = ? AND routing IS NOT NULL",
        )
        .bind(ws)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((cleared.rows_affected() == 1).then(|| json(&routing)))
    }

    async fn add_feedback(&self, f: &TraceFeedbackRow) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO harness_feedback (id, workspace_id, trace_id, rating, outcome, comment, remember_note_id, \
             forgotten, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.id).bind(&f.workspace_id).bind(&f.trace_id).bind(f.rating).bind(&f.outcome)
        .bind(&f.comment).bind(&f.remember_note_id).bind(serde_json::to_string(&f.forgotten).map_err(anyhow::Error::from)?)
        .bind(&f.actor).bind(&f.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE harness_traces SET \
             feedback_score = (SELECT AVG(rating) FROM harness_feedback WHERE trace_id = ? AND rating IS NOT NULL), \
             outcome = COALESCE(?, outcome) WHERE id = ?",
        )
        .bind(&f.trace_id)
        .bind(&f.outcome)
        .bind(&f.trace_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reflections(&self, ws: &str, limit: i64) -> StoreResult<Vec<ReflectionRow>> {
        let rows = sqlx::query("SELECT * FROM reflections WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?")
            .bind(ws)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(reflection_row)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn add_reflection(&self, r: &ReflectionRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO reflections (id, workspace_id, trace_ids, insight, model, note_id, created_by, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id).bind(&r.workspace_id).bind(serde_json::to_string(&r.trace_ids).map_err(anyhow::Error::from)?).bind(&r.insight)
        .bind(&r.model).bind(&r.note_id).bind(&r.created_by).bind(&r.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
