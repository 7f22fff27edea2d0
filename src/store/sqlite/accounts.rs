//! `AccountStore` on SQLite: accounts, users, API keys, refresh tokens and workspaces, with
//! the hot rows (keys, workspaces) kept for a few seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Row, SqlitePool};

use crate::store::time::{new_id, now};
use crate::store::{
    AccountStore, ApiKey, DuplicateEmail, DuplicateWorkspace, KeyPatch, LastAdmin, NewAccount,
    NewApiKey, NewWorkspace, RefreshToken, StoreError, User, Workspace, WorkspacePatch,
};

#[derive(Clone)]
pub struct SqliteAccounts {
    pool: SqlitePool,
    hot: Arc<HotRows>,
}

impl SqliteAccounts {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            hot: Arc::default(),
        }
    }
}

/// API keys and workspaces are read on every request and change rarely: they are kept for a
/// few seconds, and any change made through this store drops them at once. The few seconds
/// bound how long a change made by another process (the CLI) takes to be seen. A read that
/// raced a change (it began before the drop) is not kept: the generation tells.
#[derive(Default)]
struct HotRows {
    keys: Mutex<HashMap<String, (Instant, ApiKey)>>,
    workspaces: Mutex<HashMap<(String, String), (Instant, Workspace)>>,
    generation: std::sync::atomic::AtomicU64,
}

const HOT_FOR: Duration = Duration::from_secs(5);
const HOT_MAX: usize = 10_000;

fn hot_get<K: std::hash::Hash + Eq, V: Clone>(
    map: &Mutex<HashMap<K, (Instant, V)>>,
    key: &K,
) -> Option<V> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(key)
        .filter(|(at, _)| at.elapsed() < HOT_FOR)
        .map(|(_, v)| v.clone())
}

fn hot_put<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, (Instant, V)>>, key: K, value: V) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= HOT_MAX {
        map.retain(|_, (at, _)| at.elapsed() < HOT_FOR);
    }
    if map.len() < HOT_MAX {
        map.insert(key, (Instant::now(), value));
    }
}

impl HotRows {
    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps `value` unless a change dropped the rows since the read began (`read_at`).
    fn put<K: std::hash::Hash + Eq, V>(
        &self,
        map: &Mutex<HashMap<K, (Instant, V)>>,
        read_at: u64,
        key: K,
        value: V,
    ) {
        if self.generation() == read_at {
            hot_put(map, key, value);
        }
    }

    fn clear(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.workspaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

const WORKSPACE_COLUMNS: &str = "id, account_id, workspace_id, name, status, metadata, \
     monthly_budget_usd, created_at, updated_at";

fn workspace_from_row(row: &sqlx::sqlite::SqliteRow, prefix: &str) -> sqlx::Result<Workspace> {
    let col = |name: &str| format!("{prefix}{name}");
    let metadata: String = row.try_get(col("metadata").as_str())?;
    Ok(Workspace {
        id: row.try_get(col("id").as_str())?,
        account_id: row.try_get(col("account_id").as_str())?,
        workspace_id: row.try_get(col("workspace_id").as_str())?,
        name: row.try_get(col("name").as_str())?,
        status: row.try_get(col("status").as_str())?,
        metadata: parse_json(&metadata),
        monthly_budget_usd: row.try_get(col("monthly_budget_usd").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
        updated_at: row.try_get(col("updated_at").as_str())?,
    })
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

const KEY_SELECT: &str = "SELECT k.id, k.account_id, k.name, k.prefix, k.metadata, k.scopes, \
     k.rate_limit_per_minute, k.monthly_budget_usd, k.last_used_at, k.created_at, \
     k.expires_at, k.rotation_days, k.disabled, k.rotated_at, \
     w.id AS w_id, w.account_id AS w_account_id, w.workspace_id AS w_workspace_id, \
     w.name AS w_name, w.status AS w_status, w.metadata AS w_metadata, \
     w.monthly_budget_usd AS w_monthly_budget_usd, w.created_at AS w_created_at, \
     w.updated_at AS w_updated_at \
     FROM api_keys k LEFT JOIN workspaces w ON w.id = k.workspace_id";

fn key_from_row(row: &sqlx::sqlite::SqliteRow) -> sqlx::Result<ApiKey> {
    let workspace_row_id: Option<String> = row.try_get("w_id")?;
    let workspace = match workspace_row_id {
        Some(_) => Some(workspace_from_row(row, "w_")?),
        None => None,
    };
    let metadata: String = row.try_get("metadata")?;
    let limit: Option<i64> = row.try_get("rate_limit_per_minute")?;
    let scopes: Option<String> = row.try_get("scopes")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        workspace,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        metadata: parse_json(&metadata),
        rate_limit_per_minute: limit.and_then(|l| u32::try_from(l).ok()),
        monthly_budget_usd: row.try_get("monthly_budget_usd")?,
        scopes: scopes.map(|text| serde_json::from_str(&text).unwrap_or_default()),
        last_used_at: row.try_get("last_used_at")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        rotation_days: row
            .try_get::<Option<i64>, _>("rotation_days")?
            .and_then(|d| u32::try_from(d).ok()),
        enabled: !row.try_get::<bool, _>("disabled")?,
        rotated_at: row.try_get("rotated_at")?,
    })
}

#[async_trait]
impl AccountStore for SqliteAccounts {
    async fn create_account(
        &self,
        new: NewAccount,
    ) -> anyhow::Result<Result<User, DuplicateEmail>> {
        let mut tx = self.pool.begin().await?;
        let created_at = now();
        let role = new.role;
        let account_id = new_id();
        sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
            .bind(&account_id)
            .bind(&new.account_name)
            .bind(&created_at)
            .execute(&mut *tx)
            .await?;
        let user = User {
            id: new_id(),
            account_id: account_id.clone(),
            email: new.email,
            password_hash: new.password_hash,
            role,
            created_at: created_at.clone(),
        };
        let inserted = sqlx::query(
            "INSERT INTO users (id, account_id, email, password_hash, role, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.account_id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(&user.created_at)
        .execute(&mut *tx)
        .await;
        match inserted.map_err(StoreError::from) {
            Err(e) if e.is_conflict() => return Ok(Err(DuplicateEmail)),
            other => other?,
        };
        sqlx::query(
            "INSERT INTO workspaces (id, account_id, workspace_id, name, status, metadata, \
             created_at, updated_at) VALUES (?, ?, 'default', 'Default', 'active', '{}', ?, ?)",
        )
        .bind(new_id())
        .bind(&account_id)
        .bind(&created_at)
        .bind(&created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(user))
    }

    async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users WHERE email = ?")
                .bind(email)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn user_by_id(&self, id: &str) -> anyhow::Result<Option<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn first_admin(&self) -> anyhow::Result<Option<User>> {
        Ok(sqlx::query_as::<_, User>(
            "SELECT * FROM users WHERE role = 'admin' ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn list_users(&self) -> anyhow::Result<Vec<User>> {
        Ok(
            sqlx::query_as::<_, User>("SELECT * FROM users ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn set_role(
        &self,
        id: &str,
        role: &str,
    ) -> anyhow::Result<Result<Option<User>, LastAdmin>> {
        let mut tx = self.pool.begin().await?;
        let Some(user) = sqlx::query_as::<_, User>("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(Ok(None));
        };
        if user.is_admin() && role != "admin" {
            let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
                .fetch_one(&mut *tx)
                .await?;
            if admins <= 1 {
                return Ok(Err(LastAdmin));
            }
        }
        sqlx::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(Some(User {
            role: role.to_string(),
            ..user
        })))
    }

    async fn insert_refresh_token(&self, t: RefreshToken) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, token_hash, expires_at, revoked_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.token_hash)
        .bind(&t.expires_at)
        .bind(&t.revoked_at)
        .bind(&t.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn refresh_token_by_hash(&self, hash: &str) -> anyhow::Result<Option<RefreshToken>> {
        Ok(
            sqlx::query_as::<_, RefreshToken>("SELECT * FROM refresh_tokens WHERE token_hash = ?")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn revoke_refresh_token(&self, id: &str, at: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_workspace(
        &self,
        account_id: &str,
        new: NewWorkspace,
    ) -> anyhow::Result<Result<Workspace, DuplicateWorkspace>> {
        let at = now();
        let ws = Workspace {
            id: new_id(),
            account_id: account_id.to_string(),
            workspace_id: new.workspace_id,
            name: new.name,
            status: "active".to_string(),
            metadata: new.metadata,
            monthly_budget_usd: new.monthly_budget_usd,
            created_at: at.clone(),
            updated_at: at,
        };
        let inserted = sqlx::query(
            "INSERT INTO workspaces (id, account_id, workspace_id, name, status, metadata, \
             monthly_budget_usd, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&ws.id)
        .bind(&ws.account_id)
        .bind(&ws.workspace_id)
        .bind(&ws.name)
        .bind(&ws.status)
        .bind(ws.metadata.to_string())
        .bind(ws.monthly_budget_usd)
        .bind(&ws.created_at)
        .bind(&ws.updated_at)
        .execute(&self.pool)
        .await;
        match inserted.map_err(StoreError::from) {
            Err(e) if e.is_conflict() => Ok(Err(DuplicateWorkspace)),
            Err(e) => Err(e.into()),
            Ok(_) => Ok(Ok(ws)),
        }
    }

    async fn list_workspaces(&self, account_id: &str) -> anyhow::Result<Vec<Workspace>> {
        let rows = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE account_id = ? ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| workspace_from_row(r, ""))
            .collect::<sqlx::Result<_>>()?)
    }

    async fn workspace_by_slug(
        &self,
        account_id: &str,
        slug: &str,
    ) -> anyhow::Result<Option<Workspace>> {
        let key = (account_id.to_string(), slug.to_string());
        if let Some(ws) = hot_get(&self.hot.workspaces, &key) {
            return Ok(Some(ws));
        }
        let read_at = self.hot.generation();
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE account_id = ? AND workspace_id = ?"
        ))
        .bind(account_id)
        .bind(slug)
        .fetch_optional(&self.pool)
        .await?;
        let ws = row.map(|r| workspace_from_row(&r, "")).transpose()?;
        if let Some(w) = &ws {
            self.hot.put(&self.hot.workspaces, read_at, key, w.clone());
        }
        Ok(ws)
    }

    async fn workspace_by_name(
        &self,
        account_id: &str,
        name: &str,
    ) -> anyhow::Result<Option<Workspace>> {
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE account_id = ? AND name = ? \
             ORDER BY created_at LIMIT 1"
        ))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| workspace_from_row(&r, "")).transpose()?)
    }

    async fn update_workspace(
        &self,
        account_id: &str,
        slug: &str,
        patch: WorkspacePatch,
    ) -> anyhow::Result<Option<Workspace>> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE account_id = ? AND workspace_id = ?"
        ))
        .bind(account_id)
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut ws = workspace_from_row(&row, "")?;
        if let Some(name) = patch.name {
            ws.name = name;
        }
        if let Some(status) = patch.status {
            ws.status = status;
        }
        if let Some(metadata) = patch.metadata {
            ws.metadata = metadata;
        }
        if let Some(budget) = patch.monthly_budget_usd {
            ws.monthly_budget_usd = budget;
        }
        ws.updated_at = now();
        sqlx::query(
            "UPDATE workspaces SET name = ?, status = ?, metadata = ?, monthly_budget_usd = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(&ws.name)
        .bind(&ws.status)
        .bind(ws.metadata.to_string())
        .bind(ws.monthly_budget_usd)
        .bind(&ws.updated_at)
        .bind(&ws.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.hot.clear();
        Ok(Some(ws))
    }

    async fn create_key(&self, new: NewApiKey) -> anyhow::Result<ApiKey> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_keys (id, account_id, workspace_id, name, prefix, key_hash, metadata, \
             rate_limit_per_minute, monthly_budget_usd, scopes, created_at, expires_at, rotation_days) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&id)
        .bind(&new.account_id)
        .bind(&new.workspace_row_id)
        .bind(&new.name)
        .bind(&new.prefix)
        .bind(&new.key_hash)
        .bind(new.metadata.to_string())
        .bind(new.rate_limit_per_minute.map(i64::from))
        .bind(new.monthly_budget_usd)
        .bind(serde_json::to_string(&new.scopes)?)
        .bind(now())
        .bind(&new.expires_at)
        .bind(new.rotation_days.map(i64::from))
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(&format!("{KEY_SELECT} WHERE k.id = ?"))
            .bind(&id)
            .fetch_one(&self.pool)
            .await?;
        Ok(key_from_row(&row)?)
    }

    async fn list_keys(&self, account_id: &str) -> anyhow::Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "{KEY_SELECT} WHERE k.account_id = ? AND k.revoked_at IS NULL ORDER BY k.created_at, k.id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_from_row).collect::<sqlx::Result<_>>()?)
    }

    async fn key_by_hash(&self, hash: &str) -> anyhow::Result<Option<ApiKey>> {
        if let Some(k) = hot_get(&self.hot.keys, &hash.to_string()) {
            return Ok(Some(k));
        }
        let read_at = self.hot.generation();
        let row = sqlx::query(&format!(
            "{KEY_SELECT} WHERE k.key_hash = ? AND k.revoked_at IS NULL AND k.disabled = 0"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        let key = row.map(|r| key_from_row(&r)).transpose()?;
        if let Some(k) = &key {
            self.hot
                .put(&self.hot.keys, read_at, hash.to_string(), k.clone());
        }
        Ok(key)
    }

    async fn revoke_key(&self, account_id: &str, id: &str, at: &str) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .bind(account_id)
        .execute(&self.pool)
        .await?;
        self.hot.clear();
        Ok(done.rows_affected() == 1)
    }

    async fn all_keys(&self) -> anyhow::Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "{KEY_SELECT} WHERE k.revoked_at IS NULL ORDER BY k.created_at, k.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(key_from_row).collect::<sqlx::Result<_>>()?)
    }

    async fn key_by_id(&self, id: &str) -> anyhow::Result<Option<ApiKey>> {
        let row = sqlx::query(&format!(
            "{KEY_SELECT} WHERE k.id = ? AND k.revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| key_from_row(&r)).transpose()?)
    }

    async fn update_key(&self, id: &str, p: &KeyPatch) -> anyhow::Result<bool> {
        let scopes = p.scopes.as_ref().map(serde_json::to_string).transpose()?;
        let done = sqlx::query(
            "UPDATE api_keys SET name = COALESCE(?, name), scopes = COALESCE(?, scopes), \
             rotation_days = CASE WHEN ? THEN ? ELSE rotation_days END, \
             disabled = COALESCE(?, disabled), \
             monthly_budget_usd = CASE WHEN ? THEN ? ELSE monthly_budget_usd END \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(&p.name)
        .bind(scopes)
        .bind(p.rotation_days.is_some())
        .bind(p.rotation_days.flatten().map(i64::from))
        .bind(p.enabled.map(|e| !e))
        .bind(p.monthly_budget_usd.is_some())
        .bind(p.monthly_budget_usd.flatten())
        .bind(id)
        .execute(&self.pool)
        .await?;
        // Authentication caches keys by hash: a change must be seen by the next request.
        self.hot.clear();
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_key(
        &self,
        id: &str,
        key_hash: &str,
        prefix: &str,
        at: &str,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE api_keys SET key_hash = ?, prefix = ?, rotated_at = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .bind(prefix)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.hot.clear();
        Ok(done.rows_affected() == 1)
    }

    async fn touch_key(&self, id: &str, at: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
