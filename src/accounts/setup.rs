//! The first admin of a fresh installation.
//!
//! The rule: registering never makes anyone an operator. A fresh server has no admin until the
//! operator makes one, with `cairn users create-admin` or with the one-time setup token the
//! server prints on its standard output at a start that finds no admin. The token is kept only
//! as a hash, works once, and is worthless once any admin exists.

use std::sync::Mutex;

use serde::Deserialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::accounts::sessions::{random_token, sha256_hex};
use crate::store::AccountStore;

/// The body of `POST /v1/setup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token the server printed at start (`cairn setup token: ...`).
    pub setup_token: String,
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

/// The hash of the pending setup token, if any.
#[derive(Default)]
pub struct SetupToken {
    hash: Mutex<Option<String>>,
}

impl SetupToken {
    /// A fresh token when the installation has no admin (returned once, for printing), else
    /// none.
    pub async fn issue_if_needed(
        &self,
        store: &dyn AccountStore,
    ) -> anyhow::Result<Option<String>> {
        if store.first_admin().await?.is_some() {
            return Ok(None);
        }
        let token = random_token(24);
        *self.lock() = Some(sha256_hex(&token));
        Ok(Some(token))
    }

    /// Consumes the token when `presented` matches it; a wrong token leaves it in place.
    pub fn redeem(&self, presented: &str) -> bool {
        let mut hash = self.lock();
        let presented = sha256_hex(presented);
        let matches = hash
            .as_deref()
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(presented.as_bytes())));
        if matches {
            *hash = None;
        }
        matches
    }

    /// Puts a redeemed token back when creating the admin failed (bad email, taken address).
    pub fn restore(&self, presented: &str) {
        *self.lock() = Some(sha256_hex(presented));
    }

    pub fn pending(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.hash.lock().unwrap_or_else(|p| p.into_inner())
    }
}
