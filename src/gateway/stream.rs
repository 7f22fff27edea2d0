//! The stream relay: one task per streamed answer reads the upstream's SSE, lets the provider
//! translate its events into OpenAI chunks, rewrites `model` to the requested one, keeps the
//! usage chunk for the usage row (forwarding it only when the client asked), and ends a
//! stream that breaks after its first byte with an explicit error event. The usage row is
//! written when the stream ends, whatever way it ends.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::call::price;
use super::health::Breakers;
use super::ledger::{Hold, Ledger};
use super::providers::{StreamEvents, StreamStep};
use super::route::ModelEntry;
use crate::store::gateway::UsageRow;

/// The bytes of a streamed answer (SSE), as the HTTP layer sends them.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Events buffered between the relay task and the client.
const BUFFER: usize = 32;

/// Everything one relay needs, moved into its task.
pub struct StreamJob {
    pub ledger: Arc<Ledger>,
    pub breakers: Arc<Breakers>,
    /// The row to write when the stream ends; its tokens and costs are filled in then.
    pub row: UsageRow,
    pub model: ModelEntry,
    pub baseline: Option<ModelEntry>,
    pub started: Instant,
    /// The client asked for the usage chunk (`stream_options.include_usage`).
    pub wants_usage: bool,
    pub hold: Option<Hold>,
    /// The provider's translator of this stream's events.
    pub events: Box<dyn StreamEvents>,
}

/// How the upstream stream ended.
struct Ending {
    done: bool,
    broken: Option<String>,
    input: usize,
    output: usize,
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
        if ending.done {
            self.breakers
                .success(&self.model.name, self.started.elapsed());
        } else {
            let why = ending
                .broken
                .unwrap_or_else(|| "the upstream stream ended without [DONE]".into());
            self.breakers.failure(&self.model.name);
            let event = json!({"error": {"message": format!("The provider stream was interrupted: {why}"),
                                         "type": "server_error", "code": "upstream_stream_interrupted"}});
            let _ = tx.send(Ok(Bytes::from(format!("data: {event}\n\n")))).await;
        }
        let mut row = self.row;
        row.metadata = json!({"stream_completed": ending.done});
        row.latency_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
        price(
            &mut row,
            &self.model,
            self.baseline.as_ref(),
            ending.input,
            ending.output,
        );
        self.ledger.finish(self.hold.as_ref(), row);
    }

    /// Reads the upstream line by line until `[DONE]`, a break, or a client that left.
    async fn relay(&mut self, res: reqwest::Response, tx: &Sender) -> Ending {
        let mut upstream = res.bytes_stream();
        let mut buffer = String::new();
        let mut ending = Ending {
            done: false,
            broken: None,
            input: usize::try_from(self.row.input_tokens).unwrap_or(0),
            output: 0,
        };
        while let Some(chunk) = upstream.next().await {
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
                        let _ = tx.send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
                        return ending;
                    }
                    StreamStep::Error(e) => {
                        ending.broken = Some(e);
                        return ending;
                    }
                };
                if !self.forward(chunks, &mut ending, tx).await {
                    return ending;
                }
            }
        }
        ending
    }

    /// Sends the chunks on; false when the client has gone.
    async fn forward(&self, chunks: Vec<Value>, ending: &mut Ending, tx: &Sender) -> bool {
        for mut chunk in chunks {
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                ending.input = u["prompt_tokens"]
                    .as_u64()
                    .map_or(ending.input, |t| t as usize);
                ending.output = u["completion_tokens"]
                    .as_u64()
                    .map_or(ending.output, |t| t as usize);
                let only_usage = chunk["choices"].as_array().is_none_or(Vec::is_empty);
                if only_usage && !self.wants_usage {
                    continue;
                }
                if !self.wants_usage {
                    chunk.as_object_mut().map(|o| o.remove("usage"));
                }
            }
            chunk["model"] = json!(self.row.model);
            let out = format!("data: {chunk}\n\n");
            if tx.send(Ok(Bytes::from(out))).await.is_err() {
                return false;
            }
        }
        true
    }
}
