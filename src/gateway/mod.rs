//! The model gateway: OpenAI-compatible chat completions routed over the providers and models
//! of the catalog (SQL, seeded by `[[providers]]` / `[[models]]`) and the accounts' local
//! endpoints, with failover, a circuit breaker per model, an exact-match cache, balance and
//! budget holds, and a usage row per request.
//!
//! Where things are: `request.rs` the typed request, `route.rs` which models may serve it,
//! `call.rs` one attempt at one model, `providers/` what speaks each upstream API (one file
//! per kind, behind the `ChatProvider` trait), `stream.rs` the stream relay, `ledger.rs` the
//! money, `catalog.rs` what routing reads. The area returns its own types (`Reply`,
//! `ChatStream`); `http/chat.rs` turns them into responses.

pub mod admin;
pub mod bandit;
pub mod byok;
pub mod cache;
mod call;
pub mod catalog;
pub mod complete;
pub mod consumer;
pub mod embeddings;
pub mod health;
pub mod ledger;
pub mod local;
pub mod providers;
pub mod proxy_stats;
pub mod request;
pub mod route;
pub mod sealed;
pub mod stream;
pub mod vault;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::context::budget::TokenCounter;
use crate::error::{ApiError, ApiResult, PaymentFigures, PaymentNeeded};
use crate::store::gateway::{
    BudgetScope, CatalogStore, UsageFilter, UsageKey, UsageRow, UsageStore, UsageSums,
};
use crate::store::time::{new_id, now};

use cache::Cached;
use call::Call;
use catalog::{Catalog, Clients, LocalDefaults};
pub use complete::{Completion, Prompt};
use health::Breakers;
use ledger::{Budget, Hold, Ledger, Refusal, Reservation};
use providers::Attempt;
pub use providers::ProviderEntry;
pub use request::{text_of, ChatRequest};
use route::{Ask, ModelEntry, Plan};
use sealed::SecretBox;
pub use stream::ChatStream;

/// Who is calling, for the usage row.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub workspace_id: String,
    pub api_key_id: Option<String>,
    /// The workspace's monthly budget, enforced like the balance.
    pub workspace_budget_usd: Option<f64>,
    /// The API key's monthly budget.
    pub key_budget_usd: Option<f64>,
    /// For Cairn's own calls, what asked for them (`reflection`): the usage row's
    /// `request_type`, so usage tells them from the caller's chat.
    pub purpose: Option<&'static str>,
}

impl Caller {
    /// The caller `principal` acting in `ws`, with both budgets that bound its spend.
    pub fn of(principal: &crate::accounts::Principal, ws: &crate::store::Workspace) -> Self {
        Self {
            account_id: principal.account_id().to_string(),
            workspace_id: ws.id.clone(),
            api_key_id: principal.key_id().map(str::to_string),
            workspace_budget_usd: ws.monthly_budget_usd,
            key_budget_usd: principal.key_budget_usd(),
            purpose: None,
        }
    }
}

/// A chat answer. `served_by` names the catalog model that answered (`x-cairn-model`); the
/// body's `model` stays the name the caller asked for.
pub enum Reply {
    Json {
        body: Value,
        cost_usd: f64,
        /// hit or miss, for `x-cairn-cache`.
        cache: &'static str,
        served_by: String,
        /// How routing chose it (auto:value, fast:latency, max:weight, named, cache).
        method: String,
        /// For a `thompson` reply: the draw that picked it, which a rating rewards.
        pick: Option<bandit::Pick>,
    },
    Stream {
        events: ChatStream,
        served_by: String,
        /// How the stream ended, once it is charged (dropped unread when nobody asks).
        ended: tokio::sync::oneshot::Receiver<stream::Streamed>,
    },
}

pub struct Gateway {
    catalog: RwLock<Arc<Catalog>>,
    store: Arc<dyn CatalogStore>,
    sealed: Arc<SecretBox>,
    local: LocalDefaults,
    pub breakers: Arc<Breakers>,
    usage: Arc<dyn UsageStore>,
    pub ledger: Arc<Ledger>,
    /// Requests need prepaid balance (`billing.enforce`).
    pub enforce_balance: bool,
    pub cache: cache::ResponseCache<Cached>,
    /// What providers and local endpoints are called through (`crate::outbound`).
    clients: Clients,
    /// Serializes endpoint writes with the catalog reloads after them, so that a reload
    /// that read the store before a delete can never swap its catalog in after the delete's.
    catalog_writes: tokio::sync::Mutex<()>,
    counter: Arc<TokenCounter>,
    /// `gateway.default_max_tokens`.
    default_max_tokens: u64,
    /// `billing.embedding_per_1k`.
    embedding_per_1k: f64,
    /// `billing.byok_fee_rate`.
    byok_fee_rate: f64,
    byok_marks: byok::Marks,
    /// `billing.payment_url`, shown on balance refusals.
    payment_url: Option<String>,
    /// The admin's routing defaults (`/admin/v1/routing-config`), applied to every request.
    routing: RwLock<admin::routing::RoutingConfig>,
    /// The config file: its providers' keys and headers are read from it at each load.
    filed: Arc<crate::config::Config>,
    /// Where `route_success` and `route_error` go (`/admin/v1/events`).
    pub events: Arc<crate::events::EventHub>,
    /// The `thompson` mode's posteriors and reward log.
    bandit: bandit::Bandit,
    /// When this process opened the gateway: where seed 001's "session" starts.
    started_at: String,
}

/// What the gateway is built from.
pub struct GatewayParts {
    pub catalog: Arc<dyn CatalogStore>,
    pub sealed: Arc<SecretBox>,
    pub local: LocalDefaults,
    pub usage: Arc<dyn UsageStore>,
    pub ledger: Arc<Ledger>,
    pub enforce_balance: bool,
    pub cache: cache::ResponseCache<Cached>,
    pub clients: Clients,
    /// `gateway.default_max_tokens`: sent upstream and held for when a request sets none.
    pub default_max_tokens: u64,
    /// `billing.embedding_per_1k`.
    pub embedding_per_1k: f64,
    /// `billing.byok_fee_rate`.
    pub byok_fee_rate: f64,
    /// `billing.payment_url` (None when unset).
    pub payment_url: Option<String>,
    /// The config file, whose providers' keys each catalog load reads.
    pub filed: Arc<crate::config::Config>,
    pub events: Arc<crate::events::EventHub>,
}

/// A usage row for `caller` asking `requested`, with nothing spent yet; callers fill in the
/// provider, tokens and costs.
fn usage_row(caller: &Caller, requested: &str, request_type: &str) -> UsageRow {
    UsageRow {
        id: new_id(),
        account_id: caller.account_id.clone(),
        api_key_id: caller.api_key_id.clone(),
        workspace_id: Some(caller.workspace_id.clone()),
        metadata: json!({}),
        tier: route::mode_of(requested)
            .map_or("named", |_| requested)
            .to_string(),
        model: requested.to_string(),
        provider: String::new(),
        upstream_model: String::new(),
        served_model: String::new(),
        routing_method: String::new(),
        execution_source: "provider".into(),
        billing_mode: "usage".into(),
        request_type: caller.purpose.unwrap_or(request_type).into(),
        input_tokens: 0,
        output_tokens: 0,
        actual_cost_usd: 0.0,
        charged_usd: 0.0,
        baseline_usd: 0.0,
        latency_ms: None,
        created_at: now(),
    }
}

impl Gateway {
    pub async fn open(parts: GatewayParts) -> anyhow::Result<Self> {
        let catalog = catalog::load(
            parts.catalog.as_ref(),
            &parts.sealed,
            &parts.local,
            &parts.clients,
            &parts.filed,
        )
        .await?;
        for m in catalog.models.iter().chain(&catalog.embedders) {
            anyhow::ensure!(
                catalog.providers.contains_key(&m.provider),
                "models: {} names provider {}, which is not configured",
                m.name,
                m.provider
            );
        }
        let routing = Self::load_routing(parts.catalog.as_ref()).await?;
        let bandit = bandit::Bandit::open(parts.catalog.clone()).await?;
        Ok(Self {
            started_at: now(),
            bandit,
            routing: RwLock::new(routing),
            catalog: RwLock::new(Arc::new(catalog)),
            store: parts.catalog,
            sealed: parts.sealed,
            local: parts.local,
            breakers: Arc::new(Breakers::new(3, Duration::from_secs(30))),
            usage: parts.usage,
            ledger: parts.ledger,
            enforce_balance: parts.enforce_balance,
            cache: parts.cache,
            clients: parts.clients,
            catalog_writes: tokio::sync::Mutex::new(()),
            counter: Arc::new(TokenCounter::new("cl100k_base")?),
            default_max_tokens: parts.default_max_tokens,
            embedding_per_1k: parts.embedding_per_1k,
            byok_fee_rate: parts.byok_fee_rate,
            byok_marks: byok::Marks::default(),
            payment_url: parts.payment_url,
            filed: parts.filed,
            events: parts.events,
        })
    }

    /// The catalog requests route over now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the catalog again and swaps it in. Callers hold `catalog_writes`, so reloads
    /// happen one at a time, in the order of the writes.
    async fn reload_locked(&self) -> anyhow::Result<()> {
        let fresh = catalog::load(
            self.store.as_ref(),
            &self.sealed,
            &self.local,
            &self.clients,
            &self.filed,
        )
        .await?;
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// Usage rows, including those of requests answered a moment ago.
    pub async fn usage_rows(
        &self,
        account_id: &str,
        filter: &UsageFilter,
    ) -> anyhow::Result<Vec<UsageRow>> {
        self.ledger.flush_for_read().await;
        self.usage.list(account_id, filter).await
    }

    /// Usage summed per group (`by`), including requests answered a moment ago.
    pub async fn usage_sums(
        &self,
        account_id: &str,
        filter: &UsageFilter,
        by: &[UsageKey],
    ) -> anyhow::Result<Vec<UsageSums>> {
        self.ledger.flush_for_read().await;
        self.usage.sums(account_id, filter, by).await
    }

    /// What a request of `caller` holds, with the amount still to be set.
    fn hold_for(&self, caller: &Caller) -> Option<Hold> {
        let month = || chrono::Utc::now().format("%Y-%m").to_string();
        let mut budgets = Vec::new();
        if let Some(limit) = caller.workspace_budget_usd {
            budgets.push(Budget {
                scope: BudgetScope::Workspace,
                scope_id: caller.workspace_id.clone(),
                month: month(),
                limit_usd: limit,
            });
        }
        if let (Some(limit), Some(key)) = (caller.key_budget_usd, &caller.api_key_id) {
            budgets.push(Budget {
                scope: BudgetScope::Key,
                scope_id: key.clone(),
                month: month(),
                limit_usd: limit,
            });
        }
        (self.enforce_balance || !budgets.is_empty()).then(|| Hold {
            account_id: caller.account_id.clone(),
            balance: self.enforce_balance,
            budgets,
            amount_usd: 0.0,
        })
    }

    /// Keeps the candidates whose worst case (`input` tokens in, `output` out) fits what the
    /// balance and budgets have left, and holds the most any of them could cost before the
    /// call, so concurrent requests can't spend the same money twice.
    async fn reserve<'m>(
        &self,
        caller: &Caller,
        candidates: Vec<&'m ModelEntry>,
        input: usize,
        output: usize,
    ) -> ApiResult<(Vec<&'m ModelEntry>, Option<Reservation>)> {
        let Some(mut hold) = self.hold_for(caller) else {
            return Ok((candidates, None));
        };
        let cost = |m: &ModelEntry| m.cost(input, output);
        let room = self.ledger.headroom(&hold).await?;
        let fitting: Vec<&ModelEntry> = candidates
            .iter()
            .copied()
            .filter(|m| cost(m) <= room)
            .collect();
        hold.amount_usd = if fitting.is_empty() {
            // Nothing fits: hold the cheapest, which is refused and says why.
            candidates.iter().map(|m| cost(m)).fold(f64::MAX, f64::min)
        } else {
            fitting.iter().map(|m| cost(m)).fold(0.0, f64::max)
        };
        let reservation = self.take(hold).await?;
        Ok((fitting, Some(reservation)))
    }

    /// Holds `hold`, or the 402 saying which fund cannot cover it.
    async fn take(&self, hold: Hold) -> ApiResult<Reservation> {
        let amount = hold.amount_usd;
        match Reservation::take(&self.ledger, hold).await? {
            Ok(r) => Ok(r),
            Err(Refusal::Balance { balance, held }) => Err(ApiError::BillingRequired(PaymentNeeded {
                message: format!(
                    "the balance ({balance:.6} USD, {held:.6} held by requests in flight) cannot cover this request's estimated {amount:.6} USD; an admin adds credit with POST /v1/billing/add"
                ),
                figures: PaymentFigures {
                    payment_url: self.payment_url.clone(),
                    balance_usd: Some(balance),
                    required_usd: Some(amount),
                },
            })),
            Err(Refusal::Budget { scope, limit }) => Err(ApiError::BillingRequired(PaymentNeeded {
                message: format!(
                    "this request (estimated {amount:.6} USD) would exceed the {}'s monthly budget of {limit:.2} USD",
                    if scope == BudgetScope::Key { "API key" } else { "workspace" }
                ),
                figures: PaymentFigures {
                    required_usd: Some(amount),
                    ..PaymentFigures::default()
                },
            })),
        }
    }

    /// Routes, holds and answers one chat request under the admin's routing policy.
    /// `cache`: the caller's `x-cairn-cache: on|off`, if any.
    pub async fn chat(
        &self,
        caller: Caller,
        req: ChatRequest,
        cache: Option<bool>,
    ) -> ApiResult<Reply> {
        let policy = self.routing_config().policy();
        self.chat_within(caller, req, cache, policy).await
    }

    /// [`Self::chat`] under `policy` (a `/v1/chat` request's own).
    pub async fn chat_within(
        &self,
        caller: Caller,
        mut req: ChatRequest,
        cache: Option<bool>,
        policy: route::Policy,
    ) -> ApiResult<Reply> {
        let cache_key = cache::cacheable(&req, cache)
            .then(|| cache::ResponseCache::<Cached>::key(&caller.workspace_id, &req));
        if let Some(hit) = cache_key.as_ref().and_then(|k| self.cache.get(k)) {
            self.record_hit(&caller, &req.model, &hit);
            return Ok(Reply::Json {
                body: hit.body,
                cost_usd: 0.0,
                cache: "hit",
                served_by: hit.served_by,
                method: "cache".into(),
                pick: None,
            });
        }
        // The upstream stops where the hold ends, whatever the caller asked.
        req.cap_output(self.default_max_tokens);
        let input_tokens = req.input_estimate(|t| self.counter.count(t));
        // Routing fits one choice in the window; the hold covers all `n` of them.
        let max_tokens = usize::try_from(req.output_limit().unwrap_or(self.default_max_tokens))
            .unwrap_or(usize::MAX);
        let worst_output = req.worst_output(self.default_max_tokens);
        let ask = Ask {
            model: &req.model,
            account_id: &caller.account_id,
            workspace_id: &caller.workspace_id,
            input_tokens,
            max_tokens,
            has_tools: req.has_tools(),
            policy,
        };
        let catalog = self.catalog();
        let mut plan = self.plan(&catalog, &ask)?;
        let draw = (plan.method == "thompson")
            .then(|| self.bandit.order(&mut plan.candidates, input_tokens));
        let priced = catalog.priced_for(&caller, &plan.candidates, self.byok_fee_rate);
        let candidates = match &priced {
            Some(own) => own.iter().collect(),
            None => plan.candidates,
        };
        let (candidates, reservation) = self
            .reserve(&caller, candidates, input_tokens, worst_output)
            .await?;
        let first = candidates.first().map_or("-", |m| m.name.as_str());
        tracing::info!(model = %req.model, method = %plan.method, %first, "gateway.route");
        let tries = Tries {
            caller: &caller,
            request: &req,
            method: &plan.method,
            catalog: &catalog,
            input_estimate: input_tokens,
            draw: draw.as_ref(),
        };
        let reply = self.first_answer(tries, candidates, reservation).await?;
        if let (
            Some(key),
            Reply::Json {
                body, served_by, ..
            },
        ) = (cache_key, &reply)
        {
            self.cache.put(
                key,
                Cached {
                    body: body.clone(),
                    served_by: served_by.clone(),
                },
            );
        }
        Ok(reply)
    }

    /// The candidates for `ask`, best first; a 404 for a model the caller cannot name, a 503
    /// when known models exist but none can serve now.
    fn plan<'c>(&self, catalog: &'c Catalog, ask: &Ask<'_>) -> ApiResult<Plan<'c>> {
        let plan = route::plan(&catalog.models, ask, self.breakers.as_ref());
        if !plan.candidates.is_empty() {
            return Ok(plan);
        }
        let requested = ask.model;
        let known = route::mode_of(requested).is_some()
            || catalog.models.iter().any(|m| {
                m.visible_to(ask.account_id, ask.workspace_id)
                    && (m.name == requested || m.aliases.iter().any(|a| a == requested))
            });
        let locked = catalog.models.iter().any(|m| {
            m.vault_locked
                && m.visible_to(ask.account_id, ask.workspace_id)
                && (route::mode_of(requested).is_some()
                    || m.name == requested
                    || m.aliases.iter().any(|a| a == requested))
        });
        if locked {
            return Err(ApiError::ServiceUnavailable(format!(
                "No provider available for {requested}: {}",
                sealed::VaultLocked
            )));
        }
        let policy = if ask.policy == route::Policy::default() {
            String::new()
        } else {
            " within the routing policy (GET /admin/v1/routing-config)".into()
        };
        Err(if known {
            ApiError::ServiceUnavailable(format!(
                "No provider available for {requested}: no enabled, healthy model fits {} input + {} output tokens{policy}",
                ask.input_tokens, ask.max_tokens
            ))
        } else {
            ApiError::NotFound("Model")
        })
    }

    /// Tries the candidates in order until one answers: failover on a failed model, only
    /// larger windows after a context-length refusal. The answer takes the reservation; when
    /// none answers it is dropped here, which gives the hold back.
    async fn first_answer(
        &self,
        tries: Tries<'_>,
        candidates: Vec<&ModelEntry>,
        mut reservation: Option<Reservation>,
    ) -> ApiResult<Reply> {
        let mut last = String::new();
        let mut min_window = 0;
        for m in candidates {
            if m.context_window <= min_window {
                continue;
            }
            let call = tries.call(m);
            let started = Instant::now();
            let outcome = if tries.request.streams() {
                self.stream(call, &mut reservation).await
            } else {
                self.answer(call, &mut reservation).await
            };
            // A call with a customer's own key says how that key fared (its rate limit, its
            // price), not the model: it moves no shared posterior and no shared breaker.
            let shared = m.byok_key.is_none();
            let draw = tries.draw.filter(|_| shared);
            let rewarded = draw.zip(outcome_of(&tries, &outcome, started));
            if let Some((draw, result)) = rewarded {
                // A failure to log it is logged, not the request's failure.
                if let Err(e) = self.bandit.reward(&m.name, draw, result).await {
                    tracing::warn!(model = %m.name, error = %e, "gateway.bandit: reward not stored");
                }
            }
            match outcome {
                Ok(mut reply) => {
                    if let (Reply::Json { pick, .. }, Some(draw)) = (&mut reply, draw) {
                        *pick = Some(bandit::Pick {
                            bucket: draw.bucket.to_string(),
                            probability: draw.probabilities.get(&m.name).copied().unwrap_or(0.0),
                        });
                    }
                    self.events.publish(
                        "route_success",
                        json!({"model_id": m.name, "provider_id": m.provider,
                               "requested": tries.request.model, "method": tries.method,
                               "workspace_id": tries.caller.workspace_id}),
                    );
                    return Ok(reply);
                }
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Next(why)) => {
                    if shared {
                        self.breakers.failure(&m.name, &why);
                        self.ledger.failure(&m.name);
                    }
                    tracing::warn!(model = %m.name, %why, "gateway.failover");
                    self.events.publish(
                        "route_error",
                        json!({"model_id": m.name, "provider_id": m.provider,
                               "requested": tries.request.model, "error": why}),
                    );
                    last = why;
                }
                Err(Attempt::TooLong(why)) => {
                    tracing::warn!(model = %m.name, %why, window = m.context_window, "gateway.failover to a larger window");
                    min_window = min_window.max(m.context_window);
                    last = why;
                }
            }
        }
        Err(ApiError::ServiceUnavailable(format!(
            "No provider available for {}: every candidate failed (last: {last})",
            tries.request.model
        )))
    }

    /// A cached answer costs nothing but is still a request: it gets its usage row.
    fn record_hit(&self, caller: &Caller, requested: &str, hit: &Cached) {
        let tokens = |pointer: &str| hit.body.pointer(pointer).and_then(Value::as_i64);
        self.ledger.record(UsageRow {
            provider: "cache".into(),
            served_model: hit.served_by.clone(),
            routing_method: "cache".into(),
            execution_source: "cache".into(),
            input_tokens: tokens("/usage/prompt_tokens").unwrap_or(0),
            output_tokens: tokens("/usage/completion_tokens").unwrap_or(0),
            latency_ms: Some(0.0),
            ..usage_row(caller, requested, "chat")
        });
    }
}

/// An embeddings request being metered: what it holds and the usage row it will write.
/// Dropped before [`Gateway::finish_metered`] (the embedder failed, the client left), it
/// charges nothing and gives the hold back.
pub struct Metered {
    reservation: Option<Reservation>,
    row: UsageRow,
    started: Instant,
}

impl Gateway {
    /// Holds what `tokens` input tokens of embeddings cost before they are computed, like a
    /// chat request (balance, workspace and key budgets; 402 when they can't cover it). The
    /// price per 1k tokens is the input price of the managed catalog model named `requested`
    /// when there is one, else `billing.embedding_per_1k`. `served`: the embedder's model.
    pub async fn meter_embeddings(
        &self,
        caller: &Caller,
        requested: &str,
        served: &str,
        tokens: usize,
    ) -> ApiResult<Metered> {
        let per_1k = self
            .catalog()
            .models
            .iter()
            .find(|m| {
                m.local.is_none()
                    && (m.name == requested || m.aliases.iter().any(|a| a == requested))
            })
            .map_or(self.embedding_per_1k, |m| m.input_per_1k);
        let cost = tokens as f64 / 1000.0 * per_1k;
        let reservation = match self.hold_for(caller) {
            Some(mut hold) => {
                hold.amount_usd = cost;
                Some(self.take(hold).await?)
            }
            None => None,
        };
        let row = UsageRow {
            provider: "cairn".into(),
            upstream_model: served.to_string(),
            served_model: served.to_string(),
            routing_method: "embeddings".into(),
            execution_source: "embedder".into(),
            input_tokens: i64::try_from(tokens).unwrap_or(i64::MAX),
            actual_cost_usd: cost,
            charged_usd: cost,
            baseline_usd: cost,
            ..usage_row(caller, requested, "embeddings")
        };
        Ok(Metered {
            reservation,
            row,
            started: Instant::now(),
        })
    }

    /// Rewards the `thompson` posterior of `model` for a rated reply it served.
    pub async fn rate(&self, model: &str, pick: &bandit::Pick, rating: f64) -> anyhow::Result<()> {
        self.bandit.feedback(model, pick, rating).await
    }

    /// Charges a metered request whose work is done and queues its usage row.
    pub fn finish_metered(&self, metered: Metered) {
        let mut row = metered.row;
        row.latency_ms = Some(metered.started.elapsed().as_secs_f64() * 1000.0);
        self.ledger.finish(metered.reservation, row);
    }
}

/// What every attempt of one request shares.
/// What one attempt tells the `thompson` bandit; None when it says nothing about the model
/// (a request the caller got wrong, or one too long for the window).
fn outcome_of(
    tries: &Tries<'_>,
    outcome: &Result<Reply, Attempt>,
    started: Instant,
) -> Option<bandit::Outcome> {
    if matches!(outcome, Err(Attempt::Fatal(_) | Attempt::TooLong(_))) {
        return None;
    }
    let cost_usd = match outcome {
        Ok(Reply::Json { cost_usd, .. }) => *cost_usd,
        _ => 0.0,
    };
    let output = usize::try_from(tries.request.output_limit().unwrap_or(256)).unwrap_or(256);
    Some(bandit::Outcome {
        success: outcome.is_ok(),
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        cost_usd,
        baseline_usd: tries
            .catalog
            .baseline
            .as_ref()
            .map_or(0.0, |b| b.cost(tries.input_estimate, output)),
    })
}

struct Tries<'a> {
    caller: &'a Caller,
    request: &'a ChatRequest,
    method: &'a str,
    catalog: &'a Catalog,
    input_estimate: usize,
    /// The bandit's draw, for a `thompson` request: each attempt is rewarded.
    draw: Option<&'a bandit::Draw>,
}

impl<'a> Tries<'a> {
    fn call(&self, model: &'a ModelEntry) -> Call<'a> {
        Call {
            caller: self.caller,
            request: self.request,
            method: self.method,
            catalog: self.catalog,
            model,
            input_estimate: self.input_estimate,
            started: Instant::now(),
        }
    }
}
