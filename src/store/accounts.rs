//! Accounts, users, refresh tokens, workspaces and API keys.

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: String,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshToken {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub id: String,
    pub account_id: String,
    pub workspace_id: String,
    pub name: String,
    pub status: String,
    pub metadata: Value,
    pub monthly_budget_usd: Option<f64>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub workspace_id: String,
    pub name: String,
    pub metadata: Value,
    pub monthly_budget_usd: Option<f64>,
}

/// A partial update; `None` leaves a field as it is. `monthly_budget_usd: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct WorkspacePatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub metadata: Option<Value>,
    pub monthly_budget_usd: Option<Option<f64>>,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    /// The workspace row id (not the slug) this key is bound to, if any.
    pub workspace: Option<Workspace>,
    pub name: String,
    pub prefix: String,
    pub metadata: Value,
    pub rate_limit_per_minute: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    /// Scope names; `None` for keys made before scopes existed (they hold the runtime set).
    pub scopes: Option<Vec<String>>,
    pub last_used_at: Option<String>,
    pub created_at: String,
    /// The key stops working at this time (RFC 3339), if set.
    pub expires_at: Option<String>,
    /// Rotate every this many days (shown as `rotation_due_at`; not enforced).
    pub rotation_days: Option<u32>,
    /// A disabled key is refused like a revoked one, and can be enabled again.
    pub enabled: bool,
    pub rotated_at: Option<String>,
}

/// What an admin may change on a key; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// `Some(None)` clears it.
    pub rotation_days: Option<Option<u32>>,
    pub enabled: Option<bool>,
    pub monthly_budget_usd: Option<Option<f64>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub account_id: String,
    pub workspace_row_id: Option<String>,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub metadata: Value,
    pub rate_limit_per_minute: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
    pub rotation_days: Option<u32>,
}

/// What registration creates in one transaction: the account, its first user and its
/// `default` workspace.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_name: String,
    pub email: String,
    pub password_hash: String,
    /// `admin`, `reviewer` or `member`.
    pub role: String,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    async fn create_account(&self, new: NewAccount)
        -> anyhow::Result<Result<User, DuplicateEmail>>;
    async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<User>>;
    async fn user_by_id(&self, id: &str) -> anyhow::Result<Option<User>>;
    async fn first_admin(&self) -> anyhow::Result<Option<User>>;
    /// Every user of the installation, oldest first.
    async fn list_users(&self) -> anyhow::Result<Vec<User>>;
    /// Sets a user's role; `Err(LastAdmin)` when it would leave the installation without one.
    async fn set_role(
        &self,
        id: &str,
        role: &str,
    ) -> anyhow::Result<Result<Option<User>, LastAdmin>>;

    async fn insert_refresh_token(&self, token: RefreshToken) -> anyhow::Result<()>;
    async fn refresh_token_by_hash(&self, hash: &str) -> anyhow::Result<Option<RefreshToken>>;
    /// Revokes an active token; false when it was already revoked (a replayed token).
    async fn revoke_refresh_token(&self, id: &str, at: &str) -> anyhow::Result<bool>;
    async fn revoke_user_refresh_tokens(&self, user_id: &str, at: &str) -> anyhow::Result<()>;

    async fn create_workspace(
        &self,
        account_id: &str,
        new: NewWorkspace,
    ) -> anyhow::Result<Result<Workspace, DuplicateWorkspace>>;
    async fn list_workspaces(&self, account_id: &str) -> anyhow::Result<Vec<Workspace>>;
    async fn workspace_by_slug(
        &self,
        account_id: &str,
        slug: &str,
    ) -> anyhow::Result<Option<Workspace>>;
    async fn workspace_by_name(
        &self,
        account_id: &str,
        name: &str,
    ) -> anyhow::Result<Option<Workspace>>;
    async fn update_workspace(
        &self,
        account_id: &str,
        slug: &str,
        patch: WorkspacePatch,
    ) -> anyhow::Result<Option<Workspace>>;

    async fn create_key(&self, new: NewApiKey) -> anyhow::Result<ApiKey>;
    async fn list_keys(&self, account_id: &str) -> anyhow::Result<Vec<ApiKey>>;
    /// An active (not revoked) key by the hash of its secret.
    async fn key_by_hash(&self, hash: &str) -> anyhow::Result<Option<ApiKey>>;
    async fn revoke_key(&self, account_id: &str, id: &str, at: &str) -> anyhow::Result<bool>;
    /// Every account's live (unrevoked) keys, oldest first: the admin's list.
    async fn all_keys(&self) -> anyhow::Result<Vec<ApiKey>>;
    /// A live key of any account.
    async fn key_by_id(&self, id: &str) -> anyhow::Result<Option<ApiKey>>;
    /// Applies an admin's patch to a live key; false when there is none.
    async fn update_key(&self, id: &str, patch: &KeyPatch) -> anyhow::Result<bool>;
    /// Gives a live key a new secret (its hash and shown prefix); the old secret stops working.
    async fn rotate_key(
        &self,
        id: &str,
        key_hash: &str,
        prefix: &str,
        at: &str,
    ) -> anyhow::Result<bool>;
    async fn touch_key(&self, id: &str, at: &str) -> anyhow::Result<()>;

    /// A cheap round trip proving the store answers, for `/healthz`.
    async fn ping(&self) -> anyhow::Result<()>;
}

#[derive(Debug, Clone, Copy)]
pub struct DuplicateEmail;

#[derive(Debug, Clone, Copy)]
pub struct DuplicateWorkspace;

#[derive(Debug, Clone, Copy)]
pub struct LastAdmin;
