//! Customer provider keys (BYOK): rows and the storage trait. The secret is stored sealed
//! (`secret_enc`); rows handed to `http/` never carry it.

use async_trait::async_trait;
use serde::Serialize;
use utoipa::ToSchema;

/// One account's key for one provider, as stored.
#[derive(Debug, Clone)]
pub struct ProviderKeyRow {
    pub id: String,
    pub account_id: String,
    /// The workspace row id it is bound to, if any.
    pub workspace_row_id: Option<String>,
    /// The workspace's `workspace_id` and name (read with the row).
    pub workspace_slug: Option<String>,
    pub workspace_name: Option<String>,
    /// A provider's name in the catalog, or a provider kind (`openai`, `anthropic`).
    pub provider: String,
    pub label: String,
    pub secret_enc: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// `active`, or `failing` after the provider refused the key.
    pub status: String,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_failure_code: Option<String>,
    pub created_at: String,
}

/// `GET /v1/provider-keys` items: the seed's fields, the prefix and no secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderKeyView {
    pub id: String,
    pub provider: String,
    pub label: String,
    pub prefix: String,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub status: String,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub last_failure_code: Option<String>,
    /// When a rate-limited key is expected to work again; Cairn does not know it (null).
    pub estimated_reset_at: Option<String>,
    pub created_at: String,
}

impl From<ProviderKeyRow> for ProviderKeyView {
    fn from(r: ProviderKeyRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            label: r.label,
            prefix: r.prefix,
            workspace_id: r.workspace_slug,
            workspace_name: r.workspace_name,
            status: r.status,
            last_success_at: r.last_success_at,
            last_failure_at: r.last_failure_at,
            last_failure_code: r.last_failure_code,
            estimated_reset_at: None,
            created_at: r.created_at,
        }
    }
}

#[async_trait]
pub trait ProviderKeyStore: Send + Sync {
    async fn add_provider_key(&self, row: &ProviderKeyRow) -> anyhow::Result<()>;
    /// An account's keys, newest first; only one workspace's (row id) when given.
    async fn provider_keys(
        &self,
        account_id: &str,
        workspace_row_id: Option<&str>,
    ) -> anyhow::Result<Vec<ProviderKeyRow>>;
    /// Every account's keys: what routing loads.
    async fn all_provider_keys(&self) -> anyhow::Result<Vec<ProviderKeyRow>>;
    /// False when the account has no such key.
    async fn delete_provider_key(&self, account_id: &str, id: &str) -> anyhow::Result<bool>;
    /// Records a call with the key: a success, or a failure with the provider's status code.
    async fn mark_provider_key(&self, id: &str, failure_code: Option<&str>) -> anyhow::Result<()>;
}
