use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::{fetch_optional, json, strings};
use crate::store::gateway::{
    AuditRow, CatalogStore, LocalEndpoint, ModelRow, Page, Point, Posterior, ProviderRow, Pruned,
    RewardRow,
};
use crate::store::time::now;

pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn provider_row(r: &SqliteRow) -> sqlx::Result<ProviderRow> {
    Ok(ProviderRow {
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        base_url: r.try_get("base_url")?,
        secret_enc: r.try_get("secret_enc")?,
        timeout_secs: r.try_get("timeout_secs")?,
        source: r.try_get("source")?,
        enabled: r.try_get("enabled")?,
        cred_store: r.try_get("cred_store")?,
        api_key_env: r.try_get("api_key_env")?,
    })
}

fn reward_row(r: &SqliteRow) -> sqlx::Result<RewardRow> {
    Ok(RewardRow {
        id: r.try_get("id")?,
        model: r.try_get("model")?,
        bucket: r.try_get("bucket")?,
        probability: r.try_get("probability")?,
        reward: r.try_get("reward")?,
        success: r.try_get("success")?,
        latency_ms: r.try_get("latency_ms")?,
        cost_usd: r.try_get("cost_usd")?,
        source: r.try_get("source")?,
        created_at: r.try_get("created_at")?,
    })
}

fn audit_row(r: &SqliteRow) -> sqlx::Result<AuditRow> {
    let value = |name: &str| -> sqlx::Result<Option<serde_json::Value>> {
        Ok(r.try_get::<Option<String>, _>(name)?.map(|t| json(&t)))
    };
    Ok(AuditRow {
        id: r.try_get("id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        before: value("before")?,
        after: value("after")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    a: &AuditRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO admin_audit (id, actor, action, target, before, after, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&a.id)
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.target)
    .bind(a.before.as_ref().map(|v| v.to_string()))
    .bind(a.after.as_ref().map(|v| v.to_string()))
    .bind(&a.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts a provider row, or updates the one of that name in place (an UPDATE, never a
/// delete and insert, which would cascade to its models).
const UPSERT_PROVIDER: &str = "INSERT INTO gateway_providers (name, kind, base_url, secret_enc, \
     timeout_secs, source, enabled, cred_store, api_key_env, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, \
     base_url = excluded.base_url, secret_enc = excluded.secret_enc, timeout_secs = excluded.timeout_secs, \
     source = excluded.source, enabled = excluded.enabled, cred_store = excluded.cred_store, \
     api_key_env = excluded.api_key_env, updated_at = excluded.updated_at";

const UPSERT_MODEL: &str = "INSERT INTO gateway_models (name, provider, upstream, weight, \
     context_window, input_per_1k, output_per_1k, aliases, capabilities, enabled, source, created_at, \
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET \
     provider = excluded.provider, upstream = excluded.upstream, weight = excluded.weight, \
     context_window = excluded.context_window, input_per_1k = excluded.input_per_1k, \
     output_per_1k = excluded.output_per_1k, aliases = excluded.aliases, \
     capabilities = excluded.capabilities, enabled = excluded.enabled, source = excluded.source, \
     updated_at = excluded.updated_at";

/// `sql`: an upsert, or the seed's insert that leaves an admin's row of that name alone.
async fn insert_provider(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    p: &ProviderRow,
    sql: &str,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query(sql)
        .bind(&p.name)
        .bind(&p.kind)
        .bind(&p.base_url)
        .bind(&p.secret_enc)
        .bind(p.timeout_secs)
        .bind(&p.source)
        .bind(p.enabled)
        .bind(&p.cred_store)
        .bind(&p.api_key_env)
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_model(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    m: &ModelRow,
    sql: &str,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query(sql)
        .bind(&m.name)
        .bind(&m.provider)
        .bind(&m.upstream)
        .bind(m.weight)
        .bind(m.context_window)
        .bind(m.input_per_1k)
        .bind(m.output_per_1k)
        .bind(json_list(&m.aliases))
        .bind(json_list(&m.capabilities))
        .bind(m.enabled)
        .bind(&m.source)
        .bind(at)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn model_row(r: &SqliteRow) -> sqlx::Result<ModelRow> {
    Ok(ModelRow {
        name: r.try_get("name")?,
        provider: r.try_get("provider")?,
        upstream: r.try_get("upstream")?,
        weight: r.try_get("weight")?,
        context_window: r.try_get("context_window")?,
        input_per_1k: r.try_get("input_per_1k")?,
        output_per_1k: r.try_get("output_per_1k")?,
        aliases: strings(r.try_get("aliases")?),
        capabilities: strings(r.try_get("capabilities")?),
        enabled: r.try_get("enabled")?,
        source: r.try_get("source")?,
    })
}

fn endpoint_row(r: &SqliteRow) -> sqlx::Result<LocalEndpoint> {
    Ok(LocalEndpoint {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_id: r.try_get("workspace_id")?,
        url: r.try_get("url")?,
        label: r.try_get("label")?,
        default_model: r.try_get("default_model")?,
        headers_enc: r.try_get("headers_enc")?,
        header_names: strings(r.try_get("header_names")?),
        status: r.try_get("status")?,
        models: strings(r.try_get("models")?),
        last_error: r.try_get("last_error")?,
        checked_at: r.try_get("checked_at")?,
        enabled: r.try_get("enabled")?,
        registered_by_admin: r.try_get("registered_by_admin")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl CatalogStore for SqliteCatalog {
    async fn seed(&self, providers: &[ProviderRow], models: &[ModelRow]) -> anyhow::Result<()> {
        // Rows still in the file are updated in place (a delete would cascade to the models
        // an admin added to a filed provider); an admin's row of the same name is left alone.
        let seed_provider = format!("{UPSERT_PROVIDER} WHERE gateway_providers.source = 'config'");
        let seed_model = format!("{UPSERT_MODEL} WHERE gateway_models.source = 'config'");
        let names = |list: Vec<&String>| serde_json::to_string(&list).unwrap_or_default();
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query(
            "DELETE FROM gateway_models WHERE source = 'config' \
             AND name NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(names(models.iter().map(|m| &m.name).collect()))
        .execute(&mut *tx)
        .await?;
        let filed = names(providers.iter().map(|p| &p.name).collect());
        // A provider gone from the file that still serves an admin's models stays, as the
        // admin's, without a key (a delete would cascade to those models).
        sqlx::query(
            "UPDATE gateway_providers SET source = 'admin', cred_store = 'none' \
             WHERE source = 'config' AND name NOT IN (SELECT value FROM json_each(?)) \
             AND name IN (SELECT provider FROM gateway_models WHERE source <> 'config')",
        )
        .bind(&filed)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM gateway_providers WHERE source = 'config' \
             AND name NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(&filed)
        .execute(&mut *tx)
        .await?;
        for p in providers {
            insert_provider(&mut tx, p, &seed_provider, &at).await?;
        }
        for m in models {
            insert_model(&mut tx, m, &seed_model, &at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_provider(&self, p: &ProviderRow, audit: &AuditRow) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_provider(&mut tx, p, UPSERT_PROVIDER, &audit.created_at).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_provider(&self, name: &str, audit: &AuditRow) -> anyhow::Result<Option<u64>> {
        let mut tx = self.pool.begin().await?;
        let models = sqlx::query("DELETE FROM gateway_models WHERE provider = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let gone = sqlx::query("DELETE FROM gateway_providers WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(None);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(Some(models))
    }

    async fn save_model(&self, m: &ModelRow, audit: &AuditRow) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_model(&mut tx, m, UPSERT_MODEL, &audit.created_at).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_model(&self, name: &str, audit: &AuditRow) -> anyhow::Result<bool> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM gateway_models WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn setting(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM gateway_settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn put_setting(&self, key: &str, value: &str, audit: &AuditRow) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO gateway_settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(&audit.created_at)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reseal(
        &self,
        providers: &[(String, Option<String>)],
        endpoints: &[(String, Option<String>)],
        provider_keys: &[(String, String)],
        vault_state: &str,
        audit: Option<&AuditRow>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, secret) in provider_keys {
            sqlx::query("UPDATE provider_keys SET secret_enc = ? WHERE id = ?")
                .bind(secret)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (name, secret) in providers {
            sqlx::query("UPDATE gateway_providers SET secret_enc = ? WHERE name = ?")
                .bind(secret)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        for (id, headers) in endpoints {
            sqlx::query("UPDATE local_endpoints SET headers_enc = ? WHERE id = ?")
                .bind(headers)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO gateway_settings (key, value, updated_at) VALUES ('vault', ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(vault_state)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if let Some(a) = audit {
            insert_audit(&mut tx, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn posteriors(&self) -> anyhow::Result<Vec<Posterior>> {
        let rows = sqlx::query("SELECT model, bucket, alpha, beta FROM gateway_posteriors")
            .fetch_all(&self.pool)
            .await?;
        let posterior = |r: &SqliteRow| -> sqlx::Result<Posterior> {
            Ok(Posterior {
                model: r.try_get("model")?,
                bucket: r.try_get("bucket")?,
                alpha: r.try_get("alpha")?,
                beta: r.try_get("beta")?,
            })
        };
        Ok(rows.iter().map(posterior).collect::<sqlx::Result<_>>()?)
    }

    async fn record_reward(&self, w: &RewardRow, p: &Posterior) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO gateway_rewards (id, model, bucket, probability, reward, success, \
             latency_ms, cost_usd, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&w.id)
        .bind(&w.model)
        .bind(&w.bucket)
        .bind(w.probability)
        .bind(w.reward)
        .bind(w.success)
        .bind(w.latency_ms)
        .bind(w.cost_usd)
        .bind(&w.source)
        .bind(&w.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO gateway_posteriors (model, bucket, alpha, beta, updated_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT(model, bucket) DO UPDATE SET \
             alpha = excluded.alpha, beta = excluded.beta, updated_at = excluded.updated_at",
        )
        .bind(&p.model)
        .bind(&p.bucket)
        .bind(p.alpha)
        .bind(p.beta)
        .bind(&w.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn rewards(&self, limit: i64, offset: i64) -> anyhow::Result<Page<RewardRow>> {
        let rows = sqlx::query(
            "SELECT * FROM gateway_rewards ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM gateway_rewards")
            .fetch_one(&self.pool)
            .await?;
        Ok(Page {
            items: rows.iter().map(reward_row).collect::<sqlx::Result<_>>()?,
            total,
        })
    }

    async fn points(
        &self,
        metric: &str,
        model: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> anyhow::Result<Vec<Point>> {
        let rows = sqlx::query(
            "SELECT * FROM tsdb_points WHERE metric = ? AND (? IS NULL OR model = ?) \
             AND ts >= ? AND ts < ? ORDER BY ts",
        )
        .bind(metric)
        .bind(model)
        .bind(model)
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(super::tsdb::point)
            .collect::<sqlx::Result<_>>()?)
    }

    async fn point_models(&self) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT model FROM tsdb_points ORDER BY model")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn prune_points(&self, raw_before_ms: i64, keep_after_ms: i64) -> anyhow::Result<Pruned> {
        let mut tx = self.pool.begin().await?;
        let pruned = super::tsdb::prune(&mut tx, raw_before_ms, keep_after_ms).await?;
        tx.commit().await?;
        Ok(pruned)
    }

    async fn record_audit(&self, audit: &AuditRow) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit(&self, limit: i64, offset: i64) -> anyhow::Result<Page<AuditRow>> {
        let rows = sqlx::query(
            "SELECT * FROM admin_audit ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_audit")
            .fetch_one(&self.pool)
            .await?;
        Ok(Page {
            items: rows.iter().map(audit_row).collect::<sqlx::Result<_>>()?,
            total,
        })
    }

    async fn providers(&self) -> anyhow::Result<Vec<ProviderRow>> {
        let rows = sqlx::query("SELECT * FROM gateway_providers ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(provider_row).collect::<sqlx::Result<_>>()?)
    }

    async fn models(&self) -> anyhow::Result<Vec<ModelRow>> {
        let rows = sqlx::query("SELECT * FROM gateway_models ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(model_row).collect::<sqlx::Result<_>>()?)
    }

    async fn all_endpoints(&self) -> anyhow::Result<Vec<LocalEndpoint>> {
        let rows = sqlx::query("SELECT * FROM local_endpoints ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(endpoint_row).collect::<sqlx::Result<_>>()?)
    }

    async fn endpoints(
        &self,
        account_id: &str,
        workspace_id: Option<&str>,
    ) -> anyhow::Result<Vec<LocalEndpoint>> {
        let rows = sqlx::query(
            "SELECT * FROM local_endpoints WHERE account_id = ? AND (? IS NULL OR workspace_id = ?) \
             ORDER BY created_at, id",
        )
        .bind(account_id)
        .bind(workspace_id)
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(endpoint_row).collect::<sqlx::Result<_>>()?)
    }

    async fn endpoint(&self, account_id: &str, id: &str) -> anyhow::Result<Option<LocalEndpoint>> {
        fetch_optional(
            &self.pool,
            "SELECT * FROM local_endpoints WHERE account_id = ? AND id = ?",
            &[account_id, id],
            endpoint_row,
        )
        .await
    }

    async fn save_endpoint(&self, e: &LocalEndpoint) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO local_endpoints (id, account_id, workspace_id, url, label, default_model, \
             headers_enc, header_names, status, models, last_error, checked_at, enabled, registered_by_admin, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.id)
        .bind(&e.account_id)
        .bind(&e.workspace_id)
        .bind(&e.url)
        .bind(&e.label)
        .bind(&e.default_model)
        .bind(&e.headers_enc)
        .bind(json_list(&e.header_names))
        .bind(&e.status)
        .bind(json_list(&e.models))
        .bind(&e.last_error)
        .bind(&e.checked_at)
        .bind(e.enabled)
        .bind(e.registered_by_admin)
        .bind(&e.created_at)
        .bind(&e.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_endpoint(&self, account_id: &str, id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM local_endpoints WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
