use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::json;
use crate::store::gateway::{UsageFilter, UsageRow, UsageStore};

#[derive(Clone)]
pub struct SqliteUsage {
    pool: SqlitePool,
}

impl SqliteUsage {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

fn usage_row(r: &SqliteRow) -> sqlx::Result<UsageRow> {
    Ok(UsageRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        api_key_id: r.try_get("api_key_id")?,
        workspace_id: r.try_get("workspace_id")?,
        metadata: json(r.try_get("metadata")?),
        tier: r.try_get("tier")?,
        model: r.try_get("model")?,
        provider: r.try_get("provider")?,
        upstream_model: r.try_get("upstream_model")?,
        routing_method: r.try_get("routing_method")?,
        execution_source: r.try_get("execution_source")?,
        billing_mode: r.try_get("billing_mode")?,
        request_type: r.try_get("request_type")?,
        input_tokens: r.try_get("input_tokens")?,
        output_tokens: r.try_get("output_tokens")?,
        actual_cost_usd: r.try_get("actual_cost_usd")?,
        charged_usd: r.try_get("charged_usd")?,
        baseline_usd: r.try_get("baseline_usd")?,
        latency_ms: r.try_get("latency_ms")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl UsageStore for SqliteUsage {
    async fn add(&self, u: &UsageRow) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO gateway_usage (id, account_id, api_key_id, workspace_id, metadata, tier, model, provider, \
             upstream_model, routing_method, execution_source, billing_mode, request_type, input_tokens, \
             output_tokens, actual_cost_usd, charged_usd, baseline_usd, latency_ms, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&u.id).bind(&u.account_id).bind(&u.api_key_id).bind(&u.workspace_id)
        .bind(u.metadata.to_string()).bind(&u.tier).bind(&u.model).bind(&u.provider)
        .bind(&u.upstream_model).bind(&u.routing_method).bind(&u.execution_source)
        .bind(&u.billing_mode).bind(&u.request_type).bind(u.input_tokens).bind(u.output_tokens)
        .bind(u.actual_cost_usd).bind(u.charged_usd).bind(u.baseline_usd).bind(u.latency_ms)
        .bind(&u.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list(&self, account_id: &str, f: &UsageFilter) -> anyhow::Result<Vec<UsageRow>> {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM gateway_usage WHERE account_id = ");
        q.push_bind(account_id);
        if let Some(w) = &f.workspace_id {
            q.push(" AND workspace_id = ").push_bind(w);
        }
        if let Some(k) = &f.api_key_id {
            q.push(" AND api_key_id = ").push_bind(k);
        }
        if let Some(t) = &f.request_type {
            q.push(" AND request_type = ").push_bind(t);
        }
        if let Some(b) = &f.before {
            q.push(" AND created_at < ").push_bind(b);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(usage_row).collect::<sqlx::Result<_>>()?)
    }
}
