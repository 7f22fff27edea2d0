//! `/admin/v1/apikeys` (seed 000 "Admin - API Keys"): the operator's view of the same keys as
//! `/v1/keys` (one table, two surfaces), across every account, with an expiry, a rotation
//! period, an on/off switch and rotation to a new secret.
//!
//! The rules: a secret is shown once (create, rotate) and stored as its hash; an expired,
//! disabled or revoked key authenticates as nothing, from the next request on (the key cache
//! is cleared by every change).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::keys::{self, CreateKey, Lifetime, KEY_PREFIX, SHOWN_PREFIX_LEN};
use crate::accounts::roles::Role;
use crate::accounts::sessions::{random_token, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::store::time::{now, rfc3339};
use crate::store::{AccountStore, ApiKey, KeyPatch};

const WARNING: &str = "Store this key now: it is shown once and cannot be recovered.";
/// The longest rotation period and lifetime accepted (ten years).
const MAX_DAYS: i64 = 3650;

/// Scopes as a list, or as the seed sends them: a string holding a JSON list (or words
/// separated by commas).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ScopeList {
    List(Vec<String>),
    Text(String),
}

impl ScopeList {
    fn names(&self) -> ApiResult<Vec<String>> {
        match self {
            Self::List(l) => Ok(l.clone()),
            Self::Text(t) if t.trim_start().starts_with('[') => serde_json::from_str(t)
                .map_err(|e| ApiError::bad_request(format!("scopes: not a JSON list ({e})"))),
            Self::Text(t) => Ok(t
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminCreateKey {
    pub name: Option<String>,
    /// Default: the runtime scopes.
    pub scopes: Option<ScopeList>,
    /// Rotate every this many days (0 or absent: no period); shown as rotation_due_at.
    pub rotation_days: Option<i64>,
    /// The key stops working this long after creation: `720h`, `30d`, `90m`, `1h30m`.
    pub expires_in: Option<String>,
    pub monthly_budget_usd: Option<f64>,
    /// Bind the key to this workspace of the admin's account.
    pub workspace_id: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminPatchKey {
    pub name: Option<String>,
    pub scopes: Option<ScopeList>,
    /// 0 clears the period.
    pub rotation_days: Option<i64>,
    pub enabled: Option<bool>,
    /// A negative value clears the budget.
    pub monthly_budget_usd: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCreatedKey {
    pub ok: bool,
    /// The secret (`tok_...`), shown once.
    pub key: String,
    pub id: String,
    pub prefix: String,
    pub warning: String,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedKey {
    pub ok: bool,
    /// The new secret, shown once; the old one no longer works.
    pub key: String,
    pub prefix: String,
    pub warning: String,
}

/// A key without its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminKeyView {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub workspace_id: Option<String>,
    pub rate_limit_per_minute: Option<u32>,
    pub monthly_budget_usd: Option<f64>,
    pub rotation_days: Option<u32>,
    /// When the rotation period says the key should be rotated.
    pub rotation_due_at: Option<String>,
    pub expires_at: Option<String>,
    /// False when disabled or expired.
    pub enabled: bool,
    pub expired: bool,
    pub last_used_at: Option<String>,
    pub rotated_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyPatched {
    pub ok: bool,
    pub api_key: AdminKeyView,
}

fn parse_time(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn view(k: ApiKey) -> AdminKeyView {
    let expired = k
        .expires_at
        .as_deref()
        .is_some_and(|at| at <= now().as_str());
    let since = k.rotated_at.as_deref().unwrap_or(&k.created_at);
    let rotation_due_at = k
        .rotation_days
        .zip(parse_time(since))
        .map(|(days, t)| rfc3339(t + Duration::days(i64::from(days))));
    AdminKeyView {
        scopes: keys::key_scopes(k.scopes.as_ref()).names(),
        workspace_id: k.workspace.as_ref().map(|w| w.workspace_id.clone()),
        enabled: k.enabled && !expired,
        expired,
        rotation_due_at,
        id: k.id,
        account_id: k.account_id,
        name: k.name,
        prefix: k.prefix,
        rate_limit_per_minute: k.rate_limit_per_minute,
        monthly_budget_usd: k.monthly_budget_usd,
        rotation_days: k.rotation_days,
        expires_at: k.expires_at,
        last_used_at: k.last_used_at,
        rotated_at: k.rotated_at,
        created_at: k.created_at,
    }
}

/// `720h`, `30d`, `1h30m`, `90s`: one or more `<number><unit>` with units s, m, h, d.
pub fn parse_duration(field: &str, text: &str) -> ApiResult<Duration> {
    let bad = || {
        ApiError::bad_request(format!(
            "{field}: expected a duration such as 720h, 30d or 1h30m"
        ))
    };
    let mut total = Duration::zero();
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let part = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            _ => None,
        }
        .ok_or_else(bad)?;
        total = total.checked_add(&part).ok_or_else(bad)?;
    }
    if !digits.is_empty() || total <= Duration::zero() {
        return Err(bad());
    }
    if total > Duration::days(MAX_DAYS) {
        return Err(ApiError::bad_request(format!(
            "{field}: at most {MAX_DAYS} days"
        )));
    }
    Ok(total)
}

fn rotation_days(v: i64) -> ApiResult<Option<u32>> {
    let v = crate::validate::range("rotation_days", v, 0, MAX_DAYS)?;
    Ok(u32::try_from(v).ok().filter(|d| *d > 0))
}

/// The scopes the caller may grant: an admin's session grants as an admin; a key holding the
/// admin scope was made by an admin, and grants as one.
const GRANTOR: Role = Role::Admin;

pub async fn create(
    store: &dyn AccountStore,
    account_id: &str,
    req: AdminCreateKey,
    max_rate_limit: u32,
) -> ApiResult<AdminCreatedKey> {
    let lifetime = Lifetime {
        expires_at: req
            .expires_in
            .as_deref()
            .map(|t| parse_duration("expires_in", t).map(|d| rfc3339(Utc::now() + d)))
            .transpose()?,
        rotation_days: req.rotation_days.map(rotation_days).transpose()?.flatten(),
    };
    let request = CreateKey {
        name: req.name,
        workspace_id: req.workspace_id,
        rate_limit_per_minute: req.rate_limit_per_minute,
        monthly_budget_usd: req.monthly_budget_usd,
        scopes: req.scopes.as_ref().map(ScopeList::names).transpose()?,
        ..CreateKey::default()
    };
    let expires_at = lifetime.expires_at.clone();
    let created = keys::create_for(
        store,
        account_id,
        GRANTOR,
        request,
        max_rate_limit,
        lifetime,
    )
    .await?;
    Ok(AdminCreatedKey {
        ok: true,
        key: created.key,
        id: created.id,
        prefix: created.prefix,
        warning: WARNING.into(),
        expires_at,
    })
}

pub async fn list(store: &dyn AccountStore) -> ApiResult<Vec<AdminKeyView>> {
    Ok(store.all_keys().await?.into_iter().map(view).collect())
}

/// The key, for the audit's before; 404 when there is none.
pub async fn get(store: &dyn AccountStore, id: &str) -> ApiResult<AdminKeyView> {
    store
        .key_by_id(id)
        .await?
        .map(view)
        .ok_or(ApiError::NotFound("API key"))
}

pub async fn rotate(store: &dyn AccountStore, id: &str) -> ApiResult<RotatedKey> {
    let secret = format!("{KEY_PREFIX}{}", random_token(32));
    let prefix: String = secret.chars().take(SHOWN_PREFIX_LEN).collect();
    if !store
        .rotate_key(id, &sha256_hex(&secret), &prefix, &now())
        .await?
    {
        return Err(ApiError::NotFound("API key"));
    }
    tracing::info!(key_id = %id, %prefix, "API key rotated");
    Ok(RotatedKey {
        ok: true,
        key: secret,
        prefix,
        warning: WARNING.into(),
    })
}

pub async fn patch(
    store: &dyn AccountStore,
    id: &str,
    req: AdminPatchKey,
) -> ApiResult<KeyPatched> {
    let name = req
        .name
        .as_deref()
        .map(|n| crate::validate::text("name", n, 200))
        .transpose()?;
    let scopes = match &req.scopes {
        Some(list) => {
            let names = list.names()?;
            Some(keys::requested_scopes(Some(names.as_slice()), GRANTOR)?.names())
        }
        None => None,
    };
    let budget = match req.monthly_budget_usd {
        Some(b) if !b.is_finite() => {
            return Err(ApiError::bad_request(
                "monthly_budget_usd: expected a number",
            ))
        }
        Some(b) if b < 0.0 => Some(None),
        Some(b) => Some(Some(b)),
        None => None,
    };
    let change = KeyPatch {
        name,
        scopes,
        rotation_days: req.rotation_days.map(rotation_days).transpose()?,
        enabled: req.enabled,
        monthly_budget_usd: budget,
    };
    if !store.update_key(id, &change).await? {
        return Err(ApiError::NotFound("API key"));
    }
    Ok(KeyPatched {
        ok: true,
        api_key: get(store, id).await?,
    })
}

pub async fn revoke(store: &dyn AccountStore, id: &str) -> ApiResult<()> {
    let key = store
        .key_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("API key"))?;
    keys::revoke(store, &key.account_id, id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go_and_refuse_anything_else() {
        let d = |t| parse_duration("expires_in", t);
        assert_eq!(d("720h").unwrap(), Duration::days(30));
        assert_eq!(d("1h30m").unwrap(), Duration::minutes(90));
        assert_eq!(d("2d").unwrap(), Duration::hours(48));
        for bad in ["", "h", "10", "10x", "0s", "-5m", "99999d"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_come_as_a_list_a_json_string_or_words() {
        let names = |v: serde_json::Value| {
            serde_json::from_value::<ScopeList>(v)
                .unwrap()
                .names()
                .unwrap()
        };
        assert_eq!(names(serde_json::json!(["chat"])), ["chat"]);
        assert_eq!(
            names(serde_json::json!("[\"chat\",\"admin\"]")),
            ["chat", "admin"]
        );
        assert_eq!(
            names(serde_json::json!("chat, embeddings")),
            ["chat", "embeddings"]
        );
    }
}
