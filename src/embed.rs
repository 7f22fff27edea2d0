//! Builds the configured `Embedder` backend. The remote one calls through the outbound
//! policy (`crate::outbound`) with the operator's reach: its URL is the config file's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_ingest::embed::{LocalEmbedder, LocalModel, RemoteEmbedder, RemoteSettings};
use cairn_ingest::{Chunker, Embedder};
use secrecy::ExposeSecret;

use crate::config::{Config, EmbeddingBackend};
use crate::outbound::{Outbound, Reach, DEFAULT_MAX_BODY};

pub async fn build(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let e = &config.embedding;
    if e.backend == EmbeddingBackend::Remote {
        let settings = RemoteSettings {
            base_url: e.remote_url.clone(),
            api_key: Some(e.remote_api_key.expose_secret())
                .filter(|key| !key.is_empty())
                .map(str::to_string),
            model: if e.remote_model.is_empty() {
                e.model.clone()
            } else {
                e.remote_model.clone()
            },
            timeout: Duration::from_secs(e.remote_timeout_secs),
            max_retries: e.remote_max_retries,
            batch_size: e.remote_batch_size,
        };
        let client = Outbound::new(Reach::Operator, settings.timeout, DEFAULT_MAX_BODY)?
            .client_for(&e.remote_url)
            .context("embedding.remote_url")?;
        let embedder = RemoteEmbedder::connect_with(client, settings, &e.model)
            .await
            .with_context(|| format!("connecting to the embeddings server at {}", e.remote_url))?;
        return Ok(Arc::new(embedder));
    }
    let model = if e.catalog_model.is_empty() {
        LocalModel::Files {
            dir: e.model_dir(),
            mean_pooling: true,
        }
    } else {
        LocalModel::Catalog {
            name: e.catalog_model.clone(),
            cache_dir: config.storage.data_dir.join("models"),
        }
    };
    let (ort, id, max_length, threads, batch) = (
        e.onnxruntime(),
        e.model.clone(),
        e.max_length,
        e.threads,
        e.batch_size,
    );
    let embedder = tokio::task::spawn_blocking(move || {
        LocalEmbedder::load(&ort, &model, &id, max_length, threads, batch)
    })
    .await??;
    Ok(Arc::new(embedder))
}

/// The chunker, sized in tokens of the embedding model's tokenizer.
pub fn chunker(config: &Config) -> anyhow::Result<Chunker> {
    let path = config.embedding.model_dir().join("tokenizer.json");
    Chunker::from_tokenizer_file(
        &path,
        config.sources.chunk_tokens,
        config.sources.chunk_overlap,
    )
    .with_context(|| {
        "loading the chunker's tokenizer; run scripts/fetch_model.py (make setup)".to_string()
    })
}
