//! The `Embedder` trait and its two backends: the in-process ONNX model (fastembed) and any
//! OpenAI-compatible `/v1/embeddings` server (TEI, vLLM, Ollama, OpenAI).

mod local;
mod remote;

use async_trait::async_trait;

pub use local::{LocalEmbedder, LocalModel};
pub use remote::{RemoteEmbedder, RemoteSettings};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model unavailable: {0}")]
    Unavailable(String),
    #[error("embedding failed: {0}")]
    Failed(String),
}

#[async_trait]
pub trait Embedder: Send + Sync {
    /// The model id recorded next to every vector, so a change of model is detected.
    fn model_id(&self) -> &str;
    fn dimension(&self) -> usize;
    /// One unit-length vector per input, in order.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Scales `v` to unit length so dot products are cosine similarities.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
