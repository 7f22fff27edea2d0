//! Any OpenAI-compatible `/v1/embeddings` server: batched requests, timeouts, retries with
//! exponential backoff on 429, 5xx and transport errors.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{normalize, EmbedError, Embedder};

#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// Base URL up to and including `/v1`, e.g. `http://gpu-box:8080/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// The upstream model name sent in each request.
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub batch_size: usize,
}

pub struct RemoteEmbedder {
    client: reqwest::Client,
    settings: RemoteSettings,
    model_id: String,
    dimension: usize,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl RemoteEmbedder {
    /// Connects and embeds one probe text to learn the dimension, so a misconfigured server
    /// fails at start rather than on the first ingest.
    pub async fn connect(settings: RemoteSettings, model_id: &str) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        let mut embedder = Self {
            client,
            settings,
            model_id: model_id.to_string(),
            dimension: 0,
        };
        let probe = embedder.request(&["dimension probe".to_string()]).await?;
        embedder.dimension = probe.first().map(Vec::len).unwrap_or(0);
        if embedder.dimension == 0 {
            return Err(EmbedError::Unavailable(
                "the embeddings server returned an empty vector".into(),
            ));
        }
        Ok(embedder)
    }

    async fn request(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let url = format!(
            "{}/embeddings",
            self.settings.base_url.trim_end_matches('/')
        );
        let body = serde_json::json!({"model": self.settings.model, "input": batch});
        let mut attempt = 0;
        loop {
            let mut req = self.client.post(&url).json(&body);
            if let Some(key) = &self.settings.api_key {
                req = req.bearer_auth(key);
            }
            let outcome = match req.send().await {
                Ok(res) if res.status().is_success() => {
                    let parsed: Response = res.json().await.map_err(|e| {
                        EmbedError::Failed(format!("unreadable embeddings response: {e}"))
                    })?;
                    return order(parsed, batch.len());
                }
                Ok(res) => {
                    let status = res.status();
                    let text = res.text().await.unwrap_or_default();
                    let retryable = status.as_u16() == 429 || status.is_server_error();
                    let err = EmbedError::Failed(format!(
                        "embeddings server answered {status}: {}",
                        truncate(&text)
                    ));
                    if !retryable {
                        return Err(err);
                    }
                    err
                }
                Err(e) => EmbedError::Failed(format!("embeddings server unreachable: {e}")),
            };
            if attempt >= self.settings.max_retries {
                return Err(outcome);
            }
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            attempt += 1;
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

fn order(parsed: Response, expected: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
    if parsed.data.len() != expected {
        return Err(EmbedError::Failed(format!(
            "embeddings server returned {} vectors for {expected} inputs",
            parsed.data.len()
        )));
    }
    let mut out = vec![Vec::new(); expected];
    for item in parsed.data {
        let slot = out.get_mut(item.index).ok_or_else(|| {
            EmbedError::Failed(format!("embedding index {} out of range", item.index))
        })?;
        *slot = item.embedding;
    }
    Ok(out)
}

#[async_trait]
impl Embedder for RemoteEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.settings.batch_size.max(1)) {
            let mut vectors = self.request(batch).await?;
            for v in &mut vectors {
                if v.len() != self.dimension {
                    return Err(EmbedError::Failed(format!(
                        "embeddings server returned dimension {} instead of {}",
                        v.len(),
                        self.dimension
                    )));
                }
                normalize(v);
            }
            out.extend(vectors);
        }
        Ok(out)
    }
}
