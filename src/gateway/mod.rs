//! The model gateway: OpenAI-compatible chat completions routed over the providers and models
//! of the catalog (SQL, seeded by `[[providers]]` / `[[models]]`) and the accounts' local
//! endpoints, with failover, a circuit breaker per model, an exact-match cache, balance and
//! budget holds, and a usage row per request.
//!
//! Providers: OpenAI, OpenAI-compatible servers (vLLM, Ollama, LocalAI) and Anthropic's
//! Messages API (translated both ways in `anthropic.rs`).

pub mod anthropic;
pub mod cache;
pub mod catalog;
pub mod health;
pub mod ledger;
pub mod local;
pub mod route;
pub mod sealed;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::context::budget::TokenCounter;
use crate::error::{ApiError, ApiResult};
use crate::store::gateway::{BudgetScope, CatalogStore, UsageFilter, UsageRow, UsageStore};
use crate::store::time::{new_id, now};

use catalog::{Catalog, LocalDefaults};
use health::Breakers;
use ledger::{Budget, Hold, Ledger, Refusal};
use route::{Ask, ModelEntry};
use sealed::SecretBox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI and every server speaking its chat completions API.
    OpenAi,
    Anthropic,
}

#[derive(Debug, Clone)]
pub struct ProviderEntry {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub api_key: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

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
}

pub enum Reply {
    Json {
        body: Value,
        cost_usd: f64,
        /// hit or miss, for `x-cairn-cache`.
        cache: &'static str,
    },
    Stream(Body),
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
    pub cache: cache::ResponseCache,
    client: reqwest::Client,
    counter: TokenCounter,
}

/// What the gateway is built from.
pub struct GatewayParts {
    pub catalog: Arc<dyn CatalogStore>,
    pub sealed: Arc<SecretBox>,
    pub local: LocalDefaults,
    pub usage: Arc<dyn UsageStore>,
    pub ledger: Arc<Ledger>,
    pub enforce_balance: bool,
    pub cache: cache::ResponseCache,
}

/// Why an attempt failed, and whether the next candidate may try.
enum Attempt {
    Next(String),
    /// The model's window was too small: only larger windows may try.
    TooLong(String),
    Fatal(ApiError),
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
        routing_method: String::new(),
        execution_source: "provider".into(),
        billing_mode: "usage".into(),
        request_type: request_type.into(),
        input_tokens: 0,
        output_tokens: 0,
        actual_cost_usd: 0.0,
        charged_usd: 0.0,
        baseline_usd: 0.0,
        latency_ms: None,
        created_at: now(),
    }
}

/// The text of a message's content: a string, or the text parts of an array.
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn context_too_long(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("context_length_exceeded")
        || b.contains("context length")
        || b.contains("maximum context")
        || b.contains("prompt is too long")
}

impl Gateway {
    pub async fn open(parts: GatewayParts) -> anyhow::Result<Self> {
        let catalog = catalog::load(parts.catalog.as_ref(), &parts.sealed, &parts.local).await?;
        for m in &catalog.models {
            anyhow::ensure!(
                catalog.providers.contains_key(&m.provider),
                "models: {} names provider {}, which is not configured",
                m.name,
                m.provider
            );
        }
        Ok(Self {
            catalog: RwLock::new(Arc::new(catalog)),
            store: parts.catalog,
            sealed: parts.sealed,
            local: parts.local,
            breakers: Arc::new(Breakers::new(3, Duration::from_secs(30))),
            usage: parts.usage,
            ledger: parts.ledger,
            enforce_balance: parts.enforce_balance,
            cache: parts.cache,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            counter: TokenCounter::new("cl100k_base")?,
        })
    }

    /// The catalog requests route over now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the catalog again (after a local endpoint changed).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let fresh = catalog::load(self.store.as_ref(), &self.sealed, &self.local).await?;
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

    /// Keeps the candidates whose estimated cost fits what the balance and budgets have left,
    /// and holds the most any of them could cost before the call, so concurrent requests
    /// can't spend the same money twice.
    async fn reserve<'m>(
        &self,
        caller: &Caller,
        candidates: Vec<&'m ModelEntry>,
        input: usize,
        max_tokens: usize,
    ) -> ApiResult<(Vec<&'m ModelEntry>, Option<Hold>)> {
        let Some(mut hold) = self.hold_for(caller) else {
            return Ok((candidates, None));
        };
        let cost = |m: &ModelEntry| m.cost(input, max_tokens);
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
        match self.ledger.reserve(&hold).await? {
            Ok(()) => Ok((fitting, Some(hold))),
            Err(Refusal::Balance { balance, held }) => Err(ApiError::BillingRequired(format!(
                "the balance ({balance:.6} USD, {held:.6} held by requests in flight) cannot cover this request's estimated {:.6} USD; an admin adds credit with POST /v1/billing/add",
                hold.amount_usd
            ))),
            Err(Refusal::Budget { scope, limit }) => Err(ApiError::BillingRequired(format!(
                "this request (estimated {:.6} USD) would exceed the {}'s monthly budget of {limit:.2} USD",
                hold.amount_usd,
                if scope == BudgetScope::Key { "API key" } else { "workspace" }
            ))),
        }
    }

    /// Gives a hold back without charging (the request failed).
    fn release(&self, hold: Option<&Hold>) {
        if let Some(h) = hold {
            self.ledger.settle(h, 0.0, None);
        }
    }

    fn kind_of(&self, catalog: &Catalog, m: &ModelEntry) -> ProviderKind {
        catalog
            .providers
            .get(&m.provider)
            .map_or(ProviderKind::OpenAi, |p| p.kind)
    }

    /// `cache`: the caller's `x-cairn-cache: on|off`, if any.
    pub async fn chat(&self, caller: Caller, body: Value, cache: Option<bool>) -> ApiResult<Reply> {
        let requested = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::bad_request("model: required (auto, fast, max or a model name)")
            })?
            .to_string();
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::bad_request("messages: expected a non-empty array"))?;
        let prompt: String = messages
            .iter()
            .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
            .collect::<Vec<_>>()
            .join("\n");
        let input_tokens = self.counter.count(&prompt) + 4 * messages.len();
        let max_tokens = body
            .get("max_completion_tokens")
            .or_else(|| body.get("max_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(256) as usize;
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let ask = Ask {
            model: &requested,
            account_id: &caller.account_id,
            workspace_id: &caller.workspace_id,
            input_tokens,
            max_tokens,
            has_tools: body
                .get("tools")
                .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty())),
        };
        let cache_key = cache::cacheable(&body, cache)
            .then(|| cache::ResponseCache::key(&caller.workspace_id, &body));
        if let Some(hit) = cache_key.as_ref().and_then(|k| self.cache.get(k)) {
            self.record_hit(&caller, &requested, &hit);
            return Ok(Reply::Json {
                body: hit,
                cost_usd: 0.0,
                cache: "hit",
            });
        }
        let catalog = self.catalog();
        let plan = route::plan(&catalog.models, &ask, self.breakers.as_ref());
        if plan.candidates.is_empty() {
            let known = route::mode_of(&requested).is_some()
                || catalog.models.iter().any(|m| {
                    m.visible_to(&caller.account_id, &caller.workspace_id)
                        && (m.name == requested || m.aliases.contains(&requested))
                });
            return Err(if known {
                ApiError::ServiceUnavailable(format!(
                    "No provider available for {requested}: no enabled, healthy model fits {input_tokens} input + {max_tokens} output tokens"
                ))
            } else {
                ApiError::NotFound("Model")
            });
        }
        let (candidates, hold) = self
            .reserve(&caller, plan.candidates, input_tokens, max_tokens)
            .await?;
        tracing::info!(model = %requested, method = %plan.method, first = %candidates[0].name, "gateway.route");
        let mut last = String::new();
        // After a context-length refusal only larger windows are worth trying.
        let mut min_window = 0;
        for m in candidates {
            if m.context_window <= min_window {
                continue;
            }
            let started = Instant::now();
            let call = Call {
                caller: &caller,
                body: &body,
                requested: &requested,
                method: &plan.method,
                catalog: &catalog,
                model: m,
                input_estimate: input_tokens,
                started,
            };
            let outcome = if stream {
                self.stream_once(call, hold.clone()).await
            } else {
                self.call_once(call, hold.as_ref()).await
            };
            match outcome {
                Ok(reply) => {
                    if let (Some(key), Reply::Json { body, .. }) = (cache_key, &reply) {
                        self.cache.put(key, body.clone());
                    }
                    return Ok(reply);
                }
                Err(Attempt::Fatal(e)) => {
                    self.release(hold.as_ref());
                    return Err(e);
                }
                Err(Attempt::Next(why)) => {
                    tracing::warn!(model = %m.name, %why, "gateway.failover");
                    last = why;
                }
                Err(Attempt::TooLong(why)) => {
                    tracing::warn!(model = %m.name, %why, window = m.context_window, "gateway.failover to a larger window");
                    min_window = min_window.max(m.context_window);
                    last = why;
                }
            }
        }
        self.release(hold.as_ref());
        Err(ApiError::ServiceUnavailable(format!(
            "No provider available for {requested}: every candidate failed (last: {last})"
        )))
    }

    fn request(
        &self,
        catalog: &Catalog,
        m: &ModelEntry,
        body: &Value,
        stream: bool,
    ) -> ApiResult<reqwest::RequestBuilder> {
        let p = catalog.providers.get(&m.provider).ok_or_else(|| {
            ApiError::ServiceUnavailable(format!("Provider {} not configured", m.provider))
        })?;
        let base = p.base_url.trim_end_matches('/');
        let mut req = match p.kind {
            ProviderKind::OpenAi => {
                let mut upstream = body.clone();
                upstream["model"] = json!(m.upstream);
                if stream {
                    upstream["stream_options"] = json!({"include_usage": true});
                }
                let mut req = self
                    .client
                    .post(format!("{base}/chat/completions"))
                    .json(&upstream);
                if !p.api_key.is_empty() {
                    req = req.bearer_auth(&p.api_key);
                }
                req
            }
            ProviderKind::Anthropic => self
                .client
                .post(format!("{base}/messages"))
                .header("x-api-key", &p.api_key)
                .header("anthropic-version", anthropic::VERSION)
                .json(&anthropic::request_body(body, &m.upstream, stream)?),
        }
        .timeout(p.timeout);
        for (k, v) in &p.headers {
            req = req.header(k, v);
        }
        Ok(req)
    }

    /// Sends once, retrying a 5xx once after a short backoff; answers the response or why the
    /// next candidate should try.
    async fn send(&self, call: &Call<'_>, stream: bool) -> Result<reqwest::Response, Attempt> {
        let m = call.model;
        for attempt in 0..2 {
            let req = self
                .request(call.catalog, m, call.body, stream)
                .map_err(Attempt::Fatal)?;
            let res = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    self.breakers.failure(&m.name);
                    return Err(Attempt::Next(format!("{}: {}", m.name, e.without_url())));
                }
            };
            let status = res.status();
            if status.is_success() {
                return Ok(res);
            }
            let text = res.text().await.unwrap_or_default();
            if status.is_server_error() && attempt == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            if status.is_server_error() || status.as_u16() == 429 {
                self.breakers.failure(&m.name);
                return Err(Attempt::Next(format!("{} answered {status}", m.name)));
            }
            if context_too_long(&text) {
                return Err(Attempt::TooLong(format!("{}: context too long", m.name)));
            }
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(text);
            return Err(Attempt::Fatal(ApiError::bad_request(format!(
                "the provider refused the request: {message}"
            ))));
        }
        Err(Attempt::Next(format!("{} kept failing", m.name)))
    }

    async fn call_once(&self, call: Call<'_>, hold: Option<&Hold>) -> Result<Reply, Attempt> {
        let m = call.model;
        let res = self.send(&call, false).await?;
        let mut out: Value = match res.json().await {
            Ok(v) => v,
            Err(e) => {
                self.breakers.failure(&m.name);
                return Err(Attempt::Next(format!(
                    "{}: unreadable answer: {}",
                    m.name,
                    e.without_url()
                )));
            }
        };
        let latency = call.started.elapsed();
        self.breakers.success(&m.name, latency);
        if self.kind_of(call.catalog, m) == ProviderKind::Anthropic {
            out = anthropic::response(&out, call.requested);
        }
        let input = out["usage"]["prompt_tokens"]
            .as_u64()
            .map_or(call.input_estimate, |t| t as usize);
        let output = out["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize;
        out["model"] = json!(call.requested);
        let row = call.usage_row("chat", input, output, json!({}));
        let cost = row.charged_usd;
        self.ledger.finish(hold, row);
        Ok(Reply::Json {
            body: out,
            cost_usd: cost,
            cache: "miss",
        })
    }

    /// A cached answer costs nothing but is still a request: it gets its usage row.
    fn record_hit(&self, caller: &Caller, requested: &str, body: &Value) {
        self.ledger.record(UsageRow {
            provider: "cache".into(),
            routing_method: "cache".into(),
            execution_source: "cache".into(),
            input_tokens: body
                .pointer("/usage/prompt_tokens")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            output_tokens: body
                .pointer("/usage/completion_tokens")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            latency_ms: Some(0.0),
            ..usage_row(caller, requested, "chat")
        });
    }

    async fn stream_once(&self, call: Call<'_>, hold: Option<Hold>) -> Result<Reply, Attempt> {
        let res = self.send(&call, true).await?;
        let wants_usage = call.body["stream_options"]["include_usage"]
            .as_bool()
            .unwrap_or(false);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(32);
        let this = StreamJob {
            ledger: self.ledger.clone(),
            breakers: self.breakers.clone(),
            row: call.usage_row("chat_stream", call.input_estimate, 0, json!({})),
            model: call.model.clone(),
            baseline: call.catalog.baseline.clone(),
            started: call.started,
            wants_usage,
            hold,
            anthropic: (self.kind_of(call.catalog, call.model) == ProviderKind::Anthropic)
                .then(anthropic::StreamState::default),
        };
        tokio::spawn(this.run(res, tx));
        let body = Body::from_stream(tokio_stream_from(rx));
        Ok(Reply::Stream(body))
    }
}

/// One attempt at one candidate.
struct Call<'a> {
    caller: &'a Caller,
    body: &'a Value,
    requested: &'a str,
    method: &'a str,
    catalog: &'a Catalog,
    model: &'a ModelEntry,
    input_estimate: usize,
    started: Instant,
}

impl Call<'_> {
    /// The usage row of this attempt once it answered with these token counts.
    fn usage_row(
        &self,
        request_type: &str,
        input: usize,
        output: usize,
        metadata: Value,
    ) -> UsageRow {
        let m = self.model;
        let mut row = UsageRow {
            metadata,
            provider: m.provider.clone(),
            upstream_model: m.upstream.clone(),
            routing_method: self.method.to_string(),
            execution_source: if m.local.is_some() {
                "local_endpoint"
            } else {
                "provider"
            }
            .into(),
            latency_ms: Some(self.started.elapsed().as_secs_f64() * 1000.0),
            ..usage_row(self.caller, self.requested, request_type)
        };
        price(&mut row, m, self.catalog.baseline.as_ref(), input, output);
        row
    }
}

/// Fills in a row's tokens and costs: what the provider costs (nothing for a local endpoint,
/// which is the caller's own), what is charged, and what `max` would have cost.
fn price(
    row: &mut UsageRow,
    m: &ModelEntry,
    baseline: Option<&ModelEntry>,
    input: usize,
    output: usize,
) {
    let charged = m.cost(input, output);
    row.input_tokens = input as i64;
    row.output_tokens = output as i64;
    row.actual_cost_usd = if m.local.is_some() { 0.0 } else { charged };
    row.charged_usd = charged;
    row.baseline_usd = baseline.map_or(0.0, |b| b.cost(input, output));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Relays one upstream SSE stream: rewrites `model` to the requested one, keeps the usage
/// chunk for the usage row (forwarding it only when the client asked), and ends a stream that
/// breaks after its first byte with an explicit error event.
struct StreamJob {
    ledger: Arc<Ledger>,
    breakers: Arc<Breakers>,
    /// The row to write when the stream ends; its tokens and costs are filled in then.
    row: UsageRow,
    model: ModelEntry,
    baseline: Option<ModelEntry>,
    started: Instant,
    wants_usage: bool,
    hold: Option<Hold>,
    /// Set when the upstream speaks Anthropic's stream events, translated into chunks.
    anthropic: Option<anthropic::StreamState>,
}

impl StreamJob {
    async fn run(
        mut self,
        res: reqwest::Response,
        tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    ) {
        let mut upstream = res.bytes_stream();
        let mut buffer = String::new();
        let (mut input, mut output) = (self.row.input_tokens as usize, 0usize);
        let mut done = false;
        let mut broken = None;
        'read: while let Some(chunk) = upstream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    broken = Some(e.without_url().to_string());
                    break;
                }
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let line = line.trim();
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                let events: Vec<Value> = if data == "[DONE]" {
                    done = true;
                    vec![]
                } else {
                    let Ok(event) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    match self.anthropic.as_mut() {
                        None => vec![event],
                        Some(state) => match state.on_event(&event) {
                            anthropic::Event::Chunks(c) => c,
                            anthropic::Event::Done => {
                                done = true;
                                vec![]
                            }
                            anthropic::Event::Error(e) => {
                                broken = Some(e);
                                break 'read;
                            }
                        },
                    }
                };
                for mut event in events {
                    if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                        input = u["prompt_tokens"].as_u64().map_or(input, |t| t as usize);
                        output = u["completion_tokens"]
                            .as_u64()
                            .map_or(output, |t| t as usize);
                        let only_usage = event["choices"].as_array().is_none_or(Vec::is_empty);
                        if only_usage && !self.wants_usage {
                            continue;
                        }
                        if !self.wants_usage {
                            event.as_object_mut().map(|o| o.remove("usage"));
                        }
                    }
                    event["model"] = json!(self.row.model);
                    let out = format!("data: {event}\n\n");
                    if tx.send(Ok(bytes::Bytes::from(out))).await.is_err() {
                        break 'read;
                    }
                }
                if done {
                    let _ = tx
                        .send(Ok(bytes::Bytes::from_static(b"data: [DONE]\n\n")))
                        .await;
                    break 'read;
                }
            }
        }
        if !done {
            let why = broken.unwrap_or_else(|| "the upstream stream ended without [DONE]".into());
            self.breakers.failure(&self.model.name);
            let event = json!({"error": {"message": format!("The provider stream was interrupted: {why}"),
                                         "type": "server_error", "code": "upstream_stream_interrupted"}});
            let _ = tx
                .send(Ok(bytes::Bytes::from(format!("data: {event}\n\n"))))
                .await;
        } else {
            self.breakers
                .success(&self.model.name, self.started.elapsed());
        }
        let mut row = self.row;
        row.metadata = json!({"stream_completed": done});
        row.latency_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
        price(&mut row, &self.model, self.baseline.as_ref(), input, output);
        self.ledger.finish(self.hold.as_ref(), row);
    }
}
