//! Local endpoints (seed "Local endpoints"): an account's own OpenAI-compatible servers
//! (Ollama, vLLM, LocalAI). Registration and rechecks ask the server for `/v1/models`; one
//! that does not answer is kept as `unreachable`, which routing skips until a recheck finds it
//! again. Header values (tokens) are sealed at rest and never shown.
//!
//! Every call to an endpoint goes through the outbound policy (`crate::outbound`): its URL
//! is vetted when saved (link-local and metadata never; internal addresses only within
//! `gateway.local_endpoint_networks`, and only for admins unless the operator opens them to
//! members), and again by the client's resolver at every call. Saves and deletes are
//! serialized with the catalog reload after them: a deleted endpoint never routes again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::{endpoint_headers, endpoint_provider, local_model_name};
use super::Gateway;
use crate::error::{ApiError, ApiResult};
use crate::outbound::OutboundError;
use crate::store::gateway::LocalEndpoint;
use crate::store::time::{new_id, now};

const MAX_HEADERS: usize = 20;

/// The body cap of a `/v1/models` answer (the model list is capped too).
const DISCOVERY_MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEndpoint {
    /// Base URL of the server, with or without `/v1`.
    pub url: String,
    pub label: String,
    /// The model `auto` and `fast` use on this endpoint (default: the first discovered).
    pub default_model: Option<String>,
    /// Sent with every request (e.g. Authorization); stored encrypted, never shown.
    pub headers: Option<BTreeMap<String, String>>,
    /// Bind the endpoint to one workspace (its `workspace_id`).
    pub workspace_id: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchEndpoint {
    pub url: Option<String>,
    pub label: Option<String>,
    pub default_model: Option<String>,
    /// Replaces every header.
    pub headers: Option<BTreeMap<String, String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub label: String,
    pub default_model: Option<String>,
    /// The names of the stored headers; their values are never returned.
    pub header_names: Vec<String>,
    pub workspace_id: Option<String>,
    /// healthy or unreachable.
    pub status: String,
    pub models: Vec<String>,
    pub last_error: Option<String>,
    pub checked_at: Option<String>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl EndpointView {
    /// `workspace_slug`: the slug of the endpoint's workspace, when bound.
    pub fn new(e: LocalEndpoint, workspace_slug: Option<String>) -> Self {
        Self {
            id: e.id,
            url: e.url,
            label: e.label,
            default_model: e.default_model,
            header_names: e.header_names,
            workspace_id: workspace_slug,
            status: e.status,
            models: e.models,
            last_error: e.last_error,
            checked_at: e.checked_at,
            enabled: e.enabled,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A base URL for `field`: http(s), a host, no credentials, query or fragment.
pub(super) fn check_url(field: &str, url: &str) -> ApiResult<String> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| ApiError::bad_request(format!("{field}: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::bad_request(format!(
            "{field}: expected an http or https URL with a host"
        )));
    }
    // Credentials belong in `headers` (sealed); a query or fragment would be glued to every
    // path Cairn appends.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::bad_request(format!(
            "{field}: no user or password in the URL; send credentials in headers"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ApiError::bad_request(format!(
            "{field}: expected a base URL without a query string or fragment"
        )));
    }
    Ok(url.trim().trim_end_matches('/').to_string())
}

fn check_label(label: &str) -> ApiResult<String> {
    let l = label.trim();
    if l.is_empty()
        || l.len() > 100
        || !l
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ApiError::bad_request(
            "label: expected 1-100 letters, digits, '-', '_' or '.'",
        ));
    }
    Ok(l.to_string())
}

fn check_model(m: &str) -> ApiResult<String> {
    let m = m.trim();
    crate::validate::count("default_model", m.len(), 1, 200, "characters")?;
    Ok(m.to_string())
}

fn check_headers(h: &BTreeMap<String, String>) -> ApiResult<()> {
    if h.len() > MAX_HEADERS {
        return Err(ApiError::bad_request(format!(
            "headers: at most {MAX_HEADERS}"
        )));
    }
    for (k, v) in h {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(ApiError::bad_request(format!(
                "headers: {k:?} is not a valid header name"
            )));
        }
        if reqwest::header::HeaderValue::from_str(v).is_err() {
            return Err(ApiError::bad_request(format!(
                "headers.{k}: not a valid header value"
            )));
        }
    }
    Ok(())
}

impl Gateway {
    fn seal_headers(
        &self,
        e: &mut LocalEndpoint,
        headers: &BTreeMap<String, String>,
    ) -> ApiResult<()> {
        check_headers(headers)?;
        e.header_names = headers.keys().cloned().collect();
        e.headers_enc = if headers.is_empty() {
            None
        } else {
            Some(self.seal(&serde_json::to_string(headers).map_err(anyhow::Error::from)?)?)
        };
        Ok(())
    }

    /// Vets the endpoint's URL for a caller (`by_admin`): 400 for an address Cairn never
    /// calls, 403 for an internal one only an admin may use. A host that does not resolve
    /// passes: the check that follows records it as unreachable.
    async fn vet(&self, e: &mut LocalEndpoint, by_admin: bool) -> ApiResult<()> {
        let url = reqwest::Url::parse(&e.url)
            .map_err(|err| ApiError::bad_request(format!("url: not a URL ({err})")))?;
        let refusal = |err: OutboundError| match err {
            OutboundError::Refused(why) | OutboundError::BadUrl(why) => Some(why),
            OutboundError::Unresolved(_) => None,
        };
        let reaches = self.clients.reaches_networks(by_admin);
        let own = if reaches {
            &self.clients.networks
        } else {
            &self.clients.public
        };
        let Some(why) = own.vet(&url).await.err().and_then(refusal) else {
            e.registered_by_admin = by_admin;
            return Ok(());
        };
        if !reaches && self.clients.networks.vet(&url).await.is_ok() {
            return Err(ApiError::Forbidden(format!(
                "url: {why}; only admins may register local endpoints on internal networks \
                 (gateway.local_endpoints_for_members)"
            )));
        }
        Err(ApiError::bad_request(format!("url: {why}")))
    }

    /// Asks the endpoint for its models (through the provider that speaks to it, and the
    /// client of its reach) and records what it answered, at most `max_models` of them.
    async fn check(&self, e: &mut LocalEndpoint) -> ApiResult<()> {
        let headers = endpoint_headers(&self.sealed, e)?;
        let client = self
            .clients
            .for_endpoint(e)
            .with_max_body(DISCOVERY_MAX_BODY);
        let provider = endpoint_provider(e, headers, self.local.discovery_timeout, &client);
        let outcome = provider
            .api
            .discover_models(&provider, self.local.max_models)
            .await;
        e.checked_at = Some(now());
        match outcome {
            Ok(models) => {
                e.status = "healthy".into();
                e.models = models;
                e.last_error = None;
                for m in &e.models {
                    self.breakers.reset(&local_model_name(&e.id, m));
                }
            }
            Err(why) => {
                tracing::warn!(endpoint = %e.id, %why, "local endpoint unreachable");
                e.status = "unreachable".into();
                e.last_error = Some(why);
            }
        }
        Ok(())
    }

    /// Stores the endpoint and swaps in a catalog that routes by it, in turn with other
    /// writes. `existing`: an update, which must not bring back an endpoint deleted while
    /// its check was in flight (404 then).
    async fn save(&self, e: &LocalEndpoint, existing: bool) -> ApiResult<()> {
        let _turn = self.catalog_writes.lock().await;
        // The headers were sealed before the check; a vault rotation or lock since then must
        // not leave a value no key opens (it would wedge every later re-seal).
        if let Some(headers) = &e.headers_enc {
            self.unseal(headers).map_err(|err| match err {
                ApiError::Internal(_) => ApiError::Conflict(
                    "headers: the vault's key changed while the endpoint was being saved; send the request again"
                        .into(),
                ),
                other => other,
            })?;
        }
        if existing && self.store.endpoint(&e.account_id, &e.id).await?.is_none() {
            return Err(ApiError::NotFound("Local endpoint"));
        }
        self.store.save_endpoint(e).await?;
        self.reload_locked().await?;
        Ok(())
    }

    /// `workspace_row_id`: the workspace the endpoint is bound to, already resolved;
    /// `by_admin`: the caller is an admin (`Principal::is_admin`).
    pub async fn register_endpoint(
        &self,
        account_id: &str,
        workspace_row_id: Option<String>,
        by_admin: bool,
        req: RegisterEndpoint,
    ) -> ApiResult<LocalEndpoint> {
        let at = now();
        let mut e = LocalEndpoint {
            id: new_id(),
            account_id: account_id.to_string(),
            workspace_id: workspace_row_id,
            url: check_url("url", &req.url)?,
            label: check_label(&req.label)?,
            default_model: req.default_model.as_deref().map(check_model).transpose()?,
            headers_enc: None,
            header_names: vec![],
            status: "unreachable".into(),
            models: vec![],
            last_error: None,
            checked_at: None,
            enabled: req.enabled.unwrap_or(true),
            registered_by_admin: false,
            created_at: at.clone(),
            updated_at: at,
        };
        self.seal_headers(&mut e, &req.headers.unwrap_or_default())?;
        self.vet(&mut e, by_admin).await?;
        self.check(&mut e).await?;
        self.save(&e, false).await?;
        Ok(e)
    }

    pub async fn endpoints(
        &self,
        account_id: &str,
        workspace_row_id: Option<&str>,
    ) -> ApiResult<Vec<LocalEndpoint>> {
        Ok(self.store.endpoints(account_id, workspace_row_id).await?)
    }

    pub async fn endpoint(&self, account_id: &str, id: &str) -> ApiResult<LocalEndpoint> {
        self.store
            .endpoint(account_id, id)
            .await?
            .ok_or(ApiError::NotFound("Local endpoint"))
    }

    /// `by_admin`: the caller is an admin; a new URL or headers are vetted and checked again.
    pub async fn patch_endpoint(
        &self,
        account_id: &str,
        id: &str,
        by_admin: bool,
        patch: PatchEndpoint,
    ) -> ApiResult<LocalEndpoint> {
        let mut e = self.endpoint(account_id, id).await?;
        let recheck = patch.url.is_some() || patch.headers.is_some();
        if let Some(url) = &patch.url {
            e.url = check_url("url", url)?;
        }
        if let Some(label) = &patch.label {
            e.label = check_label(label)?;
        }
        if let Some(m) = &patch.default_model {
            e.default_model = Some(check_model(m)?);
        }
        if let Some(h) = &patch.headers {
            self.seal_headers(&mut e, h)?;
        }
        if let Some(enabled) = patch.enabled {
            e.enabled = enabled;
        }
        if recheck {
            self.vet(&mut e, by_admin).await?;
            self.check(&mut e).await?;
        }
        e.updated_at = now();
        self.save(&e, true).await?;
        Ok(e)
    }

    /// `by_admin`: the caller is an admin; the URL is vetted again for the caller.
    pub async fn recheck_endpoint(
        &self,
        account_id: &str,
        id: &str,
        by_admin: bool,
    ) -> ApiResult<LocalEndpoint> {
        let mut e = self.endpoint(account_id, id).await?;
        self.vet(&mut e, by_admin).await?;
        self.check(&mut e).await?;
        e.updated_at = now();
        self.save(&e, true).await?;
        Ok(e)
    }

    /// Deletes the endpoint and reloads the catalog before answering, in turn with other
    /// writes: once this returns, no request routes to it.
    pub async fn delete_endpoint(&self, account_id: &str, id: &str) -> ApiResult<()> {
        let _turn = self.catalog_writes.lock().await;
        if !self.store.delete_endpoint(account_id, id).await? {
            return Err(ApiError::NotFound("Local endpoint"));
        }
        self.reload_locked().await?;
        Ok(())
    }
}
