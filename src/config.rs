//! Layered configuration: `config/default.toml`, then `--config FILE`, then
//! `CAIRN__SECTION__KEY` environment variables. Unknown keys and bad values are rejected by
//! name: a choice between fixed values is a serde enum (its error names the key through
//! `serde_path_to_error`), and `Config::validate` checks only what types cannot say (ranges,
//! settings that depend on each other). Secrets are `SecretString`, so a config printed with
//! `{:?}` never shows one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "CAIRN__";
/// The highest `rate_limit.max_per_minute` accepted.
const MAX_RATE_LIMIT: u32 = 1_000_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub embedding: EmbeddingConfig,
    pub sources: SourcesConfig,
    pub search: SearchConfig,
    pub memory: MemoryConfig,
    pub context: ContextConfig,
    pub guard: GuardConfig,
    pub harness: HarnessConfig,
    pub reflection: ReflectionConfig,
    pub gateway: GatewayConfig,
    pub vault: VaultConfig,
    pub billing: BillingConfig,
    /// Model providers of the gateway (none by default).
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Models the gateway routes to (none by default).
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    pub log: LogConfig,
}

/// Where the key that seals secrets at rest comes from (`gateway::sealed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultMode {
    /// `secrets/vault.key` in the data directory: open from the start.
    Keyfile,
    /// Derived from the admin password: locked until an admin unlocks it.
    Password,
}

impl VaultMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keyfile => "keyfile",
            Self::Password => "password",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    pub mode: VaultMode,
    /// Password mode: lock after this many seconds without an authenticated request (0: never).
    pub auto_lock_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    pub enforce: bool,
    /// USD per 1k input tokens of `/v1/embeddings` when no catalog model of that name has a
    /// price.
    pub embedding_per_1k: f64,
    /// Where a user adds credit (the operator's own page), sent as `payment_url` with 402s
    /// that the balance caused; empty: not sent.
    pub payment_url: String,
    /// Share of a model's price charged when the caller's own provider key (BYOK) served the
    /// request: the provider bills the customer, Cairn only its routing layer.
    pub byok_fee_rate: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub cache_ttl_secs: u64,
    pub cache_max_entries: usize,
    /// Share of the baseline price charged for requests a local endpoint served.
    pub local_price_share: f64,
    /// Capability weight (1-10) routing gives local endpoints' models.
    pub local_weight: u8,
    pub local_context_window: usize,
    pub local_timeout_secs: u64,
    pub local_discovery_timeout_secs: u64,
    /// Internal networks (CIDR) local endpoints may be on; public addresses are always
    /// allowed, link-local and metadata never.
    pub local_endpoint_networks: Vec<String>,
    /// Members (not only admins) may register local endpoints on those networks.
    pub local_endpoints_for_members: bool,
    /// Most models kept from an endpoint's `/v1/models` answer.
    pub local_endpoint_max_models: usize,
    /// The `max_tokens` sent upstream (and held for) when a chat request sets none.
    pub default_max_tokens: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    /// openai, anthropic, or openai_compatible (vLLM, Ollama, LocalAI, ...).
    pub kind: String,
    /// Base URL up to /v1 (empty: the vendor's own for openai and anthropic).
    pub base_url: String,
    #[serde(default)]
    pub api_key: SecretString,
    /// Extra headers sent with every request (secret: they often carry credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, SecretString>,
    #[serde(default = "default_provider_timeout")]
    pub timeout_secs: u64,
}

fn default_provider_timeout() -> u64 {
    60
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub provider: String,
    /// The model name the provider knows.
    pub upstream: String,
    /// Capability, 1-10.
    pub weight: u8,
    pub context_window: usize,
    pub input_per_1k: f64,
    pub output_per_1k: f64,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    pub default_effect: crate::guard::policy::DefaultEffect,
    pub approval_ttl_secs: i64,
    pub secret_notes: crate::guard::SecretMode,
    pub review_below_confidence: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessConfig {
    pub remember_status: crate::memory::model::NoteStatus,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReflectionConfig {
    /// The gateway model that writes reflections: a catalog name, alias or tier.
    pub model: String,
    /// Keys of the time reflections called a server directly, refused with the way to move
    /// them into the catalog rather than silently ignored.
    #[serde(default)]
    base_url: Option<toml::Value>,
    #[serde(default)]
    api_key: Option<toml::Value>,
    #[serde(default)]
    timeout_secs: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {
    pub max_batch_items: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    pub default_max_tokens: usize,
    pub max_tokens_limit: usize,
    pub tokenizer: String,
    pub note_candidates: usize,
    pub chunk_candidates: usize,
    pub graph_hops: usize,
    pub graph_neighbours: usize,
    /// Most entities named in a query that seed the graph walk.
    pub graph_max_entities: usize,
    pub recent_events: usize,
    pub recency_half_life_days: f64,
    pub duplicate_threshold: f64,
    pub min_similarity: f64,
    /// The share of cosine similarity in a hit's relevance (the rest is relative BM25).
    pub cosine_share: f64,
    /// How much a note is lifted by its title group's match (0 turns it off).
    pub group_lift: f64,
    /// How many of the best retrieved notes bring their thread neighbours (0 turns it off).
    pub neighbour_seeds: usize,
    /// Added to the relevance of a turn whose speaker the query names (0 turns it off).
    pub speaker_lift: f64,
    /// Added to the relevance of a note dated on the day (or month) the query names (0 turns
    /// it off).
    pub date_lift: f64,
    /// The share of relevance a note that asks a question loses (0 turns it off).
    pub question_discount: f64,
    pub weights: Weights,
}

/// How a context-pack item's scores add up to the one it is ranked by.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub relevance: f64,
    pub recency: f64,
    pub importance: f64,
    pub confidence: f64,
    pub feedback: f64,
}

impl Weights {
    /// Each weight is a number from 0 to 10 (config and harness versions alike).
    pub fn in_range(&self) -> bool {
        [
            self.relevance,
            self.recency,
            self.importance,
            self.confidence,
            self.feedback,
        ]
        .iter()
        .all(|x| (0.0..=10.0).contains(x))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    pub backend: EmbeddingBackend,
    pub model: String,
    pub model_dir: String,
    pub onnxruntime: String,
    pub catalog_model: String,
    pub max_length: usize,
    pub threads: usize,
    pub batch_size: usize,
    pub remote_url: String,
    pub remote_api_key: SecretString,
    pub remote_model: String,
    pub remote_timeout_secs: u64,
    pub remote_max_retries: u32,
    pub remote_batch_size: usize,
    /// Model names `/v1/embeddings` answers to besides the model's own (OpenAI clients send
    /// theirs by default); the vectors are still the configured model's.
    #[serde(default = "default_embedding_aliases")]
    pub aliases: Vec<String>,
}

fn default_embedding_aliases() -> Vec<String> {
    vec![
        "text-embedding-3-small".into(),
        "text-embedding-ada-002".into(),
    ]
}

/// Where vectors are computed (`embedding.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingBackend {
    /// The in-process ONNX model.
    Local,
    /// An OpenAI-compatible `/v1/embeddings` server at `embedding.remote_url`.
    Remote,
}

impl EmbeddingConfig {
    pub fn model_dir(&self) -> PathBuf {
        expand_home(&self.model_dir)
    }

    pub fn onnxruntime(&self) -> PathBuf {
        expand_home(&self.onnxruntime)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    pub max_upload_bytes: usize,
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    pub embed_title: bool,
    pub url_allow_hosts: Vec<String>,
    pub url_max_bytes: usize,
    pub url_timeout_secs: u64,
    pub url_max_redirects: usize,
    pub max_records: usize,
    /// Memory (MiB) a PDF parser may use in its child process, beyond the program itself.
    pub extract_memory_mb: u64,
    /// Seconds a child process may spend extracting one document before it is killed.
    pub extract_timeout_secs: u64,
    /// Per workspace: most jobs queued for the background worker, and most queued bytes.
    pub queue_max_jobs: u64,
    pub queue_max_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub fusion: FusionMethod,
    pub alpha: f32,
    pub rrf_k: f32,
    pub vector_index_threshold: usize,
    pub resident_max_vectors: usize,
    /// A query word at least this share of the searched entries contain is left out of the
    /// vector side's focus (0 turns focusing off).
    pub common_word_share: f64,
    /// A vector hit's score: this share of its cosine to the whole query, the rest to the focus.
    pub full_query_share: f32,
}

/// How hybrid search merges the vector and BM25 rankings (`search.fusion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FusionMethod {
    /// `alpha * vector + (1 - alpha) * bm25` over min-max normalised scores.
    Convex,
    /// Reciprocal rank fusion with `search.rrf_k`.
    Rrf,
}

/// `~/x` is `$HOME/x`; anything else is taken as written.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub max_body_bytes: usize,
    pub shutdown_grace_secs: u64,
    pub trust_forwarded_for: bool,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <metrics_token>` (401
    /// otherwise); empty leaves it open.
    pub metrics_token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub session_secret: SecretString,
    pub session_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
    pub allow_registration: bool,
    pub login_max_attempts: u32,
    pub login_window_secs: u64,
    pub login_lockout_secs: u64,
    pub cookie_secure: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub default_per_minute: u32,
    pub session_per_minute: u32,
    pub anonymous_per_minute: u32,
    /// The operator's cap on a key's requests per minute: creating a key above it is a 400,
    /// and a key stored above it (before the cap was lowered) is clamped to it.
    pub max_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// How log lines are written (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, fields flattened.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: String, message: String },
    #[error("invalid config at `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

impl Config {
    /// Loads the defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut merged = parse_toml("config/default.toml", DEFAULT_TOML)?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let layer = parse_toml(&path.display().to_string(), &text)?;
            merge(&mut merged, layer);
        }
        for (var, value) in env {
            if let Some(rest) = var.strip_prefix(ENV_PREFIX) {
                apply_env(&mut merged, var, rest, value)?;
            }
        }
        let config: Config =
            serde_path_to_error::deserialize(merged).map_err(|e| ConfigError::Invalid {
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// What the types cannot say: ranges and settings that depend on each other. Each step
    /// returns the first bad key of its sections.
    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server_and_auth()?;
        self.validate_embedding_and_sources()?;
        self.validate_source_limits()?;
        self.validate_search_and_context()?;
        self.validate_harness_guard_reflection()?;
        self.validate_providers_and_models()?;
        self.validate_gateway_memory_limits()
    }

    fn validate_server_and_auth(&self) -> Result<(), ConfigError> {
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "server.bind",
                "expected HOST:PORT, e.g. 127.0.0.1:8080",
            ));
        }
        if self.auth.session_ttl_secs <= 0 || self.auth.refresh_ttl_secs <= 0 {
            return Err(invalid("auth", "token lifetimes must be positive"));
        }
        Ok(())
    }

    fn validate_embedding_and_sources(&self) -> Result<(), ConfigError> {
        let (embedding, sources) = (&self.embedding, &self.sources);
        if embedding.backend == EmbeddingBackend::Remote && embedding.remote_url.is_empty() {
            return Err(invalid(
                "embedding.remote_url",
                "required when embedding.backend is \"remote\"",
            ));
        }
        if sources.chunk_tokens + 2 > embedding.max_length || sources.chunk_tokens == 0 {
            return Err(invalid(
                "sources.chunk_tokens",
                "must be at least 1 and leave room for the model's two special tokens within embedding.max_length",
            ));
        }
        if sources.chunk_overlap >= sources.chunk_tokens {
            return Err(invalid(
                "sources.chunk_overlap",
                "must be smaller than sources.chunk_tokens",
            ));
        }
        Ok(())
    }

    /// The extraction sandbox and the ingest queue need room to work at all.
    fn validate_source_limits(&self) -> Result<(), ConfigError> {
        let s = &self.sources;
        if s.extract_memory_mb < 16 {
            return Err(invalid("sources.extract_memory_mb", "must be at least 16"));
        }
        if s.extract_timeout_secs == 0 {
            return Err(invalid("sources.extract_timeout_secs", "must be positive"));
        }
        if s.queue_max_jobs == 0 || s.queue_max_bytes == 0 {
            return Err(invalid(
                "sources.queue_max_jobs",
                "queue_max_jobs and queue_max_bytes must be positive",
            ));
        }
        if self.context.graph_max_entities == 0 {
            return Err(invalid("context.graph_max_entities", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_search_and_context(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.search.alpha) {
            return Err(invalid("search.alpha", "expected a number from 0 to 1"));
        }
        if !(0.0..=1.0).contains(&self.search.common_word_share) {
            return Err(invalid(
                "search.common_word_share",
                "expected a number from 0 to 1",
            ));
        }
        if !(0.0..=1.0).contains(&self.search.full_query_share) {
            return Err(invalid(
                "search.full_query_share",
                "expected a number from 0 to 1",
            ));
        }
        let context = &self.context;
        if context.default_max_tokens == 0 || context.default_max_tokens > context.max_tokens_limit
        {
            return Err(invalid(
                "context.default_max_tokens",
                "must be at least 1 and at most context.max_tokens_limit",
            ));
        }
        if !(0.0..=1.0).contains(&context.duplicate_threshold)
            || context.recency_half_life_days <= 0.0
        {
            return Err(invalid(
                "context",
                "duplicate_threshold is 0-1 and recency_half_life_days positive",
            ));
        }
        if !(0.0..=1.0).contains(&context.cosine_share)
            || !(0.0..=10.0).contains(&context.group_lift)
            || context.neighbour_seeds > 50
            || !(0.0..=1.0).contains(&context.speaker_lift)
            || !(0.0..=1.0).contains(&context.date_lift)
            || !(0.0..=1.0).contains(&context.question_discount)
        {
            return Err(invalid(
                "context",
                "cosine_share, speaker_lift, date_lift and question_discount are 0-1, group_lift 0-10 and neighbour_seeds 0-50",
            ));
        }
        if !context.weights.in_range() {
            return Err(invalid(
                "context.weights",
                "each weight is a number from 0 to 10",
            ));
        }
        Ok(())
    }

    fn validate_harness_guard_reflection(&self) -> Result<(), ConfigError> {
        if !matches!(
            self.harness.remember_status,
            crate::memory::model::NoteStatus::Pending | crate::memory::model::NoteStatus::Approved
        ) {
            return Err(invalid(
                "harness.remember_status",
                "expected \"pending\" or \"approved\"",
            ));
        }
        if self.guard.approval_ttl_secs <= 0 {
            return Err(invalid("guard.approval_ttl_secs", "must be positive"));
        }
        let r = &self.reflection;
        for (key, set) in [
            ("reflection.base_url", &r.base_url),
            ("reflection.api_key", &r.api_key),
            ("reflection.timeout_secs", &r.timeout_secs),
        ] {
            if set.is_some() {
                return Err(invalid(
                    key,
                    "reflections now go through the gateway: add the server as a [[providers]] entry, its model as a [[models]] entry, and name that model (or a tier) in reflection.model",
                ));
            }
        }
        Ok(())
    }

    fn validate_providers_and_models(&self) -> Result<(), ConfigError> {
        for p in &self.providers {
            if !matches!(
                p.kind.as_str(),
                "openai" | "openai_compatible" | "anthropic"
            ) {
                return Err(invalid(
                    "providers.kind",
                    "expected \"openai\", \"openai_compatible\" or \"anthropic\"",
                ));
            }
            if p.base_url.is_empty() && p.kind == "openai_compatible" {
                return Err(invalid(
                    "providers.base_url",
                    "required for openai_compatible providers",
                ));
            }
        }
        for m in &self.models {
            if !(1..=10).contains(&m.weight) {
                return Err(invalid("models.weight", "expected 1-10"));
            }
            if matches!(m.name.as_str(), "auto" | "fast" | "max") {
                return Err(invalid(
                    "models.name",
                    "auto, fast and max are the routing modes",
                ));
            }
            if !self.providers.iter().any(|p| p.name == m.provider) {
                return Err(invalid(
                    "models.provider",
                    "names a provider that is not configured",
                ));
            }
        }
        Ok(())
    }

    fn validate_gateway_memory_limits(&self) -> Result<(), ConfigError> {
        let gateway = &self.gateway;
        if !(0.0..=1.0).contains(&gateway.local_price_share) {
            return Err(invalid("gateway.local_price_share", "expected 0-1"));
        }
        if !(1..=10).contains(&gateway.local_weight) {
            return Err(invalid("gateway.local_weight", "expected 1-10"));
        }
        if gateway.local_context_window == 0
            || gateway.local_timeout_secs == 0
            || gateway.local_discovery_timeout_secs == 0
        {
            return Err(invalid(
                "gateway.local_context_window",
                "local_context_window, local_timeout_secs and local_discovery_timeout_secs must be positive",
            ));
        }
        if let Err(why) = crate::outbound::parse_networks(&gateway.local_endpoint_networks) {
            return Err(invalid("gateway.local_endpoint_networks", &why));
        }
        if gateway.local_endpoint_max_models == 0 {
            return Err(invalid(
                "gateway.local_endpoint_max_models",
                "must be at least 1",
            ));
        }
        if !(1..=1_000_000).contains(&gateway.default_max_tokens) {
            return Err(invalid("gateway.default_max_tokens", "expected 1-1000000"));
        }
        let per_1k = self.billing.embedding_per_1k;
        if !per_1k.is_finite() || per_1k < 0.0 {
            return Err(invalid(
                "billing.embedding_per_1k",
                "expected a non-negative price",
            ));
        }
        if self.memory.max_batch_items == 0 {
            return Err(invalid("memory.max_batch_items", "must be at least 1"));
        }
        let limits = &self.rate_limit;
        if limits.default_per_minute == 0
            || limits.session_per_minute == 0
            || limits.anonymous_per_minute == 0
        {
            return Err(invalid(
                "rate_limit",
                "limits must be at least 1 per minute",
            ));
        }
        if !(1..=MAX_RATE_LIMIT).contains(&limits.max_per_minute) {
            return Err(invalid("rate_limit.max_per_minute", "expected 1-1000000"));
        }
        if limits.default_per_minute > limits.max_per_minute {
            return Err(invalid(
                "rate_limit.default_per_minute",
                "must not exceed rate_limit.max_per_minute",
            ));
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join("cairn.db")
    }

    pub fn lance_dir(&self) -> PathBuf {
        self.storage.data_dir.join("lance")
    }

    pub fn tantivy_dir(&self) -> PathBuf {
        self.storage.data_dir.join("tantivy")
    }

    pub fn fusion(&self) -> crate::retrieval::Fusion {
        match self.search.fusion {
            FusionMethod::Rrf => crate::retrieval::Fusion::Rrf {
                k: self.search.rrf_k,
            },
            FusionMethod::Convex => crate::retrieval::Fusion::Convex {
                alpha: self.search.alpha,
            },
        }
    }

    pub fn focus(&self) -> crate::retrieval::Focus {
        crate::retrieval::Focus {
            common_share: self.search.common_word_share,
            full_share: self.search.full_query_share,
        }
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.storage.data_dir.join("secrets")
    }
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.to_string(),
    }
}

fn parse_toml(origin: &str, text: &str) -> Result<toml::Value, ConfigError> {
    text.parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })
}

fn merge(base: &mut toml::Value, layer: toml::Value) {
    match (base, layer) {
        (toml::Value::Table(base), toml::Value::Table(layer)) => {
            for (key, value) in layer {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

/// `CAIRN__SERVER__BIND=...` sets `server.bind`. The value is read as a TOML literal when it
/// parses as one (numbers, booleans, arrays), else as a plain string.
fn apply_env(root: &mut toml::Value, var: &str, path: &str, raw: &str) -> Result<(), ConfigError> {
    let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
    if keys.iter().any(String::is_empty) {
        return Err(ConfigError::Env {
            var: var.to_string(),
            message: "expected CAIRN__SECTION__KEY".to_string(),
        });
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let mut node = root;
    for (i, key) in keys.iter().enumerate() {
        let toml::Value::Table(table) = node else {
            return Err(ConfigError::Env {
                var: var.to_string(),
                message: format!("`{}` is not a section", keys[..i].join(".")),
            });
        };
        if i + 1 == keys.len() {
            // Strings stay strings where the default is a string, so "8080" or "true" in a
            // string setting is not turned into a number or boolean.
            let value = match (table.get(key), value) {
                (Some(toml::Value::String(_)), v) if !v.is_str() => {
                    toml::Value::String(raw.to_string())
                }
                (_, v) => v,
            };
            table.insert(key.clone(), value);
            return Ok(());
        }
        node = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The error of loading the defaults with the one override `var=value`.
    fn env_error(var: &str, value: &str) -> ConfigError {
        Config::load_from(None, &env(&[(var, value)])).expect_err("the override is refused")
    }

    #[test]
    fn defaults_load_without_any_layer() {
        let config = Config::load_from(None, &[]).expect("defaults are valid");
        assert_eq!(config.server.bind, "127.0.0.1:8080");
        assert_eq!(config.rate_limit.default_per_minute, 60);
    }

    #[test]
    fn env_vars_override_nested_keys_with_typed_values() {
        let config = Config::load_from(
            None,
            &env(&[
                ("CAIRN__SERVER__BIND", "0.0.0.0:9000"),
                ("CAIRN__RATE_LIMIT__DEFAULT_PER_MINUTE", "7"),
                ("CAIRN__AUTH__ALLOW_REGISTRATION", "false"),
            ]),
        )
        .expect("valid overrides");
        assert_eq!(config.server.bind, "0.0.0.0:9000");
        assert_eq!(config.rate_limit.default_per_minute, 7);
        assert!(!config.auth.allow_registration);
    }

    #[test]
    fn unknown_env_key_is_an_error_naming_the_key() {
        let err = env_error("CAIRN__SERVER__BINDD", "x");
        assert!(err.to_string().contains("bindd"), "{err}");
    }

    #[test]
    fn unknown_file_key_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[storage]\ndata_dirr = \"x\"\n").expect("write");
        let err = Config::load_from(Some(&path), &[]).expect_err("unknown key");
        assert!(err.to_string().contains("data_dirr"), "{err}");
    }

    #[test]
    fn choices_load_as_enums() {
        let config = Config::load_from(
            None,
            &env(&[
                ("CAIRN__LOG__FORMAT", "json"),
                ("CAIRN__SEARCH__FUSION", "rrf"),
                ("CAIRN__EMBEDDING__BACKEND", "remote"),
                ("CAIRN__EMBEDDING__REMOTE_URL", "http://127.0.0.1:9/v1"),
            ]),
        )
        .expect("valid choices");
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.search.fusion, FusionMethod::Rrf);
        assert_eq!(config.embedding.backend, EmbeddingBackend::Remote);
        assert!(matches!(
            config.fusion(),
            crate::retrieval::Fusion::Rrf { .. }
        ));
    }

    #[test]
    fn a_bad_choice_is_an_error_naming_the_key_and_the_choices() {
        for (var, value, key, choices) in [
            (
                "CAIRN__LOG__FORMAT",
                "xml",
                "log.format",
                "`text` or `json`",
            ),
            (
                "CAIRN__EMBEDDING__BACKEND",
                "gpu",
                "embedding.backend",
                "`local` or `remote`",
            ),
            (
                "CAIRN__SEARCH__FUSION",
                "sum",
                "search.fusion",
                "`convex` or `rrf`",
            ),
        ] {
            let err = env_error(var, value);
            assert!(
                matches!(&err, ConfigError::Invalid { key: k, .. } if k == key),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(message.contains(&format!("`{key}`")), "{message}");
            assert!(message.contains(value), "{message}");
            assert!(message.contains(choices), "{message}");
        }
    }

    #[test]
    fn the_remote_backend_needs_a_url() {
        let err = env_error("CAIRN__EMBEDDING__BACKEND", "remote");
        assert!(err.to_string().contains("embedding.remote_url"), "{err}");
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[[providers]]\nname = \"p\"\nkind = \"openai\"\nbase_url = \"\"\n\
             api_key = \"sk-provider-key\"\nheaders = { x-auth = \"header-secret\" }\n",
        )
        .expect("write");
        let config = Config::load_from(
            Some(&path),
            &env(&[
                (
                    "CAIRN__AUTH__SESSION_SECRET",
                    "session-secret-0123456789abcdef",
                ),
                ("CAIRN__EMBEDDING__REMOTE_API_KEY", "embedding-key"),
                ("CAIRN__SERVER__METRICS_TOKEN", "metrics-token"),
            ]),
        )
        .expect("valid");
        let printed = format!("{config:?}");
        for secret in [
            "sk-provider-key",
            "header-secret",
            "session-secret-0123456789abcdef",
            "embedding-key",
            "metrics-token",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert_eq!(
            config.providers[0].api_key.expose_secret(),
            "sk-provider-key"
        );
        assert_eq!(
            config.providers[0].headers["x-auth"].expose_secret(),
            "header-secret"
        );
        assert_eq!(
            config.auth.session_secret.expose_secret(),
            "session-secret-0123456789abcdef"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = env_error("CAIRN__RATE_LIMIT__DEFAULT_PER_MINUTE", "lots");
        assert!(
            err.to_string().contains("rate_limit.default_per_minute"),
            "{err}"
        );
    }

    #[test]
    fn a_reflection_server_url_says_where_it_moved() {
        let err = env_error("CAIRN__REFLECTION__BASE_URL", "http://127.0.0.1:11434/v1");
        let text = err.to_string();
        assert!(text.contains("reflection.base_url"), "{text}");
        assert!(text.contains("[[providers]]"), "{text}");
    }
}
