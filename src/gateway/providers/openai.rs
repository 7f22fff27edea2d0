//! OpenAI's chat completions API. Every OpenAI-compatible server speaks the same wire, so the
//! functions here are shared with `local.rs`: the request passes through unchanged but for
//! `model` (and `stream_options`, so the usage chunk always comes back), answers and chunks
//! are already in OpenAI's shape.

use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::{send, Attempt, ChatProvider, ProviderEntry, StreamEvents, StreamStep, Upstream};
use crate::gateway::ChatRequest;
use crate::outbound::{self, Outbound};

#[derive(Debug, Default)]
pub struct OpenAi;

/// POSTs the request to `chat/completions`, with the bearer key when the provider has one.
pub async fn post(
    to: &Upstream<'_>,
    req: &ChatRequest,
    stream: bool,
) -> Result<reqwest::Response, Attempt> {
    // The usage chunk is what the usage row counts; the relay drops it unless the caller
    // asked for it.
    let include_usage = stream.then(|| json!({"include_usage": true}));
    let mut builder = to
        .post("chat/completions")?
        .json(&req.wire(to.model, include_usage.as_ref()));
    let key = to.provider.api_key.expose_secret();
    if !key.is_empty() {
        builder = builder.bearer_auth(key);
    }
    send(to, builder).await
}

/// POSTs an embeddings request to `embeddings`, with the bearer key when the provider has
/// one.
pub async fn post_embeddings(
    to: &Upstream<'_>,
    body: &Value,
) -> Result<reqwest::Response, Attempt> {
    let mut body = body.clone();
    body["model"] = json!(to.model);
    let mut builder = to.post("embeddings")?.json(&body);
    let key = to.provider.api_key.expose_secret();
    if !key.is_empty() {
        builder = builder.bearer_auth(key);
    }
    send(to, builder).await
}

/// Stream events that are OpenAI chunks already.
#[derive(Debug, Default)]
pub struct Chunks;

impl StreamEvents for Chunks {
    fn on_data(&mut self, data: &str) -> StreamStep {
        if data == "[DONE]" {
            return StreamStep::Done;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(chunk) => StreamStep::Chunks(vec![chunk]),
            Err(_) => StreamStep::Chunks(vec![]),
        }
    }
}

/// `GET models`: the ids of the `data` array, at most `max`.
pub async fn list_models(provider: &ProviderEntry, max: usize) -> Result<Vec<String>, String> {
    let to = Upstream {
        provider,
        model: "",
        name: &provider.name,
    };
    let mut req = provider
        .outbound
        .get(&to.url("models"))
        .map_err(|e| e.to_string())?;
    let key = provider.api_key.expose_secret();
    if !key.is_empty() {
        req = req.bearer_auth(key);
    }
    models_of(&provider.outbound, to.with_provider_headers(req), max).await
}

/// Sends a model listing request and reads the ids of its `data` array (OpenAI's and
/// Anthropic's shape alike), keeping the first `max`. The body is read under the client's
/// size cap, so a server cannot answer an endless list.
pub async fn models_of(
    client: &Outbound,
    req: reqwest::RequestBuilder,
    max: usize,
) -> Result<Vec<String>, String> {
    let res = req.send().await.map_err(outbound::describe)?;
    if !res.status().is_success() {
        return Err(format!("GET /v1/models answered {}", res.status()));
    }
    let body: Value = client
        .json(res)
        .await
        .map_err(|e| format!("GET /v1/models: {e}"))?;
    Ok(body["data"]
        .as_array()
        .ok_or("GET /v1/models: no data array")?
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .take(max)
        .collect())
}

#[async_trait]
impl ChatProvider for OpenAi {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.openai.com/v1")
    }

    async fn send(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        post(to, req, false).await
    }

    async fn send_stream(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        post(to, req, true).await
    }

    fn completion(&self, answer: Value, _requested: &str) -> Value {
        answer
    }

    fn stream_events(&self) -> Box<dyn StreamEvents> {
        Box::new(Chunks)
    }

    async fn embed(&self, to: &Upstream<'_>, body: &Value) -> Result<reqwest::Response, Attempt> {
        post_embeddings(to, body).await
    }

    async fn discover_models(
        &self,
        provider: &ProviderEntry,
        max: usize,
    ) -> Result<Vec<String>, String> {
        list_models(provider, max).await
    }
}
