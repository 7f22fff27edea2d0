//! The application state shared by every handler. Cheap to clone: everything is behind `Arc`.

use std::sync::Arc;
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::accounts::keys::UsageTouches;
use crate::accounts::login_limit::LoginLimiter;
use crate::accounts::rate_limit::RateLimiter;
use crate::accounts::sessions::SessionKeys;
use crate::config::Config;
use crate::store::AccountStore;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub accounts: Arc<dyn AccountStore>,
    pub sources: Arc<crate::sources::Sources>,
    pub memory: Arc<crate::memory::Memory>,
    pub context: Arc<crate::context::ContextPacks>,
    pub guard: Arc<crate::guard::Guard>,
    pub harness: Arc<crate::harness::Harness>,
    pub gateway: Arc<crate::gateway::Gateway>,
    pub sessions: Arc<SessionKeys>,
    /// The pending first-admin token (`POST /v1/setup`), if the installation has no admin.
    pub setup: Arc<crate::accounts::setup::SetupToken>,
    pub rate_limiter: Arc<RateLimiter>,
    pub login_limiter: Arc<LoginLimiter>,
    pub key_touches: Arc<UsageTouches>,
    pub metrics: PrometheusHandle,
    pub started_at: Instant,
}
