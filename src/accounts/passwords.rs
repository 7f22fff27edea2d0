//! Argon2id password hashing. Hashing is deliberately slow, so it runs on the blocking pool,
//! and at most [`CONCURRENT_HASHES`] at once: each run takes a core and about 19 MiB, so a
//! burst of logins or registrations waits its turn instead of exhausting memory and threads.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Argon2 runs allowed at the same time, across hashing and verification.
pub const CONCURRENT_HASHES: usize = 4;

static PERMITS: Semaphore = Semaphore::const_new(CONCURRENT_HASHES);

/// Runs one Argon2 computation on the blocking pool once a permit is free. The permit moves
/// into the blocking task, so a client that hangs up does not free it before the work ends.
async fn limited<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let permit = PERMITS.acquire().await?;
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await?)
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await?
}

/// Checks `password` against a stored PHC string; a malformed stored hash never matches.
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    limited(move || {
        PasswordHash::new(&stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// A hash of a random password, verified against when the email is unknown so that a login
/// for a missing user costs the same time as one for a real user.
pub async fn decoy_hash() -> anyhow::Result<String> {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_try_init(|| hash(crate::accounts::sessions::random_token(16)))
        .await
        .cloned()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_verify_only_their_own_password() {
        let h = super::hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse".into(), h.clone())
            .await
            .expect("verify"));
        assert!(!super::verify("wrong horse".into(), h)
            .await
            .expect("verify"));
        assert!(!super::verify("x".into(), "not a hash".into())
            .await
            .expect("verify"));
    }
}
