//! Providers: what speaks to an upstream. Each kind of `[[providers]]` (and the accounts'
//! local endpoints) is one [`ChatProvider`] in its own file; the gateway only ever calls the
//! trait, so it never asks which kind it talks to.
//!
//! To add a kind: write `providers/<kind>.rs` implementing [`ChatProvider`] and add one line to
//! [`REGISTRY`]. Failover, retries, breakers, billing and the stream relay are the gateway's and
//! stay the same for every kind.

pub mod anthropic;
pub mod local;
pub mod openai;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::ApiError;
use crate::outbound::{self, Outbound};

/// Where one provider lives, as the catalog knows it.
#[derive(Clone)]
pub struct ProviderEntry {
    pub name: String,
    /// What speaks its API.
    pub api: Arc<dyn ChatProvider>,
    pub base_url: String,
    /// Secrets: `Debug` prints them redacted, and only a request builder exposes them.
    pub api_key: SecretString,
    pub headers: Vec<(String, SecretString)>,
    pub timeout: Duration,
    /// The client every call to it goes through: its reach is the operator's for configured
    /// providers, the endpoint owner's for local endpoints.
    pub outbound: Outbound,
}

impl ProviderEntry {
    /// This provider called with another key (a customer's own, `gateway::byok`).
    pub fn with_key(&self, api_key: SecretString) -> Self {
        Self {
            api_key,
            ..self.clone()
        }
    }
}

// Hand-written for the kind's name (`ChatProvider` is no `Debug`).
impl std::fmt::Debug for ProviderEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderEntry")
            .field("name", &self.name)
            .field("kind", &self.api.kind())
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// One request to one upstream: the provider (with the client that calls it) and the model
/// it knows.
pub struct Upstream<'a> {
    pub provider: &'a ProviderEntry,
    /// The model name the provider knows.
    pub model: &'a str,
    /// The catalog's name of the model, for messages and breakers.
    pub name: &'a str,
}

impl Upstream<'_> {
    /// `path` under the provider's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.provider.base_url.trim_end_matches('/'))
    }

    /// A POST to `path`; a destination the outbound policy refuses lets the next candidate
    /// try.
    pub fn post(&self, path: &str) -> Result<reqwest::RequestBuilder, Attempt> {
        self.provider
            .outbound
            .post(&self.url(path))
            .map_err(|e| Attempt::Next(format!("{}: {e}", self.name)))
    }

    /// A request with the provider's timeout and extra headers.
    pub fn with_provider_headers(
        &self,
        mut req: reqwest::RequestBuilder,
    ) -> reqwest::RequestBuilder {
        req = req.timeout(self.provider.timeout);
        for (k, v) in &self.provider.headers {
            req = req.header(k, v.expose_secret());
        }
        req
    }
}

/// Why an attempt at one candidate failed, and whether the next candidate may try.
#[derive(Debug)]
pub enum Attempt {
    /// The model failed (transport, 5xx, 429, unreadable answer): the next candidate tries
    /// and the model's breaker counts a failure.
    Next(String),
    /// The model's window was too small: only larger windows may try.
    TooLong(String),
    /// The request itself was refused: no candidate would do better.
    Fatal(ApiError),
}

/// What one upstream stream event becomes.
pub enum StreamStep {
    /// OpenAI chat completion chunks to relay (none: skip the event).
    Chunks(Vec<Value>),
    /// The upstream said the answer is complete.
    Done,
    /// The upstream reported an error inside the stream.
    Error(String),
}

/// Turns one stream's upstream events into OpenAI chunks; one per stream, so it may keep
/// state between events.
pub trait StreamEvents: Send + Sync {
    /// `data`: the payload of one `data:` line, trimmed.
    fn on_data(&mut self, data: &str) -> StreamStep;
}

/// One kind of upstream API (TensorZero's `provider_trait.rs` is the model).
#[async_trait]
pub trait ChatProvider: Send + Sync {
    /// The `kind` of `[[providers]]` this implements, for logs.
    fn kind(&self) -> &'static str;

    /// The vendor's base URL, used when the config leaves `base_url` empty.
    fn default_base_url(&self) -> Option<&'static str> {
        None
    }

    /// Sends one request for a whole answer; any HTTP status is an answer.
    async fn send(
        &self,
        to: &Upstream<'_>,
        req: &super::ChatRequest,
    ) -> Result<reqwest::Response, Attempt>;

    /// Sends one request for an SSE answer whose events [`Self::stream_events`] reads.
    async fn send_stream(
        &self,
        to: &Upstream<'_>,
        req: &super::ChatRequest,
    ) -> Result<reqwest::Response, Attempt>;

    /// What a non-success answer means for the next candidate. `model`: the catalog name.
    fn refusal(&self, model: &str, status: reqwest::StatusCode, body: &str) -> Attempt {
        refusal(model, status, body)
    }

    /// The OpenAI chat completion for a successful answer's body.
    fn completion(&self, answer: Value, requested: &str) -> Value;

    /// A fresh translator for one stream.
    fn stream_events(&self) -> Box<dyn StreamEvents>;

    /// Sends one embeddings request (OpenAI's body; `model` becomes the upstream's name).
    /// Kinds without an embeddings API refuse it.
    async fn embed(&self, to: &Upstream<'_>, body: &Value) -> Result<reqwest::Response, Attempt> {
        let _ = body;
        Err(Attempt::Fatal(ApiError::bad_request(format!(
            "model: {} is served by a {} provider, which has no embeddings API",
            to.name,
            self.kind()
        ))))
    }

    /// The model ids the server lists (health check and discovery of local endpoints), at
    /// most `max`.
    async fn discover_models(
        &self,
        provider: &ProviderEntry,
        max: usize,
    ) -> Result<Vec<String>, String>;
}

/// Builds one kind's provider.
type Make = fn() -> Arc<dyn ChatProvider>;

fn make<P: ChatProvider + Default + 'static>() -> Arc<dyn ChatProvider> {
    Arc::new(P::default())
}

/// The one registration point: each provider `kind` and what speaks it.
const REGISTRY: &[(&str, Make)] = &[
    ("openai", make::<openai::OpenAi>),
    ("openai_compatible", make::<local::OpenAiCompatible>),
    ("anthropic", make::<anthropic::Anthropic>),
];

/// The provider for a `kind`, if one is registered.
pub fn for_kind(kind: &str) -> Option<Arc<dyn ChatProvider>> {
    REGISTRY
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, make)| make())
}

/// Every registered kind.
pub fn kinds() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|(k, _)| *k)
}

/// What the accounts' local endpoints speak.
pub fn for_local_endpoints() -> Arc<dyn ChatProvider> {
    make::<local::OpenAiCompatible>()
}

fn context_too_long(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    b.contains("context_length_exceeded")
        || b.contains("context length")
        || b.contains("maximum context")
        || b.contains("prompt is too long")
}

/// The refusal rule both OpenAI and Anthropic answers follow: 5xx and 429 let the next model
/// try, a context-length refusal lets a larger window try, anything else is the caller's
/// request and ends the attempt with the upstream's message (`error.message` when JSON).
pub fn refusal(model: &str, status: reqwest::StatusCode, body: &str) -> Attempt {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Attempt::Next(format!("{model} answered {status}"));
    }
    if context_too_long(body) {
        return Attempt::TooLong(format!("{model}: context too long"));
    }
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    Attempt::Fatal(ApiError::bad_request(format!(
        "the provider refused the request: {message}"
    )))
}

/// Sends a built request; a transport failure lets the next candidate try.
pub async fn send(
    to: &Upstream<'_>,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Attempt> {
    to.with_provider_headers(req)
        .send()
        .await
        .map_err(|e| Attempt::Next(format!("{}: {}", to.name, outbound::describe(e))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_registered_once_and_refusals_say_who_tries_next() {
        let kinds: Vec<&str> = kinds().collect();
        assert_eq!(kinds, ["openai", "openai_compatible", "anthropic"]);
        for k in kinds {
            assert_eq!(for_kind(k).map(|p| p.kind()), Some(k));
        }
        assert!(for_kind("nope").is_none());
        let s = reqwest::StatusCode::from_u16;
        assert!(matches!(
            refusal("m", s(503).unwrap(), ""),
            Attempt::Next(_)
        ));
        assert!(matches!(
            refusal("m", s(429).unwrap(), ""),
            Attempt::Next(_)
        ));
        assert!(matches!(
            refusal(
                "m",
                s(400).unwrap(),
                "{\"error\":{\"code\":\"context_length_exceeded\"}}"
            ),
            Attempt::TooLong(_)
        ));
        match refusal(
            "m",
            s(400).unwrap(),
            "{\"error\":{\"message\":\"bad tool\"}}",
        ) {
            Attempt::Fatal(e) => {
                assert_eq!(e.to_string(), "the provider refused the request: bad tool")
            }
            other => panic!("{other:?}"),
        }
    }
}
