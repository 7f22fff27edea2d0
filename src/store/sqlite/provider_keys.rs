//! Customer provider keys in SQLite, read with their workspace's id and name.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::SqliteCatalog;
use crate::store::provider_keys::{ProviderKeyRow, ProviderKeyStore};
use crate::store::time::now;

/// An account's keys (one workspace's when the second and third parameters name it), each
/// with its workspace's id and name, newest first.
const ACCOUNT_KEYS: &str =
    "SELECT k.id, k.account_id, k.workspace_id, w.workspace_id AS workspace_slug, \
     w.name AS workspace_name, k.provider, k.label, k.secret_enc, k.prefix, k.status, \
     k.last_success_at, k.last_failure_at, k.last_failure_code, k.created_at \
     FROM provider_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id \
     WHERE k.account_id = ? AND (? IS NULL OR k.workspace_id = ?) \
     ORDER BY k.created_at DESC, k.id DESC";

/// Every account's keys, as [`ACCOUNT_KEYS`] reads them.
const ALL_KEYS: &str =
    "SELECT k.id, k.account_id, k.workspace_id, w.workspace_id AS workspace_slug, \
     w.name AS workspace_name, k.provider, k.label, k.secret_enc, k.prefix, k.status, \
     k.last_success_at, k.last_failure_at, k.last_failure_code, k.created_at \
     FROM provider_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id \
     ORDER BY k.created_at DESC, k.id DESC";

fn key_row(r: &SqliteRow) -> sqlx::Result<ProviderKeyRow> {
    Ok(ProviderKeyRow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        workspace_row_id: r.try_get("workspace_id")?,
        workspace_slug: r.try_get("workspace_slug")?,
        workspace_name: r.try_get("workspace_name")?,
        provider: r.try_get("provider")?,
        label: r.try_get("label")?,
        secret_enc: r.try_get("secret_enc")?,
        prefix: r.try_get("prefix")?,
        status: r.try_get("status")?,
        last_success_at: r.try_get("last_success_at")?,
        last_failure_at: r.try_get("last_failure_at")?,
        last_failure_code: r.try_get("last_failure_code")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl ProviderKeyStore for SqliteCatalog {
    async fn add_provider_key(&self, k: &ProviderKeyRow) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO provider_keys (id, account_id, workspace_id, provider, label, secret_enc, \
             prefix, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(&k.account_id)
        .bind(&k.workspace_row_id)
        .bind(&k.provider)
        .bind(&k.label)
        .bind(&k.secret_enc)
        .bind(&k.prefix)
        .bind(&k.status)
        .bind(&k.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn provider_keys(
        &self,
        account_id: &str,
        workspace_row_id: Option<&str>,
    ) -> anyhow::Result<Vec<ProviderKeyRow>> {
        let rows = sqlx::query(ACCOUNT_KEYS)
            .bind(account_id)
            .bind(workspace_row_id)
            .bind(workspace_row_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(key_row).collect::<sqlx::Result<_>>()?)
    }

    async fn all_provider_keys(&self) -> anyhow::Result<Vec<ProviderKeyRow>> {
        let rows = sqlx::query(ALL_KEYS).fetch_all(self.pool()).await?;
        Ok(rows.iter().map(key_row).collect::<sqlx::Result<_>>()?)
    }

    async fn delete_provider_key(&self, account_id: &str, id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM provider_keys WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_provider_key(&self, id: &str, failure_code: Option<&str>) -> anyhow::Result<()> {
        let sql = match failure_code {
            None => "UPDATE provider_keys SET status = 'active', last_success_at = ? WHERE id = ?",
            Some(_) => {
                "UPDATE provider_keys SET status = 'failing', last_failure_at = ?, \
                 last_failure_code = ? WHERE id = ?"
            }
        };
        let mut q = sqlx::query(sql).bind(now());
        if let Some(code) = failure_code {
            q = q.bind(code);
        }
        q.bind(id).execute(self.pool()).await?;
        Ok(())
    }
}
