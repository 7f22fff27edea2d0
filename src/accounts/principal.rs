//! Who is calling: a dashboard session (a user) or a runtime API key.

use crate::accounts::roles::{Role, Scope, Scopes};
use crate::error::ApiError;
use crate::store::Workspace;

#[derive(Debug, Clone)]
pub enum Principal {
    Session {
        user_id: String,
        account_id: String,
        role: Role,
    },
    ApiKey {
        key_id: String,
        account_id: String,
        /// Set when the key is bound to one workspace: it may touch nothing else.
        workspace: Option<Box<Workspace>>,
        rate_limit_per_minute: Option<u32>,
        /// The key's monthly gateway budget in USD.
        monthly_budget_usd: Option<f64>,
        scopes: Scopes,
    },
}

impl Principal {
    pub fn account_id(&self) -> &str {
        match self {
            Self::Session { account_id, .. } | Self::ApiKey { account_id, .. } => account_id,
        }
    }

    /// An admin's dashboard session (keys never count as the operator, whatever they hold).
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::Session {
                role: Role::Admin,
                ..
            }
        )
    }

    /// What this caller may do: its role's scopes, or the key's.
    pub fn scopes(&self) -> Scopes {
        match self {
            Self::Session { role, .. } => role.scopes(),
            Self::ApiKey { scopes, .. } => *scopes,
        }
    }

    /// 403 naming the scope when the caller lacks it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes().has(scope) {
            return Ok(());
        }
        Err(ApiError::Forbidden(match self {
            Self::Session { role, .. } => format!(
                "this needs the `{scope}` scope, which the {} role does not hold",
                role.as_str()
            ),
            Self::ApiKey { .. } => format!("this API key lacks the `{scope}` scope"),
        }))
    }

    /// The bucket the rate limiter counts this caller in.
    pub fn rate_key(&self) -> String {
        self.actor()
    }

    /// Who did it, as recorded in histories and audits: `user:<id>` or `key:<id>`.
    pub fn actor(&self) -> String {
        match self {
            Self::Session { user_id, .. } => format!("user:{user_id}"),
            Self::ApiKey { key_id, .. } => format!("key:{key_id}"),
        }
    }

    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::ApiKey { key_id, .. } => Some(key_id),
            Self::Session { .. } => None,
        }
    }

    pub fn key_budget_usd(&self) -> Option<f64> {
        match self {
            Self::ApiKey {
                monthly_budget_usd, ..
            } => *monthly_budget_usd,
            Self::Session { .. } => None,
        }
    }

    pub fn bound_workspace(&self) -> Option<&Workspace> {
        match self {
            Self::ApiKey { workspace, .. } => workspace.as_deref(),
            Self::Session { .. } => None,
        }
    }
}
