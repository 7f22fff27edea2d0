//! The stream relay: one task per streamed answer reads the upstream's SSE, lets the provider
//! translate its events into OpenAI chunks, rewrites `model` to the requested one, keeps the
//! usage chunk for the usage row (forwarding it only when the client asked), and ends a
//! stream that breaks after its first byte with an explicit error event.
//!
//! Money: the relay owns the request's reservation and settles it when the stream ends,
//! whatever way it ends. Output tokens are counted as chunks are handed to the client, so a
//! client that hangs up before the upstream's usage chunk pays for what it received; the
//! relay watches the client while the upstream is silent, so a hang-up ends the stream (and
//! the hold) at once. A client leaving is not the model's failure: only the upstream's own
//! breaks count against its breaker.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::call::price;
use super::health::Breakers;
use super::ledger::{Ledger, Reservation};
use super::providers::{StreamEvents, StreamStep};
use super::route::ModelEntry;
use crate::context::budget::TokenCounter;
use crate::store::gateway::UsageRow;

/// The bytes of a streamed answer (SSE), as the HTTP layer sends them.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The longest upstream event line relayed (an SSE `data:` line holds one chunk).
const MAX_EVENT_LINE: usize = 1024 * 1024;

/// Events buffered between the relay task and the client.
const BUFFER: usize = 32;

/// Everything one relay needs, moved into its task.
pub struct StreamJob {
    pub ledger: Arc<Ledger>,
    pub breakers: Arc<Breakers>,
    /// Counts the output tokens handed to the client.
    pub counter: Arc<TokenCounter>,
    /// The row to write when the stream ends; its tokens and costs are filled in then.
    pub row: UsageRow,
    pub model: ModelEntry,
    pub baseline: Option<ModelEntry>,
    pub started: Instant,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub wants_usage: bool,
    /// Settled when the stream ends; given back if the task dies first.
    pub reservation: Option<Reservation>,
    /// The provider's translator of this stream's events.
    pub events: Box<dyn StreamEvents>,
    /// Told how the stream ended, once it is charged.
    pub ended: Option<tokio::sync::oneshot::Sender<Streamed>>,
}

/// How the upstream stream ended.
struct Ending {
    done: bool,
    broken: Option<String>,
    /// The client hung up (the HTTP body was dropped).
    client_left: bool,
    input: usize,
    /// Output tokens the upstream's usage chunk reported, once it came.
    reported: Option<usize>,
    /// Output tokens in the chunks handed to the client.
    delivered: usize,
    /// The first choice's text so far, up to [`KEPT_TEXT_CHARS`].
    text: String,
}

/// How much of a streamed answer's text [`Streamed`] keeps.
pub const KEPT_TEXT_CHARS: usize = 4_000;

/// How a stream ended, for whoever waits on [`StreamJob::ended`] (a grounded reply's trace).
#[derive(Debug, Clone)]
pub struct Streamed {
    /// The first choice's text, at most [`KEPT_TEXT_CHARS`] characters.
    pub text: String,
    pub input_tokens: usize,
    pub output_tokens: usize,
    pub cost_usd: f64,
    /// The upstream finished (`[DONE]`), rather than broke or lost its client.
    pub completed: bool,
}

impl Ending {
    /// What the stream is charged for: the upstream's count when it came, else what the
    /// client received.
    fn output(&self) -> usize {
        self.reported.unwrap_or(self.delivered)
    }
}

type Sender = mpsc::Sender<Result<Bytes, std::io::Error>>;

impl StreamJob {
    /// Starts relaying `res` and answers the client's side of the stream.
    pub fn start(self, res: reqwest::Response) -> ChatStream {
        let (tx, mut rx) = mpsc::channel(BUFFER);
        tokio::spawn(self.run(res, tx));
        Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    async fn run(mut self, res: reqwest::Response, tx: Sender) {
        let ending = self.relay(res, &tx).await;
        // A customer's own key says nothing about the model for everyone else.
        let shared = self.model.byok_key.is_none();
        if ending.done {
            if shared {
                self.breakers
                    .success(&self.model.name, self.started.elapsed());
            }
        } else if ending.client_left {
            tracing::info!(model = %self.model.name, delivered = ending.delivered, "gateway.stream: the client hung up");
        } else {
            let why = ending
                .broken
                .clone()
                .unwrap_or_else(|| "the upstream stream ended without [DONE]".into());
            if shared {
                self.breakers.failure(&self.model.name, &why);
            }
            let event = json!({"error": {"message": format!("The provider stream was interrupted: {why}"),
                                         "type": "server_error", "code": "upstream_stream_interrupted"}});
            let _ = tx.send(Ok(Bytes::from(format!("data: {event}\n\n")))).await;
        }
        let mut row = self.row;
        row.metadata = json!({"stream_completed": ending.done, "client_left": ending.client_left});
        row.latency_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
        price(
            &mut row,
            &self.model,
            self.baseline.as_ref(),
            ending.input,
            ending.output(),
        );
        let cost_usd = self.ledger.finish(self.reservation.take(), row);
        if let Some(tell) = self.ended.take() {
            // Nobody waiting (an ungrounded chat) is the common case.
            let _ = tell.send(Streamed {
                output_tokens: ending.output(),
                input_tokens: ending.input,
                completed: ending.done,
                text: ending.text,
                cost_usd,
            });
        }
    }

    /// Reads the upstream line by line until `[DONE]`, a break, or a client that left.
    async fn relay(&mut self, res: reqwest::Response, tx: &Sender) -> Ending {
        let mut upstream = res.bytes_stream();
        let mut buffer = String::new();
        let mut ending = Ending {
            done: false,
            broken: None,
            client_left: false,
            input: usize::try_from(self.row.input_tokens).unwrap_or(0),
            reported: None,
            delivered: 0,
            text: String::new(),
        };
        loop {
            // A client that hangs up while the upstream is silent ends the stream now, not
            // when the upstream next speaks (or times out).
            let next = tokio::select! {
                next = upstream.next() => next,
                () = tx.closed() => {
                    ending.client_left = true;
                    return ending;
                }
            };
            let Some(chunk) = next else { break };
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    ending.broken = Some(e.without_url().to_string());
                    break;
                }
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find('\n') {
                let line: String = buffer.drain(..=end).collect();
                let Some(data) = line.trim().strip_prefix("data:") else {
                    continue;
                };
                let chunks = match self.events.on_data(data.trim()) {
                    StreamStep::Chunks(c) => c,
                    StreamStep::Done => {
                        ending.done = true;
                        let cost = format!(": x-cairn-cost {:.8}\n\n", self.charge(&ending));
                        let _ = tx.send(Ok(Bytes::from(cost))).await;
                        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
                        return ending;
                    }
                    StreamStep::Error(e) => {
                        ending.broken = Some(e);
                        return ending;
                    }
                };
                if !self.forward(chunks, &mut ending, tx).await {
                    ending.client_left = true;
                    return ending;
                }
            }
            // What is left is one unfinished line: an upstream that never ends it would
            // grow it without bound (outbound policy: bodies are capped).
            if buffer.len() > MAX_EVENT_LINE {
                ending.broken = Some(format!("an event line longer than {MAX_EVENT_LINE} bytes"));
                break;
            }
        }
        ending
    }

    /// What the stream will be charged, for the SSE comment before `[DONE]` (a streamed
    /// answer's headers leave before its cost is known): its price, never more than the hold.
    fn charge(&self, ending: &Ending) -> f64 {
        let cost = self.model.cost(ending.input, ending.output());
        self.reservation
            .as_ref()
            .map_or(cost, |r| cost.min(r.amount_usd()))
    }

    /// Sends the chunks on; false when the client has gone.
    async fn forward(&self, chunks: Vec<Value>, ending: &mut Ending, tx: &Sender) -> bool {
        for mut chunk in chunks {
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                ending.input = u["prompt_tokens"]
                    .as_u64()
                    .map_or(ending.input, |t| t as usize);
                if let Some(t) = u["completion_tokens"].as_u64() {
                    ending.reported = Some(t as usize);
                }
                let only_usage = chunk["choices"].as_array().is_none_or(Vec::is_empty);
                if only_usage && !self.wants_usage {
                    continue;
                }
                if !self.wants_usage {
                    chunk.as_object_mut().map(|o| o.remove("usage"));
                }
            }
            chunk["model"] = json!(self.row.model);
            let tokens = self.output_tokens(&chunk);
            keep_text(&mut ending.text, &chunk);
            let out = format!("data: {chunk}\n\n");
            if tx.send(Ok(Bytes::from(out))).await.is_err() {
                return false;
            }
            ending.delivered += tokens;
        }
        true
    }

    /// The output tokens of one chunk: the text, refusal and tool calls of its choices'
    /// deltas.
    fn output_tokens(&self, chunk: &Value) -> usize {
        let deltas = chunk["choices"].as_array().into_iter().flatten();
        deltas
            .map(|c| &c["delta"])
            .map(|d| {
                let calls = d["tool_calls"].as_array().into_iter().flatten();
                let call_text: usize = calls
                    .map(|t| {
                        let f = &t["function"];
                        self.count(&f["name"]) + self.count(&f["arguments"])
                    })
                    .sum();
                self.count(&d["content"]) + self.count(&d["refusal"]) + call_text
            })
            .sum()
    }

    fn count(&self, text: &Value) -> usize {
        text.as_str().map_or(0, |t| self.counter.count(t))
    }
}

/// Adds the first choice's delta text of `chunk` to `kept`, up to [`KEPT_TEXT_CHARS`].
fn keep_text(kept: &mut String, chunk: &Value) {
    let first = chunk["choices"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["index"].as_u64().unwrap_or(0) == 0));
    let Some(delta) = first.and_then(|c| c["delta"]["content"].as_str()) else {
        return;
    };
    let room = KEPT_TEXT_CHARS.saturating_sub(kept.chars().count());
    kept.extend(delta.chars().take(room));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::gateway::providers::openai;
    use crate::store::gateway::{BillingStore, UsageFilter, UsageStore};
    use crate::store::sqlite::{self, SqliteBilling, SqliteUsage};

    /// An upstream answering one request with `body` as SSE, then closing.
    async fn upstream(body: &'static str) -> reqwest::Response {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(body.as_bytes()).await.unwrap();
        });
        reqwest::get(format!("http://{addr}/")).await.unwrap()
    }

    fn model() -> ModelEntry {
        ModelEntry {
            name: "cheap".into(),
            provider: "mock".into(),
            upstream: "ok-cheap".into(),
            weight: 2,
            context_window: 8000,
            input_per_1k: 0.001,
            output_per_1k: 0.002,
            aliases: vec![],
            enabled: true,
            vault_locked: false,
            byok_key: None,
            local: None,
        }
    }

    fn row() -> UsageRow {
        UsageRow {
            id: crate::store::time::new_id(),
            account_id: "a".into(),
            api_key_id: None,
            workspace_id: None,
            metadata: json!({}),
            tier: "auto".into(),
            model: "auto".into(),
            provider: "mock".into(),
            upstream_model: "ok-cheap".into(),
            served_model: "cheap".into(),
            routing_method: "auto:value".into(),
            execution_source: "provider".into(),
            billing_mode: "usage".into(),
            request_type: "chat_stream".into(),
            input_tokens: 3,
            output_tokens: 0,
            actual_cost_usd: 0.0,
            charged_usd: 0.0,
            baseline_usd: 0.0,
            latency_ms: None,
            created_at: crate::store::time::now(),
        }
    }

    /// Relays `body` and answers what the client received and the usage row written.
    async fn relay(body: &'static str, wants_usage: bool) -> (String, UsageRow) {
        let dir = tempfile::tempdir().unwrap();
        let pool = sqlite::open(&dir.path().join("cairn.db")).await.unwrap();
        let billing: Arc<dyn BillingStore> = Arc::new(SqliteBilling::new(pool.clone()));
        let ledger = Arc::new(Ledger::new(billing));
        let job = StreamJob {
            ledger: ledger.clone(),
            breakers: Arc::new(Breakers::new(3, Duration::from_secs(30))),
            counter: Arc::new(TokenCounter::new("cl100k_base").unwrap()),
            row: row(),
            model: model(),
            baseline: None,
            started: Instant::now(),
            wants_usage,
            reservation: None,
            events: Box::new(openai::Chunks),
            ended: None,
        };
        let events = job.start(upstream(body).await);
        let sent: Vec<Bytes> = events.map(|b| b.unwrap()).collect().await;
        let text = sent.iter().map(|b| String::from_utf8_lossy(b)).collect();
        // The row is written once the relay has ended, behind the stream.
        tokio::time::sleep(Duration::from_millis(50)).await;
        ledger.flush().await;
        let rows = SqliteUsage::new(pool)
            .list(
                "a",
                &UsageFilter {
                    limit: 10,
                    ..UsageFilter::default()
                },
            )
            .await
            .unwrap();
        (text, rows.into_iter().next().unwrap())
    }

    const COMPLETE: &str =
        "data: {\"choices\":[{\"delta\":{\"content\":\"hel\"}}],\"model\":\"ok-cheap\"}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}\n\n\
        data: [DONE]\n\n";

    #[tokio::test]
    async fn chunks_get_the_requested_model_and_usage_only_when_asked() {
        let (text, row) = relay(COMPLETE, false).await;
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 3, "{text}");
        assert!(events[0].contains("\"model\":\"auto\""), "{text}");
        assert_eq!(events[2], "data: [DONE]");
        assert_eq!((row.input_tokens, row.output_tokens), (12, 5));
        assert_eq!(row.metadata["stream_completed"], true);
        assert!((row.charged_usd - (0.012 * 0.001 + 0.005 * 0.002)).abs() < 1e-12);
        // The comment before [DONE] says what the row charges.
        assert_eq!(events[1], format!(": x-cairn-cost {:.8}", row.charged_usd));

        let (text, _) = relay(COMPLETE, true).await;
        assert!(text.contains("\"completion_tokens\":5"), "{text}");
    }

    #[tokio::test]
    async fn a_stream_cut_short_ends_with_an_error_event() {
        let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"hel\"}}]}\n\n";
        let (text, row) = relay(cut, false).await;
        let last = text.split("\n\n").filter(|e| !e.is_empty()).last().unwrap();
        assert!(last.contains("upstream_stream_interrupted"), "{text}");
        assert_eq!(row.metadata["stream_completed"], false);
        assert_eq!(
            row.input_tokens, 3,
            "the estimate stands when no usage came"
        );
        assert_eq!(row.output_tokens, 1, "the delivered \"hel\" is charged");
    }
}
