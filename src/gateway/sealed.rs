//! Secrets at rest (provider API keys, local endpoint headers): AES-256-GCM with a random
//! nonce per value, under the vault's key.
//!
//! Two modes (`vault.mode`): `keyfile` (the default, unattended) keeps the key in the data
//! directory (`secrets/vault.key`, owner-only) and is always open; losing that file makes the
//! stored secrets unreadable, so back it up with the database. `password` derives the key with
//! argon2id from the admin password (the salt is stored, the password never): the box is
//! locked at start and whenever it is locked again, and then refuses to seal or open anything
//! ([`VaultLocked`]). `gateway::vault` unlocks, locks and rotates it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine as _;

pub use crate::config::VaultMode;

const NONCE_LEN: usize = 12;

/// Sealing or opening a secret while the password vault is locked.
#[derive(Debug, thiserror::Error)]
#[error("the vault is locked; an admin unlocks it with POST /admin/v1/vault/unlock")]
pub struct VaultLocked;

pub struct SecretBox {
    mode: VaultMode,
    /// The key file's cipher: the key in keyfile mode, and what secrets sealed before the
    /// switch to password mode open with.
    keyfile: Aes256Gcm,
    /// The password's cipher while unlocked (password mode only).
    unlocked: RwLock<Option<Aes256Gcm>>,
    started: Instant,
    /// Milliseconds after `started` of the last authenticated request (auto-lock's idle time).
    last_used_ms: AtomicU64,
}

impl SecretBox {
    /// The box of `mode`, with the key in `secrets_dir/vault.key` (created on first use).
    pub fn open(secrets_dir: &std::path::Path, mode: VaultMode) -> anyhow::Result<Self> {
        let path = secrets_dir.join("vault.key");
        let key = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => anyhow::bail!("{} is not a 32-byte key", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(secrets_dir)?;
                let key = Aes256Gcm::generate_key(OsRng).to_vec();
                crate::accounts::sessions::write_private(&path, &key)?;
                key
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Self {
            mode,
            keyfile: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
            unlocked: RwLock::new(None),
            started: Instant::now(),
            last_used_ms: AtomicU64::new(0),
        })
    }

    pub fn mode(&self) -> VaultMode {
        self.mode
    }

    /// The cipher secrets are sealed with now.
    pub fn cipher(&self) -> Result<Aes256Gcm, VaultLocked> {
        match self.mode {
            VaultMode::Keyfile => Ok(self.keyfile.clone()),
            VaultMode::Password => self
                .unlocked
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .ok_or(VaultLocked),
        }
    }

    /// The key file's cipher (for re-sealing when the mode changes).
    pub fn keyfile_cipher(&self) -> &Aes256Gcm {
        &self.keyfile
    }

    pub fn is_locked(&self) -> bool {
        self.cipher().is_err()
    }

    /// Opens (Some) or locks (None) the password vault.
    pub(in crate::gateway) fn set_unlocked(&self, cipher: Option<Aes256Gcm>) {
        *self.unlocked.write().unwrap_or_else(|p| p.into_inner()) = cipher;
        self.touch();
    }

    /// Marks the vault as used now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }

    /// How long since the vault was last used.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// base64(nonce ‖ ciphertext); fails while locked.
    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        seal_with(&self.cipher()?, plain)
    }

    /// Fails while locked ([`VaultLocked`]) and for a value another key sealed.
    pub fn unseal(&self, sealed: &str) -> anyhow::Result<String> {
        unseal_with(&self.cipher()?, sealed)
    }
}

/// Seals `plain` under `cipher`.
pub fn seal_with(cipher: &Aes256Gcm, plain: &str) -> anyhow::Result<String> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(&nonce, plain.as_bytes())
        .map_err(|_| anyhow::anyhow!("encrypting a secret failed"))?;
    let mut out = nonce.to_vec();
    out.extend(sealed);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Opens a value [`seal_with`] sealed under `cipher`.
pub fn unseal_with(cipher: &Aes256Gcm, sealed: &str) -> anyhow::Result<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .context("a stored secret is not base64")?;
    anyhow::ensure!(bytes.len() > NONCE_LEN, "a stored secret is truncated");
    let (nonce, body) = bytes.split_at(NONCE_LEN);
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce), body)
        .map_err(|_| anyhow::anyhow!("a stored secret does not open with the vault's key"))?;
    Ok(String::from_utf8(plain)?)
}

/// The password's cipher: argon2id (the crate's defaults: 19 MiB, 2 passes) over `salt`.
pub fn derive(password: &str, salt: &[u8]) -> anyhow::Result<Aes256Gcm> {
    let mut key = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut key)
        .map_err(|e| anyhow::anyhow!("deriving the vault key failed: {e}"))?;
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = SecretBox::open(dir.path(), VaultMode::Keyfile).unwrap();
        let sealed = b.seal("sk-live-123").unwrap();
        assert!(!sealed.contains("sk-live"));
        assert_ne!(
            sealed,
            b.seal("sk-live-123").unwrap(),
            "a fresh nonce each time"
        );
        let again = SecretBox::open(dir.path(), VaultMode::Keyfile).unwrap();
        assert_eq!(again.unseal(&sealed).unwrap(), "sk-live-123");
        let other = tempfile::tempdir().unwrap();
        let stranger = SecretBox::open(other.path(), VaultMode::Keyfile).unwrap();
        assert!(stranger.unseal(&sealed).is_err());
    }

    #[test]
    fn a_password_vault_is_locked_until_opened_and_its_key_depends_on_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let b = SecretBox::open(dir.path(), VaultMode::Password).unwrap();
        let locked = b.seal("x").unwrap_err();
        assert!(locked.is::<VaultLocked>());
        b.set_unlocked(Some(derive("correct horse", b"0123456789abcdef").unwrap()));
        let sealed = b.seal("sk-live-123").unwrap();
        assert_eq!(b.unseal(&sealed).unwrap(), "sk-live-123");
        let wrong = derive("wrong horse", b"0123456789abcdef").unwrap();
        assert!(unseal_with(&wrong, &sealed).is_err());
        b.set_unlocked(None);
        assert!(b.unseal(&sealed).unwrap_err().is::<VaultLocked>());
    }
}
