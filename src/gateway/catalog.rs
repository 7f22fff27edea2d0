//! What the gateway routes over, read from SQL: providers and models (the config file seeds
//! the rows marked `config`), plus every account's local endpoints. Rebuilt whole after each
//! change and swapped in, so a request always sees one consistent catalog.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use super::providers::{self, ProviderEntry};
use super::route::{LocalOwner, ModelEntry};
use super::sealed::{SecretBox, VaultLocked};
use crate::config::Config;
use crate::outbound::Outbound;
use crate::store::gateway::{CatalogStore, LocalEndpoint, ModelRow, ProviderRow};

/// Settings for the models of local endpoints, whose capability and window are unknown.
#[derive(Debug, Clone)]
pub struct LocalDefaults {
    /// Share of the baseline (`max`) price charged for a request a local endpoint served.
    pub price_share: f64,
    pub weight: u8,
    pub context_window: usize,
    /// Per request to the endpoint.
    pub timeout: Duration,
    /// For the health check and model discovery.
    pub discovery_timeout: Duration,
    /// Most models kept from an endpoint's `/v1/models` answer.
    pub max_models: usize,
}

/// The outbound clients (`crate::outbound`) providers are called through, one per reach.
#[derive(Debug, Clone)]
pub struct Clients {
    /// Providers from the config file: anywhere but link-local and metadata.
    pub operator: Outbound,
    /// Local endpoints an admin saved: public addresses and the operator's networks.
    pub networks: Outbound,
    /// Other local endpoints: public addresses only.
    pub public: Outbound,
    /// `gateway.local_endpoints_for_members`: members' endpoints reach the networks too.
    pub members_reach_networks: bool,
}

impl Clients {
    /// Whether an endpoint saved by an admin (or not) may be on the operator's networks.
    pub fn reaches_networks(&self, by_admin: bool) -> bool {
        by_admin || self.members_reach_networks
    }

    /// The client a local endpoint is called through.
    pub fn for_endpoint(&self, e: &LocalEndpoint) -> &Outbound {
        if self.reaches_networks(e.registered_by_admin) {
            &self.networks
        } else {
            &self.public
        }
    }
}

#[derive(Default)]
pub struct Catalog {
    pub providers: HashMap<String, ProviderEntry>,
    /// What chat routes over.
    pub models: Vec<ModelEntry>,
    /// Managed models with the `embeddings` capability: `/v1/embeddings` calls them by name,
    /// chat never routes to them.
    pub embedders: Vec<ModelEntry>,
    /// The strongest enabled managed model: what `max` would use, the baseline of every
    /// usage row.
    pub baseline: Option<ModelEntry>,
    /// Price list entries (managed models), for `GET /v1/pricing`.
    pub capabilities: HashMap<String, Vec<String>>,
    /// The accounts' own provider keys that open now.
    pub byok: super::byok::ByokKeys,
}

impl Catalog {
    /// The provider called `name`; 503 (no candidate does better) when none is configured.
    pub fn configured(&self, name: &str) -> Result<&ProviderEntry, providers::Attempt> {
        self.providers.get(name).ok_or_else(|| {
            providers::Attempt::Fatal(crate::error::ApiError::ServiceUnavailable(format!(
                "Provider {name} not configured"
            )))
        })
    }
}

/// The capability that makes a managed model an embeddings model.
pub const EMBEDDINGS: &str = "embeddings";

/// The provider name a local endpoint's models are served by.
pub fn local_provider(endpoint_id: &str) -> String {
    format!("local:{endpoint_id}")
}

/// The catalog (and breaker) name of a local endpoint's model: unique across accounts, which
/// labels are not; callers use the aliases.
pub fn local_model_name(endpoint_id: &str, upstream: &str) -> String {
    format!("{}/{upstream}", local_provider(endpoint_id))
}

/// The names a chat request routes to a local endpoint's model by.
pub fn local_aliases(e: &LocalEndpoint, upstream: &str) -> Vec<String> {
    vec![upstream.to_string(), format!("{}/{upstream}", e.label)]
}

/// The model modes route to on an endpoint: its default, else the first discovered.
pub fn default_model(e: &LocalEndpoint) -> Option<String> {
    e.default_model
        .clone()
        .or_else(|| e.models.first().cloned())
}

/// `http://host:11434` and `http://host:11434/v1` both mean the OpenAI API under `/v1`.
pub fn api_base(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/v1") {
        base.to_string()
    } else {
        format!("{base}/v1")
    }
}

/// Writes the config file's providers and models as the `config` rows. Their keys and
/// headers stay with the config (loaded at start, read by every catalog load: [`key_of`]): the
/// database never holds a copy, so a locked vault does not hold them either.
pub async fn seed(store: &dyn CatalogStore, config: &Config) -> anyhow::Result<()> {
    let mut providers = Vec::new();
    for p in &config.providers {
        providers.push(ProviderRow {
            name: p.name.clone(),
            kind: p.kind.clone(),
            base_url: match providers::for_kind(p.kind.as_str()) {
                Some(api) if p.base_url.is_empty() => {
                    api.default_base_url().unwrap_or_default().to_string()
                }
                _ => p.base_url.clone(),
            },
            secret_enc: None,
            timeout_secs: i64::try_from(p.timeout_secs).unwrap_or(i64::MAX),
            source: "config".into(),
            enabled: true,
            cred_store: "config".into(),
            api_key_env: None,
        });
    }
    let models: Vec<ModelRow> = config
        .models
        .iter()
        .map(|m| ModelRow {
            name: m.name.clone(),
            provider: m.provider.clone(),
            upstream: m.upstream.clone(),
            weight: i64::from(m.weight),
            context_window: i64::try_from(m.context_window).unwrap_or(i64::MAX),
            input_per_1k: m.input_per_1k,
            output_per_1k: m.output_per_1k,
            aliases: m.aliases.clone(),
            capabilities: m.capabilities.clone(),
            enabled: m.enabled,
            source: "config".into(),
        })
        .collect();
    store.seed(&providers, &models).await
}

fn secret_headers(headers: Vec<(String, String)>) -> Vec<(String, SecretString)> {
    headers.into_iter().map(|(k, v)| (k, v.into())).collect()
}

fn headers_of(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The headers a local endpoint is called with (unsealed).
pub fn endpoint_headers(
    sealed: &SecretBox,
    e: &LocalEndpoint,
) -> anyhow::Result<Vec<(String, String)>> {
    match &e.headers_enc {
        Some(s) => Ok(headers_of(&serde_json::from_str(&sealed.unseal(s)?)?)),
        None => Ok(vec![]),
    }
}

/// Everything routing reads, built whole: the configured providers and models, the baseline,
/// and every account's local endpoints with their models.
pub async fn load(
    store: &dyn CatalogStore,
    sealed: &SecretBox,
    local: &LocalDefaults,
    clients: &Clients,
    filed: &Config,
) -> anyhow::Result<Catalog> {
    let (mut disabled, mut locked) = (Vec::new(), Vec::new());
    let mut providers =
        load_providers(store, sealed, clients, filed, &mut disabled, &mut locked).await?;
    let mut capabilities = HashMap::new();
    let (mut models, mut embedders) = (Vec::new(), Vec::new());
    for mut m in store.models().await? {
        let embeds = m.capabilities.iter().any(|c| c == EMBEDDINGS);
        capabilities.insert(m.name.clone(), std::mem::take(&mut m.capabilities));
        let mut entry = managed_model(m);
        // A disabled provider's models stay listed but never route.
        entry.enabled &= !disabled.contains(&entry.provider);
        entry.vault_locked = locked.contains(&entry.provider);
        if embeds {
            embedders.push(entry);
        } else {
            models.push(entry);
        }
    }
    let baseline = models
        .iter()
        .filter(|m| m.enabled)
        .max_by_key(|m| m.weight)
        .cloned();
    for e in store.all_endpoints().await? {
        let headers = match endpoint_headers(sealed, &e) {
            Ok(h) => h,
            Err(err) => {
                tracing::error!(endpoint = %e.id, error = %err, "a local endpoint's headers do not open; skipped");
                continue;
            }
        };
        let provider = endpoint_provider(&e, headers, local.timeout, clients.for_endpoint(&e));
        models.extend(endpoint_models(
            &e,
            &provider.name,
            local,
            baseline.as_ref(),
        ));
        providers.insert(provider.name.clone(), provider);
    }
    let byok = super::byok::open_keys(store.all_provider_keys().await?, sealed);
    Ok(Catalog {
        providers,
        models,
        embedders,
        baseline,
        capabilities,
        byok,
    })
}

/// The stored providers, keys unsealed (or read from the environment), each with what
/// speaks its kind; the names of the disabled ones go to `disabled`, of those whose secrets
/// the locked vault holds to `locked`.
async fn load_providers(
    store: &dyn CatalogStore,
    sealed: &SecretBox,
    clients: &Clients,
    filed: &Config,
    disabled: &mut Vec<String>,
    locked: &mut Vec<String>,
) -> anyhow::Result<HashMap<String, ProviderEntry>> {
    let mut out = HashMap::new();
    for p in store.providers().await? {
        let secret: Value = match p.secret_enc.as_deref().map(|s| sealed.unseal(s)) {
            Some(Ok(plain)) => serde_json::from_str(&plain)?,
            // Its key waits in the locked vault: listed, never routed.
            Some(Err(e)) if e.is::<VaultLocked>() => {
                locked.push(p.name.clone());
                Value::Null
            }
            Some(Err(e)) => return Err(e),
            None => Value::Null,
        };
        let (api_key, headers) = key_of(&p, &secret, filed);
        let api = providers::for_kind(&p.kind).unwrap_or_else(|| {
            tracing::warn!(provider = %p.name, kind = %p.kind, "unknown provider kind; spoken to as OpenAI-compatible");
            providers::for_local_endpoints()
        });
        if !p.enabled {
            disabled.push(p.name.clone());
        }
        // The file's providers reach what the operator wrote; the admin API's, the networks.
        let outbound = if p.source == "config" {
            &clients.operator
        } else {
            &clients.networks
        };
        out.insert(
            p.name.clone(),
            ProviderEntry {
                api,
                name: p.name,
                base_url: p.base_url,
                api_key,
                headers,
                timeout: Duration::from_secs(u64::try_from(p.timeout_secs).unwrap_or(60)),
                outbound: outbound.clone(),
            },
        );
    }
    Ok(out)
}

/// The provider's API key and extra headers, from where its `cred_store` says they live.
pub fn key_of(
    p: &ProviderRow,
    secret: &Value,
    filed: &Config,
) -> (SecretString, Vec<(String, SecretString)>) {
    let sealed_headers = || secret_headers(headers_of(&secret["headers"]));
    match p.cred_store.as_str() {
        "config" => match filed.providers.iter().find(|f| f.name == p.name) {
            Some(f) => (f.api_key.clone(), f.headers.clone().into_iter().collect()),
            None => (SecretString::default(), vec![]),
        },
        "env" => {
            let key = p
                .api_key_env
                .as_deref()
                .and_then(|name| std::env::var(name).ok())
                .unwrap_or_default();
            (key.into(), sealed_headers())
        }
        "none" => (SecretString::default(), sealed_headers()),
        _ => (
            secret["api_key"].as_str().unwrap_or_default().into(),
            sealed_headers(),
        ),
    }
}

fn managed_model(m: ModelRow) -> ModelEntry {
    ModelEntry {
        name: m.name,
        provider: m.provider,
        upstream: m.upstream,
        weight: u8::try_from(m.weight).unwrap_or(1),
        context_window: usize::try_from(m.context_window).unwrap_or(0),
        input_per_1k: m.input_per_1k,
        output_per_1k: m.output_per_1k,
        aliases: m.aliases,
        enabled: m.enabled,
        vault_locked: false,
        byok_key: None,
        local: None,
    }
}

/// The provider a local endpoint's models are served by; `timeout`: per request; `outbound`:
/// the client of the endpoint's reach ([`Clients::for_endpoint`]).
pub fn endpoint_provider(
    e: &LocalEndpoint,
    headers: Vec<(String, String)>,
    timeout: Duration,
    outbound: &Outbound,
) -> ProviderEntry {
    ProviderEntry {
        name: local_provider(&e.id),
        api: providers::for_local_endpoints(),
        base_url: api_base(&e.url),
        api_key: SecretString::default(),
        headers: secret_headers(headers),
        timeout,
        outbound: outbound.clone(),
    }
}

/// A local endpoint's models (its default first), priced at a share of the baseline.
fn endpoint_models(
    e: &LocalEndpoint,
    provider: &str,
    local: &LocalDefaults,
    baseline: Option<&ModelEntry>,
) -> Vec<ModelEntry> {
    let (base_in, base_out) = baseline.map_or((0.0, 0.0), |b| (b.input_per_1k, b.output_per_1k));
    let default = default_model(e);
    let mut names: Vec<String> = e.models.clone();
    if let Some(d) = &default {
        if !names.contains(d) {
            names.insert(0, d.clone());
        }
    }
    names
        .into_iter()
        .map(|upstream| ModelEntry {
            name: local_model_name(&e.id, &upstream),
            provider: provider.to_string(),
            aliases: local_aliases(e, &upstream),
            weight: local.weight,
            context_window: local.context_window,
            input_per_1k: base_in * local.price_share,
            output_per_1k: base_out * local.price_share,
            enabled: e.enabled && e.status == "healthy",
            vault_locked: false,
            byok_key: None,
            local: Some(LocalOwner {
                endpoint_id: e.id.clone(),
                account_id: e.account_id.clone(),
                workspace_id: e.workspace_id.clone(),
                default: default.as_ref() == Some(&upstream),
            }),
            upstream,
        })
        .collect()
}
