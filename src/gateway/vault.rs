//! The credential vault (seed 000 "Admin - Vault"): unlock, lock, rotate and auto-lock of the
//! password mode of [`SecretBox`], and the re-seal when the mode changes.
//!
//! The rules: the admin password is never stored; its salt and a check value sealed under it
//! (which tells a right password from a wrong one) are the setting `vault`, beside which key
//! the stored secrets are sealed under (`sealed_by`). Every re-seal (first unlock after the key
//! file, rotation, the switch back to the key file) rewrites every secret and that setting in
//! one transaction: a wrong password or a failure changes nothing. While the vault is locked
//! the catalog holds no provider key it seals, so those providers do not route. (The config
//! file's keys are not in the vault: they stay with the config the server started with.)

use std::sync::Arc;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use anyhow::Context;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::admin::{audit, Done};
use super::sealed::{derive, seal_with, unseal_with, SecretBox, VaultMode};
use super::Gateway;
use crate::error::{ApiError, ApiResult};
use crate::store::gateway::{AuditRow, CatalogStore};

const STATE_KEY: &str = "vault";
const CHECK: &str = "cairn-vault-check";
const MIN_PASSWORD_CHARS: usize = 8;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VaultState {
    /// keyfile or password: the key the stored secrets are sealed under.
    sealed_by: String,
    /// The password key's salt (base64).
    salt: Option<String>,
    /// [`CHECK`] sealed under the password key.
    check: Option<String>,
}

/// Never set: what the key file sealed, no password.
impl Default for VaultState {
    fn default() -> Self {
        Self::keyfile()
    }
}

impl VaultState {
    fn keyfile() -> Self {
        Self {
            sealed_by: "keyfile".into(),
            salt: None,
            check: None,
        }
    }

    fn initialized(&self) -> bool {
        self.sealed_by == "password" && self.salt.is_some() && self.check.is_some()
    }

    /// A new password's state and key (a fresh salt).
    fn for_password(password: &str) -> anyhow::Result<(Self, Aes256Gcm)> {
        let mut salt = [0u8; 16];
        OsRng.fill_bytes(&mut salt);
        let key = derive(password, &salt)?;
        let state = Self {
            sealed_by: "password".into(),
            salt: Some(B64.encode(salt)),
            check: Some(seal_with(&key, CHECK)?),
        };
        Ok((state, key))
    }

    /// The password's key when `password` opens the check value, else None.
    fn open(&self, password: &str) -> anyhow::Result<Option<Aes256Gcm>> {
        let (Some(salt), Some(check)) = (&self.salt, &self.check) else {
            return Ok(None);
        };
        let key = derive(password, &B64.decode(salt).context("vault salt")?)?;
        Ok(match unseal_with(&key, check) {
            Ok(text) if text == CHECK => Some(key),
            _ => None,
        })
    }
}

async fn load_state(store: &dyn CatalogStore) -> anyhow::Result<VaultState> {
    super::admin::setting_or_default(store, STATE_KEY).await
}

/// Opens every stored secret with `from`, seals it again with `to`, and stores them with
/// `next` (and the audit row) in one transaction.
async fn reseal(
    store: &dyn CatalogStore,
    from: &Aes256Gcm,
    to: &Aes256Gcm,
    next: &VaultState,
    audit: Option<&AuditRow>,
) -> anyhow::Result<()> {
    let again = |sealed: Option<&str>| -> anyhow::Result<Option<String>> {
        sealed
            .map(|s| seal_with(to, &unseal_with(from, s)?))
            .transpose()
    };
    let mut providers = Vec::new();
    for p in store.providers().await? {
        providers.push((p.name.clone(), again(p.secret_enc.as_deref())?));
    }
    let mut endpoints = Vec::new();
    for e in store.all_endpoints().await? {
        endpoints.push((e.id.clone(), again(e.headers_enc.as_deref())?));
    }
    let mut keys = Vec::new();
    for k in store.all_provider_keys().await? {
        keys.push((
            k.id.clone(),
            seal_with(to, &unseal_with(from, &k.secret_enc)?)?,
        ));
    }
    let state = serde_json::to_string(next)?;
    store
        .reseal(&providers, &endpoints, &keys, &state, audit)
        .await
}

/// Opens the password vault with `password`, setting it up on first use (the secrets the key
/// file sealed are re-sealed under it). False when the password does not open it.
async fn open_vault(
    store: &dyn CatalogStore,
    sealed: &SecretBox,
    password: &str,
    audit: Option<&AuditRow>,
) -> anyhow::Result<bool> {
    let state = load_state(store).await?;
    let key = if state.initialized() {
        match state.open(password)? {
            Some(key) => key,
            None => return Ok(false),
        }
    } else {
        let (next, key) = VaultState::for_password(password)?;
        reseal(store, sealed.keyfile_cipher(), &key, &next, audit).await?;
        tracing::warn!("vault: set up with the admin password; secrets re-sealed under it");
        key
    };
    sealed.set_unlocked(Some(key));
    Ok(true)
}

/// At start, before the catalog is seeded: brings the stored secrets under the configured
/// mode's key. Back to keyfile after password needs the password once (`password`, from
/// `CAIRN_VAULT_PASSWORD`); in password mode the password, when given, opens the vault.
pub async fn prepare(
    store: &dyn CatalogStore,
    sealed: &SecretBox,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let state = load_state(store).await?;
    match sealed.mode() {
        VaultMode::Keyfile if state.sealed_by == "password" => {
            let password = password.context(
                "vault.mode is keyfile but the stored secrets are sealed under the admin password; \
                 start once with CAIRN_VAULT_PASSWORD set to re-seal them under the key file",
            )?;
            let key = state
                .open(password)?
                .context("CAIRN_VAULT_PASSWORD does not open the vault")?;
            reseal(store, &key, sealed.keyfile_cipher(), &VaultState::keyfile(), None).await?;
            tracing::warn!("vault: secrets re-sealed under the key file (vault.mode = keyfile)");
        }
        VaultMode::Keyfile => {}
        VaultMode::Password => match password {
            Some(p) => anyhow::ensure!(
                open_vault(store, sealed, p, None).await?,
                "CAIRN_VAULT_PASSWORD does not open the vault"
            ),
            None => tracing::warn!(
                "vault: locked; providers whose keys it holds do not route until an admin unlocks it"
            ),
        },
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    /// The admin password; the first unlock sets it (at least 8 characters).
    pub admin_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    pub old_password: String,
    /// At least 8 characters.
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LockResult {
    pub ok: bool,
    pub already_locked: bool,
}

fn check_password(field: &str, p: &str) -> ApiResult<()> {
    if p.chars().count() < MIN_PASSWORD_CHARS || p.len() > 1024 {
        return Err(ApiError::bad_request(format!(
            "{field}: expected {MIN_PASSWORD_CHARS}-1024 characters"
        )));
    }
    Ok(())
}

impl Gateway {
    /// 409 in keyfile mode, where there is nothing to unlock.
    fn password_mode(&self) -> ApiResult<()> {
        if self.sealed.mode() == VaultMode::Password {
            return Ok(());
        }
        Err(ApiError::Conflict(
            "vault.mode is keyfile: the vault is open from the start and has no password".into(),
        ))
    }

    /// (locked, initialized) for `/admin/v1/info`.
    pub async fn vault_status(&self) -> ApiResult<(bool, bool)> {
        let initialized = match self.sealed.mode() {
            VaultMode::Keyfile => true,
            VaultMode::Password => load_state(self.store.as_ref()).await?.initialized(),
        };
        Ok((self.sealed.is_locked(), initialized))
    }

    /// Marks the vault used (every authenticated request): auto-lock counts idle time from it.
    pub fn vault_touch(&self) {
        self.sealed.touch();
    }

    pub async fn unlock_vault(&self, actor: &str, req: Unlock) -> ApiResult<Done> {
        self.password_mode()?;
        check_password("admin_password", &req.admin_password)?;
        let _turn = self.catalog_writes.lock().await;
        let opened =
            open_vault(self.store.as_ref(), &self.sealed, &req.admin_password, None).await?;
        if !opened {
            let failed = audit::<Value>(actor, "vault.unlock_failed", STATE_KEY, None, None);
            self.store.record_audit(&failed).await?;
            return Err(ApiError::Forbidden(
                "admin_password: the password does not open the vault".into(),
            ));
        }
        let entry = audit::<Value>(actor, "vault.unlock", STATE_KEY, None, None);
        self.store.record_audit(&entry).await?;
        self.reload_locked().await?;
        tracing::info!(%actor, "vault: unlocked");
        Ok(Done { ok: true })
    }

    pub async fn lock_vault(&self, actor: &str) -> ApiResult<LockResult> {
        self.password_mode()?;
        let _turn = self.catalog_writes.lock().await;
        let already_locked = self.sealed.is_locked();
        if !already_locked {
            self.sealed.set_unlocked(None);
            // The catalog drops every key the vault sealed.
            self.reload_locked().await?;
            let entry = audit::<Value>(actor, "vault.lock", STATE_KEY, None, None);
            self.store.record_audit(&entry).await?;
            tracing::info!(%actor, "vault: locked");
        }
        Ok(LockResult {
            ok: true,
            already_locked,
        })
    }

    /// Re-seals every secret under `new_password`; a wrong old password changes nothing.
    pub async fn rotate_vault(&self, actor: &str, req: Rotate) -> ApiResult<Done> {
        self.password_mode()?;
        check_password("new_password", &req.new_password)?;
        let _turn = self.catalog_writes.lock().await;
        let state = load_state(self.store.as_ref()).await?;
        if !state.initialized() {
            return Err(ApiError::Conflict(
                "the vault has no password yet: the first unlock sets it".into(),
            ));
        }
        let Some(old) = state.open(&req.old_password)? else {
            return Err(ApiError::Forbidden(
                "old_password: the password does not open the vault".into(),
            ));
        };
        let (next, new) = VaultState::for_password(&req.new_password)?;
        let entry = audit::<Value>(actor, "vault.rotate", STATE_KEY, None, None);
        reseal(self.store.as_ref(), &old, &new, &next, Some(&entry)).await?;
        self.sealed.set_unlocked(Some(new));
        self.reload_locked().await?;
        tracing::info!(%actor, "vault: password rotated; secrets re-sealed");
        Ok(Done { ok: true })
    }

    /// Seals `plain`; 503 while the vault is locked.
    pub(in crate::gateway) fn seal(&self, plain: &str) -> ApiResult<String> {
        self.sealed.seal(plain).map_err(locked_is_unavailable)
    }

    /// Opens a sealed value; 503 while the vault is locked.
    pub(in crate::gateway) fn unseal(&self, sealed: &str) -> ApiResult<String> {
        self.sealed.unseal(sealed).map_err(locked_is_unavailable)
    }
}

/// A locked vault is a 503 (an admin can unlock it); anything else went wrong on our side.
fn locked_is_unavailable(e: anyhow::Error) -> ApiError {
    match e.downcast::<super::sealed::VaultLocked>() {
        Ok(locked) => ApiError::ServiceUnavailable(locked.to_string()),
        Err(other) => ApiError::Internal(other),
    }
}

/// Locks the password vault after `after` without an authenticated request (0: never).
pub fn spawn_auto_lock(gateway: &Arc<Gateway>, after: Duration) {
    if gateway.sealed.mode() != VaultMode::Password || after.is_zero() {
        return;
    }
    let weak = Arc::downgrade(gateway);
    let every = (after / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(g) = weak.upgrade() else { return };
            if g.sealed.is_locked() || g.sealed.idle_for() < after {
                continue;
            }
            match g.lock_vault("system:auto-lock").await {
                Ok(_) => tracing::info!(idle_secs = after.as_secs(), "vault: auto-locked"),
                Err(e) => tracing::warn!(error = %e, "vault: auto-lock failed"),
            }
        }
    });
}
