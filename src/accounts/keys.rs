//! Runtime API keys (`tok_...`): created by a session, shown once, stored as a SHA-256 hash.
//! Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one here and keeps
//! authentication off the request's critical path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::roles::{Role, Scope, Scopes};
use crate::accounts::sessions::{random_token, sha256_hex};
use crate::accounts::Principal;
use crate::error::{ApiError, ApiResult};
use crate::store::time::now;
use crate::store::{AccountStore, ApiKey, NewApiKey};
use crate::validate;

pub const KEY_PREFIX: &str = "tok_";
pub(crate) const SHOWN_PREFIX_LEN: usize = 12;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: Option<String>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Bind the key to this workspace (its `workspace_id`): it can touch nothing else.
    pub workspace_id: Option<String>,
    /// Bind the key to the workspace with this name, when `workspace_id` is not given.
    pub workspace_name: Option<String>,
    /// Requests per minute for this key, at most the operator's `rate_limit.max_per_minute`;
    /// the configured default when absent.
    pub rate_limit_per_minute: Option<u32>,
    /// Gateway spend allowed per calendar month (UTC), in USD; none when absent.
    pub monthly_budget_usd: Option<f64>,
    /// What the key may do (default: the runtime scopes `chat`, `embeddings`, `memory:read`,
    /// `memory:write`, `sources:read`, `sources:write`, `actions:check`, `actions:report`,
    /// `harness`). The privileged `review` and `policy` need a reviewer or admin creating the
    /// key, `admin` an admin.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: String,
    /// The secret, `tok_...`: shown once only, save it now.
    pub key: String,
    pub name: String,
    pub prefix: String,
    pub metadata: serde_json::Value,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    pub scopes: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub metadata: serde_json::Value,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    #[serde(rename = "keyPrefix")]
    pub key_prefix: String,
    pub rate_limit_per_minute: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    pub scopes: Vec<String>,
    #[serde(rename = "lastUsedAt")]
    pub last_used_at: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        let scopes = key_scopes(k.scopes.as_ref()).names();
        Self {
            scopes,
            id: k.id,
            name: k.name,
            metadata: k.metadata,
            workspace_id: k.workspace.as_ref().map(|w| w.workspace_id.clone()),
            workspace_name: k.workspace.as_ref().map(|w| w.name.clone()),
            key_prefix: k.prefix,
            rate_limit_per_minute: k.rate_limit_per_minute,
            monthly_budget_usd: k.monthly_budget_usd,
            last_used_at: k.last_used_at,
            created_at: k.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<KeyView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    pub deleted: bool,
    pub id: String,
}

/// What a stored key holds: its scopes, or the runtime set for keys made before scopes.
pub(crate) fn key_scopes(stored: Option<&Vec<String>>) -> Scopes {
    match stored {
        Some(names) => Scopes::from_names(names),
        None => Scopes::runtime(),
    }
}

/// The requested scopes, each known (400 naming `scopes[i]`) and held by the creator's role
/// (403: nobody hands out more than they hold).
pub(crate) fn requested_scopes(names: Option<&[String]>, creator: Role) -> ApiResult<Scopes> {
    let Some(names) = names else {
        return Ok(Scopes::runtime());
    };
    validate::count("scopes", names.len(), 1, Scope::ALL.len(), "scopes")?;
    let mut scopes = Scopes::default();
    for (i, name) in names.iter().enumerate() {
        let scope: Scope = name
            .parse()
            .map_err(|e| ApiError::bad_request(format!("scopes[{i}]: {e}")))?;
        scopes = scopes.with(&[scope]);
    }
    if let Some(over) = scopes.iter().find(|s| !creator.scopes().has(*s)) {
        return Err(ApiError::Forbidden(format!(
            "scopes: the {} role cannot grant `{over}`",
            creator.as_str()
        )));
    }
    Ok(scopes)
}

/// When a key stops working and how often it should be rotated (the admin API sets them).
#[derive(Debug, Clone, Default)]
pub struct Lifetime {
    pub expires_at: Option<String>,
    pub rotation_days: Option<u32>,
}

/// Creates a key; its `rate_limit_per_minute` may not exceed `max_rate_limit` (the
/// operator's `rate_limit.max_per_minute`).
pub async fn create(
    store: &dyn AccountStore,
    account_id: &str,
    creator: Role,
    req: CreateKey,
    max_rate_limit: u32,
) -> ApiResult<CreatedKey> {
    create_for(
        store,
        account_id,
        creator,
        req,
        max_rate_limit,
        Lifetime::default(),
    )
    .await
}

/// [`create`] with an expiry and a rotation period.
pub async fn create_for(
    store: &dyn AccountStore,
    account_id: &str,
    creator: Role,
    req: CreateKey,
    max_rate_limit: u32,
    lifetime: Lifetime,
) -> ApiResult<CreatedKey> {
    let name = req
        .name
        .unwrap_or_else(|| "default".into())
        .trim()
        .to_string();
    validate::count("name", name.chars().count(), 1, 200, "characters")?;
    if let Some(limit) = req.rate_limit_per_minute {
        validate::range("rate_limit_per_minute", limit, 1, max_rate_limit)?;
    }
    if let Some(b) = req.monthly_budget_usd {
        if !b.is_finite() || b < 0.0 {
            return Err(ApiError::bad_request(
                "monthly_budget_usd: expected a non-negative amount",
            ));
        }
    }
    let scopes = requested_scopes(req.scopes.as_deref(), creator)?;
    let workspace = match (&req.workspace_id, &req.workspace_name) {
        (Some(slug), _) => Some(
            store
                .workspace_by_slug(account_id, slug)
                .await?
                .ok_or(ApiError::NotFound("Workspace"))?,
        ),
        (None, Some(name)) => Some(
            store
                .workspace_by_name(account_id, name)
                .await?
                .ok_or(ApiError::NotFound("Workspace"))?,
        ),
        (None, None) => None,
    };
    let secret = format!("{KEY_PREFIX}{}", random_token(32));
    let key = store
        .create_key(NewApiKey {
            account_id: account_id.to_string(),
            workspace_row_id: workspace.as_ref().map(|w| w.id.clone()),
            name,
            prefix: secret.chars().take(SHOWN_PREFIX_LEN).collect(),
            key_hash: sha256_hex(&secret),
            metadata: serde_json::Value::Object(req.metadata.unwrap_or_default()),
            rate_limit_per_minute: req.rate_limit_per_minute,
            monthly_budget_usd: req.monthly_budget_usd,
            scopes: scopes.names(),
            expires_at: lifetime.expires_at,
            rotation_days: lifetime.rotation_days,
        })
        .await?;
    tracing::info!(key_id = %key.id, prefix = %key.prefix, "API key created");
    Ok(CreatedKey {
        scopes: key_scopes(key.scopes.as_ref()).names(),
        id: key.id,
        key: secret,
        name: key.name,
        prefix: key.prefix,
        metadata: key.metadata,
        workspace_id: key.workspace.as_ref().map(|w| w.workspace_id.clone()),
        workspace_name: key.workspace.as_ref().map(|w| w.name.clone()),
        rate_limit_per_minute: key.rate_limit_per_minute,
        monthly_budget_usd: key.monthly_budget_usd,
        created_at: key.created_at,
    })
}

pub async fn list(store: &dyn AccountStore, account_id: &str) -> ApiResult<KeyList> {
    Ok(KeyList {
        object: "list".into(),
        data: store
            .list_keys(account_id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

pub async fn revoke(store: &dyn AccountStore, account_id: &str, id: &str) -> ApiResult<Deleted> {
    if store.revoke_key(account_id, id, &now()).await? {
        tracing::info!(key_id = %id, "API key revoked");
        Ok(Deleted {
            deleted: true,
            id: id.to_string(),
        })
    } else {
        Err(ApiError::NotFound("API key"))
    }
}

/// Remembers when each key's `last_used_at` was last written, so a busy key costs one write a
/// minute rather than one per request.
#[derive(Default)]
pub struct UsageTouches {
    last: Mutex<HashMap<String, Instant>>,
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);

impl UsageTouches {
    fn due(&self, key_id: &str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match last.get(key_id) {
            Some(t) if now.duration_since(*t) < TOUCH_EVERY => false,
            _ => {
                last.insert(key_id.to_string(), now);
                true
            }
        }
    }
}

/// The principal for a `tok_...` secret, or `None` when it is unknown or revoked.
pub async fn authenticate(
    store: &dyn AccountStore,
    touches: &UsageTouches,
    secret: &str,
) -> anyhow::Result<Option<Principal>> {
    let Some(key) = store.key_by_hash(&sha256_hex(secret)).await? else {
        return Ok(None);
    };
    // Expiry is checked here, not in the store: a cached key must stop at its time too.
    if key
        .expires_at
        .as_deref()
        .is_some_and(|at| at <= now().as_str())
    {
        return Ok(None);
    }
    if touches.due(&key.id) {
        store.touch_key(&key.id, &now()).await?;
    }
    let scopes = key_scopes(key.scopes.as_ref());
    Ok(Some(Principal::ApiKey {
        scopes,
        key_id: key.id,
        account_id: key.account_id,
        workspace: key.workspace.map(Box::new),
        rate_limit_per_minute: key.rate_limit_per_minute,
        monthly_budget_usd: key.monthly_budget_usd,
    }))
}
