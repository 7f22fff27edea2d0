//! `/admin/v1/providers`: the upstreams models are served by. Providers saved here are called
//! with the reach of admin-saved local endpoints (public addresses and the operator's
//! networks), not the config file's wider one. A provider's key lives where its `cred_store`
//! says (`config`: the file's own, sent only to the file's URL): `vault` (sealed in the database), `env` (the named environment
//! variable, read at each catalog load; Cairn's own `CAIRN_*` variables are refused, so an
//! admin key cannot send the server's settings to an upstream it chose) or `none`.

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{audit, check_id, Paging};
use crate::error::{ApiError, ApiResult};
use crate::gateway::local::check_url;
use crate::gateway::sealed::SecretBox;
use crate::gateway::{providers, Gateway};
use crate::outbound::OutboundError;
use crate::store::gateway::ProviderRow;

/// The body cap of a `/v1/models` answer.
const DISCOVERY_MAX_BODY: usize = 4 * 1024 * 1024;
/// The most model ids kept from a discovery.
const DISCOVERY_MAX_MODELS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveProvider {
    pub id: String,
    /// openai, anthropic, openai_compatible (vllm is the same API).
    #[serde(rename = "type")]
    pub kind: String,
    pub enabled: Option<bool>,
    /// Default: the vendor's (openai, anthropic); required for openai_compatible.
    pub base_url: Option<String>,
    /// vault (default when api_key is sent), env, or none (`config` is the config file's own).
    pub cred_store: Option<String>,
    /// Sealed at rest; never returned.
    pub api_key: Option<String>,
    /// With cred_store env: the variable holding the key.
    pub api_key_env: Option<String>,
    /// Per request, 1-600 (default 60).
    pub timeout_secs: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchProvider {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub base_url: Option<String>,
    pub enabled: Option<bool>,
    pub api_key: Option<String>,
    pub cred_store: Option<String>,
    pub api_key_env: Option<String>,
    pub timeout_secs: Option<i64>,
}

/// A provider as the admin sees it: never its key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub enabled: bool,
    pub base_url: String,
    pub cred_store: String,
    pub api_key_env: Option<String>,
    /// Whether a key is there to send: sealed in the vault (while it is locked: whether a
    /// secret is stored), the env variable set, or the config file giving one.
    pub api_key_set: bool,
    pub timeout_secs: i64,
    /// config (seeded from the file) or admin.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderSaved {
    pub ok: bool,
    pub cred_store: String,
    pub provider: ProviderView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderDeleted {
    pub ok: bool,
    /// The provider's models, deleted with it.
    pub models_deleted: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Discovered {
    pub models: Vec<DiscoveredModel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredModel {
    pub id: String,
    /// A catalog model already serves this upstream id from this provider.
    pub registered: bool,
}

fn view(p: &ProviderRow, api_key_set: bool) -> ProviderView {
    ProviderView {
        id: p.name.clone(),
        kind: p.kind.clone(),
        enabled: p.enabled,
        base_url: p.base_url.clone(),
        cred_store: p.cred_store.clone(),
        api_key_env: p.api_key_env.clone(),
        api_key_set,
        timeout_secs: p.timeout_secs,
        source: p.source.clone(),
    }
}

/// A registered kind; `vllm` is spoken to as OpenAI-compatible.
fn check_kind(kind: &str) -> ApiResult<String> {
    let kind = if kind == "vllm" {
        "openai_compatible"
    } else {
        kind
    };
    if providers::for_kind(kind).is_none() {
        let known: Vec<&str> = providers::kinds().collect();
        return Err(ApiError::bad_request(format!(
            "type: unknown provider type `{kind}`; expected one of {}, vllm",
            known.join(", ")
        )));
    }
    Ok(kind.to_string())
}

fn check_cred_store(v: &str) -> ApiResult<String> {
    match v {
        "vault" | "env" | "none" => Ok(v.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "cred_store: unknown `{v}`; expected vault, env or none"
        ))),
    }
}

fn check_env_name(v: &str) -> ApiResult<String> {
    let v = v.trim();
    crate::validate::count("api_key_env", v.len(), 1, 100, "characters")?;
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ApiError::bad_request(
            "api_key_env: expected letters, digits and _ only",
        ));
    }
    if v.to_ascii_uppercase().starts_with("CAIRN") {
        return Err(ApiError::bad_request(
            "api_key_env: Cairn's own CAIRN_* settings cannot be sent to a provider",
        ));
    }
    Ok(v.to_string())
}

/// A provider row being edited, and the key to seal (if a new one was sent).
struct Draft {
    row: ProviderRow,
    new_key: Option<String>,
}

impl Draft {
    /// Checks that the row's key settings agree: a key is only stored in the vault, env needs
    /// the variable's name; a vault provider keeps its sealed key unless a new one came.
    fn settle(mut self, gateway: &Gateway) -> ApiResult<ProviderRow> {
        let r = &mut self.row;
        match r.cred_store.as_str() {
            "vault" => {
                r.api_key_env = None;
                if let Some(key) = self.new_key.take() {
                    let key = crate::validate::trimmed("api_key", &key, 4096)?;
                    let secret = json!({"api_key": key, "headers": headers_of(gateway, r)?});
                    r.secret_enc = Some(gateway.seal(&secret.to_string())?);
                }
            }
            other => {
                if self.new_key.is_some() {
                    return Err(ApiError::bad_request(format!(
                        "api_key: only stored with cred_store vault (this provider's is {other})"
                    )));
                }
                if other == "env" && r.api_key_env.is_none() {
                    return Err(ApiError::bad_request(
                        "api_key_env: required with cred_store env",
                    ));
                }
                if other != "env" {
                    r.api_key_env = None;
                }
                // Headers stay sealed; the old key does not.
                let headers = headers_of(gateway, r)?;
                r.secret_enc = if headers.as_object().is_some_and(|h| !h.is_empty()) {
                    Some(gateway.seal(&json!({"headers": headers}).to_string())?)
                } else {
                    None
                };
            }
        }
        Ok(self.row)
    }
}

/// The config file's key only goes where the file sends it: a filed provider moved to another
/// URL or type must bring a credential of its own (409 otherwise).
fn keeps_filed_key(before: &ProviderRow, row: &ProviderRow) -> ApiResult<()> {
    if row.cred_store == "config" && (row.base_url != before.base_url || row.kind != before.kind) {
        return Err(ApiError::Conflict(
            "base_url: the config file's key is only sent to the config file's URL and type; \
             send an api_key (or cred_store env or none) with a new base_url or type"
                .into(),
        ));
    }
    Ok(())
}

/// The provider's sealed extra headers, kept across key changes.
fn headers_of(gateway: &Gateway, r: &ProviderRow) -> ApiResult<serde_json::Value> {
    let Some(sealed) = &r.secret_enc else {
        return Ok(json!({}));
    };
    let secret: serde_json::Value =
        serde_json::from_str(&gateway.unseal(sealed)?).map_err(anyhow::Error::from)?;
    Ok(secret.get("headers").cloned().unwrap_or_else(|| json!({})))
}

impl Gateway {
    /// Whether the provider has a key to send, wherever its `cred_store` keeps it.
    fn key_set(&self, p: &ProviderRow) -> bool {
        match p.cred_store.as_str() {
            "config" => self
                .filed
                .providers
                .iter()
                .any(|f| f.name == p.name && !f.api_key.expose_secret().is_empty()),
            "env" => p
                .api_key_env
                .as_deref()
                .is_some_and(|v| std::env::var_os(v).is_some()),
            "none" => false,
            _ => has_sealed_key(p, &self.sealed),
        }
    }

    async fn provider_row(&self, id: &str) -> ApiResult<ProviderRow> {
        self.store
            .providers()
            .await?
            .into_iter()
            .find(|p| p.name == id)
            .ok_or(ApiError::NotFound("Provider"))
    }

    /// 400 for a base URL Cairn never calls (link-local, metadata) or an internal address
    /// outside the operator's networks (`gateway.local_endpoint_networks`: the reach of
    /// everything saved over the API); one that does not resolve passes, as the first request
    /// will say.
    async fn vet_base_url(&self, url: &str) -> ApiResult<()> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ApiError::bad_request(format!("base_url: not a URL ({e})")))?;
        match self.clients.networks.vet(&parsed).await {
            Err(OutboundError::Refused(why) | OutboundError::BadUrl(why)) => {
                Err(ApiError::bad_request(format!("base_url: {why}")))
            }
            Ok(()) | Err(OutboundError::Unresolved(_)) => Ok(()),
        }
    }

    pub async fn admin_providers(&self, paging: &Paging) -> ApiResult<super::Listed<ProviderView>> {
        let all: Vec<ProviderView> = self
            .store
            .providers()
            .await?
            .iter()
            .map(|p| view(p, self.key_set(p)))
            .collect();
        Ok(super::Listed::slice(all, paging.checked()?))
    }

    /// Creates or replaces the provider `req.id` (seed 000: POST is create-or-update).
    pub async fn save_provider(&self, actor: &str, req: SaveProvider) -> ApiResult<ProviderSaved> {
        let id = check_id("id", &req.id)?;
        if id.starts_with("local:") {
            return Err(ApiError::bad_request(
                "id: `local:` names the accounts' local endpoints",
            ));
        }
        let kind = check_kind(&req.kind)?;
        let base_url = match req.base_url.as_deref() {
            Some(u) => check_url("base_url", u)?,
            None => providers::for_kind(&kind)
                .and_then(|p| p.default_base_url())
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::bad_request(format!("base_url: required for type {kind}"))
                })?,
        };
        self.vet_base_url(&base_url).await?;
        let _turn = self.catalog_writes.lock().await;
        let before = self
            .store
            .providers()
            .await?
            .into_iter()
            .find(|p| p.name == id);
        let cred_store = match req.cred_store.as_deref() {
            Some(c) => check_cred_store(c)?,
            None if req.api_key_env.is_some() => "env".into(),
            None if req.api_key.is_some() => "vault".into(),
            // An update that sends no credential keeps where the key lives.
            None => before
                .as_ref()
                .map_or_else(|| "none".into(), |b| b.cred_store.clone()),
        };
        let api_key_env = match req.api_key_env.as_deref() {
            Some(v) => Some(check_env_name(v)?),
            None => before.as_ref().and_then(|b| b.api_key_env.clone()),
        };
        let draft = Draft {
            row: ProviderRow {
                name: id.clone(),
                kind,
                base_url,
                // An update without a new key keeps the sealed one (and its headers).
                secret_enc: before.as_ref().and_then(|p| p.secret_enc.clone()),
                timeout_secs: crate::validate::range(
                    "timeout_secs",
                    req.timeout_secs.unwrap_or(60),
                    1,
                    600,
                )?,
                source: "admin".into(),
                enabled: req.enabled.unwrap_or(true),
                cred_store,
                api_key_env,
            },
            new_key: req.api_key,
        };
        let row = draft.settle(self)?;
        if let Some(b) = &before {
            keeps_filed_key(b, &row)?;
        }
        self.write_provider(actor, before, row).await
    }

    pub async fn patch_provider(
        &self,
        actor: &str,
        id: &str,
        patch: PatchProvider,
    ) -> ApiResult<ProviderSaved> {
        let _turn = self.catalog_writes.lock().await;
        let before = self.provider_row(id).await?;
        let mut row = before.clone();
        if let Some(k) = &patch.kind {
            row.kind = check_kind(k)?;
        }
        if let Some(u) = &patch.base_url {
            row.base_url = check_url("base_url", u)?;
            self.vet_base_url(&row.base_url).await?;
        }
        if let Some(e) = patch.enabled {
            row.enabled = e;
        }
        if let Some(c) = &patch.cred_store {
            row.cred_store = check_cred_store(c)?;
        }
        if let Some(v) = &patch.api_key_env {
            row.api_key_env = Some(check_env_name(v)?);
            if patch.cred_store.is_none() {
                row.cred_store = "env".into();
            }
        }
        if let Some(t) = patch.timeout_secs {
            row.timeout_secs = crate::validate::range("timeout_secs", t, 1, 600)?;
        }
        if patch.api_key.is_some() && patch.cred_store.is_none() && patch.api_key_env.is_none() {
            row.cred_store = "vault".into();
        }
        row.source = "admin".into();
        let row = Draft {
            row,
            new_key: patch.api_key,
        }
        .settle(self)?;
        keeps_filed_key(&before, &row)?;
        self.write_provider(actor, Some(before), row).await
    }

    /// Stores the provider with its audit row and reloads the catalog; the caller holds
    /// `catalog_writes`.
    async fn write_provider(
        &self,
        actor: &str,
        before: Option<ProviderRow>,
        row: ProviderRow,
    ) -> ApiResult<ProviderSaved> {
        let before_view = before.as_ref().map(|p| view(p, self.key_set(p)));
        let after = view(&row, self.key_set(&row));
        let action = if before.is_some() {
            "provider.update"
        } else {
            "provider.create"
        };
        let entry = audit(actor, action, &row.name, before_view.as_ref(), Some(&after));
        self.store.save_provider(&row, &entry).await?;
        self.reload_locked().await?;
        tracing::info!(provider = %row.name, %actor, action, "admin.provider");
        Ok(ProviderSaved {
            ok: true,
            cred_store: after.cred_store.clone(),
            provider: after,
        })
    }

    /// Deletes an admin provider and its models; 409 for one the config file defines.
    pub async fn delete_provider(&self, actor: &str, id: &str) -> ApiResult<ProviderDeleted> {
        let _turn = self.catalog_writes.lock().await;
        let before = self.provider_row(id).await?;
        if before.source == "config" {
            return Err(ApiError::Conflict(format!(
                "provider {id} is defined in the config file ([[providers]]); remove it there, or \
                 disable it here with PATCH {{\"enabled\": false}}"
            )));
        }
        let shown = view(&before, self.key_set(&before));
        let entry = audit(actor, "provider.delete", id, Some(&shown), None);
        let models_deleted = self
            .store
            .delete_provider(id, &entry)
            .await?
            .ok_or(ApiError::NotFound("Provider"))?;
        self.reload_locked().await?;
        Ok(ProviderDeleted {
            ok: true,
            models_deleted,
        })
    }

    /// Asks the provider's `/v1/models` (through the operator's outbound client); 502 when it
    /// does not answer.
    pub async fn discover(&self, id: &str) -> ApiResult<Discovered> {
        let catalog = self.catalog();
        let entry = catalog
            .providers
            .get(id)
            .filter(|_| !id.starts_with("local:"))
            .ok_or(ApiError::NotFound("Provider"))?;
        let mut entry = entry.clone();
        entry.outbound = entry.outbound.with_max_body(DISCOVERY_MAX_BODY);
        let ids = entry
            .api
            .discover_models(&entry, DISCOVERY_MAX_MODELS)
            .await
            .map_err(|why| ApiError::BadGateway(format!("provider {id}: {why}")))?;
        let registered = |upstream: &str| {
            catalog
                .models
                .iter()
                .any(|m| m.provider == id && m.upstream == upstream)
        };
        Ok(Discovered {
            models: ids
                .into_iter()
                .map(|m| DiscoveredModel {
                    registered: registered(&m),
                    id: m,
                })
                .collect(),
        })
    }
}

/// Whether the provider's sealed secret holds a non-empty API key (while the vault is locked:
/// whether it holds a secret at all).
fn has_sealed_key(p: &ProviderRow, sealed: &SecretBox) -> bool {
    let Some(secret) = p.secret_enc.as_deref() else {
        return false;
    };
    if sealed.is_locked() {
        return true;
    }
    sealed
        .unseal(secret)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .is_some_and(|v| v["api_key"].as_str().is_some_and(|k| !k.is_empty()))
}
