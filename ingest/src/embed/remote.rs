//! Any OpenAI-compatible `/v1/embeddings` server: batched requests, timeouts, retries with
//! exponential backoff on 429, 5xx and transport errors. Answers are read under a size cap;
//! the service hands in its own HTTP client ([`RemoteEmbedder::connect_with`]) so that the
//! calls follow its outbound policy (no redirects, vetted and pinned addresses).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{normalize, EmbedError, Embedder};

/// The most bytes read from one answer (a batch of large vectors as JSON is a few MiB).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

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
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| EmbedError::Unavailable(e.to_string()))?;
        Self::connect_with(client, settings, model_id).await
    }

    /// [`Self::connect`] through `client`, whose settings (redirects, resolver, timeout)
    /// are the caller's; `settings.timeout` still bounds each request.
    pub async fn connect_with(
        client: reqwest::Client,
        settings: RemoteSettings,
        model_id: &str,
    ) -> Result<Self, EmbedError> {
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
            let mut req = self
                .client
                .post(&url)
                .timeout(self.settings.timeout)
                .json(&body);
            if let Some(key) = &self.settings.api_key {
                req = req.bearer_auth(key);
            }
            let outcome = match req.send().await {
                Ok(res) if res.status().is_success() => {
                    let bytes = read_capped(res).await?;
                    let parsed: Response = serde_json::from_slice(&bytes).map_err(|e| {
                        EmbedError::Failed(format!("unreadable embeddings response: {e}"))
                    })?;
                    return order(parsed, batch.len());
                }
                Ok(res) => {
                    let status = res.status();
                    let text = read_capped(res)
                        .await
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
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

/// The body, cut off with an error past [`MAX_RESPONSE_BYTES`] (whatever the server says its
/// length is).
async fn read_capped(mut res: reqwest::Response) -> Result<Vec<u8>, EmbedError> {
    let mut bytes = Vec::new();
    while let Some(piece) = res
        .chunk()
        .await
        .map_err(|e| EmbedError::Failed(format!("reading the embeddings response: {e}")))?
    {
        if bytes.len() + piece.len() > MAX_RESPONSE_BYTES {
            return Err(EmbedError::Failed(format!(
                "the embeddings response is larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A loopback OpenAI-compatible embeddings server: the first `fail_first` requests get 503,
    /// later ones get one 3-d vector per input, listed in reverse order.
    fn upstream(fail_first: usize) -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let (status, reply) = if n < fail_first {
                    ("503 Busy", "{\"error\":\"busy\"}".to_string())
                } else {
                    let req: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let count = req["input"].as_array().map(Vec::len).unwrap_or(1);
                    let data: Vec<serde_json::Value> = (0..count)
                        .rev()
                        .map(|i| serde_json::json!({"object": "embedding", "index": i, "embedding": [i as f32 + 1.0, 0.0, 0.0]}))
                        .collect();
                    (
                        "200 OK",
                        serde_json::json!({"object": "list", "data": data}).to_string(),
                    )
                };
                let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len());
            }
        });
        (base, calls)
    }

    fn settings(base: String) -> RemoteSettings {
        RemoteSettings {
            base_url: base,
            api_key: Some("k".into()),
            model: "m".into(),
            timeout: Duration::from_secs(5),
            max_retries: 3,
            batch_size: 2,
        }
    }

    #[tokio::test]
    async fn batches_retry_and_keep_input_order() {
        let (base, calls) = upstream(1);
        let embedder = RemoteEmbedder::connect(settings(base), "remote-model")
            .await
            .expect("connect");
        assert_eq!(embedder.dimension(), 3);
        let before = calls.load(Ordering::SeqCst);
        let v = embedder
            .embed(vec!["a".into(), "b".into(), "c".into()])
            .await
            .expect("embed");
        assert_eq!(
            calls.load(Ordering::SeqCst) - before,
            2,
            "3 inputs in batches of 2"
        );
        assert_eq!(v.len(), 3);
        assert!(
            v.iter().all(|x| (x[0] - 1.0).abs() < 1e-6),
            "normalised, each at its own index"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_after_the_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        drop(listener);
        let mut s = settings(base);
        s.max_retries = 1;
        assert!(RemoteEmbedder::connect(s, "x").await.is_err());
    }
}
