use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::json;
use crate::store::gateway::{BillingStore, Hold, Refusal, UsageFilter, UsageRow, UsageStore};
use crate::store::time::{new_id, now};

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
        if let Some(s) = &f.since {
            q.push(" AND created_at >= ").push_bind(s);
        }
        q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(f.limit);
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(usage_row).collect::<sqlx::Result<_>>()?)
    }
}

pub struct SqliteBilling {
    pool: SqlitePool,
}

impl SqliteBilling {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl BillingStore for SqliteBilling {
    async fn reserve(&self, h: &Hold, budget: Option<f64>) -> anyhow::Result<Result<(), Refusal>> {
        let mut tx = self.pool.begin().await?;
        if h.balance {
            // The condition and the update are one statement: concurrent requests can't both
            // pass on the same remaining balance.
            let done = sqlx::query(
                "UPDATE balances SET reserved_usd = reserved_usd + ?, updated_at = ? \
                 WHERE account_id = ? AND balance_usd - reserved_usd >= ?",
            )
            .bind(h.amount_usd)
            .bind(now())
            .bind(&h.account_id)
            .bind(h.amount_usd)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(Err(Refusal::Balance));
            }
        }
        if let (Some(limit), Some(month)) = (budget, &h.budget_month) {
            sqlx::query(
                "INSERT OR IGNORE INTO budget_holds (workspace_id, month, spent_usd, reserved_usd) VALUES (?, ?, 0, 0)",
            )
            .bind(&h.workspace_id)
            .bind(month)
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query(
                "UPDATE budget_holds SET reserved_usd = reserved_usd + ? \
                 WHERE workspace_id = ? AND month = ? AND spent_usd + reserved_usd + ? <= ?",
            )
            .bind(h.amount_usd)
            .bind(&h.workspace_id)
            .bind(month)
            .bind(h.amount_usd)
            .bind(limit)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(Err(Refusal::Budget));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn settle(&self, h: &Hold, actual: f64, usage_id: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        if h.balance {
            sqlx::query(
                "UPDATE balances SET reserved_usd = MAX(reserved_usd - ?, 0), balance_usd = balance_usd - ?, \
                 updated_at = ? WHERE account_id = ?",
            )
            .bind(h.amount_usd)
            .bind(actual)
            .bind(&at)
            .bind(&h.account_id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(month) = &h.budget_month {
            sqlx::query(
                "UPDATE budget_holds SET reserved_usd = MAX(reserved_usd - ?, 0), spent_usd = spent_usd + ? \
                 WHERE workspace_id = ? AND month = ?",
            )
            .bind(h.amount_usd)
            .bind(actual)
            .bind(&h.workspace_id)
            .bind(month)
            .execute(&mut *tx)
            .await?;
        }
        if actual > 0.0 {
            sqlx::query(
                "INSERT INTO ledger (id, account_id, kind, amount_usd, usage_id, note, actor, created_at) \
                 VALUES (?, ?, 'charge', ?, ?, NULL, 'gateway', ?)",
            )
            .bind(new_id())
            .bind(&h.account_id)
            .bind(actual)
            .bind(usage_id)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn credit(
        &self,
        account_id: &str,
        amount: f64,
        actor: &str,
        note: Option<&str>,
    ) -> anyhow::Result<f64> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query(
            "INSERT INTO balances (account_id, balance_usd, reserved_usd, updated_at) VALUES (?, ?, 0, ?) \
             ON CONFLICT(account_id) DO UPDATE SET balance_usd = balance_usd + excluded.balance_usd, \
             updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(amount)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO ledger (id, account_id, kind, amount_usd, usage_id, note, actor, created_at) \
             VALUES (?, ?, 'credit', ?, NULL, ?, ?, ?)",
        )
        .bind(new_id())
        .bind(account_id)
        .bind(amount)
        .bind(note)
        .bind(actor)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let balance: f64 =
            sqlx::query_scalar("SELECT balance_usd FROM balances WHERE account_id = ?")
                .bind(account_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn balance(&self, account_id: &str) -> anyhow::Result<(f64, f64)> {
        let row: Option<(f64, f64)> =
            sqlx::query_as("SELECT balance_usd, reserved_usd FROM balances WHERE account_id = ?")
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.unwrap_or((0.0, 0.0)))
    }
}
