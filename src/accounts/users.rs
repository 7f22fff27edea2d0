//! Registration, login, token refresh, logout and the current user.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::login_limit::LoginLimiter;
use crate::accounts::passwords;
use crate::accounts::roles::Role;
use crate::accounts::sessions::{issue_refresh, sha256_hex, SessionKeys};
use crate::accounts::setup::{SetupRequest, SetupToken};
use crate::error::{ApiError, ApiResult};
use crate::store::time::now;
use crate::store::{AccountStore, NewAccount, User};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    /// At least 8 characters.
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    /// `admin` (the operator), `reviewer` or `member`.
    pub role: String,
    pub account_id: String,
    pub created_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
            account_id: u.account_id.clone(),
            created_at: u.created_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    /// The session token: send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the session token expires; refresh with `POST /api/auth/refresh`.
    pub expires_in: i64,
}

/// A signed-in user: the response body and the refresh secret for the HttpOnly cookie.
pub struct SignedIn {
    pub body: AuthResponse,
    pub refresh_token: String,
}

pub struct AuthSettings<'a> {
    pub sessions: &'a SessionKeys,
    pub refresh_ttl_secs: i64,
    pub allow_registration: bool,
}

pub(crate) fn normalise_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_ascii_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(ApiError::bad_request(
            "email: expected an address like name@example.com",
        ))
    }
}

fn check_password(password: &str) -> ApiResult<()> {
    let len = password.chars().count();
    if len < passwords::MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "password: must be at least {} characters",
            passwords::MIN_PASSWORD_LEN
        )));
    }
    if password.len() > passwords::MAX_PASSWORD_LEN {
        return Err(ApiError::bad_request(format!(
            "password: must be at most {} bytes",
            passwords::MAX_PASSWORD_LEN
        )));
    }
    Ok(())
}

async fn sign_in(
    store: &dyn AccountStore,
    settings: &AuthSettings<'_>,
    user: &User,
) -> ApiResult<SignedIn> {
    let access_token = settings.sessions.issue(user)?;
    let refresh_token = issue_refresh(store, user, settings.refresh_ttl_secs).await?;
    Ok(SignedIn {
        body: AuthResponse {
            user: user.into(),
            access_token,
            token_type: "bearer".into(),
            expires_in: settings.sessions.ttl_secs(),
        },
        refresh_token,
    })
}

/// Creates an account with its first user and `default` workspace. The user reviews its own
/// account's work (role `reviewer`) and is never an operator: admins come from
/// `cairn users create-admin` or the setup token.
pub async fn register(
    store: &dyn AccountStore,
    settings: &AuthSettings<'_>,
    req: Credentials,
) -> ApiResult<SignedIn> {
    if !settings.allow_registration {
        return Err(ApiError::Forbidden("Registration is disabled".into()));
    }
    let email = normalise_email(&req.email)?;
    check_password(&req.password)?;
    let user = create_user(store, email, req.password, Role::Reviewer).await?;
    tracing::info!(user_id = %user.id, role = %user.role, "user registered");
    sign_in(store, settings, &user).await
}

/// Shared by registration and the `users create-admin` command.
pub async fn create_user(
    store: &dyn AccountStore,
    email: String,
    password: String,
    role: Role,
) -> ApiResult<User> {
    let email = normalise_email(&email)?;
    check_password(&password)?;
    let password_hash = passwords::hash(password).await?;
    store
        .create_account(NewAccount {
            account_name: email.clone(),
            email,
            password_hash,
            role: role.as_str().to_string(),
        })
        .await?
        .map_err(|_| ApiError::Conflict("a user with this email already exists".into()))
}

pub async fn login(
    store: &dyn AccountStore,
    settings: &AuthSettings<'_>,
    limiter: &LoginLimiter,
    ip: IpAddr,
    req: Credentials,
) -> ApiResult<SignedIn> {
    // Counted before the password is checked, so parallel guesses cannot slip past.
    let attempt = limiter
        .begin(ip)
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })?;
    let user = match normalise_email(&req.email) {
        Ok(email) => store.user_by_email(&email).await?,
        Err(_) => None,
    };
    let stored_hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => passwords::decoy_hash().await?,
    };
    let matches = passwords::verify(req.password, stored_hash).await?;
    match user {
        Some(user) if matches => {
            attempt.succeeded();
            tracing::info!(user_id = %user.id, "login");
            sign_in(store, settings, &user).await
        }
        _ => {
            tracing::info!(%ip, "failed login");
            Err(ApiError::Unauthorized("Invalid email or password".into()))
        }
    }
}

/// Exchanges a refresh token for a new session token, rotating the refresh token. A refresh
/// token presented after it was rotated away revokes all of that user's refresh tokens, since
/// it means the token leaked.
pub async fn refresh(
    store: &dyn AccountStore,
    settings: &AuthSettings<'_>,
    refresh_token: Option<&str>,
) -> ApiResult<SignedIn> {
    let invalid = || ApiError::Unauthorized("Invalid or expired refresh token".into());
    let secret = refresh_token.ok_or_else(invalid)?;
    let row = store
        .refresh_token_by_hash(&sha256_hex(secret))
        .await?
        .ok_or_else(invalid)?;
    let at = now();
    if row.revoked_at.is_some() {
        store.revoke_user_refresh_tokens(&row.user_id, &at).await?;
        tracing::warn!(user_id = %row.user_id, "revoked refresh token reused; all sessions revoked");
        return Err(invalid());
    }
    let expired = DateTime::parse_from_rfc3339(&row.expires_at)
        .map(|t| t.with_timezone(&Utc) <= Utc::now())
        .unwrap_or(true);
    if expired || !store.revoke_refresh_token(&row.id, &at).await? {
        return Err(invalid());
    }
    let user = store.user_by_id(&row.user_id).await?.ok_or_else(invalid)?;
    sign_in(store, settings, &user).await
}

pub async fn logout(store: &dyn AccountStore, refresh_token: Option<&str>) -> ApiResult<()> {
    if let Some(secret) = refresh_token {
        if let Some(row) = store.refresh_token_by_hash(&sha256_hex(secret)).await? {
            store.revoke_refresh_token(&row.id, &now()).await?;
        }
    }
    Ok(())
}

pub async fn me(store: &dyn AccountStore, user_id: &str) -> ApiResult<UserView> {
    let user = store
        .user_by_id(user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Invalid or expired credential".into()))?;
    Ok((&user).into())
}

/// Redeems the one-time setup token for the installation's first admin, signed in.
pub async fn setup(
    store: &dyn AccountStore,
    settings: &AuthSettings<'_>,
    token: &SetupToken,
    req: SetupRequest,
) -> ApiResult<SignedIn> {
    if !token.pending() {
        return Err(ApiError::Conflict(
            "setup is done: this installation has an admin".into(),
        ));
    }
    let email = normalise_email(&req.email)?;
    check_password(&req.password)?;
    if !token.redeem(&req.setup_token) {
        return Err(ApiError::Forbidden(
            "setup_token: not the token this server printed".into(),
        ));
    }
    match create_user(store, email, req.password, Role::Admin).await {
        Ok(user) => {
            tracing::info!(user_id = %user.id, "first admin created with the setup token");
            sign_in(store, settings, &user).await
        }
        Err(e) => {
            token.restore(&req.setup_token);
            Err(e)
        }
    }
}

/// The body of `PATCH /v1/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<UserView>,
}

pub async fn list(store: &dyn AccountStore) -> ApiResult<UserList> {
    let users = store.list_users().await?;
    Ok(UserList {
        object: "list".into(),
        data: users.iter().map(UserView::from).collect(),
    })
}

/// Sets a user's role; the installation always keeps one admin (409).
pub async fn set_role(store: &dyn AccountStore, id: &str, patch: RolePatch) -> ApiResult<UserView> {
    match store.set_role(id, patch.role.as_str()).await? {
        Ok(Some(user)) => {
            tracing::info!(user_id = %user.id, role = %user.role, "role changed");
            Ok((&user).into())
        }
        Ok(None) => Err(ApiError::NotFound("User")),
        Err(_) => Err(ApiError::Conflict(
            "role: this is the installation's last admin; make another admin first".into(),
        )),
    }
}
