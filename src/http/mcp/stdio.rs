//! `cairn mcp --url URL --key tok_...`: MCP over stdio for desktop agents that launch a
//! command, as a thin client of a running server. Each JSON-RPC message read from stdin (one
//! per line) is POSTed to the server's `/mcp`, and every message of the answer (a JSON body or
//! the events of an SSE body) is written to stdout, one per line. The session id and protocol
//! version the server gives at `initialize` go with every later request; end of input ends the
//! session. Nothing else is written to stdout: it carries only the protocol.

use std::time::Duration;

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::outbound::{Outbound, Reach, DEFAULT_MAX_BODY};

const SESSION: &str = "mcp-session-id";
const VERSION: &str = "mcp-protocol-version";

/// The server's `/mcp` and what this session has learned from it.
struct Remote {
    client: Outbound,
    endpoint: String,
    key: String,
    session: Option<String>,
    version: Option<String>,
}

impl Remote {
    fn headers(&self) -> anyhow::Result<HeaderMap> {
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", self.key))?,
        );
        if let Some(s) = &self.session {
            h.insert(SESSION, HeaderValue::from_str(s)?);
        }
        if let Some(v) = &self.version {
            h.insert(VERSION, HeaderValue::from_str(v)?);
        }
        Ok(h)
    }

    /// Sends one message; answers the messages of the reply, in order.
    async fn send(&mut self, message: &str) -> anyhow::Result<Vec<Value>> {
        let res = self
            .client
            .post(&self.endpoint)?
            .headers(self.headers()?)
            .body(message.to_string())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(crate::outbound::describe(e)))?;
        if let Some(s) = res.headers().get(SESSION).and_then(|v| v.to_str().ok()) {
            self.session = Some(s.to_string());
        }
        let status = res.status();
        let sse = res
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let body = self
            .client
            .body(res)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Ok(vec![refusal(message, status.as_u16(), &text)]);
        }
        let messages: Vec<Value> = if sse {
            events(&text)
        } else if text.trim().is_empty() {
            Vec::new()
        } else {
            vec![serde_json::from_str(&text).context("the server's answer is not JSON")?]
        };
        for m in &messages {
            if let Some(v) = m.pointer("/result/protocolVersion").and_then(Value::as_str) {
                self.version = Some(v.to_string());
            }
        }
        Ok(messages)
    }

    /// Ends the server-side session, if there is one.
    async fn close(&self) {
        if self.session.is_none() {
            return;
        }
        let Ok(headers) = self.headers() else { return };
        if let Ok(req) = self.client.request(reqwest::Method::DELETE, &self.endpoint) {
            let _ = req.headers(headers).send().await;
        }
    }
}

/// The JSON messages of an SSE body (`data:` lines of each event).
fn events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .filter_map(|d| serde_json::from_str(&d).ok())
        .collect()
}

/// A JSON-RPC error answering `message` (when it was a request) for an HTTP refusal.
fn refusal(message: &str, status: u16, body: &str) -> Value {
    let id = serde_json::from_str::<Value>(message)
        .ok()
        .and_then(|m| m.get("id").cloned())
        .unwrap_or(Value::Null);
    serde_json::json!({"jsonrpc": "2.0", "id": id,
        "error": {"code": -32600, "message": format!("HTTP {status}: {}", body.trim())}})
}

/// Runs the stdio bridge until stdin ends.
pub async fn run(url: &str, key: &str) -> anyhow::Result<()> {
    let client = Outbound::new(Reach::Operator, Duration::from_secs(300), DEFAULT_MAX_BODY)
        .context("building the HTTP client")?;
    let mut remote = Remote {
        client,
        endpoint: format!("{}/mcp", url.trim_end_matches('/')),
        key: key.to_string(),
        session: None,
        version: None,
    };
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let replies = match remote.send(&line).await {
            Ok(r) => r,
            Err(e) => vec![refusal(&line, 502, &e.to_string())],
        };
        for r in replies {
            // Notifications get no answer, even a refusal.
            if r.get("id").is_some_and(Value::is_null) && r.get("error").is_some() {
                continue;
            }
            out.write_all(format!("{r}\n").as_bytes()).await?;
        }
        out.flush().await?;
    }
    remote.close().await;
    Ok(())
}
