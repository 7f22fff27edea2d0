//! `/admin/v1/models`: the catalog's models, registered in the live router at once. Ids may
//! contain slashes (`Qwen/Qwen2.5-Coder-32B-Instruct`); the routes take the rest of the path.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{audit, check_id, Listed, Paging};
use crate::error::{ApiError, ApiResult};
use crate::gateway::{route, Gateway};
use crate::store::gateway::ModelRow;

const MAX_ALIASES: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveModel {
    /// The catalog name requests use.
    pub id: String,
    pub provider_id: String,
    /// The name the provider knows (default: `id`).
    pub upstream: Option<String>,
    /// 1-10 (default 5): how capable; `max` picks the heaviest.
    pub weight: Option<i64>,
    /// The context window in tokens (default 8192).
    pub max_context_tokens: Option<i64>,
    /// USD per 1,000 input tokens (default 0).
    pub input_per_1k: Option<f64>,
    /// USD per 1,000 output tokens (default 0).
    pub output_per_1k: Option<f64>,
    /// Other names requests may use.
    pub aliases: Option<Vec<String>>,
    pub capabilities: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchModel {
    pub provider_id: Option<String>,
    pub upstream: Option<String>,
    pub weight: Option<i64>,
    pub max_context_tokens: Option<i64>,
    pub input_per_1k: Option<f64>,
    pub output_per_1k: Option<f64>,
    pub aliases: Option<Vec<String>>,
    pub capabilities: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelView {
    pub id: String,
    pub provider_id: String,
    pub upstream: String,
    pub weight: i64,
    pub max_context_tokens: i64,
    pub input_per_1k: f64,
    pub output_per_1k: f64,
    pub aliases: Vec<String>,
    pub capabilities: Vec<String>,
    pub enabled: bool,
    /// config (seeded from the file) or admin.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelSaved {
    pub ok: bool,
    pub model: ModelView,
}

pub fn view(m: &ModelRow) -> ModelView {
    ModelView {
        id: m.name.clone(),
        provider_id: m.provider.clone(),
        upstream: m.upstream.clone(),
        weight: m.weight,
        max_context_tokens: m.context_window,
        input_per_1k: m.input_per_1k,
        output_per_1k: m.output_per_1k,
        aliases: m.aliases.clone(),
        capabilities: m.capabilities.clone(),
        enabled: m.enabled,
        source: m.source.clone(),
    }
}

fn price(field: &str, v: f64) -> ApiResult<f64> {
    if !v.is_finite() || !(0.0..=1000.0).contains(&v) {
        return Err(ApiError::bad_request(format!(
            "{field}: expected a price from 0 to 1000 USD per 1k tokens"
        )));
    }
    Ok(v)
}

/// Names a request may use: none is a tier (`auto`, `fast`, `max`).
fn names(field: &str, list: &[String]) -> ApiResult<Vec<String>> {
    crate::validate::count(field, list.len(), 0, MAX_ALIASES, "names")?;
    list.iter()
        .enumerate()
        .map(|(i, a)| {
            let a = check_id(&format!("{field}[{i}]"), a)?;
            if route::mode_of(&a).is_some() {
                return Err(ApiError::bad_request(format!(
                    "{field}[{i}]: `{a}` is a routing tier"
                )));
            }
            Ok(a)
        })
        .collect()
}

/// The checks every model row passes, whichever route built it.
fn checked(mut m: ModelRow) -> ApiResult<ModelRow> {
    m.weight = crate::validate::range("weight", m.weight, 1, 10)?;
    m.context_window =
        crate::validate::range("max_context_tokens", m.context_window, 256, 10_000_000)?;
    m.input_per_1k = price("input_per_1k", m.input_per_1k)?;
    m.output_per_1k = price("output_per_1k", m.output_per_1k)?;
    m.upstream = crate::validate::text("upstream", &m.upstream, 200)?;
    m.aliases = names("aliases", &m.aliases)?;
    m.capabilities = crate::validate::labels("capabilities", &m.capabilities, 20)?;
    Ok(m)
}

impl Gateway {
    async fn model_row(&self, id: &str) -> ApiResult<ModelRow> {
        self.store
            .models()
            .await?
            .into_iter()
            .find(|m| m.name == id)
            .ok_or(ApiError::NotFound("Model"))
    }

    /// 404 naming the field when the provider does not exist.
    async fn known_provider(&self, id: &str) -> ApiResult<()> {
        if self.store.providers().await?.iter().any(|p| p.name == id) {
            Ok(())
        } else {
            Err(ApiError::bad_request(format!(
                "provider_id: no provider `{id}`; create it with POST /admin/v1/providers"
            )))
        }
    }

    pub async fn admin_models(&self, paging: &Paging) -> ApiResult<Listed<ModelView>> {
        let all = self.store.models().await?.iter().map(view).collect();
        Ok(Listed::slice(all, paging.checked()?))
    }

    /// Creates or replaces the model `req.id` and routes by it before answering.
    pub async fn save_model(&self, actor: &str, req: SaveModel) -> ApiResult<ModelSaved> {
        let id = check_id("id", &req.id)?;
        if route::mode_of(&id).is_some() {
            return Err(ApiError::bad_request(format!(
                "id: `{id}` is a routing tier"
            )));
        }
        let row = checked(ModelRow {
            upstream: req.upstream.unwrap_or_else(|| id.clone()),
            name: id,
            provider: req.provider_id,
            weight: req.weight.unwrap_or(5),
            context_window: req.max_context_tokens.unwrap_or(8192),
            input_per_1k: req.input_per_1k.unwrap_or(0.0),
            output_per_1k: req.output_per_1k.unwrap_or(0.0),
            aliases: req.aliases.unwrap_or_default(),
            capabilities: req.capabilities.unwrap_or_default(),
            enabled: req.enabled.unwrap_or(true),
            source: "admin".into(),
        })?;
        let _turn = self.catalog_writes.lock().await;
        self.known_provider(&row.provider).await?;
        let before = self
            .store
            .models()
            .await?
            .into_iter()
            .find(|m| m.name == row.name);
        self.write_model(actor, before, row).await
    }

    pub async fn patch_model(
        &self,
        actor: &str,
        id: &str,
        patch: PatchModel,
    ) -> ApiResult<ModelSaved> {
        let _turn = self.catalog_writes.lock().await;
        let before = self.model_row(id).await?;
        let mut row = before.clone();
        if let Some(p) = patch.provider_id {
            self.known_provider(&p).await?;
            row.provider = p;
        }
        row.upstream = patch.upstream.unwrap_or(row.upstream);
        row.weight = patch.weight.unwrap_or(row.weight);
        row.context_window = patch.max_context_tokens.unwrap_or(row.context_window);
        row.input_per_1k = patch.input_per_1k.unwrap_or(row.input_per_1k);
        row.output_per_1k = patch.output_per_1k.unwrap_or(row.output_per_1k);
        row.aliases = patch.aliases.unwrap_or(row.aliases);
        row.capabilities = patch.capabilities.unwrap_or(row.capabilities);
        row.enabled = patch.enabled.unwrap_or(row.enabled);
        row.source = "admin".into();
        let row = checked(row)?;
        self.write_model(actor, Some(before), row).await
    }

    /// Stores the model with its audit row and reloads the catalog; the caller holds
    /// `catalog_writes`.
    async fn write_model(
        &self,
        actor: &str,
        before: Option<ModelRow>,
        row: ModelRow,
    ) -> ApiResult<ModelSaved> {
        let action = if before.is_some() {
            "model.update"
        } else {
            "model.create"
        };
        let after = view(&row);
        let entry = audit(
            actor,
            action,
            &row.name,
            before.as_ref().map(view).as_ref(),
            Some(&after),
        );
        self.store.save_model(&row, &entry).await?;
        self.reload_locked().await?;
        tracing::info!(model = %row.name, %actor, action, "admin.model");
        Ok(ModelSaved {
            ok: true,
            model: after,
        })
    }

    /// Deletes an admin model; 409 for one the config file defines.
    pub async fn delete_model(&self, actor: &str, id: &str) -> ApiResult<super::Done> {
        let _turn = self.catalog_writes.lock().await;
        let before = self.model_row(id).await?;
        if before.source == "config" {
            return Err(ApiError::Conflict(format!(
                "model {id} is defined in the config file ([[models]]); remove it there, or \
                 disable it here with PATCH {{\"enabled\": false}}"
            )));
        }
        let entry = audit(actor, "model.delete", id, Some(&view(&before)), None);
        if !self.store.delete_model(id, &entry).await? {
            return Err(ApiError::NotFound("Model"));
        }
        self.reload_locked().await?;
        Ok(super::Done { ok: true })
    }
}
