//! Users, sessions, API keys, workspaces and the limits that guard them.

pub mod admin_keys;
pub mod keys;
pub mod login_limit;
pub mod passwords;
pub mod principal;
pub mod rate_limit;
pub mod roles;
pub mod sessions;
pub mod setup;
pub mod users;
pub mod workspaces;

pub use principal::Principal;
