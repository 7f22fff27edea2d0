//! The model gateway: OpenAI-compatible chat completions routed over configured providers
//! (`[[providers]]`, `[[models]]`), with failover, a circuit breaker per model and a usage
//! row per request.
//!
//! Providers: OpenAI, OpenAI-compatible servers (vLLM, Ollama, LocalAI) and Anthropic's
//! Messages API (translated both ways in `anthropic.rs`). Local endpoints, the cache, billing
//! and budgets are still to come (issue 5).

pub mod anthropic;
pub mod cache;
pub mod health;
pub mod route;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::context::budget::TokenCounter;
use crate::error::{ApiError, ApiResult};
use crate::store::gateway::{BillingStore, Hold, Refusal, UsageRow, UsageStore};
use crate::store::time::{new_id, now};

use health::Breakers;
use route::{Ask, ModelEntry};

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
    pub providers: HashMap<String, ProviderEntry>,
    pub models: Vec<ModelEntry>,
    /// The strongest enabled model: what `max` would use, the baseline of every usage row.
    baseline_model: Option<ModelEntry>,
    pub breakers: Arc<Breakers>,
    pub usage: Arc<dyn UsageStore>,
    pub billing: Arc<dyn BillingStore>,
    /// Requests need prepaid balance (`billing.enforce`).
    pub enforce_balance: bool,
    pub cache: cache::ResponseCache,
    client: reqwest::Client,
    counter: TokenCounter,
}

/// Why an attempt failed, and whether the next candidate may try.
enum Attempt {
    Next(String),
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
    pub fn new(
        providers: Vec<ProviderEntry>,
        models: Vec<ModelEntry>,
        usage: Arc<dyn UsageStore>,
        billing: Arc<dyn BillingStore>,
        enforce_balance: bool,
        cache: cache::ResponseCache,
    ) -> anyhow::Result<Self> {
        for m in &models {
            anyhow::ensure!(
                providers.iter().any(|p| p.name == m.provider),
                "models: {} names provider {}, which is not configured",
                m.name,
                m.provider
            );
        }
        let baseline_model = models
            .iter()
            .filter(|m| m.enabled)
            .max_by_key(|m| m.weight)
            .cloned();
        Ok(Self {
            providers: providers.into_iter().map(|p| (p.name.clone(), p)).collect(),
            models,
            baseline_model,
            breakers: Arc::new(Breakers::new(3, Duration::from_secs(30))),
            usage,
            billing,
            enforce_balance,
            cache,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            counter: TokenCounter::new("cl100k_base")?,
        })
    }

    /// Holds the most any candidate could cost against the balance and the workspace budget
    /// before the call, so concurrent requests can't spend the same money twice.
    async fn reserve(
        &self,
        caller: &Caller,
        candidates: &[&ModelEntry],
        input: usize,
        max_tokens: usize,
    ) -> ApiResult<Option<Hold>> {
        if !self.enforce_balance && caller.workspace_budget_usd.is_none() {
            return Ok(None);
        }
        let amount = candidates
            .iter()
            .map(|m| m.cost(input, max_tokens))
            .fold(0.0, f64::max);
        let hold = Hold {
            account_id: caller.account_id.clone(),
            workspace_id: caller.workspace_id.clone(),
            budget_month: caller
                .workspace_budget_usd
                .map(|_| chrono::Utc::now().format("%Y-%m").to_string()),
            balance: self.enforce_balance,
            amount_usd: amount,
        };
        match self.billing.reserve(&hold, caller.workspace_budget_usd).await? {
            Ok(()) => Ok(Some(hold)),
            Err(Refusal::Balance) => {
                let (balance, reserved) = self.billing.balance(&caller.account_id).await?;
                Err(ApiError::BillingRequired(format!(
                    "the balance ({:.6} USD, {:.6} held by requests in flight) cannot cover this request's estimated {amount:.6} USD; an admin adds credit with POST /v1/billing/add",
                    balance, reserved
                )))
            }
            Err(Refusal::Budget) => Err(ApiError::BillingRequired(format!(
                "this request (estimated {amount:.6} USD) would exceed the workspace's monthly budget of {:.2} USD",
                caller.workspace_budget_usd.unwrap_or_default()
            ))),
        }
    }

    /// Gives a hold back without charging (the request failed).
    async fn release(&self, hold: Option<&Hold>) {
        if let Some(h) = hold {
            if let Err(e) = self.billing.settle(h, 0.0, "").await {
                tracing::error!(error = %e, "releasing a billing hold failed");
            }
        }
    }

    fn kind_of(&self, m: &ModelEntry) -> ProviderKind {
        self.providers
            .get(&m.provider)
            .map_or(ProviderKind::OpenAi, |p| p.kind)
    }

    /// What `max` would have cost: the baseline savings are measured against.
    fn baseline(&self, input: usize, output: usize) -> f64 {
        self.baseline_model
            .as_ref()
            .map_or(0.0, |m| m.cost(input, output))
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
            input_tokens,
            max_tokens,
            has_tools: body
                .get("tools")
                .is_some_and(|t| t.as_array().is_some_and(|a| !a.is_empty())),
        };
        let cache_key = cache::cacheable(&body, cache)
            .then(|| cache::ResponseCache::key(&caller.workspace_id, &body));
        if let Some(hit) = cache_key.as_ref().and_then(|k| self.cache.get(k)) {
            self.record_hit(&caller, &requested, &hit).await;
            return Ok(Reply::Json {
                body: hit,
                cost_usd: 0.0,
                cache: "hit",
            });
        }
        let plan = route::plan(&self.models, &ask, self.breakers.as_ref());
        if plan.candidates.is_empty() {
            let known = route::mode_of(&requested).is_some()
                || self
                    .models
                    .iter()
                    .any(|m| m.name == requested || m.aliases.contains(&requested));
            return Err(if known {
                ApiError::ServiceUnavailable(format!(
                    "No provider available for {requested}: no enabled, healthy model fits {input_tokens} input + {max_tokens} output tokens"
                ))
            } else {
                ApiError::NotFound("Model")
            });
        }
        tracing::info!(model = %requested, method = %plan.method, first = %plan.candidates[0].name, "gateway.route");
        let hold = self
            .reserve(&caller, &plan.candidates, input_tokens, max_tokens)
            .await?;
        let mut last = String::new();
        for m in plan.candidates {
            let started = Instant::now();
            let outcome = if stream {
                self.stream_once(
                    &caller,
                    &body,
                    &requested,
                    &plan.method,
                    m,
                    input_tokens,
                    started,
                    hold.clone(),
                )
                .await
            } else {
                self.call_once(
                    &caller,
                    &body,
                    &requested,
                    &plan.method,
                    m,
                    input_tokens,
                    started,
                    hold.as_ref(),
                )
                .await
            };
            match outcome {
                Ok(reply) => {
                    if let (Some(key), Reply::Json { body, .. }) = (cache_key, &reply) {
                        self.cache.put(key, body.clone());
                    }
                    return Ok(reply);
                }
                Err(Attempt::Fatal(e)) => {
                    self.release(hold.as_ref()).await;
                    return Err(e);
                }
                Err(Attempt::Next(why)) => {
                    tracing::warn!(model = %m.name, %why, "gateway.failover");
                    last = why;
                }
            }
        }
        self.release(hold.as_ref()).await;
        Err(ApiError::ServiceUnavailable(format!(
            "No provider available for {requested}: every candidate failed (last: {last})"
        )))
    }

    fn request(
        &self,
        m: &ModelEntry,
        body: &Value,
        stream: bool,
    ) -> ApiResult<reqwest::RequestBuilder> {
        let p = self.providers.get(&m.provider).ok_or_else(|| {
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
    async fn send(
        &self,
        m: &ModelEntry,
        body: &Value,
        stream: bool,
    ) -> Result<reqwest::Response, Attempt> {
        for attempt in 0..2 {
            let req = self.request(m, body, stream).map_err(Attempt::Fatal)?;
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
                return Err(Attempt::Next(format!("{}: context too long", m.name)));
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

    #[allow(clippy::too_many_arguments)]
    async fn call_once(
        &self,
        caller: &Caller,
        body: &Value,
        requested: &str,
        method: &str,
        m: &ModelEntry,
        input_estimate: usize,
        started: Instant,
        hold: Option<&Hold>,
    ) -> Result<Reply, Attempt> {
        let res = self.send(m, body, false).await?;
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
        let latency = started.elapsed();
        self.breakers.success(&m.name, latency);
        if self.kind_of(m) == ProviderKind::Anthropic {
            out = anthropic::response(&out, requested);
        }
        let input = out["usage"]["prompt_tokens"]
            .as_u64()
            .map_or(input_estimate, |t| t as usize);
        let output = out["usage"]["completion_tokens"].as_u64().unwrap_or(0) as usize;
        out["model"] = json!(requested);
        let (cost, usage_id) = self
            .record(caller, requested, method, m, "chat", input, output, latency)
            .await;
        if let Some(h) = hold {
            if let Err(e) = self.billing.settle(h, cost, &usage_id).await {
                tracing::error!(error = %e, "settling a billing hold failed");
            }
        }
        Ok(Reply::Json {
            body: out,
            cost_usd: cost,
            cache: "miss",
        })
    }

    /// A cached answer costs nothing but is still a request: it gets its usage row.
    async fn record_hit(&self, caller: &Caller, requested: &str, body: &Value) {
        let row = UsageRow {
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
        };
        if let Err(e) = self.usage.add(&row).await {
            tracing::error!(error = %e, "writing a usage row failed");
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        caller: &Caller,
        requested: &str,
        method: &str,
        m: &ModelEntry,
        request_type: &str,
        input: usize,
        output: usize,
        latency: Duration,
    ) -> (f64, String) {
        let cost = m.cost(input, output);
        let row = UsageRow {
            provider: m.provider.clone(),
            upstream_model: m.upstream.clone(),
            routing_method: method.to_string(),
            input_tokens: input as i64,
            output_tokens: output as i64,
            actual_cost_usd: cost,
            charged_usd: cost,
            baseline_usd: self.baseline(input, output),
            latency_ms: Some(latency.as_secs_f64() * 1000.0),
            ..usage_row(caller, requested, request_type)
        };
        if let Err(e) = self.usage.add(&row).await {
            tracing::error!(error = %e, "writing a usage row failed");
        }
        (cost, row.id)
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_once(
        &self,
        caller: &Caller,
        body: &Value,
        requested: &str,
        method: &str,
        m: &ModelEntry,
        input_estimate: usize,
        started: Instant,
        hold: Option<Hold>,
    ) -> Result<Reply, Attempt> {
        let res = self.send(m, body, true).await?;
        let wants_usage = body["stream_options"]["include_usage"]
            .as_bool()
            .unwrap_or(false);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(32);
        let this = StreamJob {
            usage: self.usage.clone(),
            breakers: self.breakers.clone(),
            caller: caller.clone(),
            requested: requested.to_string(),
            method: method.to_string(),
            model: m.clone(),
            baseline_per: self.baseline_model.clone(),
            input_estimate,
            started,
            wants_usage,
            billing: self.billing.clone(),
            hold,
            anthropic: (self.kind_of(m) == ProviderKind::Anthropic)
                .then(anthropic::StreamState::default),
        };
        tokio::spawn(this.run(res, tx));
        let body = Body::from_stream(tokio_stream_from(rx));
        Ok(Reply::Stream(body))
    }
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
    usage: Arc<dyn UsageStore>,
    breakers: Arc<Breakers>,
    caller: Caller,
    requested: String,
    method: String,
    model: ModelEntry,
    baseline_per: Option<ModelEntry>,
    input_estimate: usize,
    started: Instant,
    wants_usage: bool,
    billing: Arc<dyn BillingStore>,
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
        let (mut input, mut output) = (self.input_estimate, 0usize);
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
                    event["model"] = json!(self.requested);
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
        let cost = self.model.cost(input, output);
        let row = UsageRow {
            metadata: json!({"stream_completed": done}),
            provider: self.model.provider.clone(),
            upstream_model: self.model.upstream.clone(),
            routing_method: self.method.clone(),
            input_tokens: input as i64,
            output_tokens: output as i64,
            actual_cost_usd: cost,
            charged_usd: cost,
            baseline_usd: self.baseline_per.map_or(0.0, |b| b.cost(input, output)),
            latency_ms: Some(self.started.elapsed().as_secs_f64() * 1000.0),
            ..usage_row(&self.caller, &self.requested, "chat_stream")
        };
        if let Err(e) = self.usage.add(&row).await {
            tracing::error!(error = %e, "writing a usage row failed");
        }
        if let Some(h) = &self.hold {
            if let Err(e) = self.billing.settle(h, cost, &row.id).await {
                tracing::error!(error = %e, "settling a billing hold failed");
            }
        }
    }
}
