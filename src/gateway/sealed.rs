//! Secrets at rest (provider API keys, local endpoint headers): AES-256-GCM with a random
//! nonce per value, under a key kept in the data directory (`secrets/vault.key`, owner-only).
//! Losing that file makes the stored secrets unreadable: back it up with the database.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use anyhow::Context;
use base64::Engine as _;

const NONCE_LEN: usize = 12;

pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl SecretBox {
    /// The key in `secrets_dir/vault.key`, created on first use.
    pub fn open(secrets_dir: &std::path::Path) -> anyhow::Result<Self> {
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
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
        })
    }

    /// base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("encrypting a secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn unseal(&self, sealed: &str) -> anyhow::Result<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .context("a stored secret is not base64")?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "a stored secret is truncated");
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| anyhow::anyhow!("a stored secret does not open with secrets/vault.key"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = SecretBox::open(dir.path()).unwrap();
        let sealed = b.seal("sk-live-123").unwrap();
        assert!(!sealed.contains("sk-live"));
        assert_ne!(
            sealed,
            b.seal("sk-live-123").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(
            SecretBox::open(dir.path())
                .unwrap()
                .unseal(&sealed)
                .unwrap(),
            "sk-live-123"
        );
        let other = tempfile::tempdir().unwrap();
        assert!(SecretBox::open(other.path())
            .unwrap()
            .unseal(&sealed)
            .is_err());
    }
}
