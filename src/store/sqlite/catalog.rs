use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::{fetch_optional, strings};
use crate::store::gateway::{CatalogStore, LocalEndpoint, ModelRow, ProviderRow};
use crate::store::time::now;

pub struct SqliteCatalog {
    pool: SqlitePool,
}

impl SqliteCatalog {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
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
    })
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
        let mut tx = self.pool.begin().await?;
        let at = now();
        sqlx::query("DELETE FROM gateway_models WHERE source = 'config'")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM gateway_providers WHERE source = 'config'")
            .execute(&mut *tx)
            .await?;
        for p in providers {
            sqlx::query(
                "INSERT INTO gateway_providers (name, kind, base_url, secret_enc, timeout_secs, source, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&p.name)
            .bind(&p.kind)
            .bind(&p.base_url)
            .bind(&p.secret_enc)
            .bind(p.timeout_secs)
            .bind(&p.source)
            .bind(&at)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        for m in models {
            sqlx::query(
                "INSERT INTO gateway_models (name, provider, upstream, weight, context_window, input_per_1k, \
                 output_per_1k, aliases, capabilities, enabled, source, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
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
            .bind(&at)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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
