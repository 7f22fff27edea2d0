//! Anthropic's Messages API behind OpenAI's chat completions: requests, answers and stream
//! events translated both ways (system prompts, images, tools and tool calls, stop reasons,
//! usage).

use secrecy::ExposeSecret;
use std::collections::HashMap;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{
    openai, send, Attempt, ChatProvider, ProviderEntry, StreamEvents, StreamStep, Upstream,
};
use crate::error::{ApiError, ApiResult};
use crate::gateway::request::text_of;
use crate::gateway::ChatRequest;

pub const VERSION: &str = "2023-06-01";
const DEFAULT_MAX_TOKENS: u64 = 1024;

/// An OpenAI image part (`image_url` with an http(s) or data URL) as an Anthropic image block.
fn image(part: &Value) -> Option<Value> {
    let url = part.pointer("/image_url/url").and_then(Value::as_str)?;
    if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest.split_once(";base64,")?;
        return Some(
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}),
        );
    }
    Some(json!({"type": "image", "source": {"type": "url", "url": url}}))
}

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => Some(
                    json!({"type": "text", "text": p.get("text").cloned().unwrap_or_default()}),
                ),
                Some("image_url") => image(p),
                _ => None,
            })
            .collect(),
        _ => vec![],
    }
}

/// The Messages API body for an OpenAI chat completions request.
pub fn request_body(openai: &ChatRequest, upstream: &str, stream: bool) -> ApiResult<Value> {
    let (system, messages) = messages_of(openai)?;
    let mut body = Map::new();
    body.insert("model".into(), json!(upstream));
    body.insert("messages".into(), Value::Array(messages));
    let max = openai.output_limit().unwrap_or(DEFAULT_MAX_TOKENS);
    body.insert("max_tokens".into(), json!(max));
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    sampling(openai, &mut body);
    if let Some(tools) = &openai.tools {
        tools_of(openai, tools, &mut body);
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    Ok(Value::Object(body))
}

/// System and developer messages become the `system` text; the rest become Messages API
/// turns (tool results are user turns).
fn messages_of(openai: &ChatRequest) -> ApiResult<(Vec<String>, Vec<Value>)> {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in &openai.messages {
        match m["role"].as_str().unwrap_or_default() {
            "system" | "developer" => system.push(text_of(&m["content"])),
            "user" => messages.push(json!({"role": "user", "content": blocks(&m["content"])})),
            "assistant" => {
                messages.push(json!({"role": "assistant", "content": assistant_blocks(m)}))
            }
            "tool" => messages.push(json!({"role": "user", "content": [{"type": "tool_result",
                "tool_use_id": m["tool_call_id"], "content": text_of(&m["content"])}]})),
            other => {
                return Err(ApiError::bad_request(format!(
                    "messages: role `{other}` is not supported"
                )))
            }
        }
    }
    Ok((system, messages))
}

/// An assistant turn's text and its tool calls as `tool_use` blocks.
fn assistant_blocks(m: &Value) -> Vec<Value> {
    let mut content = blocks(&m["content"]);
    for call in m["tool_calls"].as_array().into_iter().flatten() {
        let args = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        let input: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
        content.push(
            json!({"type": "tool_use", "id": call["id"], "name": call.pointer("/function/name"),
                            "input": input}),
        );
    }
    content
}

/// `temperature`, `top_p` and `stop` (as `stop_sequences`).
fn sampling(openai: &ChatRequest, body: &mut Map<String, Value>) {
    for key in ["temperature", "top_p"] {
        if let Some(v) = openai.extra.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    match openai.extra.get("stop") {
        Some(Value::String(s)) => {
            body.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) => {
            body.insert("stop_sequences".into(), json!(a));
        }
        _ => {}
    }
}

/// OpenAI function tools as Messages API tools, and `tool_choice` translated.
fn tools_of(openai: &ChatRequest, tools: &[Value], body: &mut Map<String, Value>) {
    let converted: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({"name": t.pointer("/function/name"), "description": t.pointer("/function/description"),
                   "input_schema": t.pointer("/function/parameters").cloned().unwrap_or_else(|| json!({"type": "object"}))})
        })
        .collect();
    body.insert("tools".into(), json!(converted));
    let choice = match openai.extra.get("tool_choice") {
        Some(Value::String(s)) if s == "required" => Some(json!({"type": "any"})),
        Some(Value::String(s)) if s == "auto" => Some(json!({"type": "auto"})),
        Some(Value::String(s)) if s == "none" => Some(json!({"type": "none"})),
        Some(v @ Value::Object(_)) => v
            .pointer("/function/name")
            .map(|n| json!({"type": "tool", "name": n})),
        _ => None,
    };
    if let Some(c) = choice {
        body.insert("tool_choice".into(), c);
    }
}

fn finish_reason(stop: Option<&str>) -> Value {
    match stop {
        Some("end_turn") | Some("stop_sequence") => json!("stop"),
        Some("max_tokens") => json!("length"),
        Some("tool_use") => json!("tool_calls"),
        Some(other) => json!(other),
        None => Value::Null,
    }
}

/// An OpenAI chat completion for a Messages API answer.
pub fn response(a: &Value, model: &str) -> Value {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in a["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(json!({"id": block["id"], "type": "function",
                "function": {"name": block["name"], "arguments": block["input"].to_string()}})),
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    let (input, output) = (
        a.pointer("/usage/input_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        a.pointer("/usage/output_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    );
    json!({
        "id": a["id"], "object": "chat.completion", "created": chrono::Utc::now().timestamp(), "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(a["stop_reason"].as_str())}],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}
    })
}

/// Turns Messages API stream events into OpenAI chunks.
#[derive(Default)]
pub struct StreamState {
    id: String,
    /// Anthropic content block index -> OpenAI tool call index.
    tools: HashMap<u64, usize>,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl StreamState {
    fn chunk(&self, delta: Value, finish: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": chrono::Utc::now().timestamp(),
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    pub fn on_event(&mut self, ev: &Value) -> StreamStep {
        match ev["type"].as_str().unwrap_or_default() {
            "message_start" => self.message_start(ev),
            "content_block_start"
                if ev.pointer("/content_block/type") == Some(&json!("tool_use")) =>
            {
                self.tool_start(ev)
            }
            "content_block_delta" => self.block_delta(ev),
            "message_delta" => self.message_delta(ev),
            "message_stop" => StreamStep::Done,
            "error" => StreamStep::Error(
                ev.pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("provider error")
                    .to_string(),
            ),
            _ => StreamStep::Chunks(vec![]),
        }
    }

    /// The message id and input tokens; the first chunk carries the assistant role.
    fn message_start(&mut self, ev: &Value) -> StreamStep {
        self.id = ev
            .pointer("/message/id")
            .and_then(Value::as_str)
            .unwrap_or("msg")
            .to_string();
        self.input_tokens = ev
            .pointer("/message/usage/input_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        StreamStep::Chunks(vec![
            self.chunk(json!({"role": "assistant", "content": ""}), Value::Null)
        ])
    }

    /// A `tool_use` block opens a tool call, numbered in the order calls appear.
    fn tool_start(&mut self, ev: &Value) -> StreamStep {
        let index = self.tools.len();
        self.tools.insert(ev["index"].as_u64().unwrap_or(0), index);
        let b = &ev["content_block"];
        StreamStep::Chunks(vec![self.chunk(
            json!({"tool_calls": [{"index": index, "id": b["id"], "type": "function",
                                   "function": {"name": b["name"], "arguments": ""}}]}),
            Value::Null,
        )])
    }

    /// Text, or a piece of a tool call's arguments.
    fn block_delta(&self, ev: &Value) -> StreamStep {
        let d = &ev["delta"];
        match d["type"].as_str() {
            Some("text_delta") => {
                StreamStep::Chunks(vec![self.chunk(json!({"content": d["text"]}), Value::Null)])
            }
            Some("input_json_delta") => {
                let index = self
                    .tools
                    .get(&ev["index"].as_u64().unwrap_or(0))
                    .copied()
                    .unwrap_or(0);
                StreamStep::Chunks(vec![self.chunk(
                    json!({"tool_calls": [{"index": index, "function": {"arguments": d["partial_json"]}}]}),
                    Value::Null,
                )])
            }
            _ => StreamStep::Chunks(vec![]),
        }
    }

    /// The finish reason, then a usage chunk with both token counts.
    fn message_delta(&mut self, ev: &Value) -> StreamStep {
        self.output_tokens = ev
            .pointer("/usage/output_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(self.output_tokens);
        let finish = finish_reason(ev.pointer("/delta/stop_reason").and_then(Value::as_str));
        let mut last = self.chunk(json!({}), finish);
        let (i, o) = (self.input_tokens, self.output_tokens);
        let usage = json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o});
        let usage_chunk = json!({"id": self.id, "object": "chat.completion.chunk", "choices": [], "usage": usage});
        last["choices"][0]["delta"] = json!({});
        StreamStep::Chunks(vec![last, usage_chunk])
    }
}

/// Anthropic's stream events, translated one by one.
impl StreamEvents for StreamState {
    fn on_data(&mut self, data: &str) -> StreamStep {
        if data == "[DONE]" {
            return StreamStep::Done;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(event) => self.on_event(&event),
            Err(_) => StreamStep::Chunks(vec![]),
        }
    }
}

#[derive(Debug, Default)]
pub struct Anthropic;

impl Anthropic {
    async fn post(
        to: &Upstream<'_>,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, Attempt> {
        let body = request_body(req, to.model, stream).map_err(Attempt::Fatal)?;
        let builder = to
            .post("messages")?
            .header("x-api-key", to.provider.api_key.expose_secret())
            .header("anthropic-version", VERSION)
            .json(&body);
        send(to, builder).await
    }
}

#[async_trait]
impl ChatProvider for Anthropic {
    fn kind(&self) -> &'static str {
        "anthropic"
    }

    fn default_base_url(&self) -> Option<&'static str> {
        Some("https://api.anthropic.com/v1")
    }

    async fn send(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        Self::post(to, req, false).await
    }

    async fn send_stream(
        &self,
        to: &Upstream<'_>,
        req: &ChatRequest,
    ) -> Result<reqwest::Response, Attempt> {
        Self::post(to, req, true).await
    }

    fn completion(&self, answer: Value, requested: &str) -> Value {
        response(&answer, requested)
    }

    fn stream_events(&self) -> Box<dyn StreamEvents> {
        Box::new(StreamState::default())
    }

    /// Anthropic lists its models at `GET /v1/models` in OpenAI's `data` shape.
    async fn discover_models(
        &self,
        provider: &ProviderEntry,
        max: usize,
    ) -> Result<Vec<String>, String> {
        let client = &provider.outbound;
        let to = Upstream {
            provider,
            model: "",
            name: &provider.name,
        };
        let req = client
            .get(&to.url("models"))
            .map_err(|e| e.to_string())?
            .header("x-api-key", provider.api_key.expose_secret())
            .header("anthropic-version", VERSION);
        openai::models_of(client, to.with_provider_headers(req), max).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_translate_system_images_tools_and_tool_results() {
        let openai = json!({"model": "x", "max_tokens": 99, "stop": "END", "temperature": 0.1,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
            ],
            "tools": [{"type": "function", "function": {"name": "lookup", "description": "find",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
            "tool_choice": "required"});
        let openai = ChatRequest::from_value(openai).unwrap();
        let a = request_body(&openai, "claude-x", false).unwrap();
        assert_eq!(a["model"], "claude-x");
        assert_eq!(a["system"], "be brief");
        assert_eq!(a["max_tokens"], 99);
        assert_eq!(a["stop_sequences"], json!(["END"]));
        assert_eq!(
            a["messages"][0]["content"][1]["source"]["media_type"],
            "image/png"
        );
        assert_eq!(a["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(a["messages"][1]["content"][0]["input"]["q"], "cat");
        assert_eq!(a["messages"][2]["content"][0]["tool_use_id"], "call_1");
        assert_eq!(
            a["tools"][0]["input_schema"]["properties"]["q"]["type"],
            "string"
        );
        assert_eq!(a["tool_choice"], json!({"type": "any"}));
    }

    #[test]
    fn answers_and_streams_translate_back() {
        let a = json!({"id": "msg_1", "content": [{"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 4}});
        let o = response(&a, "max");
        assert_eq!(o["model"], "max");
        assert_eq!(o["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            o["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
            "{\"q\":\"cat\"}"
        );
        assert_eq!(o["usage"]["total_tokens"], 14);

        let mut s = StreamState::default();
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_2", "usage": {"input_tokens": 7}}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "lookup"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\""}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
        ];
        let mut chunks = Vec::new();
        for e in &events {
            if let StreamStep::Chunks(c) = s.on_event(e) {
                chunks.extend(c);
            }
        }
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
            "lookup"
        );
        assert_eq!(
            chunks[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"q\""
        );
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[5]["usage"]["completion_tokens"], 3);
        assert!(matches!(
            s.on_event(&json!({"type": "message_stop"})),
            StreamStep::Done
        ));
    }
}
