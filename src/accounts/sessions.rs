//! Session tokens (short-lived HS256 JWTs) and refresh tokens (random, stored as SHA-256).

use base64::Engine;
use chrono::{Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::time::{new_id, rfc3339};
use crate::store::{AccountStore, RefreshToken, User};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub acc: String,
    pub role: String,
    pub typ: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

const SESSION_TYPE: &str = "session";

#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
}

impl SessionKeys {
    pub fn new(secret: &[u8], ttl_secs: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user: &User) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.id.clone(),
            acc: user.account_id.clone(),
            role: user.role.clone(),
            typ: SESSION_TYPE.to_string(),
            iat: now,
            exp: now + self.ttl_secs,
            jti: new_id(),
        };
        Ok(encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid, unexpired session token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let data = decode::<Claims>(token, &self.decoding, &validation).ok()?;
        (data.claims.typ == SESSION_TYPE).then_some(data.claims)
    }
}

/// `bytes` random bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// Creates a refresh token for `user`, stores its hash and returns the secret (for the cookie).
pub async fn issue_refresh(
    store: &dyn AccountStore,
    user: &User,
    ttl_secs: i64,
) -> anyhow::Result<String> {
    let secret = random_token(32);
    let now = Utc::now();
    store
        .insert_refresh_token(RefreshToken {
            id: new_id(),
            user_id: user.id.clone(),
            token_hash: sha256_hex(&secret),
            expires_at: rfc3339(now + Duration::seconds(ttl_secs)),
            revoked_at: None,
            created_at: rfc3339(now),
        })
        .await?;
    Ok(secret)
}

/// Loads the session signing key: the configured one, else the one kept in the data
/// directory, else a new random key written there (readable by the owner only).
pub fn load_or_create_secret(
    configured: &str,
    secrets_dir: &std::path::Path,
) -> anyhow::Result<Vec<u8>> {
    if !configured.is_empty() {
        if configured.len() < 32 {
            anyhow::bail!("auth.session_secret must be at least 32 characters");
        }
        return Ok(configured.as_bytes().to_vec());
    }
    let path = secrets_dir.join("session.key");
    if let Ok(existing) = std::fs::read(&path) {
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    std::fs::create_dir_all(secrets_dir)?;
    let mut key = vec![0u8; 64];
    rand::thread_rng().fill_bytes(&mut key);
    write_private(&path, &key)?;
    Ok(key)
}

pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            account_id: "a1".into(),
            email: "a@b.c".into(),
            password_hash: String::new(),
            role: "admin".into(),
            created_at: String::new(),
        }
    }

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let keys = SessionKeys::new(&[7u8; 32], 60);
        let token = keys.issue(&user()).expect("issue");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.acc, "a1");
        let other = SessionKeys::new(&[8u8; 32], 60);
        assert!(other.verify(&token).is_none());
        assert!(keys.verify("tok_not_a_jwt").is_none());
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = SessionKeys::new(&[7u8; 32], -10);
        let token = keys.issue(&user()).expect("issue");
        assert!(keys.verify(&token).is_none());
    }
}
