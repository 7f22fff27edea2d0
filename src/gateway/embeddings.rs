//! `/v1/embeddings` for models a provider serves (seed 004): a managed model with the
//! `embeddings` capability, or a local endpoint's model, named by the request. Held, charged
//! and written as a usage row like chat, with the caller's own key when they brought one.
//!
//! There is no failover: another model's vectors live in another space, so an answer from a
//! different model would be wrong, not late. A failed model answers 502.

use std::time::Instant;

use serde_json::{json, Value};

use super::call::price;
use super::providers::{Attempt, Upstream};
use super::route::{Health, ModelEntry};
use super::{usage_row, Caller, Gateway};
use crate::error::{ApiError, ApiResult};

/// An upstream's embeddings answer, in OpenAI's shape with `model` the name asked for.
pub struct Embedded {
    pub body: Value,
    pub cost_usd: f64,
    /// The catalog model that answered.
    pub served_by: String,
}

impl Gateway {
    /// The model serving embeddings under `requested` for this caller, priced for them: a
    /// managed embeddings model, or one of the caller's local endpoints' models, by name or
    /// alias.
    pub fn embedding_model(&self, caller: &Caller, requested: &str) -> Option<ModelEntry> {
        let catalog = self.catalog();
        let named =
            |m: &&ModelEntry| m.name == requested || m.aliases.iter().any(|a| a == requested);
        let m = catalog.embedders.iter().find(named).or_else(|| {
            catalog
                .models
                .iter()
                .filter(|m| m.local.is_some())
                .find(|m| named(m) && m.visible_to(&caller.account_id, &caller.workspace_id))
        })?;
        Some(match catalog.byok_key(caller, &m.provider) {
            Some(k) => m.with_byok(&k.id, self.byok_fee_rate),
            None => m.clone(),
        })
    }

    /// Holds what the inputs cost (counted whole with the gateway's tokenizer: the provider
    /// reads them uncut), asks `m`'s provider, charges what it reports. `body`: OpenAI's
    /// request with `input` a list of strings; `requested`: the name the caller used.
    pub async fn embed_upstream(
        &self,
        caller: &Caller,
        m: &ModelEntry,
        requested: &str,
        body: &Value,
    ) -> ApiResult<Embedded> {
        let estimate: usize = body["input"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|s| self.counter.count(s))
            .sum();
        if !m.enabled || m.vault_locked || !self.breakers.healthy(&m.name) {
            return Err(ApiError::ServiceUnavailable(format!(
                "No provider available for {requested}: the model is disabled, locked in the vault or failing"
            )));
        }
        let reservation = match self.hold_for(caller) {
            Some(mut hold) => {
                hold.amount_usd = m.cost(estimate, 0);
                Some(self.take(hold).await?)
            }
            None => None,
        };
        let started = Instant::now();
        let answer = match self.ask_embeddings(caller, m, body).await {
            Ok(a) => a,
            Err(Attempt::Fatal(e)) => return Err(e),
            Err(Attempt::Next(why) | Attempt::TooLong(why)) => {
                // A customer's key failing (its rate limit) is not the model failing.
                if m.byok_key.is_none() {
                    self.breakers.failure(&m.name, &why);
                    self.ledger.failure(&m.name);
                }
                return Err(ApiError::BadGateway(format!("{requested}: {why}")));
            }
        };
        if m.byok_key.is_none() {
            self.breakers.success(&m.name, started.elapsed());
        }
        let tokens = answer["usage"]["prompt_tokens"]
            .as_u64()
            .map_or(estimate, |t| usize::try_from(t).unwrap_or(usize::MAX));
        let mut row = usage_row(caller, requested, "embeddings");
        row.provider = m.provider.clone();
        row.upstream_model = m.upstream.clone();
        row.served_model = m.name.clone();
        row.routing_method = "named".into();
        row.execution_source = if m.local.is_some() {
            "local_endpoint"
        } else if m.byok_key.is_some() {
            "byok"
        } else {
            "provider"
        }
        .into();
        row.latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
        price(&mut row, m, None, tokens, 0);
        let cost_usd = self.ledger.finish(reservation, row);
        let mut body = answer;
        body["model"] = json!(requested);
        Ok(Embedded {
            body,
            cost_usd,
            served_by: m.name.clone(),
        })
    }

    /// One request to the model's provider (with the caller's key when priced for it).
    async fn ask_embeddings(
        &self,
        caller: &Caller,
        m: &ModelEntry,
        body: &Value,
    ) -> Result<Value, Attempt> {
        let catalog = self.catalog();
        let keyed = catalog.provider_for(caller, m)?;
        let provider: &super::ProviderEntry = &keyed;
        let to = Upstream {
            provider,
            model: &m.upstream,
            name: &m.name,
        };
        let res = provider.api.embed(&to, body).await?;
        let status = res.status();
        if let Some(id) = &m.byok_key {
            self.mark_byok(id, (!status.is_success()).then_some(status));
        }
        if !status.is_success() {
            let text = provider.outbound.text(res).await;
            return Err(provider.api.refusal(&m.name, status, &text));
        }
        let answer: Value = provider
            .outbound
            .json(res)
            .await
            .map_err(|e| Attempt::Next(format!("{}: {e}", m.name)))?;
        if !answer["data"].is_array() {
            return Err(Attempt::Next(format!(
                "{}: the answer has no data array",
                m.name
            )));
        }
        Ok(answer)
    }
}
