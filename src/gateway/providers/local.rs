//! OpenAI-compatible servers (vLLM, Ollama, LocalAI, TGI...) and the accounts' local
//! endpoints: OpenAI's wire without OpenAI's defaults (no vendor base URL; the key is
//! optional). Discovery (`GET /v1/models`) is how a local endpoint is checked.

use async_trait::async_trait;
use serde_json::Value;

use super::openai;
use super::{Attempt, ChatProvider, ProviderEntry, StreamEvents, Upstream};
use crate::gateway::ChatRequest;

#[derive(Debug, Default)]
pub struct OpenAiCompatible;

#[async_trait]
impl ChatProvider for OpenAiCompatible {
    fn kind(&self) -> &'static str {
        "openai_compatible"
    }

    async fn send(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        openai::post(to, req, false).await
    }

    async fn send_stream(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        openai::post(to, req, true).await
    }

    fn completion(&self, answer: Value, _requested: &str) -> Value {
        answer
    }

    fn stream_events(&self) -> Box<dyn StreamEvents> {
        Box::new(openai::Chunks)
    }

    async fn embed(&self, to: &Upstream<'_>, body: &Value) -> Result<reqwest::Response, Attempt> {
        openai::post_embeddings(to, body).await
    }

    async fn discover_models(
        &self,
        provider: &ProviderEntry,
        max: usize,
    ) -> Result<Vec<String>, String> {
        openai::list_models(provider, max).await
    }
}
