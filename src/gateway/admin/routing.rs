//! `/admin/v1/routing-config` and `/admin/v1/routing/simulate`: the operator's routing
//! defaults, and what routing would do with a request, without calling anyone.
//!
//! The defaults apply to every routed request: `default_max_budget_usd` caps one request's
//! estimated cost, `default_max_latency_ms` leaves out models slower than that (their latency
//! EWMA), `default_min_weight` lighter models; `default_mode` is the tier a simulation (and
//! `/v1/chat` without a hint) uses. A simulation plans with the same function and the same
//! health as a real request, so its decision is the model that request would try first.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::gateway::bandit;
use crate::gateway::route::{self, Ask, ModelEntry, Policy};
use crate::gateway::Gateway;

/// The settings key the config is stored under.
const KEY: &str = "routing";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// auto, fast, max or thompson.
    pub default_mode: String,
    /// Most one request may cost (estimated), in USD; none: no cap.
    pub default_max_budget_usd: Option<f64>,
    /// Leave out models whose latency EWMA is above this; none: no cap.
    pub default_max_latency_ms: Option<u64>,
    /// Leave out models lighter than this (0-10).
    #[serde(default)]
    pub default_min_weight: u8,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            default_mode: "auto".into(),
            default_max_budget_usd: None,
            default_max_latency_ms: None,
            default_min_weight: 0,
        }
    }
}

impl RoutingConfig {
    pub fn policy(&self) -> Policy {
        Policy {
            min_weight: self.default_min_weight,
            max_cost_usd: self.default_max_budget_usd,
            max_latency_ms: self.default_max_latency_ms.map(|v| v as f64),
        }
    }

    fn checked(self) -> ApiResult<Self> {
        check_mode("default_mode", &self.default_mode)?;
        if let Some(b) = self.default_max_budget_usd {
            check_budget("default_max_budget_usd", b)?;
        }
        if let Some(l) = self.default_max_latency_ms {
            crate::validate::range("default_max_latency_ms", l, 1, 3_600_000)?;
        }
        crate::validate::range("default_min_weight", self.default_min_weight, 0, 10)?;
        Ok(self)
    }
}

fn check_mode(field: &str, mode: &str) -> ApiResult<()> {
    if route::mode_of(mode).is_none() {
        return Err(ApiError::bad_request(format!(
            "{field}: unknown mode `{mode}`; expected auto, fast, max or thompson"
        )));
    }
    Ok(())
}

fn check_budget(field: &str, v: f64) -> ApiResult<f64> {
    if !v.is_finite() || v <= 0.0 {
        return Err(ApiError::bad_request(format!(
            "{field}: expected a positive number of USD"
        )));
    }
    Ok(v)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Simulate {
    /// auto, fast, max or thompson (default: the routing config's default_mode).
    pub mode: Option<String>,
    /// A model name or alias to route to first (as a request's `model`).
    pub model_hint: Option<String>,
    /// Input tokens (default 500).
    pub token_count: Option<usize>,
    /// Output tokens the request may use (default: `gateway.default_max_tokens`).
    pub max_tokens: Option<usize>,
    /// The request carries tools (escalates `auto`).
    pub has_tools: Option<bool>,
    /// Override the config's default_max_budget_usd.
    pub max_budget_usd: Option<f64>,
    /// Override the config's default_max_latency_ms.
    pub max_latency_ms: Option<u64>,
    /// Override the config's default_min_weight.
    pub min_weight: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Simulation {
    /// The first candidate, or null when nothing can serve.
    pub decision: Option<Decision>,
    /// The models that may serve, best first, each with its score.
    pub eligible: Vec<Scored>,
    /// The models left out, each with why.
    pub excluded: Vec<Excluded>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub model_id: String,
    pub provider_id: String,
    /// The routing method (auto:value, auto:escalated, fast:latency, max:weight, named).
    pub method: String,
    pub reason: String,
    pub estimated_cost_usd: f64,
    /// Who tries next if it fails, in order.
    pub fallbacks: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Scored {
    pub model_id: String,
    pub provider_id: String,
    /// 1 for the decision.
    pub rank: usize,
    pub weight: u8,
    pub max_context_tokens: usize,
    /// The request's estimate on this model: input plus max_tokens of output.
    pub estimated_cost_usd: f64,
    /// `auto`'s score: weight per estimated USD.
    pub value: f64,
    /// Latency EWMA (a 1,000 ms prior for models never timed): `fast`'s order.
    pub latency_ms: f64,
    /// Ranked with the capable models (weight >= 5) when the request is escalated.
    pub capable: bool,
    /// A local endpoint's model.
    pub local: bool,
    /// thompson: the chance this model is drawn first (Monte Carlo over its posterior).
    pub probability: Option<f64>,
    /// thompson: the mean of its reward posterior on this request's input-size bucket.
    pub posterior_mean: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Excluded {
    pub model_id: String,
    pub reason: String,
}

fn reason(method: &str, first: &Scored) -> String {
    match method {
        "auto:value" => format!(
            "auto: the best weight per estimated USD ({:.1} = weight {} / {:.6} USD)",
            first.value, first.weight, first.estimated_cost_usd
        ),
        "auto:escalated" => format!(
            "auto, escalated (long input or tools): the best value among capable models ({:.1})",
            first.value
        ),
        "fast:latency" => format!("fast: the lowest latency ({:.0} ms)", first.latency_ms),
        "max:weight" => format!("max: the heaviest model (weight {})", first.weight),
        "thompson" => format!(
            "thompson: the likeliest first draw ({:.0}% of draws); each request draws anew",
            first.probability.unwrap_or(0.0) * 100.0
        ),
        _ => "named: the requested model, the auto order after it".into(),
    }
}

impl Gateway {
    /// The routing config in force.
    pub fn routing_config(&self) -> RoutingConfig {
        self.routing
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The stored config, or the defaults; at start.
    pub(in crate::gateway) async fn load_routing(
        store: &dyn crate::store::gateway::CatalogStore,
    ) -> anyhow::Result<RoutingConfig> {
        super::setting_or_default(store, KEY).await
    }

    pub async fn put_routing_config(
        &self,
        actor: &str,
        config: RoutingConfig,
    ) -> ApiResult<RoutingConfig> {
        let config = config.checked()?;
        let _turn = self.catalog_writes.lock().await;
        let before = self.routing_config();
        let change = (actor, "routing.update", KEY);
        super::save_setting(self.store.as_ref(), change, &before, &config).await?;
        *self.routing.write().unwrap_or_else(|p| p.into_inner()) = config.clone();
        Ok(config)
    }

    /// What routing would do with a request like `s` from `account_id`, without calling anyone.
    pub fn simulate(&self, account_id: &str, s: Simulate) -> ApiResult<Simulation> {
        let config = self.routing_config();
        let model = match (&s.model_hint, &s.mode) {
            (Some(hint), _) => crate::validate::text("model_hint", hint, 200)?,
            (None, Some(mode)) => {
                check_mode("mode", mode)?;
                mode.clone()
            }
            (None, None) => config.default_mode.clone(),
        };
        let mut policy = config.policy();
        if let Some(b) = s.max_budget_usd {
            policy.max_cost_usd = Some(check_budget("max_budget_usd", b)?);
        }
        if let Some(l) = s.max_latency_ms {
            policy.max_latency_ms =
                Some(crate::validate::range("max_latency_ms", l, 1, 3_600_000)? as f64);
        }
        if let Some(w) = s.min_weight {
            policy.min_weight = crate::validate::range("min_weight", w, 0, 10)?;
        }
        let default_out = usize::try_from(self.default_max_tokens).unwrap_or(usize::MAX);
        let ask = Ask {
            model: &model,
            account_id,
            // Simulations see the managed models (and the admin's own unbound endpoints).
            workspace_id: "",
            input_tokens: crate::validate::range(
                "token_count",
                s.token_count.unwrap_or(500),
                0,
                10_000_000,
            )?,
            max_tokens: crate::validate::range(
                "max_tokens",
                s.max_tokens.unwrap_or(default_out),
                1,
                10_000_000,
            )?,
            has_tools: s.has_tools.unwrap_or(false),
            policy,
        };
        let catalog = self.catalog();
        let considered = route::considered(&catalog.models, &ask, self.breakers.as_ref());
        let mut plan = route::plan(&catalog.models, &ask, self.breakers.as_ref());
        // thompson draws per request: the simulation shows each candidate's chance instead,
        // most likely first.
        let bucket = bandit::bucket_of(ask.input_tokens);
        let draw =
            (plan.method == "thompson").then(|| self.bandit.chances(&plan.candidates, bucket));
        if let Some(d) = &draw {
            let chance = |m: &ModelEntry| d.probabilities.get(&m.name).copied().unwrap_or(0.0);
            plan.candidates
                .sort_by(|a, b| chance(b).total_cmp(&chance(a)));
        }
        let eligible: Vec<Scored> = plan
            .candidates
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let c = considered.iter().find(|c| c.model.name == m.name)?;
                Some(Scored {
                    model_id: m.name.clone(),
                    provider_id: m.provider.clone(),
                    rank: i + 1,
                    weight: m.weight,
                    max_context_tokens: m.context_window,
                    estimated_cost_usd: c.estimated_cost_usd,
                    value: c.value,
                    latency_ms: c.latency_ms,
                    capable: c.capable,
                    local: m.local.is_some(),
                    probability: draw
                        .as_ref()
                        .map(|d| d.probabilities.get(&m.name).copied().unwrap_or(0.0)),
                    posterior_mean: draw.as_ref().map(|_| {
                        let (a, b) = self.bandit.posterior(&m.name, bucket);
                        a / (a + b)
                    }),
                })
            })
            .collect();
        let excluded = considered
            .iter()
            .filter_map(|c| {
                let why = c.excluded.clone().or_else(|| {
                    (!plan.candidates.iter().any(|m| m.name == c.model.name)).then(|| {
                        "not a candidate for this mode (another model of its local endpoint)"
                            .to_string()
                    })
                })?;
                Some(Excluded {
                    model_id: c.model.name.clone(),
                    reason: why,
                })
            })
            .collect();
        let decision = eligible.first().map(|first| Decision {
            model_id: first.model_id.clone(),
            provider_id: first.provider_id.clone(),
            method: plan.method.clone(),
            reason: reason(&plan.method, first),
            estimated_cost_usd: first.estimated_cost_usd,
            fallbacks: eligible
                .iter()
                .skip(1)
                .map(|m| m.model_id.clone())
                .collect(),
        });
        Ok(Simulation {
            decision,
            eligible,
            excluded,
        })
    }
}
