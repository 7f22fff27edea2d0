//! `POST /v1/embeddings`, OpenAI-compatible, so the official SDKs work against Cairn. It
//! answers to the in-process model's own name and to the configured `embedding.aliases`
//! (OpenAI's model names, which its clients send by default), and routes by model like chat:
//! a catalog model with the `embeddings` capability (or a local endpoint's model) of the name
//! asked for is called at its provider (`gateway::embeddings`); such a model wins over an
//! alias of the in-process model, never over its own name. Embeddings are metered like
//! chat: held before the model runs (402 when the balance or a budget can't cover them),
//! charged after, one usage row each (`request_type` `embeddings`), under the caller's rate
//! limit.

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::workspaces;
use crate::error::OpenAiErrorBody;
use crate::error::{ApiError, OpenAiError};
use crate::gateway::Caller;
use crate::http::extract::{ApiJson, Auth};
use crate::http::openapi::{OpenAiKeyed, OpenAiKeyedJson};
use crate::state::AppState;

/// The authenticated routes of this module.
pub fn routes(_state: &AppState) -> Router<AppState> {
    Router::new().route("/v1/embeddings", post(embeddings))
}

const MAX_INPUTS: usize = 2048;
const MAX_INPUT_CHARS: usize = 100_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    #[default]
    Float,
    Base64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    pub input: EmbeddingInput,
    /// Optional; when given it must name the configured model, one of its aliases
    /// (`embedding.aliases`, by default `text-embedding-3-small` and `text-embedding-ada-002`),
    /// `default`, or a provider's embeddings model in the catalog (which then serves it).
    pub model: Option<String>,
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// Must equal the in-process model's dimension when given; passed on to a provider's model.
    pub dimensions: Option<usize>,
    /// Ignored by the in-process model; passed on to a provider's model.
    pub user: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingItem {
    pub object: String,
    pub index: usize,
    pub embedding: EmbeddingVector,
}

/// A list of floats, or a base64 string of little-endian f32 with `encoding_format=base64`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    pub object: String,
    pub data: Vec<EmbeddingItem>,
    pub model: String,
    pub usage: EmbeddingsUsage,
}

#[utoipa::path(post, path = "/v1/embeddings", tag = "openai", security(("bearer" = [])), request_body = EmbeddingsRequest,
    responses((status = 200, body = EmbeddingsResponse, description = "Headers: x-cairn-model (the model that served), x-cairn-cost"),
        (status = 402, body = OpenAiErrorBody, description = "The balance or a monthly budget cannot cover the request"),
        (status = 404, body = OpenAiErrorBody, description = "`model` names neither the configured model, one of its aliases, nor an embeddings model of the catalog"),
        (status = 502, body = OpenAiErrorBody, description = "The provider's model failed"),
        OpenAiKeyed, OpenAiKeyedJson))]
pub async fn embeddings(
    State(state): State<AppState>,
    Auth(p): Auth,
    body: Result<ApiJson<EmbeddingsRequest>, ApiError>,
) -> Result<Response, OpenAiError> {
    let ApiJson(req) = body?;
    let ws = workspaces::resolve(state.accounts.as_ref(), &p, None).await?;
    let caller = Caller::of(&p, &ws);
    let inputs = match &req.input {
        EmbeddingInput::One(s) => vec![s.clone()],
        EmbeddingInput::Many(v) => v.clone(),
    };
    crate::validate::count("input", inputs.len(), 1, MAX_INPUTS, "strings")?;
    for (i, s) in inputs.iter().enumerate() {
        let field = format!("input[{i}]");
        crate::validate::count(&field, s.chars().count(), 1, MAX_INPUT_CHARS, "characters")?;
    }
    let embedder = state.sources.retriever.embedder.clone();
    if let Some(model) = &req.model {
        let id = embedder.model_id();
        let own = model == id || model == "default" || id.ends_with(&format!("/{model}"));
        if !own {
            if let Some(m) = state.gateway.embedding_model(&caller, model) {
                return upstream(&state, &caller, &m, model, &req, inputs).await;
            }
        }
        if !own && !state.config.embedding.aliases.contains(model) {
            return Err(ApiError::NotFound("Model").into());
        }
    }
    local(&state, &caller, req, inputs).await
}

/// Input tokens as the in-process model counts them (each input cut at its window).
fn tokens_of(state: &AppState, inputs: &[String]) -> usize {
    inputs
        .iter()
        .map(|s| {
            state
                .sources
                .chunker
                .count_tokens(s)
                .min(state.config.embedding.max_length)
        })
        .sum()
}

/// A provider's model answers (`gateway::embeddings`).
async fn upstream(
    state: &AppState,
    caller: &Caller,
    m: &crate::gateway::route::ModelEntry,
    requested: &str,
    req: &EmbeddingsRequest,
    inputs: Vec<String>,
) -> Result<Response, OpenAiError> {
    let mut body = serde_json::json!({"input": inputs});
    if req.encoding_format == EncodingFormat::Base64 {
        body["encoding_format"] = "base64".into();
    }
    if let Some(d) = req.dimensions {
        body["dimensions"] = d.into();
    }
    if let Some(u) = &req.user {
        body["user"] = u.as_str().into();
    }
    let done = state
        .gateway
        .embed_upstream(caller, m, requested, &body)
        .await?;
    let mut res = Json(done.body).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{:.8}", done.cost_usd)) {
        h.insert("x-cairn-cost", v);
    }
    if let Ok(v) = HeaderValue::from_str(&done.served_by) {
        h.insert("x-cairn-model", v);
    }
    Ok(res)
}

/// The in-process model answers.
async fn local(
    state: &AppState,
    caller: &Caller,
    req: EmbeddingsRequest,
    inputs: Vec<String>,
) -> Result<Response, OpenAiError> {
    let embedder = state.sources.retriever.embedder.clone();
    if let Some(d) = req.dimensions {
        if d != embedder.dimension() {
            return Err(ApiError::bad_request(format!(
                "dimensions: this model only gives {}",
                embedder.dimension()
            ))
            .into());
        }
    }
    let tokens = tokens_of(state, &inputs);
    let requested = req.model.as_deref().unwrap_or(embedder.model_id());
    let metered = state
        .gateway
        .meter_embeddings(caller, requested, embedder.model_id(), tokens)
        .await?;
    let vectors = embedder.embed(inputs).await.map_err(ApiError::from)?;
    state.gateway.finish_metered(metered);
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| EmbeddingItem {
            object: "embedding".into(),
            index,
            embedding: match req.encoding_format {
                EncodingFormat::Float => EmbeddingVector::Float(v),
                EncodingFormat::Base64 => {
                    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
                    EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
                }
            },
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list".into(),
        data,
        model: embedder.model_id().to_string(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    })
    .into_response())
}
