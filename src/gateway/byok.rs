//! Customer provider keys (seed 004 "Provider keys / BYOK"): an account brings its own key
//! for a provider, for every workspace or one. Its requests to that provider carry its key
//! instead of the operator's; the provider bills the customer, so Cairn's own cost is 0 and
//! the charge is the optimization layer only: the model's price times `billing.byok_fee_rate`.
//!
//! A key names a catalog provider or a provider kind (`openai`, `anthropic`: every provider
//! of that kind). A workspace's own key wins over the account's. Keys are sealed like every
//! other secret; while the password vault is locked they cannot be opened, and requests use
//! the operator's keys at the managed price. Nothing returns a key, only its prefix.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::Catalog;
use super::providers::Attempt;
use super::route::ModelEntry;
use super::sealed::SecretBox;
use super::{Caller, Gateway, ProviderEntry};
use crate::error::{ApiError, ApiResult};
use crate::store::provider_keys::{ProviderKeyRow, ProviderKeyView};
use crate::store::time::{new_id, now};
use crate::store::Workspace;

/// A key's success is written at most this often (failures always are).
const SUCCESS_MARK_EVERY: Duration = Duration::from_secs(60);
const MAX_SECRET_CHARS: usize = 4096;
/// How many characters of a key its listing shows.
const PREFIX_CHARS: usize = 7;

/// One usable key, unsealed, as routing holds it.
#[derive(Clone)]
pub struct ByokKey {
    pub id: String,
    /// The workspace row id it is bound to, if any.
    pub workspace_id: Option<String>,
    pub provider: String,
    pub secret: SecretString,
}

/// Every account's usable keys, by account id.
pub type ByokKeys = HashMap<String, Vec<ByokKey>>;

/// Opens the stored keys; with the vault locked (or a key another vault key sealed) a key is
/// left out and its account's requests use the operator's keys.
pub fn open_keys(rows: Vec<ProviderKeyRow>, sealed: &SecretBox) -> ByokKeys {
    let mut out: ByokKeys = HashMap::new();
    for r in rows {
        match sealed.unseal(&r.secret_enc) {
            Ok(secret) => out.entry(r.account_id).or_default().push(ByokKey {
                id: r.id,
                workspace_id: r.workspace_row_id,
                provider: r.provider,
                secret: secret.into(),
            }),
            Err(e) => tracing::debug!(key = %r.id, error = %e, "a provider key does not open now"),
        }
    }
    out
}

/// Whether a key for `provider` (a name or kind) serves the provider `p`. By kind only at the
/// vendor's own address: an `openai` key must not go to a proxy an admin configured with the
/// OpenAI wire.
fn serves(provider: &str, p: &ProviderEntry) -> bool {
    let vendor = p
        .api
        .default_base_url()
        .is_some_and(|url| url.trim_end_matches('/') == p.base_url.trim_end_matches('/'));
    p.name == provider || (provider == p.api.kind() && vendor)
}

impl Catalog {
    /// The provider that serves `m` for `caller`: with the caller's own key when `m` was
    /// priced for one ([`Self::priced_for`]) and it still opens, else as configured.
    pub fn provider_for(
        &self,
        caller: &Caller,
        m: &ModelEntry,
    ) -> Result<Cow<'_, ProviderEntry>, Attempt> {
        let stored = self.configured(&m.provider)?;
        let key = m.byok_key.as_deref().and_then(|id| {
            self.byok
                .get(&caller.account_id)?
                .iter()
                .find(|k| k.id == id)
        });
        Ok(match key {
            Some(k) => Cow::Owned(stored.with_key(k.secret.clone())),
            None => Cow::Borrowed(stored),
        })
    }

    /// The caller's key for `provider`: its workspace's before the account's.
    pub fn byok_key(&self, caller: &Caller, provider: &str) -> Option<&ByokKey> {
        let p = self.providers.get(provider)?;
        if p.name.starts_with("local:") {
            return None;
        }
        let keys = self.byok.get(&caller.account_id)?;
        let mine = |k: &&ByokKey| serves(&k.provider, p);
        keys.iter()
            .filter(mine)
            .find(|k| k.workspace_id.as_deref() == Some(caller.workspace_id.as_str()))
            .or_else(|| keys.iter().filter(mine).find(|k| k.workspace_id.is_none()))
    }

    /// `candidates` as the caller pays for them: a model whose provider takes one of the
    /// caller's keys is priced at `fee_rate` of its price and carries the key's id. None when
    /// the caller has no key (the common case: nothing is copied).
    pub fn priced_for(
        &self,
        caller: &Caller,
        candidates: &[&ModelEntry],
        fee_rate: f64,
    ) -> Option<Vec<ModelEntry>> {
        if !self.byok.contains_key(&caller.account_id) {
            return None;
        }
        Some(
            candidates
                .iter()
                .map(|m| match self.byok_key(caller, &m.provider) {
                    Some(k) => m.with_byok(&k.id, fee_rate),
                    None => (*m).clone(),
                })
                .collect(),
        )
    }
}

impl ModelEntry {
    /// This model called with the customer's key `key_id`, priced at `fee_rate` of its price.
    pub fn with_byok(&self, key_id: &str, fee_rate: f64) -> Self {
        Self {
            input_per_1k: self.input_per_1k * fee_rate,
            output_per_1k: self.output_per_1k * fee_rate,
            byok_key: Some(key_id.to_string()),
            ..self.clone()
        }
    }
}

/// `POST /v1/provider-keys`. No `Debug`: it holds the secret.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderKeyInput {
    /// A provider kind (`openai`, `anthropic`) or the name of a configured provider (`groq`,
    /// `google`, ... when the operator configured one by that name).
    pub provider: String,
    /// Default: the provider.
    pub label: Option<String>,
    /// The key; stored encrypted, never returned.
    pub secret: String,
    /// Use it only for this workspace's requests (its `workspace_id`); default every
    /// workspace of the account.
    pub workspace_id: Option<String>,
}

/// The seed's creation answer, plus the key's id and prefix.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderKeyCreated {
    pub created: bool,
    pub id: String,
    pub provider: String,
    pub label: String,
    pub prefix: String,
    pub workspace_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderKeyList {
    pub object: String,
    pub data: Vec<ProviderKeyView>,
}

/// The key checked: not empty, no spaces or control characters, at most 4,096 characters.
fn check_secret(secret: &str) -> ApiResult<&str> {
    let s = crate::validate::trimmed("secret", secret, MAX_SECRET_CHARS)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_request(
            "secret: must not contain spaces or control characters",
        ));
    }
    Ok(s)
}

impl Gateway {
    /// Stores a customer key (sealed) and routes the account's requests with it at once.
    /// `ws`: the workspace it is bound to, already resolved.
    pub async fn add_provider_key(
        &self,
        account_id: &str,
        ws: Option<&Workspace>,
        input: ProviderKeyInput,
    ) -> ApiResult<ProviderKeyCreated> {
        let provider = crate::validate::text("provider", &input.provider, 100)?;
        let catalog = self.catalog();
        let managed = catalog
            .providers
            .values()
            .filter(|p| !p.name.starts_with("local:"));
        if !managed.clone().any(|p| serves(&provider, p)) {
            let mut names: Vec<&str> = managed.map(|p| p.name.as_str()).collect();
            names.sort_unstable();
            return Err(ApiError::bad_request(format!(
                "provider: no configured provider is named {provider} or of that kind (configured: {})",
                names.join(", ")
            )));
        }
        let label = crate::validate::optional_text("label", input.label.as_deref(), 100)?
            .unwrap_or_else(|| provider.clone());
        let secret = check_secret(&input.secret)?;
        let _turn = self.catalog_writes.lock().await;
        let row = ProviderKeyRow {
            id: new_id(),
            account_id: account_id.to_string(),
            workspace_row_id: ws.map(|w| w.id.clone()),
            workspace_slug: ws.map(|w| w.workspace_id.clone()),
            workspace_name: ws.map(|w| w.name.clone()),
            provider,
            label,
            secret_enc: self.seal(secret)?,
            prefix: secret.chars().take(PREFIX_CHARS).collect(),
            status: "active".into(),
            last_success_at: None,
            last_failure_at: None,
            last_failure_code: None,
            created_at: now(),
        };
        self.store.add_provider_key(&row).await?;
        self.reload_locked().await?;
        Ok(ProviderKeyCreated {
            created: true,
            id: row.id,
            provider: row.provider,
            label: row.label,
            prefix: row.prefix,
            workspace_id: row.workspace_slug,
        })
    }

    /// The account's keys (one workspace's, row id, when given), without secrets.
    pub async fn provider_keys(
        &self,
        account_id: &str,
        workspace_row_id: Option<&str>,
    ) -> ApiResult<ProviderKeyList> {
        let rows = self
            .store
            .provider_keys(account_id, workspace_row_id)
            .await?;
        Ok(ProviderKeyList {
            object: "list".into(),
            data: rows.into_iter().map(ProviderKeyView::from).collect(),
        })
    }

    /// Deletes a key; once this returns no request uses it.
    pub async fn delete_provider_key(&self, account_id: &str, id: &str) -> ApiResult<()> {
        let _turn = self.catalog_writes.lock().await;
        if !self.store.delete_provider_key(account_id, id).await? {
            return Err(ApiError::NotFound("Provider key"));
        }
        self.reload_locked().await?;
        Ok(())
    }

    /// Notes how a call with a customer key went (`failure`: the provider's status), in the
    /// background: a success at most once a minute per key; of failures only those that say
    /// the key is refused or spent (401, 403, 429), not the caller's request (400, 404).
    pub(super) fn mark_byok(&self, key_id: &str, failure: Option<reqwest::StatusCode>) {
        let failure = match failure {
            Some(s) if matches!(s.as_u16(), 401 | 403 | 429) => {
                self.byok_marks.forget(key_id);
                Some(s.as_u16().to_string())
            }
            Some(_) => return,
            None if !self.byok_marks.due(key_id) => return,
            None => None,
        };
        let store = self.store.clone();
        let id = key_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.mark_provider_key(&id, failure.as_deref()).await {
                tracing::warn!(key = %id, error = %e, "gateway.byok: status not stored");
            }
        });
    }
}

/// When each key's success was last written.
#[derive(Default)]
pub struct Marks(Mutex<HashMap<String, Instant>>);

impl Marks {
    /// True (and noted) when the key's success was not written in the last minute.
    fn due(&self, key_id: &str) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let due = last
            .get(key_id)
            .is_none_or(|at| at.elapsed() >= SUCCESS_MARK_EVERY);
        if due {
            last.insert(key_id.to_string(), Instant::now());
        }
        due
    }

    /// After a failure the next success is written at once, so the key shows active again.
    fn forget(&self, key_id: &str) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        last.remove(key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_with_spaces_or_nothing_are_refused_and_successes_are_marked_once_a_minute() {
        let marks = Marks::default();
        assert!(marks.due("k0"));
        marks.forget("k0");
        assert!(marks.due("k0"), "a failure lets the next success through");
        assert!(check_secret("sk-abc").is_ok());
        assert!(check_secret("  ").is_err());
        assert!(check_secret("sk abc").is_err());
        assert!(check_secret(&"x".repeat(MAX_SECRET_CHARS + 1)).is_err());
        let marks = Marks::default();
        assert!(marks.due("k1"));
        assert!(!marks.due("k1"));
        assert!(marks.due("k2"));
    }
}
